#!/bin/bash
# Recovery from a checkpoint taken at home before the move (issue #15). A
# python3 computation on n1 writes its steps to a home file and its result
# into a pipe at home; it is checkpointed once at home (`ssictl checkpoint
# PID`, no periodic checkpoints), then moved to n2, and n2 is killed outright
# (its pid 1, so every process of that host) before any checkpoint is taken
# away. The move armed its deputy with that checkpoint: the deputy becomes the
# program again from it, same pid, same parent, same pipe, and the run ends
# with the uninterrupted run's result and file.
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_python
lab_up 2

mkdir -p "$LAB_FILES"
prog=$LAB_FILES/ckpt_work.py
cp "$lab_top/tests/progs/ckpt_work.py" "$prog"
N=200

lab_exec n1 sh -c "$PY $prog /tmp/ref.out $N > /tmp/ref.stdout"
ref=$(lab_exec n1 cat /tmp/ref.stdout)
case "$ref" in "result "*) ok "reference run: $ref" ;; *) fail "reference run: '$ref'"; finish ;; esac

lines() { lab_exec n1 sh -c "wc -l < $1 2>/dev/null || echo 0"; }
has_lines() { [ "$(lines "$1")" -ge "$2" ]; }
ps_shows() { lab_exec n1 ssictl ps --json 2>/dev/null | grep -q "\"home\":\"n1\",\"pid\":$pid,\"node\":\"$1\""; }

lab_exec n1 sh -c "{ ssirun $PY $prog /tmp/a.out $N 2>/tmp/a.err; echo \$? > /tmp/a.rc; } | cat > /tmp/a.stdout &"
wait_until 20 has_lines /tmp/a.out 5 || { fail "the computation did not start"; finish; }
pid=$(lab_pid_of "work.py /tmp/a.out")
[ -n "$pid" ] || { fail "work.py is not in ssictl ps"; finish; }
out=$(lab_exec n1 ssictl checkpoint "$pid" /tmp/home.ckpt 2>&1) &&
	ok "checkpointed at home: $out" || { fail "checkpoint at home: $out"; finish; }
at_ckpt=$(lines /tmp/a.out)
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1) && wait_until 5 ps_shows n2 &&
	ok "moved to n2: $out" || { fail "migrate to n2: $out"; finish; }
# Let it run away past the checkpoint, so that a restart from the file
# (and not the body's progress) is what finishes the run.
wait_until 20 has_lines /tmp/a.out $((at_ckpt + 20)) || { fail "it does not progress on n2"; finish; }

t0=$(date +%s%N)
kill -KILL "$(lab_holder_pid n2)"
ok "n2 killed outright with $(lines /tmp/a.out) lines written ($at_ckpt at the checkpoint)"
if wait_until 15 ps_shows n1; then
	ok "restarted at home within $((($(date +%s%N) - t0) / 1000000)) ms: ssictl ps lists pid $pid on n1"
else
	fail "not recovered: $(lab_exec n1 ssictl ps 2>&1) $(lab_exec n1 cat /tmp/a.err) $(tail -5 "$(lab_log n1)")"
fi
lab_exec n1 ssictl events | grep -q "process $pid .*restarted at home from its last checkpoint" &&
	ok "ssictl events: $(lab_exec n1 ssictl events | grep "process $pid .*restarted" | head -1)" ||
	fail "no recovery event: $(lab_exec n1 ssictl events | tail -5)"
lab_exec n1 grep -q "restarting here from its checkpoint /tmp/home.ckpt" /tmp/a.err &&
	ok "the deputy restarted from the checkpoint taken at home" ||
	fail "not from /tmp/home.ckpt: $(lab_exec n1 cat /tmp/a.err)"
if wait_until 60 lab_exec n1 test -s /tmp/a.rc && [ "$(lab_exec n1 cat /tmp/a.rc)" = 0 ]; then
	ok "its parent at home saw it end with status 0"
else
	fail "recovered process: status '$(lab_exec n1 cat /tmp/a.rc)': $(lab_exec n1 cat /tmp/a.err)"
fi
got=$(lab_exec n1 cat /tmp/a.stdout)
[ "$got" = "$ref" ] && ok "same result into the same pipe ($got)" || fail "result '$got', want '$ref'"
lab_exec n1 cmp /tmp/ref.out /tmp/a.out && ok "the home file is the uninterrupted run's" ||
	fail "the home file differs"

finish
