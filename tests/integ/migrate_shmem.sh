#!/bin/bash
# Shared anonymous memory that no other process maps moves (#17): a
# program keeps a MAP_SHARED|MAP_ANONYMOUS mapping from a handshake with a
# child that has exited (tests/progs/shmem_handshake.py); it moves
# n1 -> n2 -> home and ends with the child's bytes in pages it never
# touched itself and its own count, unbroken. The same with the bytes in a
# private mapping of a file deleted since (pages never read before the
# move are not lost). The same program whose child still maps the memory
# is refused, with the reason.
. "$(dirname "$0")/lib.sh"
lab_require_root
command -v python3 >/dev/null || skip "python3 is not installed"
prog=$lab_top/tests/progs/shmem_handshake.py
lab_up 2
mkdir -p "$LAB_FILES"
cp "$prog" "$LAB_FILES/"
prog=$LAB_FILES/shmem_handshake.py
ITERS=120 # 12 s: two moves and a second between them fit on a loaded machine

# moved MODE WHAT: runs the program in MODE, moves it n1 -> n2 -> home and
# checks its last line.
moved() {
	lab_exec n1 sh -c "ssirun python3 $prog $1 $ITERS >/tmp/$1.out 2>/tmp/$1.err &"
	wait_until 10 lab_exec n1 grep -q '^tick 3 ' /tmp/$1.out
	pid=$(lab_pid_of "shmem_handshake.py $1")
	out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1) && ok "$2: moved: $out" ||
		fail "$2: moved: $out"
	sleep 1
	out=$(lab_exec n1 ssictl migrate "$pid" home 2>&1) && ok "$2: came home: $out" || fail "$2: came home: $out"
	if wait_until 20 lab_exec n1 grep -q '^done' /tmp/$1.out; then
		last=$(lab_exec n1 grep '^done' /tmp/$1.out)
		[ "$last" = "done from child page two $ITERS" ] &&
			ok "$2: the bytes and the count survived both moves: $last" ||
			fail "$2: after the moves: '$last' (want 'done from child page two $ITERS')"
	else
		fail "$2: did not finish: $(lab_exec n1 tail -3 /tmp/$1.out) $(lab_exec n1 cat /tmp/$1.err)"
	fi
	[ "$(lab_exec n1 grep -c '^tick' /tmp/$1.out)" = "$ITERS" ] && ok "$2: no tick lost or repeated" ||
		fail "ticks: $(lab_exec n1 grep -c '^tick' /tmp/$1.out)"
	[ -z "$(lab_exec n1 cat /tmp/$1.err)" ] && ok "$2: nothing on its stderr" ||
		fail "its stderr: $(lab_exec n1 cat /tmp/$1.err)"
}

moved alone "shared anonymous memory nobody else maps"
moved ghost "a private mapping of a deleted file"

lab_exec n1 sh -c "ssirun python3 $prog shared 600 >/tmp/shared.out 2>&1 &"
wait_until 10 lab_exec n1 grep -q '^tick 3 ' /tmp/shared.out
pid=$(lab_pid_of "shmem_handshake.py shared")
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1)
[ $? != 0 ] && echo "$out" | grep -q "shares anonymous memory with process" &&
	ok "refused while another process maps it: $out" || fail "refused while another process maps it: $out"
finish
