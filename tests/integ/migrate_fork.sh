#!/bin/bash
# fork, vfork, clone, posix_spawn, pipe and execve away come home first (#11): unmodified
# programs moved to n2 keep working, each coming home at its next fork and running it there.
#   1. sh -c running a loop of `echo; date; sleep 0.2` (two fork+exec per round), moved to n2
#      mid-loop: every line, in order, and its exit status (3).
#   2. python3's subprocess.run away (pipes, then vfork or fork, then exec): the child's output
#      and exit status right; the child is an ssi process listed in `ssictl ps`, and it moves on
#      its own to n2 and back while its parent waits for it.
#   3. make (a Makefile in n1's /tmp) moved while its `sleep` recipe runs: it completes.
#   4. python3 with four threads that all run subprocess.run at once away: they ask once, the
#      process comes home once, and every child's status is right.
#   5. A fork that cannot come home (a socketpair made away): ENOSYS and one line saying why; it
#      runs on where it was, and forks at home once it closed the socketpair.
#   6. python3 execs sh away: it comes home first; the new program runs in the same process at
#      home, with its arguments, listed in `ssictl ps`, and its exit status reaches the shell.
#   7. python3 with every signal blocked moved to n2 makes trapped calls there and ends right;
#      so does a perl handler installed at home whose mask blocks SIGSYS, run away;
#      sh forking in a tight loop (dash blocks every signal around each vfork), moved three
#      times: it comes home and finishes each time (SIGSYS must be deliverable away).
#   8. A shell script of pipelines writing a home file, moved during its loop: the same output
#      as an unmoved run (grep's and subshells' statuses in it), and its own exit status.
# Each time the process comes home by itself (ssid's log says it asked) and runs at home after.
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_python
command -v make >/dev/null || skip "make is not installed"
lab_up 2
mkdir -p "$LAB_FILES"

# node_of PID: the node n1's ssid says the process runs on.
node_of() {
	lab_exec n1 ssictl ps --json | $PY -c '
import json, sys
print(next((p["node"] for p in json.load(sys.stdin)["data"] if p["pid"] == int(sys.argv[1])), "gone"))' "$1"
}
at_home() { [ "$(node_of "$1")" = n1 ]; }
asked_home() { grep -q "process $1 .*asks to come home" "$(lab_log n1)"; }

# 1. A shell loop.
cat >"$LAB_FILES/loop.sh" <<'EOF'
ssirun sh -c 'i=0; while [ $i -lt 60 ]; do i=$((i+1)); echo "tick $i"; date +%s; sleep 0.2; done; exit 3' \
	>/tmp/loop.out 2>/tmp/loop.err
echo $? >/tmp/loop.rc
EOF
lab_exec n1 sh -c "sh $LAB_FILES/loop.sh >/dev/null 2>&1 &"
wait_until 10 lab_exec n1 grep -q '^tick 5$' /tmp/loop.out
pid=$(lab_pid_of tick)
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1) && ok "sh loop moved to n2: $out" ||
	fail "sh loop moved to n2: $out"
wait_until 20 asked_home "$pid" && ok "at its next fork it asked to come home" ||
	fail "it did not ask to come home (node $(node_of "$pid"))"
wait_until 20 at_home "$pid" && ok "it runs at home again" || fail "it runs on $(node_of "$pid")"
if wait_until 60 lab_exec n1 test -s /tmp/loop.rc; then
	res=$(lab_exec n1 grep '^tick' /tmp/loop.out)
	[ "$res" = "$(seq 1 60 | sed 's/^/tick /')" ] && ok "all 60 rounds' lines, in order" ||
		fail "the rounds' lines: $(echo "$res" | tr '\n' ' ')"
	n=$(lab_exec n1 grep -c '^[0-9][0-9]*$' /tmp/loop.out)
	[ "$n" = 60 ] && ok "every date ran (60 lines)" || fail "$n dates ran, not 60"
	rc=$(lab_exec n1 cat /tmp/loop.rc)
	[ "$rc" = 3 ] && ok "sh exited with its status (3)" || fail "sh exited with $rc, not 3"
else
	fail "the sh loop did not end: $(lab_exec n1 tail -3 /tmp/loop.out)"
fi
err=$(lab_exec n1 cat /tmp/loop.err)
[ -z "$err" ] && ok "nothing on its stderr" || fail "its stderr: $err"

# 2. python3's subprocess.run after the move.
cat >"$LAB_FILES/sub.py" <<'EOF'
import os, subprocess, time
print("ready", os.getpid(), flush=True)
while not os.path.exists("/tmp/sub.go"):
    time.sleep(0.05)
