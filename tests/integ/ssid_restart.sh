#!/bin/bash
# Daemons that restart (issue #15). The ssid of the node where a body runs
# is killed (SIGKILL) and started again while the body streams its output
# home: the body keeps running, `ssictl ps` on the restarted node is right
# at once, the process comes home afterwards and its output is complete.
# A move asked right after a node's ssid restarted works (the offer is sent
# until answered). An offer that timed out at home because the destination
# was only slow (its ssid stopped for longer than the offer's 10 s) is
# never acted on: the destination's helpers are told to give up, the
# process never froze and runs on at home. The home node's ssid killed and
# restarted finds its processes again (one at home, one away: ssictl ps is
# right), each can then move, and an ended one leaves the table.
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_python
lab_up 2

mkdir -p "$LAB_FILES"
prog=$LAB_FILES/tick.py
cat >"$prog" <<'PY'
import sys, time
# tick.py N: N numbered lines, slowly; exits 7.
n = int(sys.argv[1])
for i in range(n):
    print(i, flush=True)
    time.sleep(0.05)
sys.exit(7)
PY

# start TAG N: tick.py on n1, stdout through a pipe into /tmp/TAG.out,
# status into /tmp/TAG.rc; prints its pid.
start() {
	lab_exec n1 sh -c "{ ssirun $PY $prog $2 $1 2>&1; echo \$? > /tmp/$1.rc; } | cat > /tmp/$1.out &"
	wait_until 10 lab_exec n1 test -s "/tmp/$1.out" || { fail "$1 did not start"; finish; }
	lab_exec n1 ssictl ps --json | python3 -c '
import json, sys
for p in json.load(sys.stdin)["data"]:
    if p["cmd"].endswith(" " + sys.argv[1]): print(p["pid"]); break' "$2 $1"
}
output_ok() {
	lab_exec n1 awk -v n="$2" '$1 != NR - 1 { bad = 1 } END { exit !(NR == n && !bad) }' "/tmp/$1.out"
}
# restart_ssid HOST: SIGKILL of HOST's ssid, then the same ssid again, at once.
# One lab_exec: three would leave the node silent long enough, on a loaded machine, for its
# peers to call it down (1.8 s). Returns once the new ssid answers ssictl.
restart_ssid() {
	lab_exec "$1" sh -c "p=$(lab_ssid_pid "$1"); kill -KILL \$p; while kill -0 \$p 2>/dev/null; do sleep 0.05; done
		ssid --cluster $SSILAB_DIR/cluster.conf --name $1 --keys $SSILAB_DIR/$1/keys \
		</dev/null >>$SSILAB_DIR/$1/ssid.log 2>&1 & echo \$! > $SSILAB_DIR/$1/ssid.pid"
	wait_until 10 lab_exec "$1" ssictl nodes >/dev/null 2>&1
}
ps_shows() { lab_exec "$1" ssictl ps --json | grep -q "\"home\":\"n1\",\"pid\":$2,\"node\":\"$3\""; }

# 1. n2's ssid killed and restarted under a running body.
pid=$(start a 300)
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1)
[ $? = 0 ] && ok "moved to n2: $out" || { fail "moved to n2: $out"; finish; }
restart_ssid n2
if wait_until 10 ps_shows n2 "$pid" n2; then
	ok "right after n2's ssid restarted, ssictl ps on n2 shows $pid on n2"
else
	fail "ssictl ps on n2 after its restart: $(lab_exec n2 ssictl ps 2>&1)"
fi
wait_until 10 ps_shows n1 "$pid" n2 && ok "ssictl ps on n1 shows it on n2" || fail "ps on n1: $(lab_exec n1 ssictl ps)"
lab_exec n2 pgrep -f "tick.py 300 a" >/dev/null && ok "the body still runs on n2" || fail "the body is gone from n2"
before=$(lab_exec n1 sh -c 'wc -l < /tmp/a.out')
grew() { [ "$(lab_exec n1 sh -c 'wc -l < /tmp/a.out')" -gt "$before" ]; }
wait_until 10 grew && ok "its output still streams home ($before -> $(lab_exec n1 sh -c 'wc -l < /tmp/a.out') lines)" ||
	fail "its output stopped ($before lines)"
out=$(lab_exec n1 ssictl migrate "$pid" home 2>&1)
[ $? = 0 ] && ok "then it comes home: $out" || fail "coming home after the restart: $out"
if wait_until 30 lab_exec n1 test -s /tmp/a.rc && [ "$(lab_exec n1 cat /tmp/a.rc)" = 7 ] && output_ok a 300; then
	ok "its output is complete and in order, and its status 7 reached the home shell"
