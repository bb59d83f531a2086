#!/bin/bash
# A datagram carrying a descriptor (SCM_RIGHTS), queued in a Unix socket
# when the process moves, is not lost (#17, zdtm's scm00-02): the deputy
# cannot pass a descriptor to another node, so it leaves that datagram
# (and what follows it) in the home socket's queue; the program receives it
# with its descriptor once it is home again. tests/progs/scm_held.py: a
# datagram socketpair with "plain" then "fd" + a pipe's read end queued;
# away it reads "plain", at home again "fd" and the pipe, which still reads
# what was written into it.
. "$(dirname "$0")/lib.sh"
lab_require_root
command -v python3 >/dev/null || skip "python3 is not installed"
lab_up 2
mkdir -p "$LAB_FILES"
cp "$lab_top/tests/progs/scm_held.py" "$LAB_FILES/"
prog=$LAB_FILES/scm_held.py

lab_exec n1 sh -c "{ ssirun python3 $prog 2>/tmp/h.err; echo status=\$?; } >/tmp/h.out &"
wait_until 10 lab_exec n1 grep -q '^ready' /tmp/h.out
pid=$(lab_pid_of scm_held.py)

check() {
	lab_exec n1 kill -USR2 "$pid"
	if wait_until 15 lab_exec n1 grep -q "^check $1 " /tmp/h.out; then
		line=$(lab_exec n1 grep "^check $1 " /tmp/h.out)
		[ "$line" = "check $1 ok" ] && ok "$2" || fail "$2: $line"
	else
		fail "$2: no answer to check $1: $(lab_exec n1 cat /tmp/h.out /tmp/h.err)"
	fi
}

check 0 "at home, before moving"
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1) && ok "moved with a descriptor queued in a socket: $out" ||
	fail "moved with a descriptor queued in a socket: $out"
check 1 "away on n2: the datagram ahead of it arrives"
out=$(lab_exec n1 ssictl migrate "$pid" home 2>&1) && ok "came home: $out" || fail "came home: $out"
check 2 "at home again: the datagram comes with its descriptor, which still reads the pipe"
wait_until 10 lab_exec n1 grep -q '^status=' /tmp/h.out
[ "$(lab_exec n1 grep '^status=' /tmp/h.out)" = status=0 ] && ok "it ended with status 0" ||
	fail "it ended: $(lab_exec n1 cat /tmp/h.out /tmp/h.err)"
finish
