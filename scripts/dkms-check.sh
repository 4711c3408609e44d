#!/bin/sh
# dkms add, build and remove of this source tree against the headers of
# every kernel in the matrix, and check what DKMS built.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' dkms.conf)
src=/usr/src/ipcchan-$ver

cleanup() {
	dkms remove "ipcchan/$ver" --all > /dev/null 2>&1 || true
	rm -rf "$src"
}
cleanup
trap cleanup EXIT
mkdir -p "$src"
cp -a Kbuild dkms.conf kmod uapi "$src/"
dkms add "ipcchan/$ver"
for rel in $(vm/kernels.sh); do
	dkms build "ipcchan/$ver" -k "$rel"
	ko=/var/lib/dkms/ipcchan/$ver/$rel/$(uname -m)/module/ipcchan.ko
	[ -f "$ko" ] || ko=$(find "/var/lib/dkms/ipcchan/$ver/$rel" -name 'ipcchan.ko*' | head -n 1)
	[ -n "$ko" ] && [ -f "$ko" ] || { echo "dkms-check: no ipcchan.ko for $rel"; exit 1; }
	got=$(modinfo -F version "$ko")
	magic=$(modinfo -F vermagic "$ko")
	[ "$got" = "$ver" ] || { echo "dkms-check: version $got != $ver"; exit 1; }
	case $magic in "$rel "*) ;; *) echo "dkms-check: vermagic '$magic' not $rel"; exit 1 ;; esac
done
dkms remove "ipcchan/$ver" --all
[ ! -d "/var/lib/dkms/ipcchan/$ver" ] || { echo "dkms-check: remove left state behind"; exit 1; }
echo "dkms-check: ok (ipcchan/$ver added, built for $(vm/kernels.sh | tr '\n' ' ')and removed)"
