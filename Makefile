# ipcchan - top-level Makefile for people. kbuild reads ./Kbuild instead,
# so the KERNELRELEASE= that DKMS appends to its make call never lands here.
#
#   make run          the main job: deps, build, the 6.12 guest runs a libipcchan
#                     demo and the quick comparison; CSV and plots in results/
#   make bench        the full comparison on both kernels (6.1 and 6.12)
#   make              module (for KDIR), libipcchan, selftests, benchmark
#   make deps         install what the project needs from Debian's packages
#   make check        lint, DKMS, then every selftest in QEMU on each kernel
#   make check-races  the concurrency selftests on a KCSAN kernel (built here,
#                     cached); fails on any KCSAN report (scripts/check-races.sh)
#   make vm [CMD=..]  boot the 6.12 guest with ipcchan loaded (shell or CMD)
#   make lint         checkpatch --strict, W=1 and sparse on both kernels
#   make dkms-check   dkms add/build/remove against both kernels' headers

TOP := $(CURDIR)
MAKEFLAGS += --no-print-directory

# The running kernel's build dir if its headers exist, else the newest.
KDIR ?= $(shell d=/lib/modules/$$(uname -r)/build; [ -d $$d ] && echo $$d || \
	ls -d /lib/modules/*/build 2>/dev/null | sort -V | tail -n 1)
# The release the module will load into (Debian's kernel.release file
# differs from UTS_RELEASE, which is what vermagic uses).
KREL = $(shell sed -n 's/.*UTS_RELEASE "\(.*\)"/\1/p' $(KDIR)/include/generated/utsrelease.h 2>/dev/null)
MODSRC := Kbuild dkms.conf kmod uapi
# A kernel with gcov support (the debug kernel) gets a module profiled with
# gcov, for the coverage report of make check (scripts/coverage.sh).
IPCCHAN_GCOV ?= $(shell grep -qx 'CONFIG_GCOV_KERNEL=y' $(KDIR)/.config 2>/dev/null && echo y)

all: module lib selftests bench-build

module:
	@[ -n "$(KREL)" ] || { echo "no kernel headers in '$(KDIR)'; run 'make deps'"; exit 1; }
	@mkdir -p build/$(KREL)
	@cp -a $(MODSRC) build/$(KREL)/
	$(MAKE) -C $(KDIR) M=$(TOP)/build/$(KREL) IPCCHAN_GCOV=$(IPCCHAN_GCOV) modules

lib:
	$(MAKE) -C lib

selftests: lib
	$(MAKE) -C selftests

# ipcchan-bench and ipcchan-demo (packed into the guest's /ipcchan/bin).
bench-build: lib
	$(MAKE) -C bench

deps:
	scripts/deps.sh

lint: lib selftests
	scripts/lint.sh

dkms-check:
	scripts/dkms-check.sh

check: all
	@scripts/check.sh

# Not part of make check: a second debug kernel, with KCSAN instead of KASAN
# (vm/kcsan.config; the two exclude each other), runs the selftests that
# race (block, notify, shm, stress, fuzz) and fails on any data-race report.
check-races: lib selftests
	@scripts/check-races.sh

# make vm: interactive shell in the 6.12 guest; make vm CMD='...': run it
# there, print its output and return its exit status.
vm: lib selftests bench-build
	@scripts/vm.sh '$(subst ','\'',$(CMD))'

# make run: install what is missing, build, then in the 6.12 guest the
# demo and ipcchan-bench --quick; make bench: the full matrix on 6.1 and
# 6.12. Both leave CSV, log and PNG plots in results/. Sequential on
# purpose: nothing builds before deps has run.
run:
	@$(MAKE) deps
	@$(MAKE) all
	@scripts/bench.sh run

bench:
	@$(MAKE) deps
	@$(MAKE) all
	@scripts/bench.sh full

clean:
	rm -rf build
	$(MAKE) -C lib clean
	$(MAKE) -C selftests clean
	$(MAKE) -C bench clean

.PHONY: all module lib selftests bench-build deps lint dkms-check check \
	check-races vm \
	run bench clean
