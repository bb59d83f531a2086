#!/bin/sh
# A host that dies gets no new work (issue #13): on four hosts of 0.3 CPU each, host n4 dies
# (its pid 1 is killed, and with it its ssid and everything it ran) just as eight CPU-bound
# jobs start on n1 with balancing on and a short residence (1 s), so that the balancer's
# first moves fall inside n4's heartbeat timeout. n1 must call n4 down within the timeout
# (1.8 s after its last heartbeat, heard at most 0.5 s before it died), offer nothing to n4
# once it has, spread the jobs over n1..n3, and every job must end with the right result.
. "$(dirname "$0")/lib.sh"
lab_require_root
cpuhog=${SSI_TESTDIR:-$lab_top/build/tests}/cpuhog
[ -x "$cpuhog" ] || { echo "not ok - $cpuhog is missing (make check builds it)"; exit 1; }
[ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ] || grep -qw cpu /sys/fs/cgroup/cgroup.controllers 2>/dev/null ||
    skip "no cgroup cpu controller (the hosts need CPU quotas)"

JOBS=8 BLOCKS=300
ref=$("$cpuhog" "$BLOCKS" 7)
LAB_BALANCE=on,residence=1000 lab_up 4 --cpu 0.3

# Seconds since midnight of a log line's stamp ([YYYY-MM-DDT]HH:MM:SS.mmm), or of now.
secs() { sed 's/^.*T//' | awk -F: '{ printf "%.3f\n", $1 * 3600 + $2 * 60 + $3 }'; }
t0=$(date +%H:%M:%S.%N | cut -c1-12 | secs)
kill -KILL "$(lab_holder_pid n4)"
lab_exec n1 sh -c "for i in \$(seq $JOBS); do
    (ssirun $cpuhog $BLOCKS 7 >/tmp/job\$i.out 2>&1; echo \$? >/tmp/job\$i.rc) &
done"

log=$SSILAB_DIR/n1/ssid.log
check "n1 calls n4 down" wait_until 5 grep -q 'node n4 is down' "$log"
down=$(grep -m1 'node n4 is down' "$log" | cut -d' ' -f1 | secs)
note "n4 died at $t0, n1 called it down at $down"
# The timeout is 2.3 s at most; n1's ssid checks it every 500 ms from inside a host of 0.3 CPU
# where eight jobs are starting, so its tick may come late: a second of slack (a broken timeout,
# or one not checked at all, is seconds off).
check "... within the heartbeat timeout (2.3 s after it died, with 1 s for a late tick)" \
    awk -v a="$t0" -v b="$down" 'BEGIN { exit !(b - a <= 2.3 + 1.0) }'

mkdir -p "$LAB_FILES"
: >"$LAB_FILES/seen"
all_done() {
    lab_exec n1 ssictl ps 2>/dev/null | grep cpuhog >>"$LAB_FILES/seen"
    [ "$(lab_exec n1 sh -c 'ls /tmp/job*.rc 2>/dev/null | wc -l')" = "$JOBS" ]
}
check "all $JOBS jobs ended" wait_until 180 all_done
bad=0
for i in $(seq "$JOBS"); do
    [ "$(lab_exec n1 cat /tmp/job$i.rc)" = 0 ] && [ "$(lab_exec n1 cat /tmp/job$i.out)" = "$ref" ] ||
        bad=$((bad + 1))
done
check "every job ended with status 0 and the unmoved run's result ($bad did not)" [ "$bad" = 0 ]
late=$(grep -E 'offering process [0-9]+ .* to n4$' "$log" | while read -r stamp rest; do
    t=$(echo "$stamp" | secs)
    awk -v t="$t" -v d="$down" 'BEGIN { exit !(t > d) }' && echo "$stamp $rest"
done)
check "nothing was offered to n4 after n1 called it down" [ -z "$late" ]
[ -z "$late" ] || note "late offers: $late"
check "the balancer moved or placed jobs (to n2 or n3)" grep -q 'balance: \(moving\|placing\): process [0-9]* n1 -> n[23]' "$log"
for h in n2 n3; do
    check "a job ran on $h" grep -q "^n1 *[0-9]* $h " "$LAB_FILES/seen"
done
check "no job ran on n4" sh -c "! grep -q '^n1 *[0-9]* n4 ' '$LAB_FILES/seen'"

finish
