#!/bin/bash
# scripts/vm.sh [CMD]: boot the 6.12 guest with ipcchan.ko loaded. With no
# CMD, an interactive shell on the console; with CMD, run it in the guest
# (selftests in /ipcchan/tests, tools in /ipcchan/bin), stream its output
# and exit with its status.
#
# Each run has its own directory for the initramfs and the guest's logs, so
# that runs at the same time (make run beside make vm, two shells) never
# share files: build/<release>/vm.XXXXXX, removed when the run succeeds and
# kept (and named on stderr) when it fails. A caller that wants the logs
# passes IPCCHAN_VM_OUT=DIR (an existing, empty directory it owns and
# removes itself), as scripts/bench.sh does.
# IPCCHAN_VM_SERIES picks the kernel series (default 6.12).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
cmd=${1:-}
rel=$(IPCCHAN_SERIES=${IPCCHAN_VM_SERIES:-6.12} vm/kernels.sh)
mkdir -p "build/$rel"
# One module build at a time for this release: a second run waits here
# rather than compiling into the same build/<release> files.
flock "build/$rel/.module.lock" \
	make -s module KDIR="$(vm/kdir.sh "$rel")" > /dev/null

keep=0
if [ -n "${IPCCHAN_VM_OUT:-}" ]; then
	out=$IPCCHAN_VM_OUT
	[ -d "$out" ] || { echo "vm: IPCCHAN_VM_OUT=$out is not a directory" >&2; exit 2; }
	keep=1
else
	out=$(mktemp -d "build/$rel/vm.XXXXXX")
fi
cleanup() {
	[ "$keep" -eq 1 ] || rm -rf "$out"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -z "$cmd" ]; then
	vm/run.sh -k "$rel" -m shell -o "$out"
	exit
fi
printf '%s\n' "$cmd" > "$out/cmd.sh"
qrc=0
vm/run.sh -k "$rel" -m cmd -o "$out" -c "$out/cmd.sh" || qrc=$?
rc=$(sed -n 's/^IPCCHAN-EXIT rc=\([0-9]*\).*/\1/p' "$out/guest.log" 2>/dev/null | tail -n 1)
if [ "$qrc" -ne 0 ] || [ -z "$rc" ]; then
	keep=1
	echo "vm: the guest did not finish (qemu status $qrc); see $out/console.log" >&2
	exit 125
fi
if ! vm/scan-log.sh "$out/console.log" >&2; then
	keep=1
	echo "vm: the guest kernel log reports problems; see $out/console.log" >&2
	exit 125
fi
exit "$rc"
