#!/bin/sh
# Extract from Debian's linux-source-6.12 tarball the few files ipcchan
# uses at build time (checkpatch, the kselftest harness and lib.mk) into a
# cache directory outside the checkout, keyed by the package version.
# Prints the directory. Nothing extracted here is ever copied into the repo.
set -eu

tarball=/usr/src/linux-source-6.12.tar.xz
cache=${IPCCHAN_CACHE:-/var/cache/ipcchan}

[ -r "$tarball" ] || { echo "ksrc.sh: $tarball missing; run 'make deps'" >&2; exit 1; }
ver=$(dpkg-query -W -f '${Version}' linux-source-6.12 2>/dev/null || echo unknown)
dir=$cache/linux-source-6.12-$ver

if [ ! -f "$dir/.done" ]; then
	mkdir -p "$dir"
	tar -xJf "$tarball" -C "$dir" --strip-components=1 \
		linux-source-6.12/scripts/checkpatch.pl \
		linux-source-6.12/scripts/spelling.txt \
		linux-source-6.12/scripts/const_structs.checkpatch \
		linux-source-6.12/tools/testing/selftests/kselftest.h \
		linux-source-6.12/tools/testing/selftests/kselftest_harness.h \
		linux-source-6.12/tools/testing/selftests/lib.mk >&2
	touch "$dir/.done"
fi
echo "$dir"
