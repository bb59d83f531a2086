#!/bin/bash
# madvise advice moves with the memory (#17): private anonymous regions
# with MADV_DONTFORK, MADV_WIPEONFORK, MADV_DONTDUMP, MADV_HUGEPAGE,
# MADV_NOHUGEPAGE, MADV_SEQUENTIAL and MADV_RANDOM, one MAP_LOCKED, one
# MAP_NORESERVE, and a MAP_DROPPABLE one (Linux 6.11; "unsupported" before)
# (tests/progs/madv.py, zdtm's maps02) are moved n1 -> n2 -> home; at home
# each region still shows its advice in /proc/self/smaps (the freeze reads VmFlags, the
# restorer gives the advice again, away and at home), and a child forked
# at home sees the WIPEONFORK region zeroed.
. "$(dirname "$0")/lib.sh"
lab_require_root
command -v python3 >/dev/null || skip "python3 is not installed"
lab_up 2
mkdir -p "$LAB_FILES"
cp "$lab_top/tests/progs/madv.py" "$LAB_FILES/"
prog=$LAB_FILES/madv.py

lab_exec n1 sh -c "{ ssirun python3 $prog 2>/tmp/m.err; echo status=\$?; } >/tmp/m.out &"
wait_until 20 lab_exec n1 grep -q '^ready' /tmp/m.out
pid=$(lab_pid_of madv.py)
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1) && ok "moved: $out" || fail "moved: $out"
out=$(lab_exec n1 ssictl migrate "$pid" home 2>&1) && ok "came home: $out" || fail "came home: $out"
lab_exec n1 kill -USR1 "$pid"
wait_until 20 lab_exec n1 grep -q '^status=' /tmp/m.out
res=$(lab_exec n1 cat /tmp/m.out)
for a in dontfork wipeonfork dontdump hugepage nohugepage sequential random locked noreserve; do
	expect "$a kept" "$a ok"
done
expect "droppable kept" "droppable \(ok\|unsupported\)"
expect "a child forked at home sees the WIPEONFORK region zeroed" "wipe ok"
expect "it exited 0" "status=0"
[ -z "$(lab_exec n1 cat /tmp/m.err)" ] && ok "nothing on its stderr" || fail "its stderr: $(lab_exec n1 cat /tmp/m.err)"
finish
