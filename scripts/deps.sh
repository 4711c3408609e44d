#!/bin/sh
# Install everything ipcchan needs, from Debian's packages only, then
# extract the kselftest and checkpatch files from linux-source-6.12.
# gcc-multilib builds the 32-bit (compat) selftests; flex..libssl-dev
# build the debug kernel (scripts/debug-kernel.sh); lcov reports the
# module's line coverage under it (gcov from gcc-12, the kernel's compiler).
# Idempotent: quick when everything is present.
set -eu
pkgs="build-essential make gcc libc6-dev gcc-multilib gawk cpio gzip xz-utils kmod
qemu-system-x86 busybox-static gnuplot-nox
linux-image-cloud-amd64 linux-headers-cloud-amd64
linux-image-6.12-cloud-amd64 linux-headers-6.12-cloud-amd64
linux-source-6.12 dkms sparse perl openssl
flex bison bc libelf-dev libssl-dev
lcov"

missing=
for p in $pkgs; do
	dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "deps: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update
	apt-get install -y --no-install-recommends $missing
fi
"$(dirname "$0")/ksrc.sh" > /dev/null
echo "deps: ok ($(vm/kernels.sh | tr '\n' ' '))"
