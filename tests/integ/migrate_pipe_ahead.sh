#!/bin/bash
# Input read ahead from home pipes comes home with the process (#17): the
# deputy reads a home pipe or FIFO as soon as it has data and sends it to
# the body; what the body had not read when it comes home goes back into
# the home pipe, in front of what the pipe still holds
# (ssi/home/ssi_homeinput.c). tests/progs/pipe_ahead.py holds a full 1 MiB
# pipe with three read ends (a dup and a reopen that it never reads: the
# deputy reads ahead through each, zdtm's pipe01), a read-write FIFO with 64 KiB in it and a pipe with 1000 bytes and
# its write end closed (zdtm's pipe03, fifo, fifo_ro); moved to n2 and
# home again before it reads, it must read every byte, in order, once, at
# home. A pipe that a child at home holds too cannot take bytes back (its
# writes could come between): that homecoming is refused with the reason
# after the body's image went home, and the body, thawed, still has every
# byte.
. "$(dirname "$0")/lib.sh"
lab_require_root
command -v python3 >/dev/null || skip "python3 is not installed"
lab_up 2
mkdir -p "$LAB_FILES"
cp "$lab_top/tests/progs/pipe_ahead.py" "$LAB_FILES/"
prog=$LAB_FILES/pipe_ahead.py

# $1: output file on n1; $2...: arguments. Starts the program, waits for "ready", sets $pid.
start() {
	out=$1
	shift
	lab_exec n1 sh -c "{ ssirun python3 $prog $* 2>$out.err; echo status=\$?; } >$out &"
	wait_until 20 lab_exec n1 grep -q '^ready' "$out"
	pid=$(lab_pid_of pipe_ahead.py)
}

start /tmp/pa.out
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1) && ok "moved: $out" || fail "moved: $out"
# Let the deputy read ahead what the body's end takes (the rest stays at home).
sleep 1
out=$(lab_exec n1 ssictl migrate "$pid" home 2>&1) && ok "came home with its input read ahead: $out" ||
	fail "came home with its input read ahead: $out"
lab_exec n1 kill -USR1 "$pid"
wait_until 20 lab_exec n1 grep -q '^status=' /tmp/pa.out
res=$(lab_exec n1 cat /tmp/pa.out)
expect "the 1 MiB pipe read whole, in order, once; its size kept" "p1 ok nothing more size 1048576"
expect "the FIFO's 64 KiB read whole, once" "fifo ok nothing more"
expect "the closed pipe's 1000 bytes, then its end" "p2 ok eof"
expect "it exited 0" "status=0"
[ -z "$(lab_exec n1 cat /tmp/pa.out.err)" ] && ok "nothing on its stderr" ||
	fail "its stderr: $(lab_exec n1 cat /tmp/pa.out.err)"

start /tmp/pb.out --shared
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1) && ok "moved (shared pipe): $out" || fail "moved (shared pipe): $out"
sleep 1
out=$(lab_exec n1 ssictl migrate "$pid" home 2>&1)
[ $? != 0 ] && echo "$out" | grep -q "holds too" &&
	ok "a pipe a child holds too: coming home refused, named: $out" ||
	fail "a pipe a child holds too: $out"
lab_exec n1 kill -USR1 "$pid"
wait_until 20 lab_exec n1 grep -q '^status=' /tmp/pb.out
res=$(lab_exec n1 cat /tmp/pb.out)
expect "away after the refusal: the 1 MiB pipe read whole, once" "p1 ok nothing more size .*"
expect "away after the refusal: the FIFO's 64 KiB" "fifo ok nothing more"
expect "away after the refusal: the closed pipe, then its end" "p2 ok eof"
expect "it exited 0" "status=0"
[ -z "$(lab_exec n1 cat /tmp/pb.out.err)" ] && ok "nothing on its stderr" ||
	fail "its stderr: $(lab_exec n1 cat /tmp/pb.out.err)"
finish
