#!/bin/bash
# Live migration on a 3-host virtual cluster, with unmodified python3 as the
# program: it moves while it prints through a pipe at home, keeps its pid and
# parent, takes signals sent to its home pid, and its exit status reaches the
# home shell. What cannot move is refused and keeps running; a destination
# that is down or dies leaves the process running at home.
. "$(dirname "$0")/lib.sh"
lab_require_root
command -v python3 >/dev/null || skip "python3 is not installed"
lab_up 3

mkdir -p "$LAB_FILES"
prog=$LAB_FILES/ticker.py
cat >"$prog" <<'PY'
import os, signal, sys, threading, time
# ticker.py N TAG [threads|shm]: prints N numbered lines with its pid and
# parent, slowly; says "usr1" on SIGUSR1; exits 7.
n, tag = int(sys.argv[1]), sys.argv[2]
mode = sys.argv[3] if len(sys.argv) > 3 else ""
signal.signal(signal.SIGUSR1, lambda s, f: print("usr1", flush=True))
if mode == "threads":  # more than a freeze stops (256)
    for _ in range(300):
        threading.Thread(target=lambda: time.sleep(3600), daemon=True).start()
if mode == "shm":
    import mmap
    shared = mmap.mmap(-1, 4096, flags=mmap.MAP_SHARED)
    if os.fork() == 0:
        time.sleep(3600)
        os._exit(0)
with open("/tmp/%s.pid" % tag, "w") as f:
    f.write("%d\n" % os.getpid())
for i in range(n):
    print(i, os.getpid(), os.getppid(), flush=True)
    time.sleep(0.05)
sys.exit(7)
PY

# start TAG N [MODE]: runs ticker.py on n1 under ssirun, stdout through a pipe
# into /tmp/TAG.out, its exit status into /tmp/TAG.rc.
start() {
	lab_exec n1 sh -c "{ ssirun python3 $prog $2 $1 $3 2>&1; echo \$? > /tmp/$1.rc; } | cat > /tmp/$1.out &"
	wait_until 10 lab_exec n1 test -s "/tmp/$1.pid" || { fail "$1 did not start"; finish; }
	lab_exec n1 cat "/tmp/$1.pid"
}

# The output is every line 0..N-1 once, in order, all with the same pid and ppid.
output_ok() {
	lab_exec n1 cat "/tmp/$1.out" | grep -v '^usr1$' | awk -v n="$2" '
		NR == 1 { pid = $2; ppid = $3 }
		$1 != NR - 1 || $2 != pid || $3 != ppid { bad = 1 }
		END { exit !(NR == n && !bad) }'
}

pid=$(start a 120)
sleep 0.5
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1)
rc=$?
if [ "$rc" = 0 ]; then ok "ssictl migrate $pid n2: $out"; else fail "ssictl migrate $pid n2 ($rc): $out"; fi
if lab_exec n3 ssictl ps --json | grep -q "\"home\":\"n1\",\"pid\":$pid,\"node\":\"n2\""; then
	ok "ssictl ps on n3 shows it on n2"
else
	fail "ssictl ps on n3 shows it on n2: $(lab_exec n3 ssictl ps --json)"
fi
if lab_exec n2 pgrep -f "python3 $prog 120 a" >/dev/null; then
	ok "the body runs on n2"
else
	fail "the body runs on n2"
fi
lab_exec n1 kill -USR1 "$pid"
if wait_until 5 sh -c "ssilab exec n1 -- grep -qx usr1 /tmp/a.out"; then
	ok "SIGUSR1 sent to the home pid reaches the body"
else
	fail "SIGUSR1 sent to the home pid reaches the body"
fi
if wait_until 30 lab_exec n1 test -s /tmp/a.rc && [ "$(lab_exec n1 cat /tmp/a.rc)" = 7 ]; then
	ok "the home shell gets the body's exit status 7"
else
	fail "the home shell gets the body's exit status: '$(lab_exec n1 cat /tmp/a.rc)'"
fi
if output_ok a 120; then
	ok "its output through the home pipe is complete, in order, with the same pid and ppid"
else
	fail "its output (count, pid, ppid): $(lab_exec n1 cat /tmp/a.out | awk '{ print $2, $3 }' | uniq -c | tr '\n' ' ')"
