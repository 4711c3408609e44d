#!/bin/bash
# coverage.sh RELEASE GUESTDIR: line coverage of kmod/ from one guest run on
# a kernel with gcov (the debug kernel of make check), where the module was
# built with gcov (top Makefile, IPCCHAN_GCOV).
#
# After rmmod the guest sends the module's .gcda files (summed over every
# load of the run) on its third serial port, GUESTDIR/gcov.log (see
# vm/guest-init). They go next to the .gcno files in build/RELEASE/kmod, and
# lcov, with the gcov of the gcc that built the kernel, turns them into
# build/coverage/RELEASE/: kmod.info (lcov), html/index.html, uncovered
# (every line never run, with its text) and summary (per file and total),
# which it prints. Exit status 1 when the data is missing, truncated,
# corrupt, from another build, or empty: a report that silently stopped
# coming would be worse than none.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
[ $# -eq 2 ] || { echo "usage: $0 RELEASE GUESTDIR" >&2; exit 2; }
rel=$1 gdir=$2
obj=$top/build/$rel
rep=$top/build/coverage/$rel
log=$gdir/gcov.log

die() { echo "coverage: $rel: $*" >&2; exit 1; }

[ -s "$log" ] || die "no coverage data from the guest ($log missing or empty)"
grep -qa '^IPCCHAN-GCOV-END' "$log" ||
	die "coverage data truncated (no end marker in $log)"
nfiles=$(sed -n 's/^IPCCHAN-GCOV-BEGIN files=\([0-9]*\).*/\1/p' "$log")
[ "${nfiles:-0}" -gt 0 ] || die "the guest found no .gcda file in debugfs"

# The kernel's compiler, whose gcov reads its .gcno/.gcda format.
kdir=$("$top/vm/kdir.sh" "$rel")
ccver=$(sed -n 's/^CONFIG_GCC_VERSION=\([0-9]*\)$/\1/p' "$kdir/.config")
[ -n "$ccver" ] || die "$kdir/.config: not built with gcc"
gcov=gcov-$((ccver / 10000))
command -v "$gcov" > /dev/null || die "$gcov not found (the kernel's gcc); run 'make deps'"
command -v lcov > /dev/null || die "lcov not found; run 'make deps'"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
awk '/^IPCCHAN-GCOV-END/ { on = 0 } on { print } /^IPCCHAN-GCOV-BEGIN/ { on = 1 }' \
	"$log" | tr -d '\r' | base64 -d | gzip -dc | tar -C "$tmp" -xf - ||
	die "coverage data corrupt (base64, gzip or tar failed on $log)"

# debugfs names each file by the absolute path of its object at build
# time: every object of this build must have its data, from this build dir.
rm -f "$obj"/kmod/*.gcda
n=0
for gcno in "$obj"/kmod/*.gcno; do
	[ -e "$gcno" ] || die "no .gcno in $obj/kmod: the module was not built with gcov"
	gcda=${gcno%.gcno}.gcda
	[ -s "$tmp$gcda" ] || die "no data for $gcda in the guest's (has: $(cd "$tmp" && find . -name '*.gcda' | head -n 3 | tr '\n' ' '))"
	cp "$tmp$gcda" "$gcda"
	n=$((n + 1))
done

rm -rf "$rep"
mkdir -p "$rep"
lcov --quiet --rc lcov_branch_coverage=1 --gcov-tool "$gcov" --capture \
	--directory "$obj/kmod" --output-file "$rep/all.info" \
	> "$rep/lcov.log" 2>&1 || { cat "$rep/lcov.log" >&2; die "lcov --capture failed"; }
lcov --quiet --rc lcov_branch_coverage=1 --extract "$rep/all.info" \
	"*/kmod/*.c" --output-file "$rep/kmod.info" \
	>> "$rep/lcov.log" 2>&1 || { cat "$rep/lcov.log" >&2; die "lcov --extract failed"; }
genhtml --quiet --branch-coverage --prefix "$obj" --title "ipcchan kmod/ on $rel" \
	--output-directory "$rep/html" "$rep/kmod.info" \
	>> "$rep/lcov.log" 2>&1 || { cat "$rep/lcov.log" >&2; die "genhtml failed"; }

# Lines never run, with their text, for people reading what is missing.
awk -v obj="$obj/" '
/^SF:/ {
	file = substr($0, 4); name = file
	if (index(name, obj) == 1) name = substr(name, length(obj) + 1)
	next
}
/^DA:/ {
	split(substr($0, 4), f, ",")
	if (f[2] == 0) {
		line = f[1]; text = ""; i = 0
		while (i < line && (getline t < file) > 0) { i++; text = t }
		close(file)
		gsub(/^[ \t]+/, "", text)
		printf "%s:%d: %s\n", name, line, text
	}
}' "$rep/kmod.info" > "$rep/uncovered"

# Per file and total: lines and functions hit / instrumented.
awk -v obj="$obj/" -v rel="$rel" '
function pct(h, f) { return f ? 100 * h / f : 0 }
/^SF:/ {
	name = substr($0, 4)
	if (index(name, obj) == 1) name = substr(name, length(obj) + 1)
	files[++nf] = name
}
/^LF:/ { lf[name] = substr($0, 4) }
/^LH:/ { lh[name] = substr($0, 4) }
/^FNF:/ { fnf[name] = substr($0, 5) }
/^FNH:/ { fnh[name] = substr($0, 5) }
END {
	for (i = 1; i <= nf; i++) {
		n = files[i]
		printf "coverage: %-18s %5.1f%% lines (%d/%d), functions %d/%d\n",
			n, pct(lh[n], lf[n]), lh[n], lf[n], fnh[n], fnf[n]
		tlf += lf[n]; tlh += lh[n]
	}
	printf "coverage: kmod/ %.1f%% lines (%d/%d) on %s\n", pct(tlh, tlf), tlh, tlf, rel
}' "$rep/kmod.info" > "$rep/summary"

lines=$(awk -F: '/^LF:/ { n += $2 } END { print n + 0 }' "$rep/kmod.info")
hit=$(awk -F: '/^LH:/ { n += $2 } END { print n + 0 }' "$rep/kmod.info")
[ "$lines" -gt 0 ] && [ "$hit" -gt 0 ] || die "empty report ($hit of $lines lines)"
echo "coverage: report in build/coverage/$rel/html/index.html ($n objects; lines never run: build/coverage/$rel/uncovered)" >> "$rep/summary"
cat "$rep/summary"
