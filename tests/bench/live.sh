#!/bin/bash
# Pre-copy (live) moves against stop-and-copy, measured in one run on a 2-host
# lab (needs root; about 3 minutes with the default sizes).
#
#   tests/bench/live.sh [MIB...]          (default: 64 1024)
#   RATES="0 10 100" (MB/s)  REPS=1
#
# For each size and write rate, one after the other, twice: a livehog
# (tests/progs/livehog.c) of MIB MiB that rewrites min(MIB, 256) MiB of it,
# whole pages round-robin, at RATE MB/s and prints its CLOCK_REALTIME every
# millisecond, started with ssirun on n1, moved to n2 with `ssictl migrate
# --json` (pre-copy, the default) and, the second time, with `--stop-copy`.
# Per move:
#   freeze  the largest gap between two of its timestamps (ms): from its last
#           instruction at n1 to its first at n2, to within a millisecond;
#   total   total_ms of ssictl's answer (from ssictl's start to the deputy
#           connected);
#   frz-req ssi-freeze's own freeze_ms (freeze signal to the image's END),
#           which leaves out the restore at n2;
#   rounds, conv (1: converged; 0: cut short), sent (MiB, the rounds included);
# then it is asked to check every page (SIGUSR2: "verify ok" and exit), so a
# wrong figure from a wrong move cannot pass unseen ("BAD" in the last column).
# Ratios: stop-and-copy's freeze and total over pre-copy's, same size and rate.
. "$(dirname "$0")/../integ/lib.sh"
lab_require_root
livehog=${SSI_TESTDIR:-$lab_top/build/tests}/livehog
[ -x "$livehog" ] || { echo "live.sh: $livehog not built: run 'make $livehog'" >&2; exit 1; }
sizes=${*:-64 1024}
rates=${RATES:-0 10 100}
need=$(( $(echo "$sizes" | tr ' ' '\n' | sort -n | tail -1) * 3 + 1024 ))
avail=$(awk '/MemAvailable/ { print int($2 / 1024) }' /proc/meminfo)
[ "$avail" -gt "$need" ] || skip "needs about $need MiB free (source, agent's copy, body); $avail MiB available"
lab_up 2

# one MIB RATE MODE: prints "freeze total frz-req rounds/conv sent_mib ok".
one() {
	local hot=$1 out=/tmp/live.out flag=
	[ "$hot" -gt 256 ] && hot=256
	[ "$3" = stop ] && flag=--stop-copy
	lab_exec n1 rm -f $out
	lab_exec n1 sh -c "ssirun $livehog $1 $hot $2 2 > $out 2>&1 &"
	wait_until 120 lab_exec n1 grep -q '^livehog ready' $out || { echo "- - - - - start"; return; }
	local pid
	pid=$(lab_exec n1 sed -n 's/^livehog ready \([0-9]*\).*/\1/p' $out)
	sleep 1.5
	local js
	js=$(lab_exec n1 ssictl migrate --json $flag "$pid" n2 2>&1)
	sleep 1
	lab_exec n1 kill -USR2 "$pid"
	wait_until 60 sh -c "! ssilab exec n1 -- kill -0 $pid 2>/dev/null"
	lab_exec n1 cat $out | JS="$js" python3 -c '
import json, os, sys
gap, prev, ok = 0, None, 0
for line in sys.stdin:
    if line.startswith("t "):
        t = int(line.split()[1])
        if prev is not None:
            gap = max(gap, t - prev)
        prev = t
    elif line.startswith("livehog verify ok"):
        ok = 1
try:
    d = json.loads(os.environ["JS"])["data"]
    print("%.1f %d %.1f %d/%d %.1f %s" % (gap / 1000.0, d["total_ms"], d["freeze_ms"], d["rounds"],
          d.get("converged", 0), d["bytes"] / 1048576.0, "ok" if ok else "BAD"))
except Exception:
    print("- - - - - failed:", os.environ["JS"][:200].replace("\n", " "))
'
}

printf '%-6s %-5s | %-9s %-7s %-7s %-6s %-8s %-4s | %-9s %-7s %-7s %-8s %-4s | %s\n' \
	MiB MB/s freeze total frz-req rnd/conv sent ok "S&C frz" total frz-req sent ok "ratio freeze, total"
for mib in $sizes; do
	for rate in $rates; do
		read -r lf lt lq lr ls lok <<<"$(one "$mib" "$rate" live)"
		read -r sf st sq sr ss sok <<<"$(one "$mib" "$rate" stop)"
		ratio=$(awk -v a="$sf" -v b="$lf" -v c="$st" -v d="$lt" \
			'BEGIN { if (b > 0 && d > 0) printf "%.1fx, %.2fx", a / b, c / d; else print "-" }')
		printf '%-6s %-5s | %-9s %-7s %-7s %-6s %-8s %-4s | %-9s %-7s %-7s %-8s %-4s | %s\n' \
			"$mib" "$rate" "$lf" "$lt" "$lq" "$lr" "$ls" "$lok" "$sf" "$st" "$sq" "$ss" "$sok" "$ratio"
	done
done
