#!/bin/bash
# scripts/plot.sh CSV PREFIX: PNG plots of an ipcchan-bench CSV with gnuplot:
#   PREFIX-rtt-across.png  round-trip percentiles against message size,
#                          client and echo on different vCPUs
#   PREFIX-rtt-same.png    the same with both on one vCPU
#   PREFIX-stream.png      one-way throughput (MB/s, msgs/s) against size
#   PREFIX-fanin.png       msgs/s against the number of producers
#   PREFIX-openloop.png    fixed-rate latency (p50, p99, p99.9, max from the
#                          intended send time), a panel per message size
#   PREFIX-scale.png       create time and kernel memory per channel
set -euo pipefail
csv=$1 prefix=$2
command -v gnuplot > /dev/null || { echo "plot: gnuplot missing; run 'make deps'" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -f "$prefix"-rtt-across.png "$prefix"-rtt-same.png "$prefix"-stream.png \
	"$prefix"-fanin.png "$prefix"-openloop.png "$prefix"-scale.png

# Every mechanism keeps its colour, point type and place in every legend;
# ipcchan's own paths are drawn thicker.
mechs="pipe fifo posix_mq sysv_msg unix_seqpacket shm_futex memcpy ipcchan_ioctl ipcchan_batch ipcchan_zerocopy ipcchan_ring shm_zerocopy"
colors=('#1f77b4' '#17becf' '#2ca02c' '#bcbd22' '#9467bd' '#7f7f7f' '#000000' '#d62728' '#ff7f0e' '#e377c2' '#8c564b' '#aaaaaa')

kernel=$(awk -F, 'NR == 2 && !/^#/ { print $1; exit } !/^#/ && NR > 1 { print $1; exit }' "$csv")
about=$(sed -n 's/^# ipcchan-bench \([a-z]*\) run: kernel [^,]*, accel \([^ (,]*\).*/\1 run, \2/p' "$csv" | head -n 1)
case $about in *tcg*) about="$about: emulated, compare ratios not absolute values" ;; esac
sched=$(sed -n 's/^# sched feature [A-Z_]* -> \([A-Z_]*\)$/\1/p' "$csv" | tr '\n' ' ')
[ -n "$sched" ] && about="$about; sched ${sched% }"
extra=$(sed -n 's/.*guest kernel args added: \([^;]*\);.*/\1/p' "$csv" | head -n 1)
[ -n "$extra" ] && [ "$extra" != none ] && about="$about; guest $extra"

# extract WORKLOAD METRIC PRODUCERS XCOL NAME: one file per mechanism,
# "x y" sorted by x (XCOL 4: msg_size, 5: producers).
extract() {
	awk -F, -v wl="$1" -v metric="$2" -v prod="$3" -v xc="$4" -v dir="$tmp/$5" '
		/^#/ || NR == 1 { next }
		$3 == wl && $6 == metric && (prod == "*" || $5 == prod) {
			print $xc, $7 > (dir "." $2 ".dat")
		}' "$csv"
	for f in "$tmp/$5".*.dat; do
		[ -f "$f" ] && sort -n -o "$f" "$f"
	done
	return 0
}

# plotcmd NAME SCALE: the gnuplot "plot" line for the files of NAME,
# y divided by SCALE.
plotcmd() {
	local name=$1 scale=$2 i=0 sep= out="plot"
	for m in $mechs; do
		i=$((i + 1))
		local f=$tmp/$name.$m.dat
		[ -f "$f" ] || continue
		local lw=1.5
		case $m in ipcchan_*) lw=3 ;; esac
		out="$out$sep '$f' using 1:(\$2/$scale) with linespoints lc rgb '${colors[$((i - 1))]}' lw $lw pt $i ps 1.2 title '$m'"
		sep=","
	done
	[ "$sep" ] || out="set label 1 'no data' at graph 0.45, 0.5; plot NaN notitle"
	echo "$out"
}

