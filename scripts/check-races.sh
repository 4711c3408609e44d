#!/bin/bash
# make check-races: the concurrency-heavy selftests in QEMU on the KCSAN
# kernel (vm/kcsan.config, built and cached by scripts/debug-kernel.sh),
# with ipcchan.ko built for it, and so instrumented by KCSAN as well.
# Fails on a test failure, on any "BUG: KCSAN:" report in the kernel log
# (in kmod/ or not: the log is read whole), and on any other kernel
# complaint (vm/scan-log.sh). Prints the TAP stream, the number of KCSAN
# reports and each report; the last line is "N passed, N failed".
# Not part of make check (its time budget is taken).
#
# Only ipcchan.ko is instrumented (vm/kcsan.config says why), so every
# watchpoint is on one of its accesses; the guest samples them densely
# ($kcsan_args below) and the run checks that watchpoints were set while
# the tests ran (the counters of /sys/kernel/debug/kcsan, printed).
#
# IPCCHAN_RACE_TESTS overrides the programs run (selftests/ names);
# IPCCHAN_KCSAN_ARGS replaces the sampling arguments ($kcsan_args);
# IPCCHAN_GUEST_ARGS adds kernel arguments after them.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
tests=${IPCCHAN_RACE_TESTS:-ipcchan_block ipcchan_notify ipcchan_shm ipcchan_stress ipcchan_fuzz}
# KCSAN skips 1 to skip_watch accesses (at random) between watchpoints,
# about one module access in 25 here, and holds each for up to
# udelay_task us; the README says what these settings caught.
kcsan_args=${IPCCHAN_KCSAN_ARGS:-kcsan.skip_watch=50 kcsan.udelay_task=100}
pass=0 fail=0
ok() { echo "ok - $*"; pass=$((pass + 1)); }
notok() { echo "not ok - $*"; fail=$((fail + 1)); }
finish() {
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit
}

echo "== KCSAN kernel"
if rel=$(scripts/debug-kernel.sh vm/kcsan.config) && kdir=$(vm/kdir.sh "$rel") &&
	grep -qx 'CONFIG_KCSAN=y' "$kdir/.config"; then
	ok "KCSAN kernel $rel"
else
	notok "KCSAN kernel build (scripts/debug-kernel.sh vm/kcsan.config)"
	finish
fi

echo "== ipcchan.ko for $rel"
mkdir -p "build/$rel"
if ! flock "build/$rel/.module.lock" make -s module KDIR="$kdir" \
	> "build/$rel.make.log" 2>&1; then
	cat "build/$rel.make.log"
	notok "module build for $rel"
	finish
fi
# kbuild compiles an external module with -fsanitize=thread when the kernel
# has CONFIG_KCSAN: the module then calls the __tsan_* hooks. Without them
# KCSAN would see nothing at all (the kernel itself is not instrumented).
ntsan=0
if syms=$(nm -u "build/$rel/ipcchan.ko"); then
	ntsan=$(echo "$syms" | awk '$2 ~ /^__tsan_/ { n++ } END { print n + 0 }')
fi
if [ "$ntsan" -gt 0 ]; then
	ok "ipcchan.ko is KCSAN-instrumented ($ntsan __tsan_* hooks)"
else
	notok "ipcchan.ko is KCSAN-instrumented (no __tsan_* symbol)"
fi

echo "== $tests in QEMU"
out=build/$rel/races
mkdir -p "$out"
# The guest's cmd mode runs this with its output on the results port, in
# the markers vm/tap.awk reads, and KCSAN's counters before and after.
{
	echo 'cd /ipcchan/tests'
	echo 'sed "s/^/IPCCHAN-KCSAN-BEFORE /" /sys/kernel/debug/kcsan'
	for t in $tests; do
		echo "echo IPCCHAN-BEGIN $t"
		echo "timeout -s KILL \${ipcchan_test_timeout:-900} ./$t"
		echo "echo IPCCHAN-END $t rc=\$?"
	done
	echo 'sed "s/^/IPCCHAN-KCSAN-AFTER /" /sys/kernel/debug/kcsan'
} > "$out/cmd.sh"
start=$(date +%s)
qrc=0
IPCCHAN_VM_TIMEOUT=${IPCCHAN_VM_TIMEOUT:-3000} \
	IPCCHAN_GUEST_ARGS="$kcsan_args ${IPCCHAN_GUEST_ARGS:-}" \
	vm/run.sh -k "$rel" -m cmd -o "$out" -c "$out/cmd.sh" > /dev/null || qrc=$?