r = subprocess.run(
    ["sh", "-c", "echo $$ > /tmp/child.pid; read line; echo \"got $line\"; "
     "while [ ! -e /tmp/child.go ]; do sleep 0.1; done; exit 5"],
    input=b"hello\n", capture_output=True)
print("rc", r.returncode, flush=True)
print("out", r.stdout.decode().strip(), flush=True)
print("err", repr(r.stderr.decode()), flush=True)
EOF
lab_exec n1 sh -c "{ ssirun $PY $LAB_FILES/sub.py 2>/tmp/sub.err; echo \$? >/tmp/sub.rc; } >/tmp/sub.out &"
wait_until 10 lab_exec n1 grep -q '^ready' /tmp/sub.out
pid=$(lab_exec n1 awk '/^ready/ { print $2 }' /tmp/sub.out)
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1) && ok "python3 moved to n2: $out" ||
	fail "python3 moved to n2: $out"
lab_exec n1 touch /tmp/sub.go
wait_until 20 lab_exec n1 test -s /tmp/child.pid || fail "the child did not start"
cpid=$(lab_exec n1 cat /tmp/child.pid)
asked_home "$pid" && ok "subprocess.run brought python3 home" || fail "python3 did not ask to come home"
# ssid hears it is home when ssi-freeze --home ends, which may be after the child started.
wait_until 10 at_home "$pid" && ok "python3 runs at home" || fail "python3 runs on $(node_of "$pid")"
wait_until 10 at_home "$cpid" && ok "its child $cpid is an ssi process at home (ssictl ps)" ||
	fail "its child $cpid is not listed at home: $(node_of "$cpid")"
out=$(lab_exec n1 ssictl migrate "$cpid" n2 2>&1) && ok "the child moved to n2 on its own: $out" ||
	fail "the child moved to n2 on its own: $out"
lab_exec n1 touch /tmp/child.go
if wait_until 30 lab_exec n1 test -s /tmp/sub.rc; then
	res=$(lab_exec n1 cat /tmp/sub.out)
	expect "the child's exit status reached its parent" "rc 5"
	expect "the child read the parent's input and the parent its output (pipes)" "out got hello"
	expect "nothing on the child's stderr" "err ''"
	[ "$(lab_exec n1 cat /tmp/sub.rc)" = 0 ] && ok "python3 exited 0" || fail "python3 exited $(lab_exec n1 cat /tmp/sub.rc)"
	note "python3's output: $(echo "$res" | tr '\n' '|')"
else
	fail "python3 did not end: $(lab_exec n1 cat /tmp/sub.out)"
fi
err=$(lab_exec n1 cat /tmp/sub.err)
[ -z "$err" ] && ok "nothing on python3's stderr" || fail "python3's stderr: $err"

# 3. make, moved during a sleep recipe.
lab_exec n1 mkdir -p /tmp/mk
lab_exec n1 sh -c 'printf "all: b.done\na.done:\n\tsleep 2\n\techo a > a.done\nb.done: a.done\n\techo b > b.done\n\tcat a.done b.done\n" > /tmp/mk/Makefile'
lab_exec n1 sh -c "cd /tmp/mk && { ssirun make >/tmp/mk.out 2>&1; echo \$? >/tmp/mk.rc; } &"
wait_until 10 lab_exec n1 pgrep -x -f 'sleep 2' >/dev/null
pid=$(lab_exec n1 ssictl ps --json | $PY -c '
import json, sys
print(next((p["pid"] for p in json.load(sys.stdin)["data"] if p["cmd"] == "make"), ""))')
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1) && ok "make moved to n2 during 'sleep 2': $out" ||
	fail "make moved to n2 during 'sleep 2': $out"
if wait_until 30 lab_exec n1 test -s /tmp/mk.rc; then
	[ "$(lab_exec n1 cat /tmp/mk.rc)" = 0 ] && ok "make completed (status 0)" ||
		fail "make: status $(lab_exec n1 cat /tmp/mk.rc): $(lab_exec n1 cat /tmp/mk.out)"
	res=$(lab_exec n1 cat /tmp/mk.out)
	expect "the next recipe ran" "echo b > b.done"
	expect "and the last command's output is there" "b"
else
	fail "make did not end: $(lab_exec n1 cat /tmp/mk.out)"
fi
asked_home "$pid" && ok "make came home at its next recipe" || fail "make did not ask to come home"