# sizetics WORKLOAD: an x tic at each message size measured, in KiB/MiB.
sizetics() {
	awk -F, -v wl="$1" '!/^#/ && $3 == wl { s[$4] = 1 }
		END { printf "set xtics ("; sep = ""
			for (k in s) { v = k + 0; l = v >= 1048576 ? v / 1048576 " MiB" : v >= 1024 ? v / 1024 " KiB" : v " B"
				printf "%s\"%s\" %s", sep, l, v; sep = ", " }
			print ")" }' "$csv"
}
common="set terminal pngcairo noenhanced size 1600,1100 font 'DejaVu Sans,11' linewidth 1
set grid xtics ytics mytics lc rgb '#dddddd'
set key outside right top vertical spacing 1.3
set border lw 1.2
$(awk 'BEGIN { printf "set ytics ("; sep = "";
	for (e = -3; e <= 10; e++) for (m = 1; m <= 5; m += (m == 1 ? 1 : 3)) {
		v = m * 10 ^ e; printf "%s\"%s\" %.10g", sep, v >= 1e9 ? sprintf("%gG", v / 1e9) : v >= 1e6 ? sprintf("%gM", v / 1e6) : v >= 1e3 ? sprintf("%gk", v / 1e3) : sprintf("%g", v), v; sep = ", " }
	print ")" }')"

# xrange WORKLOAD: a log-2 x range with room around the message sizes.
xrange() {
	awk -F, -v wl="$1" '!/^#/ && $3 == wl { if (!lo || $4 < lo) lo = $4; if ($4 > hi) hi = $4 }
		END { if (hi) printf "set xrange [%g:%g]\n", lo / 1.6, hi * 1.6 }' "$csv"
}

have() { ls "$tmp/$1".*.dat > /dev/null 2>&1; }

rtt_png() {	# PLACE(0|1) FILE TITLE
	local p
	for p in p50 p99 p999 max; do
		extract rtt "${p}_ns" "$1" 4 "rtt$1$p"
	done
	have "rtt${1}p50" || return 0
	gnuplot <<-EOF
	$common
	set output '$2'
	set multiplot layout 2,2 title "ipcchan-bench round trip (ping-pong), $3\\nkernel $kernel; $about" font ',13'
	set logscale x 2
	set logscale y 10
	$(sizetics rtt)
	$(xrange rtt)
	set xlabel 'message size (log scale)'
	set ylabel 'round-trip latency (us, log scale)'
	set title 'p50 (median)'
	$(plotcmd "rtt${1}p50" 1000)
	set title 'p99'
	$(plotcmd "rtt${1}p99" 1000)
	set title 'p99.9'
	$(plotcmd "rtt${1}p999" 1000)
	set title 'max'
	$(plotcmd "rtt${1}max" 1000)
	unset multiplot
	EOF
}

rtt_png 1 "$prefix-rtt-across.png" "client on vCPU 0, echo on vCPU 1 (lower is better)"
rtt_png 0 "$prefix-rtt-same.png" "client and echo on the same vCPU (lower is better)"

extract stream mb_per_s 1 4 smb
extract stream msgs_per_s 1 4 smsg
if have smb; then
	gnuplot <<-EOF
	$common
	set output '$prefix-stream.png'
	set multiplot layout 1,2 title "ipcchan-bench one-way throughput, producer on vCPU 0, consumer on vCPU 1 (higher is better)\\nkernel $kernel; $about" font ',13'
	set logscale x 2
	set logscale y 10
	$(sizetics stream)
	$(xrange stream)
	set xtics rotate by -30
	set xlabel 'message size (log scale)'
	set ylabel 'MB/s (1 MB = 10^6 bytes; log scale)'
	set title 'bandwidth (payload bytes received per second)'
	$(plotcmd smb 1)
	set ylabel 'messages/s (log scale)'
	set title 'message rate'
	$(plotcmd smsg 1)
	unset multiplot
	EOF
fi

# fanin: one panel per message size.
for s in $(awk -F, '!/^#/ && $3 == "fanin" { print $4 }' "$csv" | sort -un); do
	awk -F, -v s="$s" -v dir="$tmp/fan$s" '
		/^#/ || NR == 1 { next }
		$3 == "fanin" && $4 == s && $6 == "msgs_per_s" { print $5, $7 > (dir "." $2 ".dat") }' "$csv"
	for f in "$tmp/fan$s".*.dat; do sort -n -o "$f" "$f"; done