fi
if wait_until 5 sh -c "! ssilab exec n2 -- pgrep -f 'python3 $prog' >/dev/null"; then
	ok "nothing is left on n2"
else
	fail "nothing is left on n2: $(lab_exec n2 ps ax)"
fi

# A user's process stays that user's on the node it moves to (the agent that
# restores it is root): Debian's own python3, since pyenv's lives under /root.
if [ -x /usr/bin/python3 ]; then
	lab_exec n1 sh -c "{ setpriv --reuid=nobody --regid=nogroup --clear-groups ssirun /usr/bin/python3 $prog 100 u 2>&1; echo \$? > /tmp/u.rc; } | cat > /tmp/u.out &"
	wait_until 10 lab_exec n1 test -s /tmp/u.pid || fail "u did not start"
	pid=$(lab_exec n1 cat /tmp/u.pid)
	out=$(lab_exec n1 setpriv --reuid=nobody --regid=nogroup --clear-groups ssictl migrate "$pid" n2 2>&1)
	[ $? = 0 ] && ok "nobody moves its own process: $out" || fail "nobody moves its own process: $out"
	owner=$(lab_exec n2 ps -o user= -C python3)
	[ "$owner" = nobody ] && ok "its body on n2 runs as nobody, not as the agent's root" ||
		fail "its body on n2 runs as '$owner'"
	sleep 1
	out=$(lab_exec n1 setpriv --reuid=nobody --regid=nogroup --clear-groups ssictl migrate "$pid" home 2>&1)
	[ $? = 0 ] && ok "nobody brings its process home: $out" || fail "nobody brings its process home: $out"
	if wait_until 20 lab_exec n1 test -s /tmp/u.rc && [ "$(lab_exec n1 cat /tmp/u.rc)" = 7 ] && output_ok u 100; then
		ok "as nobody it runs on, away and at home again, output complete, status 7"
	else
		fail "as nobody: status '$(lab_exec n1 cat /tmp/u.rc)', $(lab_exec n1 tail -2 /tmp/u.out)"
	fi
fi

# A signal that kills: the home shell sees it. This one is moved from n2,
# naming its home: ssictl migrate HOME:PID works from any node.
pid=$(start b 400)
out=$(lab_exec n2 ssictl migrate "n1:$pid" n3 2>&1)
rc=$?
if [ "$rc" = 0 ]; then ok "from n2: ssictl migrate n1:$pid n3: $out"; else fail "from n2: ssictl migrate n1:$pid n3 ($rc): $out"; fi
lab_exec n1 kill -TERM "$pid"
if wait_until 10 lab_exec n1 test -s /tmp/b.rc && [ "$(lab_exec n1 cat /tmp/b.rc)" = 143 ]; then
	ok "SIGTERM to the home pid kills the body; the home shell sees 143"
else
	fail "SIGTERM to the home pid: status '$(lab_exec n1 cat /tmp/b.rc)'"
fi
if wait_until 5 sh -c "! ssilab exec n3 -- pgrep -f 'python3 $prog' >/dev/null"; then
	ok "no orphan on n3"
else
	fail "no orphan on n3"
fi

# What cannot move is refused before anything is frozen, and keeps running.
for mode in threads shm; do
	pid=$(start "r$mode" 60 "$mode")
	out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1)
	rc=$?
	if [ "$rc" != 0 ] && echo "$out" | grep -q "cannot migrate"; then
		ok "a process with $mode is refused: $out"
	else
		fail "a process with $mode is refused ($rc): $out"
	fi
	if wait_until 15 lab_exec n1 test -s "/tmp/r$mode.rc" && output_ok "r$mode" 60; then
		ok "the refused process ($mode) ran on at home to its end"
	else
		fail "the refused process ($mode) ran on: $(lab_exec n1 tail -2 /tmp/r$mode.out)"
	fi
done

