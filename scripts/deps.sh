#!/bin/sh
# Install everything ipcchan needs, from Debian's packages only, then
# extract the kselftest and checkpatch files from linux-source-6.12.
# Idempotent: quick when everything is present.
set -eu
pkgs="build-essential make gcc libc6-dev gawk cpio gzip xz-utils kmod
qemu-system-x86 busybox-static
linux-image-cloud-amd64 linux-headers-cloud-amd64
linux-image-6.12-cloud-amd64 linux-headers-6.12-cloud-amd64
linux-source-6.12 dkms sparse perl openssl"

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