done
fanin_sizes=$(awk -F, '!/^#/ && $3 == "fanin" { print $4 }' "$csv" | sort -un)
if [ -n "$fanin_sizes" ]; then
	n=$(echo "$fanin_sizes" | wc -l)
	{
		echo "$common"
		echo "set output '$prefix-fanin.png'"
		echo "set multiplot layout 1,$n title \"ipcchan-bench fan-in: N producers (vCPU 0) to one consumer (vCPU 1) (higher is better)\\nkernel $kernel; $about\" font ',13'"
		echo "set logscale x 2"
		echo "set logscale y 10"
		echo "set xtics (1, 2, 4, 8)"
		echo "set xrange [0.8:10]"
		echo "set xlabel 'producers (log scale)'"
		echo "set ylabel 'messages/s received (log scale)'"
		for s in $fanin_sizes; do
			echo "set title '$s-byte messages'"
			plotcmd "fan$s" 1
		done
		echo "unset multiplot"
	} | gnuplot
fi

# openloop: one panel per message size; x is the percentile (1 p50,
# 2 p99, 3 p99.9, 4 max), a line per mechanism.
open_sizes=$(awk -F, '!/^#/ && $3 == "openloop" { print $4 }' "$csv" | sort -un)
if [ -n "$open_sizes" ]; then
	for s in $open_sizes; do
		awk -F, -v s="$s" -v dir="$tmp/open$s" '
			BEGIN { x["p50_ns"] = 1; x["p99_ns"] = 2; x["p999_ns"] = 3; x["max_ns"] = 4 }
			/^#/ || NR == 1 { next }
			$3 == "openloop" && $4 == s && ($6 in x) { print x[$6], $7 > (dir "." $2 ".dat") }' "$csv"
		for f in "$tmp/open$s".*.dat; do sort -n -o "$f" "$f"; done
	done
	n=$(echo "$open_sizes" | wc -l)
	{
		echo "$common"
		echo "set output '$prefix-openloop.png'"
		echo "set multiplot layout 1,$n title \"ipcchan-bench open loop: one producer (vCPU 0) on a fixed schedule at half the mechanism's own peak, one consumer (vCPU 1) (lower is better)\\nlatency from each message's intended send time: a stall counts for every message due during it\\nkernel $kernel; $about\" font ',13'"
		echo "set logscale y 10"
		echo "set xtics ('p50' 1, 'p99' 2, 'p99.9' 3, 'max' 4)"
		echo "set xrange [0.7:4.3]"
		echo "set xlabel 'percentile'"
		echo "set ylabel 'latency from the intended send time (us, log scale)'"
		for s in $open_sizes; do
			echo "set title '$(awk -v v="$s" 'BEGIN { print v >= 1048576 ? v / 1048576 " MiB" : v >= 1024 ? v / 1024 " KiB" : v " B" }') messages'"
			plotcmd "open$s" 1000
		done
		echo "unset multiplot"
	} | gnuplot
fi

extract scale create_ns '*' 5 screate
extract scale bytes_per_channel '*' 5 sbytes
if have screate; then
	gnuplot <<-EOF
	$common
	set output '$prefix-scale.png'
	set multiplot layout 1,2 title "ipcchan-bench: cost of creating N channels, each with its defaults (lower is better)\\nkernel $kernel; $about" font ',13'
	set logscale x 10
	set xtics ("1" 1, "10" 10, "100" 100, "1,000" 1000, "10,000" 10000)
	set xrange [0.7:15000]
	set xlabel 'channels created (log scale)'
	set logscale y 10
	set ylabel 'create time per channel (us, log scale)'
	set title 'create time per channel (pipe2, mq_open, msgget, socketpair, ipcchan_create)'
	$(plotcmd screate 1000)
	unset logscale y
	set ytics auto
	set mytics default
	set yrange [0:*]
	set xrange [70:15000]
	set ylabel 'kernel memory per channel (bytes)'
	set title 'kernel memory per channel (growth of /proc/meminfo Slab+KernelStack+PageTables+Percpu+VmallocUsed / N)'
	$(plotcmd sbytes 1)
	unset multiplot
	EOF
fi
exit 0
