#!/bin/bash
# Checkpoint of a process whose body runs away (issue #15). A python3
# computation on n1 writes its steps to a home file and its result to a pipe;
# it is moved to n2 and `ssictl checkpoint` is asked at home: the body is
# frozen on n2 for its image, which comes home through the deputy and is
# written at home with the home file's real offset (the body has only a
# placeholder for it). The process runs on, on n2; it is killed, restarted
# from the checkpoint at home and then with --node n3: both times the result
# and the file are the ones of an uninterrupted run, and its cwd its own (not
# that of the ssirun that restarted it). Last, a period given in
# the cluster file applies to a process started without one.
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_python
lab_up 3

mkdir -p "$LAB_FILES"
prog=$LAB_FILES/ckpt_work.py
cp "$lab_top/tests/progs/ckpt_work.py" "$prog"
N=250

lab_exec n1 sh -c "$PY $prog /tmp/ref.out $N > /tmp/ref.stdout"
ref=$(lab_exec n1 cat /tmp/ref.stdout)
case "$ref" in "result "*) ok "reference run: $ref" ;; *) fail "reference run: '$ref'"; finish ;; esac

lines() { lab_exec n1 sh -c "wc -l < $1 2>/dev/null || echo 0"; }
has_lines() { [ "$(lines "$1")" -ge "$2" ]; }
ps_shows() { lab_exec n1 ssictl ps --json | grep -q "\"home\":\"n1\",\"pid\":$pid,\"node\":\"$1\""; }

# Started in a directory of its own: a restart must resume it there, not in ssirun's cwd.
lab_exec n1 sh -c "mkdir -p /tmp/wd && cd /tmp/wd && { ssirun $PY $prog /tmp/a.out $N 2>/tmp/a.err; echo \$? > /tmp/a.rc; } | cat > /tmp/a.stdout &"
wait_until 20 has_lines /tmp/a.out 10 || { fail "the computation did not start"; finish; }
pid=$(lab_pid_of work.py)
[ -n "$pid" ] || { fail "work.py is not in ssictl ps"; finish; }
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1) && wait_until 5 ps_shows n2 &&
	ok "moved to n2: $out" || { fail "migrate to n2: $out"; finish; }
at=$(lines /tmp/a.out)
wait_until 10 has_lines /tmp/a.out $((at + 10)) || { fail "the body does not write from n2"; finish; }

out=$(lab_exec n1 ssictl checkpoint "$pid" /tmp/a.ckpt 2>&1)
if [ $? = 0 ] && echo "$out" | grep -q "written to /tmp/a.ckpt"; then
	ok "ssictl checkpoint of the process away: $out"
else
	fail "ssictl checkpoint while away: $out"
	finish
fi
at=$(lines /tmp/a.out)
wait_until 10 has_lines /tmp/a.out $((at + 5)) && ps_shows n2 &&
	ok "the body runs on, on n2, after its checkpoint" ||
	fail "after the checkpoint: $(lines /tmp/a.out) lines; $(lab_exec n1 ssictl ps)"
lab_exec n2 pgrep -f "work.py /tmp/a.out" >/dev/null && ok "its body is still on n2" || fail "no body on n2"
out=$(lab_exec n1 ssi-ckpt info /tmp/a.ckpt 2>&1)
echo "$out" | grep -q "node n1, pid $pid" && echo "$out" | grep -q "work.py /tmp/a.out" &&
	ok "ssi-ckpt info: $(echo "$out" | head -1)" || fail "ssi-ckpt info: $out"

lab_exec n1 kill -KILL "$pid"
wait_until 10 lab_exec n1 test -s /tmp/a.rc && [ "$(lab_exec n1 cat /tmp/a.rc)" = 137 ] &&
	ok "killed (status 137) with $(lines /tmp/a.out) lines written" || fail "kill: '$(lab_exec n1 cat /tmp/a.rc)'"
gone() { ! lab_exec n2 pgrep -f "work.py /tmp/a.out" >/dev/null; }
wait_until 10 gone && ok "nothing of it is left on n2" || fail "a body is left on n2"

restart() {
	n=$1
	shift
	lab_exec n1 sh -c "cd / && { ssirun $* --restart /tmp/a.ckpt > /tmp/$n.stdout 2>/tmp/$n.err; echo \$? > /tmp/$n.rc; } &"
}

