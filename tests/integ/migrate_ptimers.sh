#!/bin/bash
# POSIX timers move with their ids and state (#17): tests/progs/ptimers
# has a periodic timer (100 ms, SIGUSR1 with value 42) and a one-shot one
# (60 s). It checks them at home, away on n2 and at home again
# (n1 -> n2 -> home): both ids still answer, the one-shot's time left
# matches the wall clock (frozen time counts), the periodic one ticks at
# its rate with its value and not twice as often (the deputy's copy is
# deleted).
. "$(dirname "$0")/lib.sh"
lab_require_root
ptimers=${SSI_TESTDIR:-$lab_top/build/tests}/ptimers
[ -x "$ptimers" ] || { echo "not ok - $ptimers is missing (make check builds it)"; exit 1; }
lab_up 2

lab_exec n1 sh -c "{ ssirun $ptimers 3 2>/tmp/k.err; echo status=\$?; } >/tmp/k.out &"
wait_until 10 lab_exec n1 grep -q '^ptimers ready' /tmp/k.out
pid=$(lab_pid_of ptimers)

# check K WHERE: asks for check K (SIGUSR2 at home reaches the body) and
# waits for its line.
check() { lab_probe_check "$pid" /tmp/k.out /tmp/k.err "$1" "$2: both timers are right"; }

check 0 "at home, before moving"
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1) && ok "moved with two POSIX timers: $out" ||
	fail "moved with two POSIX timers: $out"
sleep 1
check 1 "away on n2"
out=$(lab_exec n1 ssictl migrate "$pid" home 2>&1) && ok "came home: $out" || fail "came home: $out"
sleep 1
check 2 "at home again"
lab_probe_end /tmp/k.out /tmp/k.err
finish
