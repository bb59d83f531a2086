#!/bin/bash
# Bytes through home for a move between two away nodes, against a move out of
# home of the same process, in one run on a 3-host lab (needs root; about a
# minute).
#
#   tests/bench/straight.sh [MIB...]      (default: 64 512)
#
# SSILAB_INSTANCE=K (see ssilab(1)) runs its lab beside others.
#
# For each size, one livehog MIB 0 0 (tests/progs/livehog.c: MIB MiB of
# patterned memory, no page left zero, never rewritten) is started with
# ssirun on n1 and moved three times, each timed with its own `ssictl migrate`
# inside the host that asks:
#   out    n1 -> n2, asked on n1 (a move out of home, live);
#   n2-n3  n2 -> n3, asked on n1 while the body runs on n2;
#   home   n3 -> n1.
# Per move: the wall time, and the bytes that crossed each host's interface
# (eth0 rx + tx inside the host, from /sys/class/net/eth0/statistics; the
# control plane's heartbeats and gossip included, a few KiB/s). Ratios:
# n2-n3's bytes through home (n1) over out's, and n2-n3's time over out's.
# A move n2 -> n3 that went straight would carry its image n2 -> n3 only:
# home's bytes would be the control plane's, and the time ratio near 1
# (issue #14 asks for 1.1x). docs/BENCHMARKS.md, "Straight moves".
. "$(dirname "$0")/../integ/lib.sh"
lab_require_root
livehog=${SSI_TESTDIR:-$lab_top/build/tests}/livehog
[ -x "$livehog" ] || { echo "straight.sh: $livehog not built: run 'make $livehog'" >&2; exit 1; }
sizes=${*:-64 512}
need=$(( $(echo "$sizes" | tr ' ' '\n' | sort -n | tail -1) * 3 + 1024 ))
avail=$(awk '/MemAvailable/ { print int($2 / 1024) }' /proc/meminfo)
[ "$avail" -gt "$need" ] || skip "needs about $need MiB free; $avail MiB available"
lab_up 3

# bytes HOST: eth0's rx + tx bytes inside HOST.
bytes() {
	lab_exec "$1" sh -c 'echo $(( $(cat /sys/class/net/eth0/statistics/rx_bytes) + $(cat /sys/class/net/eth0/statistics/tx_bytes) ))'
}
# move ASKER TARGET TO: runs ssictl migrate TARGET TO inside ASKER; prints
# "ms n1_bytes n2_bytes n3_bytes" for it, or "- - - -" if it failed.
move() {
	local b1 b2 b3 t0 t1 out
	b1=$(bytes n1) b2=$(bytes n2) b3=$(bytes n3)
	t0=$(date +%s%N)
	out=$(lab_exec "$1" ssictl migrate "$2" "$3" 2>&1) || { echo "- - - - $out" >&2; echo "- - - -"; return; }
	t1=$(date +%s%N)
	echo "$(((t1 - t0) / 1000000)) $(($(bytes n1) - b1)) $(($(bytes n2) - b2)) $(($(bytes n3) - b3))"
}
mib() { awk -v b="$1" 'BEGIN { if (b == "-") print "-"; else printf "%.1f", b / 1048576 }'; }

printf '%-5s | %-26s | %-26s | %-26s | %s\n' MiB "out: ms, MiB n1/n2/n3" \
	"n2-n3: ms, MiB n1/n2/n3" "home: ms, MiB n1/n2/n3" "n2-n3/out: home bytes, time"
for size in $sizes; do
	out=/tmp/straight.out
	lab_exec n1 rm -f $out
	lab_exec n1 sh -c "ssirun $livehog $size 0 0 > $out 2>&1 &"
	wait_until 120 lab_exec n1 grep -q '^livehog ready' $out || { echo "$size: livehog did not start"; continue; }
	pid=$(lab_exec n1 sed -n 's/^livehog ready \([0-9]*\).*/\1/p' $out)
	read -r ot o1 o2 o3 <<<"$(move n1 "$pid" n2)"
	read -r ct c1 c2 c3 <<<"$(move n1 "$pid" n3)"
	read -r ht h1 h2 h3 <<<"$(move n1 "$pid" home)"
	lab_exec n1 kill -USR2 "$pid"
	wait_until 60 sh -c "! ssilab exec n1 -- kill -0 $pid 2>/dev/null"
	# Its own checks (after each freeze, and at SIGUSR2): no page wrong.
	bad=$(lab_exec n1 grep -c 'verify FAIL' $out)
	ok=$(lab_exec n1 grep -c '^livehog verify ok' $out)
	ratio=$(awk -v a="$c1" -v b="$o1" -v c="$ct" -v d="$ot" \
		'BEGIN { if (b > 0 && d > 0) printf "%.2fx, %.2fx", a / b, c / d; else print "-" }')
	printf '%-5s | %-26s | %-26s | %-26s | %s%s\n' "$size" \
		"$ot, $(mib "$o1")/$(mib "$o2")/$(mib "$o3")" \
		"$ct, $(mib "$c1")/$(mib "$c2")/$(mib "$c3")" \
		"$ht, $(mib "$h1")/$(mib "$h2")/$(mib "$h3")" "$ratio" \
		"$([ "$bad" = 0 ] && [ "$ok" -ge 1 ] || echo " (its memory check failed!)")"
done