# ssirun --node: the program starts on n2 before main runs (its network
# namespace, which is local, says where main ran: away, the body's own
# sandbox, neither n1's nor n2's; uname is home's); its output and status
# come home. The real interpreter, not a wrapper script that execs it.
py=$(python3 -c 'import sys; print(sys.executable)')
n1net=$(lab_exec n1 readlink /proc/self/ns/net)
n2net=$(lab_exec n2 readlink /proc/self/ns/net)
out=$(lab_exec n1 sh -c "{ ssirun --node n2 $py -c 'import os, sys; print(os.readlink(\"/proc/self/ns/net\"), os.uname().nodename, os.getppid() != 1); sys.exit(5)' 2>&1; echo rc=\$?; } | cat")
set -- $out
if [ "$#" = 4 ] && [ "$1" != "$n1net" ] && [ "$1" != "$n2net" ] && [ "${1#net:}" != "$1" ] &&
	[ "$2 $3 $4" = "n1 True rc=5" ]; then
	ok "ssirun --node n2: main runs on n2, sees its home node's name and parent, exit status comes home"
else
	fail "ssirun --node n2 (n1 is $n1net, n2 is $n2net): $out"
fi
out=$(lab_exec n1 sh -c "{ ssirun --node n9 $py -c 'print(\"ran\")' 2>&1; echo rc=\$?; } | cat")
if echo "$out" | grep -q "unknown node 'n9'" && echo "$out" | grep -q "rc=125" && ! echo "$out" | grep -q ran; then
	ok "ssirun --node n9: refused with the reason, exit 125, the program never ran"
else
	fail "ssirun --node n9: $out"
fi

# Bad requests: a clear error, nothing touched.
pid=$(start c 240)
out=$(lab_exec n1 ssictl migrate "$pid" n9 2>&1)
[ $? != 0 ] && echo "$out" | grep -q "unknown node 'n9'" && ok "unknown node: $out" || fail "unknown node: $out"
out=$(lab_exec n1 setpriv --reuid=nobody --regid=nogroup --clear-groups ssictl migrate "$pid" n2 2>&1)
[ $? != 0 ] && echo "$out" | grep -q "only its owner or root may move it" && ok "another user may not move it: $out" ||
	fail "another user may not move it: $out"
out=$(lab_exec n1 ssictl migrate 999999 n2 2>&1)
[ $? != 0 ] && echo "$out" | grep -q "not an ssi process" && ok "unknown pid: $out" || fail "unknown pid: $out"
out=$(lab_exec n2 ssictl migrate n1:999999 n3 2>&1)
[ $? != 0 ] && echo "$out" | grep -q "not an ssi process whose home is n1" && ok "unknown pid, relayed from n2: $out" ||
	fail "unknown pid, relayed from n2: $out"
lab_kill_ssid n3
n3_down() { [ "$(lab_node_state n1 n3)" = down ]; }
wait_until 10 n3_down
out=$(lab_exec n1 ssictl migrate "$pid" n3 2>&1)
[ $? != 0 ] && echo "$out" | grep -q "n3 is down" && ok "node down: $out" || fail "node down: $out"
if wait_until 30 lab_exec n1 test -s /tmp/c.rc && output_ok c 240; then
	ok "after the refusals the process ran on at home to its end"
else
	fail "after the refusals: $(lab_exec n1 tail -2 /tmp/c.out)"
fi

# The body's node is lost (every process of host n2 killed at once): the
# deputy exits as if killed, so the home shell sees SIGKILL, and says why.
pid=$(start d 600)
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1)
[ $? = 0 ] && ok "moved to n2 again: $out" || fail "moved to n2 again: $out"
kill -KILL "$(lab_holder_pid n2)"
if wait_until 15 lab_exec n1 test -s /tmp/d.rc && [ "$(lab_exec n1 cat /tmp/d.rc)" = 137 ]; then
	ok "n2 lost: the deputy exits as if killed (the home shell sees 137)"
else
	fail "n2 lost: the home shell sees '$(lab_exec n1 cat /tmp/d.rc)'"
fi
if lab_exec n1 grep -qi "agent\|link\|lost" /tmp/d.out; then
	ok "the deputy says why: $(lab_exec n1 grep -i 'agent\|link\|lost' /tmp/d.out | head -1)"
else
	fail "the deputy says why: $(lab_exec n1 tail -2 /tmp/d.out)"
fi
wait_until 5 sh -c "! ssilab exec n1 -- kill -0 $pid 2>/dev/null" && ok "no deputy is left at home" ||
	fail "the deputy $pid is still there"

finish
