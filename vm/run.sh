#!/bin/bash
# run.sh -k RELEASE -m check|cmd|shell -o OUTDIR [-c CMDFILE] [-t SECONDS]
# Boot the test guest for one kernel under QEMU (TCG) with ipcchan.ko
# built for it. The kernel console goes to OUTDIR/console.log; what the
# guest reports goes to OUTDIR/guest.log (and, in cmd mode, to stdout as it
# runs). A third serial port (ttyS2) goes to OUTDIR/gcov.log: a guest
# whose kernel has gcov writes the module's coverage data there after rmmod
# (vm/guest-init; read by scripts/coverage.sh). A watchdog kills QEMU after
# SECONDS: a guest that hangs fails.
# Exit status: QEMU's, or 124 when the watchdog fired.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
rel= mode=check out= cmd= limit=${IPCCHAN_VM_TIMEOUT:-900}
while getopts k:m:o:c:t: opt; do
	case $opt in
	k) rel=$OPTARG ;; m) mode=$OPTARG ;; o) out=$OPTARG ;;
	c) cmd=$OPTARG ;; t) limit=$OPTARG ;;
	*) exit 2 ;;
	esac
done
[ -n "$rel" ] && [ -n "$out" ] || { echo "usage: $0 -k RELEASE -m MODE -o OUTDIR" >&2; exit 2; }
ko=$top/build/$rel/ipcchan.ko
[ -f "$ko" ] || { echo "run.sh: $ko not built" >&2; exit 2; }
# An installed kernel, else one built here (scripts/debug-kernel.sh).
image=/boot/vmlinuz-$rel
[ -f "$image" ] || image=${IPCCHAN_CACHE:-/var/cache/ipcchan}/kernels/$rel/vmlinuz
[ -f "$image" ] || { echo "run.sh: no kernel image for $rel" >&2; exit 2; }
mkdir -p "$out"
rm -f "$out/console.log" "$out/guest.log" "$out/gcov.log"
"$top/vm/mkinitramfs.sh" "$out/initramfs.cpio.gz" "$ko" "$top/selftests" $cmd

# Settings that change numbers, recorded for the benchmark: default CPU
# model (qemu64; -cpu max slows user copies 3-8x under TCG), one host thread
# per vCPU, TSC clocksource (HPET clock reads cost ~0.9 us under TCG).
# pmtmr=0: the ACPI PM timer's init spins on the emulated PIT and was seen
# to hang a 6.1 boot under TCG (before init ran); the guest needs no PM timer.
qemu=(qemu-system-x86_64 -nodefaults -display none -no-reboot
	-accel tcg,thread=multi -smp 2 -m 1G
	-kernel "$image" -initrd "$out/initramfs.cpio.gz"
	-append "console=ttyS0 panic=-1 ignore_loglevel pmtmr=0 tsc=reliable clocksource=tsc ipcchan_mode=$mode ${IPCCHAN_GUEST_ARGS:-}")
case $mode in
check)
	qemu+=(-serial "file:$out/console.log" -serial "file:$out/guest.log") ;;
cmd)
	qemu+=(-serial "file:$out/console.log"
	       -chardev "stdio,id=guest,logfile=$out/guest.log" -serial chardev:guest) ;;
shell)
	qemu+=(-serial mon:stdio -serial "file:$out/guest.log") ;;
*)
	echo "run.sh: unknown mode $mode" >&2; exit 2 ;;
esac
qemu+=(-serial "file:$out/gcov.log")

if [ "$mode" = shell ]; then
	exec "${qemu[@]}"
fi
# A guest that never reaches our init (a boot hang or an early oops under
# TCG, before ipcchan is involved) is retried once, and said so on stderr.
# Anything after init is never retried: a hang there is the watchdog's
# failure, a crash the log scanner's.
boot_limit=${IPCCHAN_BOOT_TIMEOUT:-120}
for attempt in 1 2; do
	rm -f "$out/console.log" "$out/guest.log" "$out/gcov.log"
	timeout -k 10 "$limit" "${qemu[@]}" < /dev/null &
	pid=$!
	booted=0
	for _ in $(seq "$boot_limit"); do
		grep -q '^IPCCHAN-KERNEL' "$out/guest.log" 2>/dev/null && { booted=1; break; }
		if ! kill -0 $pid 2>/dev/null; then
			# Exited: booted if it reached init before it went.
			grep -q '^IPCCHAN-KERNEL' "$out/guest.log" 2>/dev/null && booted=1
			break
		fi
		sleep 1
	done
	if [ $booted -eq 0 ]; then
		echo "run.sh: $rel did not reach init (attempt $attempt, limit ${boot_limit}s); last console line: $(tail -n 1 "$out/console.log" 2>/dev/null)" >&2
		kill $pid 2>/dev/null || true
		wait $pid 2>/dev/null || true
		cp "$out/console.log" "$out/console.boot-hang.$attempt.log" 2>/dev/null || true
		continue
	fi
	rc=0
	wait $pid || rc=$?
	exit $rc
done
exit 124
