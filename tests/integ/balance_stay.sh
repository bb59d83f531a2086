#!/bin/sh
# What the load balancer leaves alone (issue #13): on four hosts of 0.3 CPU each, eight
# CPU-bound jobs started on n1 with 'ssirun --stay' stay on n1 while balancing is on, and the
# balancer says why it declines; with 'balance = off' in the cluster file, eight plain ssirun
# jobs stay on n1 too. Each case is watched for 9 s, three times the minimum residence after
# which the balancer moves jobs that may move (balance_spread.sh shows that it does).
. "$(dirname "$0")/lib.sh"
lab_require_root
cpuhog=${SSI_TESTDIR:-$lab_top/build/tests}/cpuhog
[ -x "$cpuhog" ] || { echo "not ok - $cpuhog is missing (make check builds it)"; exit 1; }
[ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ] || grep -qw cpu /sys/fs/cgroup/cgroup.controllers 2>/dev/null ||
    skip "no cgroup cpu controller (the hosts need CPU quotas)"

# watch_jobs WHAT SSIRUN-OPTIONS: starts eight endless jobs on n1, watches ps for 9 s, checks
# that every job stayed on n1 with no move, then kills them.
watch_jobs() {
    lab_exec n1 sh -c "for i in 1 2 3 4 5 6 7 8; do
        ssirun $2 $cpuhog 100000000 7 >/dev/null 2>&1 &
    done"
    wait_until 10 sh -c "[ \$(ssilab exec n1 -- ssictl ps | grep -c cpuhog) = 8 ]" ||
        fail "$1: the eight jobs did not show in ssictl ps"
    mkdir -p "$LAB_FILES"
    : >"$LAB_FILES/seen"
    end=$(($(date +%s) + 9))
    while [ "$(date +%s)" -lt "$end" ]; do
        lab_exec n1 ssictl ps 2>/dev/null | grep cpuhog >>"$LAB_FILES/seen"
        sleep 0.5
    done
    elsewhere=$(awk '$3 != "n1" || $6 != 0' "$LAB_FILES/seen" | head -n 3)
    check "$1: all eight stayed on n1, never moved, for 9 s" [ -z "$elsewhere" ]
    [ -z "$elsewhere" ] || note "seen: $elsewhere"
    lab_exec n1 pkill -f "cpuhog 100000000"
    wait_until 10 sh -c "! ssilab exec n1 -- ssictl ps | grep -q cpuhog" ||
        fail "$1: the jobs did not end"
}

LAB_BALANCE=on lab_up 4 --cpu 0.3
watch_jobs "ssirun --stay" --stay
check "ssictl ps marks them [stay]" grep -q '\[stay\] .*cpuhog' "$LAB_FILES/seen"
check "the balancer logged why it declined: they stay" \
    grep -q 'balance: declined: process [0-9]* n1 -> n[2-4] (CPU share .*): it stays (ssirun --stay)' \
    "$SSILAB_DIR/n1/ssid.log"
check "the balancer moved nothing" sh -c "! grep -q 'balance: moving' '$SSILAB_DIR/n1/ssid.log'"
lab_down

LAB_BALANCE=off lab_up 4 --cpu 0.3
check "the cluster file says balance = off" grep -qx 'balance = off' "$SSILAB_DIR/cluster.conf"
watch_jobs "balance = off" ""
check "n1's ssid logged that balancing is off" \
    grep -q 'balancing is off (cluster file: balance = off)' "$SSILAB_DIR/n1/ssid.log"

finish
