#!/bin/bash
# netproxy: an edge-triggered epoll server moved under load. It starts at
# home with its listening socket (n1's 127.0.0.1) and its epoll instance;
# while 4 concurrent clients on n1 send it requests it moves to n2 (its
# epoll instance is made again there, ssi_epoll.c), then, under load again,
# comes home. It accepts until EAGAIN and reads until EAGAIN (EPOLLET) on the
# descriptors the netproxy gives it; every answer must be right. A second
# server started away (ssirun --node n2) makes its socket and epoll there.
. "$(dirname "$0")/lib.sh"
lab_require_root
command -v python3 >/dev/null || skip "python3 is not installed"
lab_up 2
mkdir -p "$LAB_FILES"
cp "$lab_top/tests/progs/net_epoll.py" "$LAB_FILES/"
prog=$LAB_FILES/net_epoll.py
# The interpreter itself, not a wrapper script (a script cannot exec away).
py=$(python3 -c 'import sys; print(sys.executable)')
port=7811

# wave NAME N: 4 concurrent clients x N requests from n1, in the background;
# wave_ok NAME waits for them: 0 if every answer was right.
wave() {
	lab_exec n1 sh -c "pids=; for i in 1 2 3 4; do $py $prog client $port $2 $1-\$i & pids=\"\$pids \$!\"; done
		r=0; for p in \$pids; do wait \$p || r=1; done; echo \$r > /tmp/$1.rc" &
}
wave_ok() {
	wait_until 120 lab_exec n1 test -s "/tmp/$1.rc" && [ "$(lab_exec n1 cat "/tmp/$1.rc")" = 0 ]
}
lab_exec n1 sh -c "{ ssirun $py $prog server $port > /tmp/ep.log 2>&1; echo \$? > /tmp/ep.rc; } &"
wait_until 10 lab_exec n1 sh -c "$py $prog client $port 1 probe" || fail "no answer on n1's 127.0.0.1:$port"
pid=$(lab_exec n1 ssictl ps | awk '/net_epoll.py server/ { print $2; exit }')
wave w1 20000
sleep 0.7
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1)
check "moved to n2 under load, with its epoll instance: $out" sh -c "echo '$out' | grep -q 'moved from n1 to n2'"
check "the clients were still at work when it moved" sh -c "! ssilab exec n1 -- test -s /tmp/w1.rc"
if wave_ok w1; then ok "wave 1: 4 clients x 20000 requests across the move, every answer right"
else fail "wave 1: a client got a wrong answer or none ($(lab_exec n1 cat /tmp/ep.log))"; fi
check "its body runs on n2" sh -c "ssilab exec n2 -- pgrep -f 'net_epoll.py server' >/dev/null"
check "nothing listens on n2's port" sh -c "! ssilab exec n2 -- $py $prog client $port 1 probe 2>/dev/null"
wave w2 6000
sleep 0.7
out=$(lab_exec n1 ssictl migrate "$pid" home 2>&1)
check "brought home under load: $out" sh -c "echo '$out' | grep -q 'came home'"
check "the clients were still at work when it came home" sh -c "! ssilab exec n1 -- test -s /tmp/w2.rc"
if wave_ok w2; then ok "wave 2: 4 clients x 6000 requests across the homecoming, every answer right"
else fail "wave 2: a client got a wrong answer or none ($(lab_exec n1 cat /tmp/ep.log))"; fi
wave w3 300
if wave_ok w3; then ok "wave 3 at home again: every answer right"; else fail "wave 3 at home again"; fi
lab_exec n1 kill "$pid"

# Started away: its socket and epoll are made there.
port=7812
lab_exec n1 sh -c "{ ssirun --node n2 $py $prog server $port > /tmp/ep.log 2>&1; echo \$? > /tmp/ep.rc; } &"
wait_until 20 sh -c "ssilab exec n1 -- ssictl ps | grep -q 'away.*net_epoll.py server'" ||
	fail "the server is not away: $(lab_exec n1 ssictl ps; lab_exec n1 cat /tmp/ep.log)"
check "its body runs on n2" sh -c "ssilab exec n2 -- pgrep -f 'net_epoll.py server' >/dev/null"
wait_until 10 lab_exec n1 sh -c "$py $prog client $port 1 probe" || fail "no answer on n1's 127.0.0.1:$port"
check "nothing listens on n2's port" sh -c "! ssilab exec n2 -- $py $prog client $port 1 probe 2>/dev/null"
for wave in 1 2; do
	if lab_exec n1 sh -c "pids=; for i in 1 2 3 4; do $py $prog client $port 300 w$wave-\$i & pids=\"\$pids \$!\"; done
		r=0; for p in \$pids; do wait \$p || r=1; done; exit \$r"; then
		ok "wave $wave: 4 concurrent clients x 300 requests, every answer right"
	else
		fail "wave $wave: a client got a wrong answer or none ($(lab_exec n1 cat /tmp/ep.log))"
	fi
done
check "the server is still running away" sh -c "ssilab exec n2 -- pgrep -f 'net_epoll.py server' >/dev/null"
finish
