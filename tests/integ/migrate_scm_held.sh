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

check() { lab_probe_check "$pid" /tmp/h.out /tmp/h.err "$1" "$2"; }

check 0 "at home, before moving"
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1) && ok "moved with a descriptor queued in a socket: $out" ||
	fail "moved with a descriptor queued in a socket: $out"
check 1 "away on n2: the datagram ahead of it arrives"
out=$(lab_exec n1 ssictl migrate "$pid" home 2>&1) && ok "came home: $out" || fail "came home: $out"
check 2 "at home again: the datagram comes with its descriptor, which still reads the pipe"
lab_probe_end /tmp/h.out
finish
