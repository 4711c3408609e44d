#!/bin/bash
# make check: lint, DKMS, then every selftest in QEMU on each kernel of
# the matrix. Each stage counts as results; the last line is always
# "N passed, N failed" (totals), and the exit status is non-zero on any
# failure.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
mkdir -p build
pass=0 fail=0

stage() {
	local name=$1
	shift
	echo "== $name"
	if "$@"; then
		pass=$((pass + 1))
	else
		echo "not ok - $name"
		fail=$((fail + 1))
	fi
}

stage lint scripts/lint.sh
stage dkms-check scripts/dkms-check.sh

# The debug kernel (KASAN, lockdep, kmemleak, UBSAN...), built once and
# cached outside the checkout (about 7 minutes on 2 cores the first time).
echo "== debug kernel"
debug=
if debug=$(scripts/debug-kernel.sh); then
	echo "debug kernel: $debug"
	pass=$((pass + 1))
else
	echo "not ok - debug kernel build"
	fail=$((fail + 1))
fi

echo "== selftests in QEMU"
rm -rf build/vm-counts build/coverage
IPCCHAN_KERNELS="$(vm/kernels.sh) $debug" vm/check-kernels.sh
if read -r p f < build/vm-counts 2>/dev/null; then
	pass=$((pass + p)); fail=$((fail + f))
else
	echo "not ok - selftest run produced no counts"
	fail=$((fail + 1))
fi

# Line coverage of kmod/ reached by the whole suite on the debug kernel
# (module built with gcov; scripts/coverage.sh). Reported, not a threshold;
# but no report at all is a failure.
echo "== coverage"
if ls build/coverage/*/summary > /dev/null 2>&1; then
	cat build/coverage/*/summary
	pass=$((pass + 1))
else
	echo "not ok - coverage report of kmod/ (none in build/coverage)"
	fail=$((fail + 1))
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
