#!/bin/bash
# A moved process waits for the children it forked before it moved (#17):
# tests/progs/waiter.py forks two children at home, moves to n2, and there
# waits for the first with a blocking waitpid and for the second with a
# blocking waitid while each is sent SIGTERM at home: it gets their exit
# statuses (7, 5), then no child is left, and their SIGCHLDs reached it.
# It comes home afterwards and exits 0.
. "$(dirname "$0")/lib.sh"
lab_require_root
command -v python3 >/dev/null || skip "python3 is not installed"
lab_up 2
mkdir -p "$LAB_FILES"
cp "$lab_top/tests/progs/waiter.py" "$LAB_FILES/"
prog=$LAB_FILES/waiter.py

lab_exec n1 sh -c "{ ssirun python3 $prog 2>/tmp/w.err; echo status=\$?; } >/tmp/w.out &"
wait_until 10 lab_exec n1 grep -q '^ready ' /tmp/w.out
pid=$(lab_pid_of waiter.py)
set -- $(lab_exec n1 grep '^ready ' /tmp/w.out)
a=$2 b=$3
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1) && ok "moved with two children at home: $out" ||
	fail "moved with two children at home: $out"
lab_exec n1 kill -USR1 "$pid"
wait_until 10 lab_exec n1 grep -q '^waiting' /tmp/w.out
sleep 1 # blocked in waitpid by now
lab_exec n1 kill -TERM "$a"
wait_until 10 lab_exec n1 grep -q '^A ' /tmp/w.out
sleep 1 # blocked in waitid by now
lab_exec n1 kill -TERM "$b"
wait_until 10 lab_exec n1 grep -q '^done' /tmp/w.out
res=$(lab_exec n1 cat /tmp/w.out)
expect "a blocking waitpid away got the first child's status" "A 7"
expect "a blocking waitid away got the second child's status" "B 5"
expect "then no child was left" "none left"
expect "both SIGCHLDs reached it away" "sigchld 2"
state=$(lab_exec n1 ssictl ps --json | python3 -c '
import json, sys
print(next((p["node"] for p in json.load(sys.stdin)["data"] if p["pid"] == int(sys.argv[1])), "?"))' "$pid")
[ "$state" = n2 ] && ok "it waited on n2" || fail "it was on '$state' when it waited, not n2"
out=$(lab_exec n1 ssictl migrate "$pid" home 2>&1) && ok "came home: $out" || fail "came home: $out"
lab_exec n1 kill -USR1 "$pid"
wait_until 10 lab_exec n1 grep -q '^status=' /tmp/w.out
[ "$(lab_exec n1 grep '^status=' /tmp/w.out)" = status=0 ] && ok "it exited 0 at home" ||
	fail "it ended: $(lab_exec n1 cat /tmp/w.out)"
[ -z "$(lab_exec n1 cat /tmp/w.err)" ] && ok "nothing on its stderr" || fail "its stderr: $(lab_exec n1 cat /tmp/w.err)"
finish
