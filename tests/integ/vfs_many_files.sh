#!/bin/bash
# A process with 10,000 open home files and 20 TCP connections moves live
# (pre-copy) to n2 and comes home, every descriptor working at each place (files read back
# and appended to, sockets echo); and what a move cannot carry is refused
# up front, saying which limit: more pipes than tunnels, a file at a
# descriptor where the deputy keeps its own.
. "$(dirname "$0")/lib.sh"
lab_require_root
command -v python3 >/dev/null || skip "python3 is not installed"
[ "$(ulimit -Hn)" = unlimited ] || [ "$(ulimit -Hn)" -ge 16384 ] ||
	skip "the hard RLIMIT_NOFILE ($(ulimit -Hn)) is below 16384"
lab_up 2
py=$(python3 -c 'import sys; print(sys.executable)')
many=$lab_top/tests/progs/many_fds.py
lab_exec n1 mkdir -p /tmp/many

# A TCP echo server on n1, not an ssi process.
lab_exec n1 sh -c "$py -c '
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((\"127.0.0.1\", 0)); s.listen(64)
open(\"/tmp/echo.port\", \"w\").write(str(s.getsockname()[1]))
def serve(c):
    while True:
        b = c.recv(4096)
        if not b: break
        c.sendall(b)
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
' > /dev/null 2>&1 &"
wait_until 10 lab_exec n1 test -s /tmp/echo.port || { fail "the echo server did not start"; finish; }
port=$(lab_exec n1 cat /tmp/echo.port)

lab_exec n1 sh -c "ulimit -n 16384 && ssirun $py $many /tmp/many 10000 20 $port > /tmp/many.log 2>&1 &"
if wait_until 60 lab_exec n1 test -s /tmp/many/ready; then
	read -r pid lo hi < <(lab_exec n1 cat /tmp/many/ready)
	ok "the program holds 10,000 home files (fd $lo to $hi) and 20 connections"
else
	fail "the program did not start: $(lab_exec n1 cat /tmp/many.log)"
	finish
fi
n1net=$(lab_exec n1 readlink /proc/self/ns/net)
n2net=$(lab_exec n2 readlink /proc/self/ns/net)
# round K WHERE NS: asks for check K, expects "ok 10000 20 NS" (NS "away": a
# net namespace that is neither n1's nor n2's, the body's sandbox's).
round() {
	lab_exec n1 touch "/tmp/many/go.$1"
	if wait_until 120 lab_exec n1 test -s "/tmp/many/res.$1"; then
		res=$(lab_exec n1 cat "/tmp/many/res.$1")
		ns=${res##* }
		if [ "$3" = away ] && [ "${res% *}" = "ok 10000 20" ] && [ "${ns#net:}" != "$ns" ] &&
			[ "$ns" != "$n1net" ] && [ "$ns" != "$n2net" ]; then
			ok "$2: every file and connection works ($res)"
		elif [ "$res" = "ok 10000 20 $3" ]; then
			ok "$2: every file and connection works ($res)"
		else
			fail "$2: $res (want the net namespace $3)"
		fi
	else
		fail "$2: no answer: $(lab_exec n1 tail -5 /tmp/many.log)"
	fi
}
round 0 "at home" "$n1net"
# Live (pre-copy), the default: the freeze handler then holds the tracking
# socket and userfaultfd at numbers above 10,000, which the body must not
# mistake for its image's when it finds the agent's control socket.
t0=$(date +%s)
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1)
rc=$?
if [ $rc = 0 ]; then
	case "$out" in
	*"pre-copy round"*) ok "moved live to n2 in $(($(date +%s) - t0)) s: $out" ;;
	*) fail "moved to n2, but not live: $out" ;;
	esac
else
	fail "move to n2: $out"
fi
round 1 "on n2" away
out=$(lab_exec n1 ssictl migrate "$pid" home 2>&1)
[ $? = 0 ] && ok "came home: $out" || fail "homecoming: $out"
round 2 "at home again" "$n1net"
lab_exec n1 kill "$pid"

# Limits that remain are refused up front, each saying which.
lab_exec n1 sh -c "ssirun $py -c '
import os, time
ps = [os.pipe() for _ in range(200)]
open(\"/tmp/pipes.pid\", \"w\").write(str(os.getpid()))
time.sleep(60)' > /dev/null 2>&1 &"
wait_until 10 lab_exec n1 test -s /tmp/pipes.pid || fail "the pipe holder did not start"
ppid=$(lab_exec n1 cat /tmp/pipes.pid)
out=$(lab_exec n1 ssictl migrate "$ppid" n2 2>&1)
case "$out" in
*"it has 40"[0-9]" pipes, sockets and terminals"*"at most 256"*) ok "400 pipes: refused, saying why: $out" ;;
*) fail "400 pipes: $out" ;;
esac
lab_exec n1 kill -0 "$ppid" && ok "the refused process runs on at home" || fail "it is gone"
lab_exec n1 kill "$ppid"
lab_exec n1 sh -c "ulimit -n 1024 && ssirun $py -c '
import os, time
fd = os.open(\"/tmp/high\", os.O_RDWR | os.O_CREAT)
os.dup2(fd, 1000)
open(\"/tmp/high.pid\", \"w\").write(str(os.getpid()))
time.sleep(60)' > /dev/null 2>&1 &"
wait_until 10 lab_exec n1 test -s /tmp/high.pid || fail "the high-fd holder did not start"
hpid=$(lab_exec n1 cat /tmp/high.pid)
out=$(lab_exec n1 ssictl migrate "$hpid" n2 2>&1)
case "$out" in
*"file open at fd 1000"*"RLIMIT_NOFILE 1024"*) ok "a file at fd 1000 with a limit of 1024: refused, saying why: $out" ;;
*) fail "a file at fd 1000: $out" ;;
esac
lab_exec n1 kill "$hpid"
finish
