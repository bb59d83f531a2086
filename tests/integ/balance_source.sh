#!/bin/sh
# The balancer's limit of moves per node and period holds per SOURCE node, where the bodies
# run, not per home (issue #13): three hosts of 0.3 CPU each, 'moves = 1'; homes n1 and n2
# each put two endless CPU-bound jobs on n3 (ssirun --node n3 --stay, so that none moves
# before all four are there), then let the balancer move all four at once (ssictl nostay).
# Each home's balancer runs once in every period (1 s), so both want their jobs back within
# one period of each other: n3 must let one balancer move leave it per period, whichever home
# asks, refuse the other with the reason, and in the end every job spread (n3 keeps at most
# two of the four). A limit counted per home would let each home move one in the same
# period. (Started without --stay, the jobs landed over seconds under load, the homes asked
# in different periods, and the refusal came, or did not, by chance.)
. "$(dirname "$0")/lib.sh"
lab_require_root
cpuhog=${SSI_TESTDIR:-$lab_top/build/tests}/cpuhog
[ -x "$cpuhog" ] || { echo "not ok - $cpuhog is missing (make check builds it)"; exit 1; }
[ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ] || grep -qw cpu /sys/fs/cgroup/cgroup.controllers 2>/dev/null ||
    skip "no cgroup cpu controller (the hosts need CPU quotas)"

LAB_BALANCE=on,moves=1,period=1000,residence=1000 lab_up 3 --cpu 0.3
for h in n1 n2; do
    lab_exec "$h" sh -c "for i in 1 2; do ssirun --node n3 --stay $cpuhog 100000000 7 >/dev/null 2>&1 & done"
done
sent() { [ "$(grep -c 'node: process [0-9]* moved from n[12] to n3' "$(lab_log n1)" "$(lab_log n2)" |
    awk -F: '{ s += $2 } END { print s }')" = 4 ]; }
check "n1 and n2 each moved two jobs to n3" wait_until 30 sent
ids=$(lab_exec n1 ssictl ps 2>/dev/null | awk '/cpuhog/ && $1 ~ /^n[12]$/ { print $1 ":" $2 }')
check "the four jobs are listed with their homes ($(echo $ids))" [ "$(echo "$ids" | wc -w)" = 4 ]
# All four free at once: one ssictl per job, in one run on n1.
check "ssictl nostay freed the four" lab_exec n1 sh -c "for j in $(echo $ids); do ssictl nostay \$j >/dev/null || exit 1; done"
spread() {
    n=$(lab_exec n1 ssictl ps 2>/dev/null | grep -c '^n[12] .* n3 .*cpuhog')
    [ "$n" -le 2 ] && [ "$(lab_exec n1 ssictl ps 2>/dev/null | grep -c cpuhog)" = 4 ]
}
if wait_until 40 spread; then
    ok "the jobs spread: n3 runs at most two of the four"
else
    fail "the jobs spread: n3 runs at most two of the four: $(lab_exec n1 ssictl ps 2>&1)"
fi

n3log=$(lab_log n3)
granted=$(grep -c 'balance: granted n[12] a move of process [0-9]* (1 of 1 this period)' "$n3log")
note "n3 granted $granted moves"
check "n3 granted the homes' moves one by one ($granted)" [ "$granted" -ge 2 ]
refused() {
    grep -q 'balance: refused n[12] a move of process [0-9]*: n3 sent 1 balancer move in the last 1000 ms already (moves = 1 per node and period)' "$n3log"
}
check "n3 refused a home a move in a period whose move was spent, with the reason" wait_until 10 refused
# Seconds of the day of each grant: no two closer than a period (less 20 ms of rounding).
close=$(grep 'balance: granted n[12] a move' "$n3log" | cut -d' ' -f1 | sed 's/^.*T//' |
    awk -F: '{ t = $1 * 3600 + $2 * 60 + $3; if (NR > 1 && t - p < 0.98) print p, t; p = t }')
check "no two moves left n3 within one period" [ -z "$close" ]
[ -z "$close" ] || note "grants too close: $close"
declined() {
    grep -q 'balance: declined: process [0-9]* n3 -> n[12]: n3 sent 1 balancer move' "$(lab_log n1)" "$(lab_log n2)"
}
check "a home logged the refusal as a declined chance" wait_until 10 declined
for h in n1 n2; do
    lab_exec "$h" pkill -f "cpuhog 100000000"
done

finish