# 4. Four threads fork at once away.
cat >"$LAB_FILES/threads.py" <<'EOF'
import os, subprocess, threading, time
print("ready", os.getpid(), flush=True)
while not os.path.exists("/tmp/thr.go"):
    time.sleep(0.05)
go = threading.Barrier(4)
res = {}
def run(k):
    go.wait()
    res[k] = subprocess.run(["sh", "-c", "exit %d" % (10 + k)]).returncode
ts = [threading.Thread(target=run, args=(k,)) for k in range(4)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("statuses", " ".join(str(res[k]) for k in range(4)), flush=True)
EOF
lab_exec n1 sh -c "{ ssirun $PY $LAB_FILES/threads.py 2>/tmp/thr.err; echo \$? >/tmp/thr.rc; } >/tmp/thr.out &"
wait_until 10 lab_exec n1 grep -q '^ready' /tmp/thr.out
pid=$(lab_exec n1 awk '/^ready/ { print $2 }' /tmp/thr.out)
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1) && ok "python3 moved to n2: $out" || fail "python3 moved to n2: $out"
lab_exec n1 touch /tmp/thr.go
if wait_until 30 lab_exec n1 test -s /tmp/thr.rc; then
	res=$(lab_exec n1 cat /tmp/thr.out)
	expect "four threads' children, each with its status" "statuses 10 11 12 13"
else
	fail "python3 with four threads did not end: $(lab_exec n1 cat /tmp/thr.out)"
fi
n=$(grep -c "process $pid .*asks to come home" "$(lab_log n1)")
[ "$n" = 1 ] && ok "the four threads asked once" || fail "asked $n times, not once"
err=$(lab_exec n1 cat /tmp/thr.err)
[ -z "$err" ] && ok "nothing on its stderr" || fail "its stderr: $err"
# 5. A fork that cannot come home (a socketpair made away) fails with ENOSYS, saying why; the
# process runs on where it was, and its next fork, once the socketpair is closed, comes home.
cat >"$LAB_FILES/refused.py" <<'EOF'
import ctypes, os, time
print("ready", os.getpid(), flush=True)
while not os.path.exists("/tmp/ref.go"):
    time.sleep(0.05)
fds = (ctypes.c_int * 2)()
ctypes.CDLL(None).socketpair(1, 1, 0, fds)
try:
    if os.fork() == 0:
        os._exit(0)
    print("forked", flush=True)
except OSError as e:
    print("fork failed", e.errno, flush=True)
os.close(fds[0])
os.close(fds[1])
pid = os.fork()
if pid == 0:
    os._exit(7)
print("then", os.waitpid(pid, 0)[1] >> 8, flush=True)
EOF
lab_exec n1 sh -c "{ ssirun $PY $LAB_FILES/refused.py 2>/tmp/ref.err; echo \$? >/tmp/ref.rc; } >/tmp/ref.out &"
wait_until 10 lab_exec n1 grep -q '^ready' /tmp/ref.out
pid=$(lab_exec n1 awk '/^ready/ { print $2 }' /tmp/ref.out)
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1) && ok "python3 moved to n2: $out" || fail "python3 moved to n2: $out"
lab_exec n1 touch /tmp/ref.go
if wait_until 30 lab_exec n1 test -s /tmp/ref.rc; then
	res=$(lab_exec n1 cat /tmp/ref.out)
	expect "the fork that could not come home failed with ENOSYS" "fork failed 38"
	expect "the next fork came home and its child's status is right" "then 7"
else
	fail "python3 did not end: $(lab_exec n1 cat /tmp/ref.out)"
fi
err=$(lab_exec n1 cat /tmp/ref.err)
case "$err" in
"ssi: clone/fork in a migrated process fails with ENOSYS: it cannot come home to run it ("*"opened on this node"*)
	ok "one line on its stderr says why: $err" ;;
*) fail "its stderr: $err" ;;
esac
# 6. execve away: python3 moved to n2 execs sh; it comes home first, and the new program runs
# at home in the same process (its pid), an ssi process again, with its arguments and exit status.
cat >"$LAB_FILES/execs.py" <<'EOF'
import os, time
print("ready", os.getpid(), flush=True)
while not os.path.exists("/tmp/exe.go"):
    time.sleep(0.05)
