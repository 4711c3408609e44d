#!/bin/sh
# checkpatch --strict on kmod/ and uapi/; the module built with W=1 and
# sparse (C=1) for every kernel of the matrix, without one warning. The
# library and selftests always build with -Wall -Wextra -Werror.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
ksrc=$(scripts/ksrc.sh)
rc=0

if ! perl "$ksrc/scripts/checkpatch.pl" --strict --no-tree -q --show-types \
	-f kmod/*.c kmod/*.h uapi/linux/ipcchan.h; then
	echo "lint: checkpatch found problems"
	rc=1
fi

for rel in $(vm/kernels.sh); do
	dir=$top/build/lint-$rel
	rm -rf "$dir"
	mkdir -p "$dir"
	cp -a Kbuild dkms.conf kmod uapi "$dir/"
	if ! make -C "/lib/modules/$rel/build" M="$dir" W=1 C=1 modules \
		> "$dir.log" 2>&1; then
		cat "$dir.log"
		echo "lint: W=1 C=1 build failed for $rel"
		rc=1
	elif grep -E 'warning:|error:|sparse:' "$dir.log"; then
		echo "lint: W=1/sparse warnings for $rel"
		rc=1
	fi
done
# Programs built against libipcchan 0.1 must keep working with this one.
if ! make -s -C lib check > /dev/null; then
	echo "lint: libipcchan's 0.1 symbol versions read past the 0.1 structs"
	rc=1
fi
# The README's example program must keep compiling against the library.
ex=$(mktemp -d)
sed -n '/^```c$/,/^```$/p' README.md | sed '1d;$d' > "$ex/example.c"
if ! gcc -Wall -Wextra -Werror -Ilib/include -Iuapi "$ex/example.c" \
	lib/libipcchan.a -o "$ex/example"; then
	echo "lint: the README's example does not compile"
	rc=1
fi
rm -rf "$ex"

[ $rc -eq 0 ] && echo "lint: ok (checkpatch --strict; README example builds; library 0.1 ABI; W=1 and sparse on $(vm/kernels.sh | tr '\n' ' '))"
exit $rc
