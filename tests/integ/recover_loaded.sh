#!/bin/bash
# Recovery on the least loaded node (issue #15). A python3 computation of n1
# with periodic checkpoints is moved to n2; n1 then gets busy (two niced CPU
# loops: its run queue, as gossiped, is above its 2 CPUs once the recovered
# process is counted) while n3 stays idle. n2 is killed outright: the deputy
# at home restarts the process from its last checkpoint, and ssid, seeing
# home loaded, moves it on to n3, the least loaded live node: logged, in
# `ssictl events`, and the run ends on n3 with the uninterrupted run's result
# and home file. (A home that is not loaded keeps it: recover_node.sh,
# recover_home_ckpt.sh.)
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_python
lab_up 3

mkdir -p "$LAB_FILES"
prog=$LAB_FILES/ckpt_work.py
cp "$lab_top/tests/progs/ckpt_work.py" "$prog"
N=300

lab_exec n1 sh -c "$PY $prog /tmp/ref.out $N > /tmp/ref.stdout"
ref=$(lab_exec n1 cat /tmp/ref.stdout)
case "$ref" in "result "*) ok "reference run: $ref" ;; *) fail "reference run: '$ref'"; finish ;; esac

sed -i '1i spool = /tmp/spool' "$SSILAB_DIR/cluster.conf"
lab_exec n1 kill -HUP "$(lab_ssid_pid n1)"
wait_until 10 grep -q "reloaded" "$(lab_log n1)" || fail "n1 did not reload its cluster file"

lines() { lab_exec n1 sh -c "wc -l < $1 2>/dev/null || echo 0"; }
has_lines() { [ "$(lines "$1")" -ge "$2" ]; }
ps_shows() { lab_exec n1 ssictl ps --json 2>/dev/null | grep -q "\"home\":\"n1\",\"pid\":$pid,\"node\":\"$1\""; }
load_of() { lab_exec n1 ssictl nodes --json | python3 -c '
import json, sys
for n in json.load(sys.stdin)["data"]:
    if n["name"] == sys.argv[1]: print(n["load"])' "$1"; }
busy() { awk -v l="$(load_of n1)" 'BEGIN { exit !(l >= 1.5) }'; }

lab_exec n1 sh -c "{ ssirun --checkpoint-every 1 $PY $prog /tmp/a.out $N 2>/tmp/a.err; echo \$? > /tmp/a.rc; } | cat > /tmp/a.stdout &"
wait_until 20 has_lines /tmp/a.out 5 || { fail "the computation did not start"; finish; }
pid=$(lab_pid_of "work.py /tmp/a.out")
[ -n "$pid" ] || { fail "work.py is not in ssictl ps"; finish; }
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1) && wait_until 5 ps_shows n2 &&
	ok "moved to n2: $out" || { fail "migrate to n2: $out"; finish; }
# Two runnable loops at the lowest priority: n1's run queue, little CPU.
lab_exec n1 sh -c 'for i in 1 2; do nice -n 19 sh -c "while :; do :; done" >/dev/null 2>&1 & done'
wait_until 20 busy && ok "n1 is loaded: load $(load_of n1) on 2 CPUs, n3 $(load_of n3)" ||
	{ fail "n1's load stays at $(load_of n1)"; finish; }
ckpt() { lab_exec n1 sh -c "ls /tmp/spool/0/n1-$pid-periodic-*.ckpt" >/dev/null 2>&1; }
wait_until 10 ckpt || { fail "no periodic checkpoint"; finish; }

kill -KILL "$(lab_holder_pid n2)"
ok "n2 killed outright with $(lines /tmp/a.out) lines written"
if wait_until 20 ps_shows n3; then
	ok "recovered, then moved to n3: $(lab_exec n1 ssictl ps | grep "work.py /tmp/a.out")"
else
	fail "not on n3: $(lab_exec n1 ssictl ps 2>&1) $(lab_exec n1 cat /tmp/a.err) $(grep -i recover "$(lab_log n1)" | tail -3)"
fi
ev=$(lab_exec n1 ssictl events | grep "process $pid .*recovered at n1 (loaded.*moves to n3, the least loaded live node")
[ -n "$ev" ] && ok "ssictl events: $ev" || fail "no event for the move: $(lab_exec n1 ssictl events | tail -4)"
grep -q "process $pid .*recovered here, moves to n3, the least loaded live node" "$(lab_log n1)" &&
	ok "n1's log says why it moved" || fail "n1's log: $(grep -i recover "$(lab_log n1)" | tail -3)"
if wait_until 90 lab_exec n1 test -s /tmp/a.rc && [ "$(lab_exec n1 cat /tmp/a.rc)" = 0 ]; then
	ok "its parent at home saw it end with status 0"
else
	fail "recovered process: status '$(lab_exec n1 cat /tmp/a.rc)': $(lab_exec n1 cat /tmp/a.err)"
fi
got=$(lab_exec n1 cat /tmp/a.stdout)
[ "$got" = "$ref" ] && ok "same result into the same pipe ($got)" || fail "result '$got', want '$ref'"
lab_exec n1 cmp /tmp/ref.out /tmp/a.out && ok "the home file is the uninterrupted run's" ||
	fail "the home file differs"

finish
