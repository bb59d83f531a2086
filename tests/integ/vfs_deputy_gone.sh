#!/bin/bash
# Away, when the deputy is gone, the body's file calls fail with EIO and the
# body ends: a python3 program on n2 stats and reads a file that only home's
# /tmp has (n2 has a decoy of that name) every 50 ms; on an OSError it exits
# with that errno. Its deputy is SIGKILLed at n1: n2's ssid log must say the
# body exited with status 5 (EIO), not that it was killed, and no body of it
# is left on n2. A program that ignores the errors is killed after the
# agent's grace (2 s), and the log says so.
. "$(dirname "$0")/lib.sh"
lab_require_root
[ -x /usr/bin/python3 ] || skip "Debian's python3 is not installed (pyenv's lives under /root)"
lab_up 2
mkdir -p "$LAB_FILES"
lab_exec n1 sh -c 'echo home-bytes > /tmp/homefile'
lab_exec n2 sh -c 'echo decoy > /tmp/homefile'
cat >"$LAB_FILES/gone.py" <<'PY'
import os, sys, time
# gone.py [ignore]: loops on a home file; exits with the errno of the first
# failed call (or, with "ignore", goes on), 3 if it ever reads bytes that
# are not home's.
ignore = sys.argv[1:] == ["ignore"]
while True:
    try:
        os.stat("/tmp/homefile")
        with open("/tmp/homefile") as f:
            if f.read().strip() != "home-bytes":
                sys.exit(3)
    except OSError as e:
        if not ignore:
            sys.exit(e.errno)
    time.sleep(0.05)
PY
onn2() {
	lab_exec n2 ssictl ps --json 2>/dev/null | grep -q 'gone.py'
}
log=$(lab_log n2)
# run TAG [ignore]: starts gone.py away, checks that it runs reading home's
# file, and SIGKILLs its deputy (home pid in $pid).
run() {
	lab_exec n1 sh -c "ssirun --node n2 /usr/bin/python3 $LAB_FILES/gone.py $2 >/tmp/gone.out 2>&1 &"
	if wait_until 10 onn2; then ok "$1: gone.py runs on n2"; else fail "$1: gone.py never ran on n2"; finish; fi
	sleep 0.5
	pid=$(lab_pid_of gone.py)
	[ -n "$pid" ] || { fail "$1: no home pid for gone.py on n1"; finish; }
	# Still running: it has read home's bytes for a while (a decoy read exits 3).
	if onn2; then ok "$1: it reads home's file on n2"; else
		fail "$1: it ended before its deputy was killed: $(grep "n1:$pid" "$log" | tail -2)"; fi
	lab_exec n1 kill -KILL "$pid"
}
# gone TAG: no body of it is left on n2.
gone() {
	if wait_until 5 sh -c "! ssilab exec n2 -- ssictl ps --json | grep -q gone.py"; then
		ok "$1: no body of it is left on n2 (ssictl ps)"
	else
		fail "$1: a body is left on n2: $(lab_exec n2 ssictl ps)"
	fi
	if ! lab_exec n2 pgrep -f gone.py >/dev/null; then ok "$1: no gone.py process on n2"; else
		fail "$1: gone.py still runs on n2: $(lab_exec n2 pgrep -af gone.py)"; fi
}

run exits
# Either the agent saw the link go first ("failed: deputy connection lost ... the body exited
# with status 5") or the body's own exit first ("exited 5"): both say the body ended by itself,
# on EIO, and which comes first is a race between two sockets.
if wait_until 10 grep -Eq "body of n1:$pid: (failed: deputy connection lost.*the body exited with status 5|exited 5)\$" "$log"; then
	ok "exits: deputy killed: the body saw EIO and exited with status 5 (n2's log)"
else
	fail "exits: deputy killed: how the body ended: $(grep "n1:$pid" "$log" | tail -3)"
fi
gone exits

run ignores ignore
if wait_until 10 grep -q "body of n1:$pid: failed: deputy connection lost.*the body killed after a 2000 ms grace\$" "$log"; then
	ok "ignores: a body that goes on after EIO is killed after the grace"
else
	fail "ignores: how the body ended: $(grep "n1:$pid" "$log" | tail -3)"
fi
gone ignores
finish