secs=$(($(date +%s) - start))
[ -f "$out/guest.log" ] || : > "$out/guest.log"
[ -f "$out/console.log" ] || : > "$out/console.log"
awk -v rel="$rel" -v expected="$tests" -v counts="$out/counts" \
	-f vm/tap.awk "$out/guest.log"
p=0 f=1 s=0
[ -f "$out/counts" ] && read -r p f s < "$out/counts"
pass=$((pass + p)) fail=$((fail + f + s))
[ "$s" -eq 0 ] || echo "# $s test(s) skipped under the harness: counted as failures"
if [ "$qrc" -ne 0 ]; then
	notok "QEMU exited with status $qrc$([ "$qrc" -eq 124 ] && echo ' (watchdog: guest hung)')"
fi

# KCSAN must have been on: its boot selftest says so (kernel/kcsan/selftest.c).
st=$(grep -m 1 -aoE 'kcsan: selftest: [0-9]+/[0-9]+ tests passed' "$out/console.log")
if [ -n "$st" ] && echo "$st" | awk -F'[ /]' '{ exit !($3 == $4) }'; then
	ok "KCSAN active in the guest ($st)"
else
	notok "KCSAN active in the guest (no passing 'kcsan: selftest' line in $out/console.log)"
fi

# ... and watching the module while the tests ran: watchpoints set between
# the two snapshots of its counters (only ipcchan.ko can set them).
kcounter() {	# kcounter BEFORE|AFTER NAME: the value, or nothing
	tr -d '\r' < "$out/guest.log" |
		awk -v k="IPCCHAN-KCSAN-$1" -v n="$2:" '$1 == k && $2 == n && !v { v = $3 } END { print v }'
}
echo "# KCSAN ($kcsan_args${IPCCHAN_GUEST_ARGS:+ $IPCCHAN_GUEST_ARGS}), counters after the tests:"
tr -d '\r' < "$out/guest.log" | sed -n 's/^IPCCHAN-KCSAN-AFTER \(.\)/#   \1/p'
w0=$(kcounter BEFORE setup_watchpoints) w1=$(kcounter AFTER setup_watchpoints)
if [ -n "$w0" ] && [ -n "$w1" ] && [ "$w1" -gt "$w0" ]; then
	ok "KCSAN watched ipcchan.ko: $((w1 - w0)) watchpoints during the tests"
else
	notok "KCSAN watched ipcchan.ko (setup_watchpoints before '${w0}', after '${w1}')"
fi

# Every KCSAN report, whole: from its "BUG: KCSAN:" line to the closing
# ==== line. The console prefixes each line with a timestamp.
awk '/BUG: KCSAN:/ { on = 1; n++; print "--- report " n }
     on && /======/ { on = 0; next }
     on { sub(/^\[ *[0-9.]+\] /, ""); print }' "$out/console.log" | tr -d '\r' > "$out/kcsan.txt"
nk=$(grep -ac 'BUG: KCSAN:' "$out/console.log")
if [ "$nk" -eq 0 ]; then
	ok "no KCSAN report"
else
	nmod=$(awk '/^--- report/ { if (m) c++; m = 0 } /\[ipcchan\]/ { m = 1 } END { if (m) c++; print c + 0 }' "$out/kcsan.txt")
	echo "# $nk KCSAN report(s), $nmod with ipcchan in a stack; by title:"
	grep -a 'BUG: KCSAN:' "$out/kcsan.txt" | sed 's/.*BUG: KCSAN: //' |
		sort | uniq -c | sed 's/^/#   /'
	echo "# the reports ($out/kcsan.txt):"
	sed 's/^/#   /' "$out/kcsan.txt"
	notok "no KCSAN report ($nk)"
fi

# Anything else the kernel complained about (lockdep, WARNING, oops...).
if other=$(vm/scan-log.sh "$out/console.log"); then
	ok "$rel kernel log clean"
else
	other=$(echo "$other" | grep -av 'BUG: KCSAN:')
	if [ -z "$other" ]; then
		ok "$rel kernel log clean apart from KCSAN"
	else
		echo "# kernel log of $rel reports problems:"
		echo "$other" | sed 's/^/#   /'
		notok "$rel kernel log clean"
	fi
fi
echo "$rel: ${secs}s in the guest"
finish