os.execv("/bin/sh", ["sh", "-c", 'echo "execd $$ $0 $1"; while [ ! -e /tmp/exe.end ]; do sleep 0.1; done; exit 4', "arg0", "arg1"])
EOF
lab_exec n1 sh -c "{ ssirun $PY $LAB_FILES/execs.py 2>/tmp/exe.err; echo \$? >/tmp/exe.rc; } >/tmp/exe.out &"
wait_until 10 lab_exec n1 grep -q '^ready' /tmp/exe.out
pid=$(lab_exec n1 awk '/^ready/ { print $2 }' /tmp/exe.out)
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1) && ok "python3 moved to n2: $out" || fail "python3 moved to n2: $out"
lab_exec n1 touch /tmp/exe.go
wait_until 20 lab_exec n1 grep -q '^execd' /tmp/exe.out
res=$(lab_exec n1 cat /tmp/exe.out)
expect "the program it exec'd runs in the same process, with its arguments" "execd $pid arg0 arg1"
asked_home "$pid" && ok "the execve brought it home first" || fail "it did not ask to come home"
wait_until 10 at_home "$pid" && ok "the process, running sh now, is an ssi process at home" ||
	fail "it is not listed at home: $(node_of "$pid")"
lab_exec n1 touch /tmp/exe.end
wait_until 20 lab_exec n1 test -s /tmp/exe.rc
[ "$(lab_exec n1 cat /tmp/exe.rc)" = 4 ] && ok "its exit status reached the shell (4)" ||
	fail "exit status '$(lab_exec n1 cat /tmp/exe.rc)', not 4"
err=$(lab_exec n1 cat /tmp/exe.err)
[ -z "$err" ] && ok "nothing on its stderr" || fail "its stderr: $err"
# 7. dash blocks every signal around each vfork: a freeze at home may catch it so, and away a
# trapped call with SIGSYS blocked makes the kernel kill the process. First without a race:
# python3 blocks every signal and polls a home file (stat, trapped away) while it is moved;
# it must go on away and end right. Then a shell forking in a tight loop, moved three times,
# must come home each time and finish.
cat >"$LAB_FILES/allblocked.py" <<'EOF'
import os, signal, time
signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
print("ready", os.getpid(), flush=True)
while not os.path.exists("/tmp/blk.go"):
    time.sleep(0.02)
print("alive", flush=True)
EOF
lab_exec n1 sh -c "{ ssirun $PY $LAB_FILES/allblocked.py 2>/tmp/blk.err; echo \$? >/tmp/blk.rc; } >/tmp/blk.out &"
wait_until 10 lab_exec n1 grep -q '^ready' /tmp/blk.out
pid=$(lab_exec n1 awk '/^ready/ { print $2 }' /tmp/blk.out)
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1) && ok "python3 with every signal blocked moved to n2: $out" ||
	fail "python3 with every signal blocked moved to n2: $out"
lab_exec n1 touch /tmp/blk.go
wait_until 20 lab_exec n1 test -s /tmp/blk.rc
[ "$(lab_exec n1 cat /tmp/blk.rc)" = 0 ] && [ "$(lab_exec n1 cat /tmp/blk.out | tail -1)" = alive ] &&
	ok "with every signal blocked, its calls away ran and it ended (0)" ||
	fail "with every signal blocked: status '$(lab_exec n1 cat /tmp/blk.rc)', $(lab_exec n1 cat /tmp/blk.out /tmp/blk.err); $(grep "n1:$pid" "$(lab_log n2)" | tail -2)"
# A handler installed at home that blocks SIGSYS while it runs (perl, run unsafe: the handler
# is the signal's own; its mask names SIGSYS) makes a trapped call away (open of a home file):
# the trap core takes SIGSYS out of the handlers the image brought.
cat >"$LAB_FILES/handler.pl" <<'EOF'
use POSIX qw(:signal_h);
my $act = POSIX::SigAction->new(sub {
    open(my $f, '>>', '/tmp/hnd.log') or die; print $f "handled\n"; close $f;
}, POSIX::SigSet->new(SIGSYS), 0);
$act->safe(0);
sigaction(SIGUSR1, $act) or die "sigaction: $!";
$| = 1;
print "ready $$\n";
until (-e '/tmp/hnd.go') { select(undef, undef, undef, 0.02) }
print "alive\n";
EOF
lab_exec n1 sh -c "{ ssirun perl $LAB_FILES/handler.pl 2>/tmp/hnd.err; echo \$? >/tmp/hnd.rc; } >/tmp/hnd.out &"
wait_until 10 lab_exec n1 grep -q '^ready' /tmp/hnd.out
pid=$(lab_exec n1 awk '/^ready/ { print $2 }' /tmp/hnd.out)
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1) && ok "perl with a handler blocking SIGSYS moved to n2: $out" ||
	fail "perl with a handler blocking SIGSYS moved to n2: $out"
