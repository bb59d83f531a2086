#!/bin/bash
# Guard regions (madvise MADV_GUARD_INSTALL) move with the process (#17,
# zdtm's maps12): tests/progs/guards holds 16 private anonymous pages with
# a pattern, four of them guarded (the last page of the VMA among them).
# The freeze used to read the guard pages into the image and fail ("image
# truncated": write() from a guard page is EFAULT). Checked at home, on n2
# and at home again (n1 -> n2 -> home): each guarded page faults on a read
# and a write, each other page holds its pattern and can be written.
. "$(dirname "$0")/lib.sh"
lab_require_root
guards=${SSI_TESTDIR:-$lab_top/build/tests}/guards
[ -x "$guards" ] || { echo "not ok - $guards is missing (make check builds it)"; exit 1; }
"$guards" 0 | grep -q unsupported && skip "this kernel has no guard regions (MADV_GUARD_INSTALL)"
lab_up 2

lab_exec n1 sh -c "{ ssirun $guards 3 2>/tmp/g.err; echo status=\$?; } >/tmp/g.out &"
wait_until 10 lab_exec n1 grep -q '^guards ready' /tmp/g.out
pid=$(lab_pid_of guards)

# check K WHERE: asks for check K (SIGUSR2 at home reaches the body) and
# waits for its line.
check() { lab_probe_check "$pid" /tmp/g.out /tmp/g.err "$1" "$2: guards and pages as they were"; }

check 0 "at home, before moving"
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1) && ok "moved with guard regions: $out" ||
	fail "moved with guard regions: $out"
check 1 "away on n2"
out=$(lab_exec n1 ssictl migrate "$pid" home 2>&1) && ok "came home: $out" || fail "came home: $out"
check 2 "at home again"
lab_probe_end /tmp/g.out /tmp/g.err
finish
