#!/bin/sh
# debug-kernel.sh: build the ipcchan debug kernel (KASAN, lockdep, kmemleak,
# UBSAN, debug objects, fault injection...) from Debian's linux-source-6.12:
# `make tinyconfig` + vm/debug.config + `make olddefconfig`, then bzImage
# and modules (for Module.symvers). Prints the kernel release on stdout;
# progress goes to stderr, the full log to <dir>/build.log.
#
# Usage: debug-kernel.sh [FRAGMENT]. FRAGMENT defaults to vm/debug.config;
# vm/kcsan.config is the KCSAN kernel of `make check-races`. Each fragment
# names its own release with CONFIG_LOCALVERSION, and two fragments must not
# share one (they would share kernels/RELEASE).
#
# The tree lives in a cache outside the checkout, keyed by the fragment and
# the package version: ${IPCCHAN_CACHE:-/var/cache/ipcchan}/NAME-kernel-KEY,
# NAME the fragment's name without .config (debug-kernel-KEY for the default).
# It is registered as .../kernels/RELEASE/{vmlinuz,build}, where vm/run.sh
# and vm/kdir.sh look for kernels that are not installed in /boot.
# Idempotent: quick once <dir>/.done exists. A few minutes on 2 cores.
# Then: make module KDIR=$(vm/kdir.sh REL); vm/run.sh -k REL -m check -o DIR
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
frag=${1:-$top/vm/debug.config}
[ -r "$frag" ] || { echo "debug-kernel: $frag: no such fragment" >&2; exit 1; }
frag=$(cd "$(dirname "$frag")" && pwd)/$(basename "$frag")
name=$(basename "$frag" .config)
tarball=/usr/src/linux-source-6.12.tar.xz
cache=${IPCCHAN_CACHE:-/var/cache/ipcchan}

[ -r "$tarball" ] || { echo "debug-kernel: $tarball missing; run 'make deps'" >&2; exit 1; }
ver=$(dpkg-query -W -f '${Version}' linux-source-6.12)
key=$({ cat "$frag"; echo "$ver"; } | sha256sum | cut -c1-12)
dir=$cache/$name-kernel-$key
src=$dir/src
log=$dir/build.log

# Point kernels/RELEASE at this tree; print RELEASE.
register() {
	rel=$(cat "$src/include/config/kernel.release")
	mkdir -p "$cache/kernels/$rel"
	ln -sfn "$src/arch/x86/boot/bzImage" "$cache/kernels/$rel/vmlinuz"
	ln -sfn "$src" "$cache/kernels/$rel/build"
	echo "$rel"
}

if [ -f "$dir/.done" ]; then
	register
	exit 0
fi

mkdir -p "$dir"
exec 9> "$dir/.lock"
flock 9
if [ -f "$dir/.done" ]; then	# built by a concurrent run
	register
	exit 0
fi

say() { echo "debug-kernel: $(date +%T) $*" >&2; }
run() {
	"$@" >> "$log" 2>&1 && return 0
	echo "debug-kernel: '$*' failed; end of $log:" >&2
	tail -n 40 "$log" >&2
	exit 1
}

: > "$log"
say "building in $dir (log: $log)"
rm -rf "$src"
mkdir -p "$src"
say "extracting $tarball ($ver)"
run tar -xJf "$tarball" -C "$src" --strip-components=1
cp "$frag" "$dir/$name.config"

cd "$src"
say "configuring: tinyconfig + $name.config"
run make tinyconfig
run scripts/kconfig/merge_config.sh -m .config "$dir/$name.config"
run make olddefconfig

# tinyconfig drops what lacks its dependencies without a word: every line
# of the fragment must be in the final .config as written.
bad=
while IFS= read -r line; do
	case $line in
	CONFIG_*=*)
		grep -qxF "$line" .config || bad="$bad
  want '$line', have '$(grep -E "^(# )?${line%%=*}[= ]" .config || echo absent)'" ;;
	"# CONFIG_"*" is not set")
		opt=${line#\# }; opt=${opt%% *}
		! grep -q "^$opt=" .config || bad="$bad
  want '$line', have '$(grep "^$opt=" .config)'" ;;
	esac
done < "$dir/$name.config"
if [ -n "$bad" ]; then
	echo "debug-kernel: $name.config did not survive olddefconfig:$bad" >&2
	exit 1
fi

say "make -j$(nproc) bzImage"
run make -j"$(nproc)" bzImage
say "make -j$(nproc) modules"
run make -j"$(nproc)" modules
[ -f Module.symvers ] || { echo "debug-kernel: no Module.symvers in $src" >&2; exit 1; }
touch "$dir/.done"
say "done"
register
