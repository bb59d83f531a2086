#!/bin/sh
# Guests' CPU is measured where they run (issue #13): the node a body runs on measures its CPU
# demand ((run + run-queue wait) / wall time, /proc/PID/schedstat of the body) each period and
# tells the home (GUEST_LOAD), whose balancer and 'ssictl top' use it; the load that node
# gossips counts its guests. Two hosts of 0.3 CPU; n1 starts an endless CPU-bound job (cpuhog)
# and an idle one (sleeper) straight on n2 (ssirun --node n2: they never ran at home, where
# nothing could have been measured). n1 must show the cpuhog demanding most of a CPU and the
# sleeper almost none, and n2's load must count the cpuhog.
. "$(dirname "$0")/lib.sh"
lab_require_root
bin=${SSI_TESTDIR:-$lab_top/build/tests}
for p in cpuhog sleeper; do
    [ -x "$bin/$p" ] || { echo "not ok - $bin/$p is missing (make check builds it)"; exit 1; }
done
[ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ] || grep -qw cpu /sys/fs/cgroup/cgroup.controllers 2>/dev/null ||
    skip "no cgroup cpu controller (the hosts need CPU quotas)"

LAB_BALANCE=on,place=off lab_up 2 --cpu 0.3
lab_exec n1 sh -c "ssirun --node n2 $bin/cpuhog 100000000 7 >/dev/null 2>&1 &
    ssirun --node n2 $bin/sleeper 60 >/dev/null 2>&1 &"
away() { [ "$(lab_exec n1 ssictl ps 2>/dev/null | grep -c '^n1 .* n2 .*away.*\(cpuhog\|sleeper\)')" = 2 ]; }
check "both jobs run on n2" wait_until 20 away

# CPU% of a process of n1 in one plain frame of 'ssictl top' (HOME PID NODE STATE CPU% ...).
cpu_of() { lab_exec n1 ssictl top 2>/dev/null | awk -v w="$1" '$1 == "n1" && $0 ~ w { print $5; exit }'; }
measured() {
    hog=$(cpu_of cpuhog) idle=$(cpu_of sleeper)
    [ -n "$hog" ] && [ -n "$idle" ] && [ "$hog" -ge 50 ] && [ "$idle" -le 10 ]
}
if wait_until 15 measured; then
    ok "n1 shows the demand measured on n2: cpuhog $hog%, sleeper $idle%"
else
    fail "n1 shows the demand measured on n2 (cpuhog >= 50%, sleeper <= 10%): cpuhog '$hog'%, sleeper '$idle'%"
fi
loaded() { lab_exec n1 ssictl nodes | awk '$1 == "n2" { exit !($3 >= 0.5) }'; }
check "n2's gossiped load counts its guest cpuhog" wait_until 10 loaded
note "$(lab_exec n1 ssictl nodes | tr '\n' '|')"
lab_exec n1 pkill -f "cpuhog 100000000"
lab_exec n1 pkill -f "sleeper 60"

finish
