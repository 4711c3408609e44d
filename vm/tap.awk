# Turn guest.log (IPCCHAN- markers around each selftest's TAP) into one
# TAP stream, and count results. Variables: expected (space-separated run
# list), rel (kernel release), counts (file to write "pass fail skip" to).
function result(ok, desc) {
	n++
	printf "%s %d %s\n", ok ? "ok" : "not ok", n, desc
	if (ok) pass++; else fail++
}
{ sub(/\r$/, "") }
BEGIN {
	print "TAP version 13"
	printf "# kernel: %s\n", rel
	ntests = split(expected, want, " ")
	insmod = -1; rmmod = -1
}
/^IPCCHAN-INSMOD rc=/ { sub(/.*rc=/, ""); insmod = $0 + 0; next }
/^IPCCHAN-RMMOD rc=/ { sub(/.*rc=/, ""); rmmod = $0 + 0; next }
/^IPCCHAN-DONE/ { done = 1; next }
/^IPCCHAN-KMEMLEAK leaks=/ { sub(/.*leaks=/, ""); kmemleak = $0 + 0; has_kmemleak = 1; next }
/^IPCCHAN-KMEMLEAK-LINE / { sub(/^IPCCHAN-KMEMLEAK-LINE /, "# kmemleak: "); print; next }
/^IPCCHAN-KERNEL / { next }
/^IPCCHAN-BEGIN / {
	cur = $2; seen[cur] = 1; plan = -1; got = 0; tfail = 0
	printf "# selftests: ipcchan: %s\n", cur
	next
}
/^IPCCHAN-END / {
	rc = $3; sub(/rc=/, "", rc); rc += 0
	missing = (plan < 0) ? 1 : plan - got
	if (missing > 0) {
		printf "# %s: %d result(s) missing\n", cur, missing
		fail += missing; tfail += missing
	}
	if (rc != 0 && tfail == 0) {
		printf "# %s: exit status %d%s\n", cur, rc, rc == 137 ? " (killed: timeout)" : ""
		fail++; tfail++
	}
	ntop++
	printf "%s %d selftests: ipcchan: %s\n", tfail ? "not ok" : "ok", ntop, cur
	cur = ""
	next
}
cur != "" {
	print "# " $0
	if ($0 ~ /^1\.\.[0-9]+/) { plan = substr($0, 4) + 0; next }
	if ($0 ~ /^ok [0-9]+ .*# SKIP/) { got++; skip++; next }
	if ($0 ~ /^ok [0-9]+ /) { got++; pass++; next }
	if ($0 ~ /^not ok [0-9]+ /) { got++; fail++; tfail++; next }
	next
}
{ print "# guest: " $0 }
END {
	n = ntop
	if (cur != "") {
		printf "# %s: no end marker: the guest died or hung in it\n", cur
		result(0, "selftests: ipcchan: " cur " (did not finish)")
	}
	if (insmod != 0) { printf "# insmod failed (rc=%d)\n", insmod }
	result(insmod == 0, "insmod ipcchan.ko")
	for (i = 1; i <= ntests; i++)
		if (!(want[i] in seen)) result(0, "selftests: ipcchan: " want[i] " (never ran)")
	result(rmmod == 0, "rmmod ipcchan")
	if (has_kmemleak) {
		printf "# kmemleak scan after rmmod: %d unreferenced object(s)\n", kmemleak
		result(kmemleak == 0, "kmemleak scan after the tests and rmmod is empty")
	}
	result(done, "guest finished and powered off")
	printf "1..%d\n", n
	printf "%d %d %d\n", pass, fail, skip > counts
}
