#!/bin/bash
# O_PATH descriptors and a deleted cwd move (#17): tests/progs/paths_probe.py
# holds an O_PATH fd on a home file and one on a home directory (fstat,
# the fd's link, a stat relative to the directory fd), or runs in a
# directory that was removed (getcwd and creating a file fail with
# ENOENT, as on one machine). Moved n1 -> n2 -> home, every line it prints
# equals the first one.
. "$(dirname "$0")/lib.sh"
lab_require_root
command -v python3 >/dev/null || skip "python3 is not installed"
lab_up 2
mkdir -p "$LAB_FILES"
cp "$lab_top/tests/progs/paths_probe.py" "$LAB_FILES/"
ITERS=120 # 12 s: two moves and a second between them fit on a loaded machine

for mode in opath cwd; do
	lab_exec n1 sh -c "mkdir -p /tmp/$mode.d && printf 12345 > /tmp/$mode.d/f"
	lab_exec n1 sh -c "ssirun python3 $LAB_FILES/paths_probe.py $mode $ITERS /tmp/$mode.d >/tmp/$mode.out 2>&1 &"
	wait_until 10 lab_exec n1 grep -q '^tick 3 ' /tmp/$mode.out
	pid=$(lab_pid_of "paths_probe.py $mode")
	out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1) && ok "$mode: moved: $out" || fail "$mode: moved: $out"
	sleep 1
	out=$(lab_exec n1 ssictl migrate "$pid" home 2>&1) && ok "$mode: came home: $out" || fail "$mode: came home: $out"
	if wait_until 20 lab_exec n1 grep -q '^done' /tmp/$mode.out; then
		first=$(lab_exec n1 sed -n 's/^tick 0 //p' /tmp/$mode.out)
		n=$(lab_exec n1 sh -c "sed -n 's/^tick [0-9]* //p' /tmp/$mode.out | sort -u | wc -l")
		lines=$(lab_exec n1 grep -c '^tick' /tmp/$mode.out)
		[ "$n" = 1 ] && [ "$lines" = $ITERS ] && ok "$mode: all $lines lines the same before, away and after: $first" ||
			fail "$mode: lines differ: $(lab_exec n1 sh -c "sed -n 's/^tick [0-9]* //p' /tmp/$mode.out | sort | uniq -c")"
	else
		fail "$mode: did not finish: $(lab_exec n1 tail -3 /tmp/$mode.out)"
	fi
done
expect_first() { [ "$(lab_exec n1 sed -n 's/^tick 0 //p' /tmp/$1.out)" = "$2" ]; }
expect_first opath "size=5 link=/tmp/opath.d/f inner=5" && ok "opath: what it saw is the home file's" ||
	fail "opath: $(lab_exec n1 sed -n 's/^tick 0 //p' /tmp/opath.out)"
expect_first cwd "getcwd=ENOENT create=ENOENT" && ok "cwd: a deleted cwd, as on one machine" ||
	fail "cwd: $(lab_exec n1 sed -n 's/^tick 0 //p' /tmp/cwd.out)"
finish
