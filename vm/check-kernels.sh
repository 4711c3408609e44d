#!/bin/bash
# check.sh: for each kernel of the matrix, build ipcchan.ko for it, boot
# the guest, run every selftest, rmmod, and read the kernel log. Prints the
# TAP stream and a summary line per kernel; totals go to build/vm-counts.
# Exit status is non-zero on any failure, skip, hang or kernel complaint.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
kernels=${IPCCHAN_KERNELS:-$(vm/kernels.sh)} || exit 1
expected=$(make -s -C selftests print-tests)
total_pass=0 total_fail=0 status=0

for rel in $kernels; do
	out=build/$rel/check
	if ! { kdir=$(vm/kdir.sh "$rel") && make -s module KDIR="$kdir"; } \
		> "build/$rel.make.log" 2>&1; then
		cat "build/$rel.make.log"
		echo "$rel: module build failed"
		total_fail=$((total_fail + 1)); status=1
		continue
	fi
	start=$(date +%s)
	qrc=0
	vm/run.sh -k "$rel" -m check -o "$out" || qrc=$?
	secs=$(( $(date +%s) - start ))
	[ -f "$out/guest.log" ] || : > "$out/guest.log"
	# What the kernel checks, from its own boot lines (debug kernels).
	grep -aE 'KernelAddressSanitizer initialized|Lock dependency validator|kmemleak: Kernel memory leak detector initialized|RCU lockdep checking' \
		"$out/console.log" 2>/dev/null | sed 's/^/# evidence: /'
	awk -v rel="$rel" -v expected="$expected" -v counts="$out/counts" \
		-f vm/tap.awk "$out/guest.log"
	pass=0 fail=1 skip=0
	[ -f "$out/counts" ] && read -r pass fail skip < "$out/counts"
	if [ "$qrc" -ne 0 ]; then
		echo "# QEMU exited with status $qrc$([ "$qrc" -eq 124 ] && echo ' (watchdog: guest hung)')"
		fail=$((fail + 1))
	fi
	if ! bad=$(vm/scan-log.sh "$out/console.log"); then
		echo "# kernel log of $rel reports problems:"
		echo "$bad" | sed 's/^/#   /'
		echo "not ok - $rel kernel log clean"
		fail=$((fail + 1))
	else
		echo "ok - $rel kernel log clean"
		pass=$((pass + 1))
	fi
	# Fault injection (selftests/ipcchan_fault): its summary, and from a
	# kernel built with fault injection at least one fault injected, so
	# that the pass cannot silently stop injecting.
	fi_lines=$(tr -d '\r' < "$out/guest.log" | grep -a '^# fault-injection: ' |
		   sed 's/^# /# evidence: /')
	[ -n "$fi_lines" ] && echo "$fi_lines"
	if grep -q '^CONFIG_FAULT_INJECTION=y' "$kdir/.config" 2>/dev/null; then
		nfaults=$(echo "$fi_lines" | sed -n 's/^# evidence: fault-injection: \([0-9][0-9]*\) faults injected .*/\1/p' | head -n 1)
		if [ "${nfaults:-0}" -gt 0 ]; then
			echo "ok - $rel fault injection: $nfaults faults injected"
			pass=$((pass + 1))
		else
			echo "not ok - $rel fault injection: no summary with at least one fault injected (ipcchan_fault)"
			fail=$((fail + 1))
		fi
	fi
	# A module built with gcov (a kernel with CONFIG_GCOV_KERNEL): its
	# coverage data must have come out of the guest (scripts/coverage.sh).
	# Not grep -q: under pipefail, nm killed by SIGPIPE when grep quits
	# early would make a gcov module look like a plain one.
	if nm -u "build/$rel/ipcchan.ko" 2>/dev/null | grep -w __gcov_init > /dev/null; then
		if scripts/coverage.sh "$rel" "$out" > "build/$rel.coverage.log" 2>&1; then
			echo "ok - $rel coverage data ($(tail -n 2 "build/$rel.coverage.log" | head -n 1 | sed 's/^coverage: //'))"
			pass=$((pass + 1))
		else
			sed 's/^/# /' "build/$rel.coverage.log"
			echo "not ok - $rel coverage data"
			fail=$((fail + 1))
		fi
	fi
	if [ "$skip" -ne 0 ]; then
		echo "# $skip test(s) skipped under the harness: counted as failures"
		fail=$((fail + skip))
	fi
	echo "$rel: $pass passed, $fail failed, $skip skipped (${secs}s in the guest)"
	total_pass=$((total_pass + pass)); total_fail=$((total_fail + fail))
	[ "$fail" -eq 0 ] || status=1
done
echo "$total_pass $total_fail" > build/vm-counts
exit $status
