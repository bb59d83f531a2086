#!/bin/bash
# Makespan of N CPU-bound jobs started on n1 of a 4-host lab whose hosts have a CPU quota,
# balanced (ssirun: the load balancer spreads them) against all on n1 (ssirun --stay) and
# against the ideal (total CPU work / total capacity), with the number of migrations: placements
# before main and the periodic balancer's moves.
#
#   tests/bench/balance.sh [N...]     (default: 4 8 16)
#
# Environment: QUOTA (CPU per host, default 0.3), BLOCKS (work per job, tests/progs/cpuhog,
# default 500: about 0.9 CPU-s here), BALANCE (the lab's balance block, default "on"; e.g.
# "on,place=off,moves=1" for the balancer as it was before placement), SSILAB_INSTANCE=K (see
# ssilab(1)), KEEP_LOG=FILE (n1's ssid log is copied there at the end).
# The work of one job is its user+system CPU time measured outside the lab (median of 3 runs);
# the ideal makespan is N x work / (4 x QUOTA), or one job's work / QUOTA if that is longer.
# Makespan: from the first ssirun to the last job's exit, inside n1 (one shell waits for all).
# Every job's result is checked against an unmoved run's. Needs root; about 3 minutes.
. "$(dirname "$0")/../integ/lib.sh"
lab_require_root
cpuhog=${SSI_TESTDIR:-$lab_top/build/tests}/cpuhog
[ -x "$cpuhog" ] || { echo "bench: $cpuhog is missing (make check builds it)"; exit 1; }
QUOTA=${QUOTA:-0.3} BLOCKS=${BLOCKS:-500}
sizes=${*:-4 8 16}

ref=$("$cpuhog" "$BLOCKS" 7)
work=$(for _ in 1 2 3; do
    /usr/bin/time -f '%U %S' "$cpuhog" "$BLOCKS" 7 2>&1 >/dev/null | awk '{ print $1 + $2 }'
done | sort -n | sed -n 2p)
echo "one job: cpuhog $BLOCKS = $work CPU-s (median of 3, outside the lab); hosts: 4 x $QUOTA CPU"

echo "balance: ${BALANCE:-on}; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
LAB_BALANCE=${BALANCE:-on} lab_up 4 --cpu "$QUOTA"
log=$SSILAB_DIR/n1/ssid.log

# run N OPTS: prints "seconds bad_results" for N jobs started together on n1.
run() {
    lab_exec n1 bash -c "t0=\$(date +%s.%N)
        for i in \$(seq $1); do ssirun $2 $cpuhog $BLOCKS 7 >/tmp/b\$i.out 2>&1 & done; wait
        t1=\$(date +%s.%N); bad=0
        for i in \$(seq $1); do [ \"\$(cat /tmp/b\$i.out)\" = '$ref' ] || bad=\$((bad + 1)); done
        awk -v a=\$t0 -v b=\$t1 -v bad=\$bad 'BEGIN { printf \"%.2f %d\\n\", b - a, bad }'"
}
moves() { grep -c 'balance: \(moving\|bringing home\):' "$log"; }
placed() { grep -c 'balance: placing:' "$log"; }

# even: the all-on-n1 run's time spread evenly over the four hosts (ceil(N/4) jobs each), the
# best any placement can do on these quota'd hosts in this run: the quotas' own overhead, which
# the ideal does not count, is in it (a baseline from the same run, as the ideal is not).
printf '\n%4s %9s %11s %6s %11s %6s %8s %6s %6s %6s\n' N ideal balanced ratio "all-on-n1" ratio even "/even" placed moves
for n in $sizes; do
    ideal=$(awk -v n="$n" -v w="$work" -v q="$QUOTA" 'BEGIN {
        i = n * w / (4 * q); o = w / q; printf "%.1f", (i > o ? i : o) }')
    m0=$(moves) p0=$(placed)
    read -r bal badb < <(run "$n" "")
    m1=$(moves) p1=$(placed)
    read -r stay bads < <(run "$n" --stay)
    even=$(awk -v s="$stay" -v n="$n" 'BEGIN { k = int((n + 3) / 4); printf "%.1f", s * k / n }')
    printf '%4s %8ss %10ss %5sx %10ss %5sx %7ss %5sx %6s %6s\n' "$n" "$ideal" "$(printf %.1f "$bal")" \
        "$(awk -v a="$bal" -v b="$ideal" 'BEGIN { printf "%.2f", a / b }')" "$(printf %.1f "$stay")" \
        "$(awk -v a="$stay" -v b="$ideal" 'BEGIN { printf "%.2f", a / b }')" "$even" \
        "$(awk -v a="$bal" -v b="$even" 'BEGIN { printf "%.2f", a / b }')" "$((p1 - p0))" "$((m1 - m0))"
    [ "$badb$bads" = 00 ] || echo "  WRONG RESULTS: $badb balanced, $bads all-on-n1"
    sleep 3 # let the loads settle
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
[ -z "${KEEP_LOG:-}" ] || cp "$log" "$KEEP_LOG"
lab_down
