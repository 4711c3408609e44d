#!/bin/sh
# mkinitramfs.sh OUT.cpio.gz KO TESTDIR [CMDFILE]
# Pack the test guest: busybox-static, ipcchan.ko, libipcchan, the
# selftests (statically linked) in run order, and an optional command.
set -eu
out=$1 ko=$2 tests=$3 cmd=${4:-}
top=$(cd "$(dirname "$0")/.." && pwd)

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/sbin" "$root/proc" "$root/sys" "$root/dev" \
	"$root/tmp" "$root/lib/modules" "$root/ipcchan/tests" \
	"$root/ipcchan/lib" "$root/ipcchan/bin"
cp /bin/busybox "$root/bin/busybox"
cp "$top/vm/guest-init" "$root/init"
chmod 755 "$root/init"
cp "$ko" "$root/lib/modules/ipcchan.ko"
cp -P "$top"/lib/libipcchan.so* "$root/ipcchan/lib/"
list=$(make -s -C "$tests" print-tests)
for t in $list; do
	cp "$tests/$t" "$root/ipcchan/tests/"
done
echo "$list" | tr ' ' '\n' > "$root/ipcchan/tests/list"
[ -d "$top/bench" ] && find "$top/bench" -maxdepth 1 -type f -perm -u+x \
	-exec cp {} "$root/ipcchan/bin/" \;
[ -n "$cmd" ] && cp "$cmd" "$root/ipcchan/cmd.sh"
(cd "$root" && find . | cpio -o -H newc --quiet) | gzip -1 > "$out"
