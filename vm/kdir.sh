#!/bin/sh
# kdir.sh RELEASE: print the kernel build dir to build ipcchan.ko against:
# the installed headers (/lib/modules/RELEASE/build), else a kernel built
# here and registered in the cache (scripts/debug-kernel.sh).
set -eu
rel=$1
for d in "/lib/modules/$rel/build" "${IPCCHAN_CACHE:-/var/cache/ipcchan}/kernels/$rel/build"; do
	[ -d "$d" ] && { echo "$d"; exit 0; }
done
echo "kdir.sh: no build dir for $rel (no headers, not in the cache)" >&2
exit 1
