#!/bin/sh
# Print the kernel matrix, one release per line: the newest installed
# Debian cloud kernel of each series that has both an image and headers.
set -eu
for series in ${IPCCHAN_SERIES:-6.1 6.12}; do
	rel=$(ls /boot/ 2>/dev/null | sed -n "s/^vmlinuz-\(${series}\.[0-9].*-cloud-amd64\)$/\1/p" |
	      while read -r r; do [ -d "/lib/modules/$r/build" ] && echo "$r"; done |
	      sort -V | tail -n 1)
	if [ -z "$rel" ]; then
		echo "kernels.sh: no $series cloud kernel with headers; run 'make deps'" >&2
		exit 1
	fi
	echo "$rel"
done
