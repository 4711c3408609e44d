#!/bin/bash
# scripts/vm.sh [CMD]: boot the 6.12 guest with ipcchan.ko loaded. With no
# CMD, an interactive shell on the console; with CMD, run it in the guest
# (selftests in /ipcchan/tests, tools in /ipcchan/bin), stream its output
# and exit with its status.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
cmd=${1:-}
rel=$(IPCCHAN_SERIES=${IPCCHAN_VM_SERIES:-6.12} vm/kernels.sh)
make -s module KDIR="$(vm/kdir.sh "$rel")" > /dev/null
out=build/$rel/vm
mkdir -p "$out"
if [ -z "$cmd" ]; then
	exec vm/run.sh -k "$rel" -m shell -o "$out"
fi
printf '%s\n' "$cmd" > "$out/cmd.sh"
qrc=0
vm/run.sh -k "$rel" -m cmd -o "$out" -c "$out/cmd.sh" || qrc=$?
rc=$(sed -n 's/^IPCCHAN-EXIT rc=\([0-9]*\).*/\1/p' "$out/guest.log" | tail -n 1)
if [ "$qrc" -ne 0 ] || [ -z "$rc" ]; then
	echo "vm: the guest did not finish (qemu status $qrc); see $out/console.log" >&2
	exit 125
fi
if ! vm/scan-log.sh "$out/console.log" >&2; then
	echo "vm: the guest kernel log reports problems; see $out/console.log" >&2
	exit 125
fi
exit "$rc"
