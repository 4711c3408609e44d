#!/bin/bash
# scripts/bench.sh run|full: the comparison benchmark in the QEMU guest.
#   run   the 6.12 guest: the libipcchan demo, then ipcchan-bench --quick
#   full  ipcchan-bench (the full matrix) on the 6.1 and the 6.12 guest
# The guest has no network and no shared folder: it prints the CSV between
# marker lines, which are taken out of the guest's log (kept off the
# terminal). Each guest gets a directory of its own (build/<release>/
# bench.XXXXXX, removed afterwards), so runs at the same time do not mix.
# Everything lands in results/ (git-ignored): per kernel
# <mode>-<release>.csv, .log (the guest's whole output) and PNG plots.
# Expects 'make deps all' to have run (make run / make bench do that).
#
# IPCCHAN_BENCH_SCHED: scheduler features set in the guest for the run,
# default NO_DELAY_DEQUEUE. On 6.12 under TCG, delayed dequeue makes a
# cross-vCPU wakeup of a pipe, socket or ipcchan reader wait for the
# target vCPU's next tick (~4 ms round trips against ~150 us for POSIX mq
# or a futex, and on 6.1); without it every mechanism lands together.
# Set it to "" for the stock scheduler. IPCCHAN_BENCH_GUEST_ARGS: extra
# guest kernel arguments (none by default; idle=poll starves a 2-core host).
# IPCCHAN_BENCH_ARGS: extra ipcchan-bench options (e.g. --reps 5).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
mode=${1:-run}
case $mode in
run) series=${IPCCHAN_BENCH_SERIES:-6.12} args=--quick ;;
full) series=${IPCCHAN_BENCH_SERIES:-"6.1 6.12"} args= ;;
*) echo "usage: $0 run|full" >&2; exit 2 ;;
esac
guest_args=${IPCCHAN_BENCH_GUEST_ARGS-}
sched=${IPCCHAN_BENCH_SCHED-NO_DELAY_DEQUEUE}
args="$args ${sched:+--sched-features $sched} ${IPCCHAN_BENCH_ARGS:-}"
# The full matrix takes a while under TCG; give the watchdog room.
[ "$mode" = full ] && export IPCCHAN_VM_TIMEOUT=${IPCCHAN_VM_TIMEOUT:-5400}
mkdir -p results
vmdir=
trap '[ -z "$vmdir" ] || rm -rf "$vmdir"' EXIT

# What the host knows and the guest cannot see: the QEMU command line.
qemu_ver=$(qemu-system-x86_64 --version | head -n 1)
qemu_flags=$(awk '/^qemu=\(/ { on = 1 } on { print } on && /\)$/ { exit }' vm/run.sh |
	grep -oE -- '-(accel|smp|m|cpu|machine) [^ ]+' | tr '\n' ' ')
case $qemu_flags in *"-cpu "*) ;; *) qemu_flags="$qemu_flags(no -cpu: QEMU's default CPU model)" ;; esac

status=0
outputs=
for s in $series; do
	rel=$(IPCCHAN_SERIES=$s vm/kernels.sh)
	name=$([ "$mode" = run ] && echo quick || echo full)-$rel
	csv=results/$name.csv log=results/$name.log
	demo=
	[ "$mode" = run ] && demo='echo "== demo: two processes talking through libipcchan"; ipcchan-demo || exit 1; echo;'
	cmd="$demo echo \"== ipcchan-bench $args on \$(uname -r)\"
ipcchan-bench $args --csv /tmp/bench.csv; rc=\$?
echo IPCCHAN-CSV-BEGIN; cat /tmp/bench.csv; echo IPCCHAN-CSV-END
exit \$rc"
	echo "== $rel: booting the guest (QEMU TCG; extra guest args: ${guest_args:-none})"
	start=$(date +%s) load0=$(cut -d' ' -f1-3 /proc/loadavg)
	mkdir -p "build/$rel"
	vmdir=$(mktemp -d "build/$rel/bench.XXXXXX")
	rc=0
	IPCCHAN_VM_OUT=$vmdir IPCCHAN_VM_SERIES=$s IPCCHAN_GUEST_ARGS=$guest_args \
		scripts/vm.sh "$cmd" | tr -d '\r' |
		awk '/^IPCCHAN-CSV-BEGIN/ { skip = 1; print "(CSV taken from the guest log)" }
		     !skip { print; fflush() }
		     /^IPCCHAN-CSV-END/ { skip = 0 }' || rc=$?
	tr -d '\r' 2>/dev/null < "$vmdir/guest.log" > "$log" || : > "$log"
	if [ "$rc" -ne 0 ] && [ -f "$vmdir/console.log" ]; then
		cp "$vmdir/console.log" "${log%.log}.console.log"
		echo "bench: the guest's kernel log is in ${log%.log}.console.log" >&2
	fi
	rm -rf "$vmdir"
	vmdir=
	sed -n '/^IPCCHAN-CSV-BEGIN/,/^IPCCHAN-CSV-END/p' "$log" | sed '1d;$d' > "$csv.tmp"
	if ! head -n 1 "$csv.tmp" | grep -qx 'kernel,mechanism,workload,msg_size,producers,metric,value'; then
		echo "bench: no CSV in the guest's output (status $rc); see $log" >&2
		rm -f "$csv.tmp"
		status=1
		continue
	fi
	{
		head -n 1 "$csv.tmp"
		echo "# host: $qemu_ver; vm/run.sh: $qemu_flags; guest kernel args added: ${guest_args:-none}; image $( [ -f "/boot/vmlinuz-$rel" ] && echo "/boot/vmlinuz-$rel" || echo "cache")"
		echo "# host: $(nproc) CPUs, load average $load0 before the run, $(cut -d' ' -f1-3 /proc/loadavg) after; $(($(date +%s) - start)) s from boot to power-off"
		tail -n +2 "$csv.tmp"
	} > "$csv"
	rm -f "$csv.tmp"
	[ "$rc" -eq 0 ] || { echo "bench: the guest run failed (status $rc); the CSV has what it measured" >&2; status=1; }
	scripts/plot.sh "$csv" "results/$name" || status=1
	outputs="$outputs $csv"
done

echo
for c in $outputs; do
	echo "CSV:   $top/$c"
	echo "log:   $top/${c%.csv}.log"
	for p in "${c%.csv}"-*.png; do
		[ -f "$p" ] && echo "plot:  $top/$p"
	done
done
exit $status
