#!/bin/bash
# Freeze time and total time of a move on one machine (engine: ssi-freeze into /dev/shm, then
# ssi-restore in a new PID namespace) for a process with 1, 4 and 16 threads holding the same
# resident memory (tests/progs/thrhog: MIB MiB in main, the other threads loop over a small sum
# and a 1 ms sleep). Freeze: what ssi-freeze reports (signal to image end). Total: from
# ssi-freeze's start until the restored body prints its next line (it prints one every 2 ms).
# N rounds each (default 5), in alternation; prints min/median/max and the ratio of the medians
# against 1 thread.
# Usage (root): bash tests/bench/threads.sh [N] [MIB]    (make build/tests/thrhog first)
top=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${SSI_BINDIR:-$top/build/bin}
LIB=${SSI_LIBDIR:-$top/build/lib}/libssi.so
T=${SSI_TESTDIR:-$top/build/tests}
N=${1:-5} MIB=${2:-64}
[ "$(id -u)" = 0 ] || { echo "# skipped: needs root (PID namespaces, clone3 set_tid)"; exit 77; }
[ -x "$T/thrhog" ] || { echo "bench: $T/thrhog is missing (make build/tests/thrhog)"; exit 1; }
W=$(mktemp -d /dev/shm/ssi-thr.XXXXXX)
trap 'for p in $(jobs -p); do kill -9 $p 2>/dev/null; done; rm -rf "$W"' EXIT
export SSI_FREEZE_DIR=$W
leaf() { # the child of the child of PID (the body under unshare's shell or ssi-restore)
	local c
	for _ in $(seq 100); do
		c=$(pgrep -P "$1" | head -n 1)
		[ -n "$c" ] && [ "$2" = 1 ] && { echo "$c"; return; }
		[ -n "$c" ] && c=$(pgrep -P "$c" | head -n 1)
		[ -n "$c" ] && { echo "$c"; return; }
		sleep 0.02
	done
}
now() { date +%s%N; }

# one NTHREADS: prints "freeze_ms total_ms" for one move of thrhog NTHREADS MIB.
one() {
	local wrap body line t0 t1 n
	: >"$W/out"
	unshare --pid --fork --mount-proc sh -c '"$@" & wait $!' sh env GLIBC_TUNABLES=glibc.pthread.rseq=0 \
		LD_PRELOAD="$LIB" "$T/thrhog" "$1" "$MIB" >>"$W/out" 2>&1 &
	wrap=$!
	body=$(leaf $wrap 2)
	for _ in $(seq 200); do grep -q '^tick 5$' "$W/out" && break; sleep 0.02; done
	t0=$(now)
	line=$("$BIN/ssi-freeze" -x -o "$W/img" "$body" 2>&1)
	wait $wrap 2>/dev/null
	n=$(grep -c '^tick' "$W/out")
	unshare --pid --fork --mount-proc "$BIN/ssi-restore" "$W/img" >>"$W/out" 2>&1 &
	wrap=$!
	while [ "$(grep -c "^tick" "$W/out")" -le "$n" ]; do sleep 0.005; done
	t1=$(now)
	kill -9 $wrap 2>/dev/null
	pkill -9 -P $wrap 2>/dev/null
	wait $wrap 2>/dev/null
	rm -f "$W/img"
	echo "$(printf '%s' "$line" | sed -n 's/.*frozen \([0-9.]*\) ms.*/\1/p') $(((t1 - t0) / 1000000))"
}
stats() { sort -n | awk '{v[NR]=$1} END {printf "%s %s %s", v[1], v[int((NR+1)/2)], v[NR]}'; }

echo "# load: $(cut -d' ' -f1-3 /proc/loadavg); thrhog with $MIB MiB, $N rounds"
for i in $(seq "$N"); do
	for k in 1 4 16; do
		echo "$k $(one $k)" >>"$W/res"
	done
done
printf '%-8s %-22s %-22s %s\n' threads "freeze ms min/med/max" "total ms min/med/max" "ratio (median, vs 1)"
for k in 1 4 16; do
	set -- $(awk -v k=$k '$1 == k {print $2}' "$W/res" | stats)
	f1=$1 f2=$2 f3=$3
	set -- $(awk -v k=$k '$1 == k {print $3}' "$W/res" | stats)
	[ $k = 1 ] && bf=$f2 bt=$2
	printf '%-8s %-22s %-22s %s\n' $k "$f1 / $f2 / $f3" "$1 / $2 / $3" \
		"$(awk -v a=$f2 -v b=$bf -v c=$2 -v d=$bt 'BEGIN {printf "freeze %.2fx, total %.2fx", a / b, c / d}')"
done
