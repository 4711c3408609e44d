#!/bin/sh
# debug-kernel.sh: build the ipcchan debug kernel (KASAN, lockdep, kmemleak,
# UBSAN, debug objects, fault injection...) from Debian's linux-source-6.12:
# `make tinyconfig` + vm/debug.config + `make olddefconfig`, then bzImage
# and modules (for Module.symvers). Prints the kernel release on stdout;
# progress goes to stderr, the full log to <dir>/build.log.
#
# Usage: debug-kernel.sh [FRAGMENT]. FRAGMENT defaults to vm/debug.config;
# vm/kcsan.config is the KCSAN kernel of `make check-races`.
#
# The release is VERSION-ipcchan-NAME-KEY: NAME the fragment's file name
# without .config, KEY a hash of the fragment and of the package version
# (e.g. 6.12.117-ipcchan-debug-0123456789ab). A kernel whose fragment or
# source changed is a new kernel with a new name, so checkouts with
# different fragments (branches, older trees) never register the same
# release to different trees. Consumers take the name from this script's
# output, never a literal. It is set by a localversion file in the tree,
# which every later `make` there honours; fragments leave
# CONFIG_LOCALVERSION empty.
#
# The tree lives in a cache outside the checkout:
# ${IPCCHAN_CACHE:-/var/cache/ipcchan}/kernel-RELEASE. It is registered as
# .../kernels/RELEASE/{vmlinuz,build}, where vm/run.sh and vm/kdir.sh look
# for kernels that are not installed in /boot.
# A fragment may add make variables to the kernel's build with a line
# "# debug-kernel.sh make: VAR=VALUE..." (e.g. vm/kcsan.config). Being in
# the fragment, they are in KEY too.
#
# Idempotent: quick once <dir>/.done exists; concurrent runs for one
# release build it once (flock on <dir>/.lock). Several minutes on 2 cores.
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
# The release names this fragment alone (see above): a fragment that names
# one itself would make two fragments' releases meet again.
if grep -Eq '^CONFIG_LOCALVERSION="[^"]' "$frag"; then
	echo "debug-kernel: $frag sets CONFIG_LOCALVERSION; this script names the release" >&2
	exit 1
fi
makevars=$(sed -n 's/^# debug-kernel\.sh make: //p' "$frag")
for v in $makevars; do
	case $v in
	[A-Z]*=*) ;;
	*) echo "debug-kernel: $frag: '$v' is not a make variable (VAR=VALUE)" >&2; exit 1 ;;
	esac
done
ver=$(dpkg-query -W -f '${Version}' linux-source-6.12)
key=$({ cat "$frag"; echo "$ver"; } | sha256sum | cut -c1-12)
case $key in
[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]) ;;
*) echo "debug-kernel: no key for $frag ('$key')" >&2; exit 1 ;;
esac
suffix=-ipcchan-$name-$key
rel=${ver%%-*}$suffix
dir=$cache/kernel-$rel
src=$dir/src
log=$dir/build.log

# Point kernels/RELEASE at this tree (unless it already is); print RELEASE.
# The tree must say the release it was named for.
register() {
	got=$(cat "$src/include/config/kernel.release")
	if [ "$got" != "$rel" ]; then
		echo "debug-kernel: $src is $got, expected $rel" >&2
		exit 1
	fi
	mkdir -p "$cache/kernels/$rel"
	[ "$(readlink "$cache/kernels/$rel/vmlinuz" || :)" = "$src/arch/x86/boot/bzImage" ] ||
		ln -sfn "$src/arch/x86/boot/bzImage" "$cache/kernels/$rel/vmlinuz"
	[ "$(readlink "$cache/kernels/$rel/build" || :)" = "$src" ] ||
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
# scripts/setlocalversion appends localversion* files of the tree.
echo "$suffix" > "$src/localversion-ipcchan"

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

say "make -j$(nproc) $makevars bzImage"
# shellcheck disable=SC2086 # $makevars: one word per variable
run make -j"$(nproc)" $makevars bzImage
say "make -j$(nproc) $makevars modules"
# shellcheck disable=SC2086
run make -j"$(nproc)" $makevars modules
[ -f Module.symvers ] || { echo "debug-kernel: no Module.symvers in $src" >&2; exit 1; }
touch "$dir/.done"
say "done"
register
