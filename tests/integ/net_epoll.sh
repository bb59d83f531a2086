#!/bin/bash
# netproxy: an edge-triggered epoll server that runs away from its start.
# `ssirun --node n2` moves it before main, so it creates its listening
# socket (bound at home: n1's 127.0.0.1) and its epoll instance away; it
# accepts until EAGAIN and reads until EAGAIN (EPOLLET) on the descriptors
# the netproxy gives it. Two waves of 4 concurrent clients x 300 requests
# from n1; every answer must be right. (An epoll instance cannot be moved
# yet, so the issue's "moved under load" waits for that.)
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
