#!/bin/bash
# Input whose home end is closed is not lost by coming home (#17): a Unix
# socketpair holds one byte and its peer is closed (tests/progs/
# closed_peer.py, zdtm's sockets02); moved to n2, the deputy hands the
# byte and the end of the stream to the body. Coming home while the body
# has not read them: after the body's 2 s grace, the byte goes home with
# it, and a fresh socket pair holding it, its peer closed, takes the home
# socket's place (ssi/home/ssi_homeinput.c): at home the process reads the
# byte and the end of the stream. With the peer alive in a child, the
# byte cannot go back (it would have to come from the peer): the
# homecoming is refused with the reason, and the process still reads the
# byte and the end of the stream away.
. "$(dirname "$0")/lib.sh"
lab_require_root
command -v python3 >/dev/null || skip "python3 is not installed"
lab_up 2
mkdir -p "$LAB_FILES"
cp "$lab_top/tests/progs/closed_peer.py" "$LAB_FILES/"
prog=$LAB_FILES/closed_peer.py

# $1: output file on n1; $2...: arguments. Starts the program, waits for "ready", sets $pid.
start() {
	out=$1
	shift
	lab_exec n1 sh -c "{ ssirun python3 $prog $* 2>$out.err; echo status=\$?; } >$out &"
	wait_until 10 lab_exec n1 grep -q '^ready' "$out"
	pid=$(lab_pid_of closed_peer.py)
}

start /tmp/c.out
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1) && ok "moved: $out" || fail "moved: $out"
sleep 1
out=$(lab_exec n1 ssictl migrate "$pid" home 2>&1) && ok "came home with the byte unread: $out" ||
	fail "came home with the byte unread: $out"
lab_exec n1 kill -USR1 "$pid"
wait_until 10 lab_exec n1 grep -q '^status=' /tmp/c.out
res=$(lab_exec n1 cat /tmp/c.out)
expect "the byte was read at home" "got x"
expect "then the end of the stream" "then eof"
expect "it exited 0" "status=0"
[ -z "$(lab_exec n1 cat /tmp/c.out.err)" ] && ok "nothing on its stderr" || fail "its stderr: $(lab_exec n1 cat /tmp/c.out.err)"

start /tmp/d.out --live-peer
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1) && ok "moved (live peer): $out" || fail "moved (live peer): $out"
sleep 1
out=$(lab_exec n1 ssictl migrate "$pid" home 2>&1)
[ $? != 0 ] && echo "$out" | grep -q "input already taken from home" &&
	ok "coming home with the byte unread and the peer alive is refused: $out" ||
	fail "coming home with the byte unread and the peer alive: $out"
lab_exec n1 kill -USR1 "$pid"
wait_until 10 lab_exec n1 grep -q '^status=' /tmp/d.out
res=$(lab_exec n1 cat /tmp/d.out)
expect "away: the byte was read" "got x"
expect "away: then the end of the stream" "then eof"
expect "it exited 0" "status=0"
[ -z "$(lab_exec n1 cat /tmp/d.out.err)" ] && ok "nothing on its stderr" || fail "its stderr: $(lab_exec n1 cat /tmp/d.out.err)"
finish