lab_exec n1 kill -USR1 "$pid"
wait_until 20 lab_exec n1 grep -q handled /tmp/hnd.log && ok "its handler ran away and wrote a home file" ||
	fail "its handler did not write: $(lab_exec n1 cat /tmp/hnd.out /tmp/hnd.err); $(grep "n1:$pid" "$(lab_log n2)" | tail -2)"
lab_exec n1 touch /tmp/hnd.go
wait_until 20 lab_exec n1 test -s /tmp/hnd.rc
[ "$(lab_exec n1 cat /tmp/hnd.rc)" = 0 ] && [ "$(lab_exec n1 tail -1 /tmp/hnd.out)" = alive ] &&
	ok "perl ended right (0)" || fail "perl: status '$(lab_exec n1 cat /tmp/hnd.rc)', $(lab_exec n1 cat /tmp/hnd.out /tmp/hnd.err)"
for k in 1 2 3; do
	lab_exec n1 sh -c "ssirun sh -c 'i=0; while [ \$i -lt 2000 ]; do i=\$((i+1)); /bin/true; done; echo done $k' >/tmp/tight$k.out 2>/tmp/tight$k.err &"
	wait_until 10 sh -c "[ -n \"\$(ssilab exec n1 -- ssictl ps --json | grep -F 'done $k')\" ]"
	pid=$(lab_pid_of "done $k")
	out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1) || fail "tight loop $k moved to n2: $out"
	if wait_until 60 lab_exec n1 grep -q "^done $k" /tmp/tight$k.out; then
		ok "a shell forking in a tight loop, moved to n2, came home and finished ($k)"
	else
		fail "tight loop $k did not finish: $(lab_exec n1 cat /tmp/tight$k.out /tmp/tight$k.err); $(grep "n1:$pid" "$(lab_log n2)" | tail -2)"
	fi
done
# 8. A shell script of pipelines (grep | sort | uniq -c | sort | head, a grep that fails, a
# subshell's exit status, each round) writing a home file, moved to n2 during the loop: the
# same output as an unmoved run, every status in it right.
printf 'apple\nbanana\n#skip\napple\ncherry\nbanana\napple\ndate\n' >"$LAB_FILES/pl.words"
cat >"$LAB_FILES/pl.sh" <<'EOF'
i=0
while [ $i -lt 40 ]; do
	i=$((i + 1))
	echo "round $i"
	grep -v '^#' "$1" | sort | uniq -c | sort -rn | head -3
	grep -c nomatch "$1"; echo "grep $?"
	(exit $((i % 7))); echo "sub $?"
	sleep 0.05
done >"$2"
exit 6
EOF
lab_exec n1 sh -c "sh $LAB_FILES/pl.sh $LAB_FILES/pl.words /tmp/pl.ref; echo \$? >/tmp/pl.ref.rc"
lab_exec n1 sh -c "{ ssirun sh $LAB_FILES/pl.sh $LAB_FILES/pl.words /tmp/pl.out 2>/tmp/pl.err; echo \$? >/tmp/pl.rc; } &"
wait_until 10 lab_exec n1 grep -q '^round 3$' /tmp/pl.out
pid=$(lab_pid_of pl.sh)
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1) && ok "a script of pipelines moved to n2 during its loop: $out" ||
	fail "a script of pipelines moved to n2: $out"
wait_until 60 lab_exec n1 test -s /tmp/pl.rc
[ "$(lab_exec n1 cat /tmp/pl.rc)" = 6 ] && [ "$(lab_exec n1 cat /tmp/pl.ref.rc)" = 6 ] &&
	ok "it exited with its status (6)" || fail "it exited '$(lab_exec n1 cat /tmp/pl.rc)': $(lab_exec n1 cat /tmp/pl.err)"
lab_exec n1 cmp -s /tmp/pl.ref /tmp/pl.out && ok "its output equals an unmoved run's ($(lab_exec n1 sh -c 'wc -l </tmp/pl.out') lines)" ||
	fail "its output differs from an unmoved run's: $(lab_exec n1 diff /tmp/pl.ref /tmp/pl.out | head -5)"
asked_home "$pid" && ok "it came home at a pipeline" || fail "it did not ask to come home"
err=$(lab_exec n1 cat /tmp/pl.err)
[ -z "$err" ] && ok "nothing on its stderr" || fail "its stderr: $err"
finish