else
	fail "output or status: rc '$(lab_exec n1 cat /tmp/a.rc)', $(lab_exec n1 sh -c 'wc -l < /tmp/a.out') lines"
fi

# 2. A move asked right after the destination's ssid restarted (as soon as it answers ssictl:
# a move lost by the new ssid fails at the offer's timeout; the time is printed, not judged).
pid=$(start b 200)
restart_ssid n2
t0=$(date +%s%N)
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1)
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
if [ "$rc" = 0 ]; then
	ok "a move asked right after n2's ssid restarted works (${ms} ms): $out"
else
	fail "a move right after a restart: exit $rc after ${ms} ms: $out"
fi
wait_until 30 lab_exec n1 test -s /tmp/b.rc && [ "$(lab_exec n1 cat /tmp/b.rc)" = 7 ] && output_ok b 200 &&
	ok "that process ran to its end on n2, output complete" || fail "process b: rc '$(lab_exec n1 cat /tmp/b.rc)'"

# 3. A destination that is only slow: its ssid stopped for longer than the
# offer may wait. The offer times out at home; when the destination wakes
# up and answers, it is told to give up, and nothing runs there.
pid=$(start c 400)
lab_exec n2 kill -STOP "$(lab_ssid_pid n2)"
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1)
rc=$?
echo "$out" | grep -q "did not answer the offer" && [ "$rc" != 0 ] && ok "the offer times out: $out" ||
	fail "offer to a stopped ssid: exit $rc: $out"
lab_exec n2 kill -CONT "$(lab_ssid_pid n2)"
no_agent() { ! lab_exec n2 pgrep -f ssi-agent >/dev/null; }
sleep 1
if wait_until 10 no_agent; then
	ok "the late offer is not acted on: no agent is left on n2"
else
	fail "an agent still runs on n2 for the stale offer: $(lab_exec n2 pgrep -af 'ssi-agent|ssi-xfer')"
fi
wait_until 10 grep -q "no longer valid" "$(lab_log n1)" && ok "n1 logged that it told n2 to give up" ||
	fail "n1's log does not say it told n2 to give up"
ps_shows n1 "$pid" n1 && ok "the process runs on at home" || fail "ps: $(lab_exec n1 ssictl ps)"
if wait_until 40 lab_exec n1 test -s /tmp/c.rc && output_ok c 400; then
	ok "and ends at home with its output complete"
else
	fail "process c: rc '$(lab_exec n1 cat /tmp/c.rc)'"
fi

# 4. The home node's ssid killed and restarted: its processes are found again.
pa=$(start d 250)
pb=$(start e 250)
out=$(lab_exec n1 ssictl migrate "$pb" n2 2>&1)
[ $? = 0 ] && ok "e moved to n2: $out" || fail "e moved to n2: $out"
# The table (/run/ssi/ssid.procs, written every 250 ms) must hold e on n2 before the kill.
in_table() { lab_exec n1 grep -q "^$pb [0-9]* [0-9]* [0-9-]* n2 " /run/ssi/ssid.procs; }
wait_until 10 in_table || note "e on n2 is not in n1's table yet: $(lab_exec n1 cat /run/ssi/ssid.procs)"
restart_ssid n1
both() { ps_shows n1 "$pa" n1 && ps_shows n1 "$pb" n2; }
if wait_until 10 both; then
	ok "after n1's ssid restarted, ssictl ps on n1 shows d at home and e on n2"
else
	fail "ps on n1 after its restart: $(lab_exec n1 ssictl ps 2>&1)"
fi
grep -q "found 2 ssi processes of a previous ssid again" "$(lab_log n1)" &&
	ok "n1 logged that it found them again" || fail "n1's log: $(tail -3 "$(lab_log n1)")"
out=$(lab_exec n1 ssictl migrate "$pa" n2 2>&1)
[ $? = 0 ] && ok "d moves to n2 after the restart: $out" || fail "d after the restart: $out"
out=$(lab_exec n1 ssictl migrate "$pb" home 2>&1)
[ $? = 0 ] && ok "e comes home after the restart: $out" || fail "e after the restart: $out"
for t in d e; do
	if wait_until 30 lab_exec n1 test -s /tmp/$t.rc && [ "$(lab_exec n1 cat /tmp/$t.rc)" = 7 ] && output_ok $t 250; then
		ok "$t ended with status 7, output complete"
	else
		fail "$t: rc '$(lab_exec n1 cat /tmp/$t.rc)'"
	fi
done
gone() { ! lab_exec n1 ssictl ps --json | grep -q "\"pid\":$1,"; }
wait_until 5 gone "$pa" && wait_until 5 gone "$pb" && ok "both left ssictl ps when they ended" ||
	fail "ps still lists them: $(lab_exec n1 ssictl ps)"

finish
