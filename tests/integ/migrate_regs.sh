#!/bin/bash
# rseq and membarrier registrations move (#17): tests/progs/regs registers
# an rseq area through syscall() and every membarrier command the kernel
# offers, and checks them at home, away on n2 and at home again
# (n1 -> n2 -> home): the area is still registered and its cpu_id kept
# current, GET_REGISTRATIONS answers the same, and the expedited barriers
# that need a registration run (a fresh task and memory map at either end
# would hold none).
. "$(dirname "$0")/lib.sh"
lab_require_root
regs=${SSI_TESTDIR:-$lab_top/build/tests}/regs
[ -x "$regs" ] || { echo "not ok - $regs is missing (make check builds it)"; exit 1; }
lab_up 2

lab_exec n1 sh -c "{ ssirun $regs 3 2>/tmp/k.err; echo status=\$?; } >/tmp/k.out &"
wait_until 10 lab_exec n1 grep -q '^regs ready' /tmp/k.out
pid=$(lab_pid_of regs)

# check K WHERE: asks for check K (SIGUSR2 at home reaches the body) and
# waits for its line.
check() { lab_probe_check "$pid" /tmp/k.out /tmp/k.err "$1" "$2: rseq and membarrier registered"; }

check 0 "at home, before moving"
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1) && ok "moved with rseq and membarrier registrations: $out" ||
	fail "moved with rseq and membarrier registrations: $out"
sleep 1
check 1 "away on n2"
out=$(lab_exec n1 ssictl migrate "$pid" home 2>&1) && ok "came home: $out" || fail "came home: $out"
sleep 1
check 2 "at home again"
lab_probe_end /tmp/k.out /tmp/k.err
finish