restart r1
if wait_until 10 ps_shows n1; then ok "restarted at home: ssictl ps lists pid $pid on n1"; else
	fail "restarted at home: not in ssictl ps: $(lab_exec n1 ssictl ps) $(lab_exec n1 cat /tmp/r1.err)"; fi
cwd=$(lab_exec n1 readlink /proc/$pid/cwd)
check "restarted at home in its own cwd, not ssirun's ('$cwd')" [ "$cwd" = /tmp/wd ]
if wait_until 60 lab_exec n1 test -s /tmp/r1.rc && [ "$(lab_exec n1 cat /tmp/r1.rc)" = 0 ]; then
	ok "the restarted process ended with status 0"
else
	fail "restart at home: status '$(lab_exec n1 cat /tmp/r1.rc)': $(lab_exec n1 cat /tmp/r1.err)"
fi
got=$(lab_exec n1 cat /tmp/r1.stdout)
[ "$got" = "$ref" ] && ok "restarted at home: same result ($got)" || fail "restarted at home: '$got', want '$ref'"
lab_exec n1 cmp /tmp/ref.out /tmp/a.out && ok "restarted at home: the home file is the uninterrupted run's" ||
	fail "restarted at home: the home file differs"

restart r3 --node n3
if wait_until 15 ps_shows n3; then ok "restarted with --node n3: ssictl ps shows it on n3"; else
	fail "restarted with --node n3: $(lab_exec n1 ssictl ps) $(lab_exec n1 cat /tmp/r3.err)"; fi
lab_exec n3 pgrep -f "work.py /tmp/a.out" >/dev/null && ok "its body runs on n3" || fail "no body on n3"
cwd=$(lab_exec n1 readlink /proc/$pid/cwd)
check "restarted on n3: home's view of its cwd is its own ('$cwd')" [ "$cwd" = /tmp/wd ]
if wait_until 60 lab_exec n1 test -s /tmp/r3.rc && [ "$(lab_exec n1 cat /tmp/r3.rc)" = 0 ]; then
	ok "the process restarted on n3 ended with status 0"
else
	fail "restart on n3: status '$(lab_exec n1 cat /tmp/r3.rc)': $(lab_exec n1 cat /tmp/r3.err)"
fi
got=$(lab_exec n1 cat /tmp/r3.stdout)
[ "$got" = "$ref" ] && ok "restarted on n3: same result ($got)" || fail "restarted on n3: '$got', want '$ref'"
lab_exec n1 cmp /tmp/ref.out /tmp/a.out && ok "restarted on n3: the home file is the uninterrupted run's" ||
	fail "restarted on n3: the home file differs"

# The cluster file's default period (checkpoint_every, taken in by SIGHUP):
# a process started without --checkpoint-every is checkpointed periodically,
# also while it runs away.
sed -i -e '1i spool = /tmp/spool' -e '1i checkpoint_every = 1' "$SSILAB_DIR/cluster.conf"
lab_exec n1 kill -HUP "$(lab_ssid_pid n1)"
wait_until 10 grep -q "reloaded" "$(lab_log n1)" || fail "n1 did not reload its cluster file"
lab_exec n1 sh -c "{ ssirun $PY $prog /tmp/c.out $N > /dev/null 2>/tmp/c.err; } &"
wait_until 20 has_lines /tmp/c.out 5 || { fail "the third computation did not start"; finish; }
pid=$(lab_pid_of "work.py /tmp/c.out")
lab_exec n1 ssictl migrate "$pid" n2 >/dev/null 2>&1
periodic() { lab_exec n1 test -e "/tmp/spool/0/n1-$pid-periodic-$1.ckpt"; }
if wait_until 15 periodic 3 && ps_shows n2; then
	ok "checkpoint_every = 1 in the cluster file: periodic checkpoints without --checkpoint-every, on n2 too ($(lab_exec n1 ls /tmp/spool/0 | tr '\n' ' '))"
else
	fail "cluster-file default period: $(lab_exec n1 ls /tmp/spool/0 2>&1) $(tail -3 "$(lab_log n1)")"
fi
lab_exec n1 kill -KILL "$pid" 2>/dev/null

finish
