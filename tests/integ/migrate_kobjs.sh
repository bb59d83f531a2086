#!/bin/bash
# eventfd, timerfd and signalfd descriptors move with their state (#17):
# tests/progs/kobjs holds an eventfd with a count, a semaphore eventfd, a
# one-shot timer (60 s), a timer that fired and was not read, a periodic
# timer and a signalfd, at fixed numbers. It checks them all at home, away
# on n2 and at home again (n1 -> n2 -> home): counts, time left against
# the wall clock (the frozen time counts), unread ticks, the signal mask,
# O_NONBLOCK and FD_CLOEXEC. An eventfd it makes away comes home with its
# count.
. "$(dirname "$0")/lib.sh"
lab_require_root
kobjs=${SSI_TESTDIR:-$lab_top/build/tests}/kobjs
[ -x "$kobjs" ] || { echo "not ok - $kobjs is missing (make check builds it)"; exit 1; }
lab_up 2

lab_exec n1 sh -c "{ ssirun $kobjs 3 2>/tmp/k.err; echo status=\$?; } >/tmp/k.out &"
wait_until 10 lab_exec n1 grep -q '^kobjs ready' /tmp/k.out
pid=$(lab_pid_of kobjs)

# check K WHERE: asks for check K (SIGUSR2 at home reaches the body) and
# waits for its line.
check() { lab_probe_check "$pid" /tmp/k.out /tmp/k.err "$1" "$2: every descriptor's state is right"; }

check 0 "at home, before moving"
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1) && ok "moved with an eventfd, timerfds and a signalfd: $out" ||
	fail "moved with an eventfd, timerfds and a signalfd: $out"
sleep 1
check 1 "away on n2"
out=$(lab_exec n1 ssictl migrate "$pid" home 2>&1) && ok "came home: $out" || fail "came home: $out"
sleep 1
check 2 "at home again"
lab_probe_end /tmp/k.out /tmp/k.err
finish
