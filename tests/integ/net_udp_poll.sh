#!/bin/bash
# netproxy: a UDP server with an event loop (python3 selectors: epoll) runs
# away; its socket, made there, is bound at n1's 127.0.0.1 (n2 has a decoy
# at the same port that answers "away"). Datagrams come down a tunnel, so
# the selector blocks until one arrives and then sees the socket readable:
# requests from n1 are answered, O_NONBLOCK reads EAGAIN, MSG_PEEK and
# recvmsg (MSG_TRUNC, source address) work, and while idle for 2 s the
# server burns almost no CPU (its own CPU time, read before and after: a
# spinning loop would burn about 2 s; not a benchmark).
# Then the same with a server started at home, its socket bound there,
# moved to n2 (the socket open at freeze gets its tunnel too), back home,
# and to n2 again.
. "$(dirname "$0")/lib.sh"
lab_require_root
command -v python3 >/dev/null || skip "python3 is not installed"
lab_up 2
mkdir -p "$LAB_FILES"
cp "$lab_top/tests/progs/net_udp_poll.py" "$LAB_FILES/"
prog=$LAB_FILES/net_udp_poll.py
port=7441
# The interpreter itself: a wrapper script would exec it away, which is refused.
py=$(python3 -c 'import sys; print(sys.executable)')

lab_exec n2 sh -c "python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((\"127.0.0.1\", $port))
while True:
    d, a = s.recvfrom(4096)
    s.sendto(b\"away\", a)
' > /dev/null 2>&1 &"
lab_exec n1 sh -c "{ ssirun --node n2 $py $prog server $port > /tmp/up.log 2>&1; echo \$? > /tmp/up.rc; } &"
get_pid() { pid=$(lab_pid_of 'net_udp_poll.py server'); [ -n "$pid" ]; }
wait_until 20 get_pid || fail "the server is not in 'ssictl ps'"
ask() { lab_exec n1 python3 "$prog" client $port "$@" 2>&1; }
wait_until 20 sh -c "ssilab exec n1 -- python3 $prog client $port ping 2>/dev/null | grep -q 'echo ping'" ||
	fail "no answer from the server away: $(ask ping) $(lab_exec n1 cat /tmp/up.log)"
check "the server runs on n2" sh -c "ssilab exec n1 -- ssictl ps | grep net_udp_poll | grep -q n2"
res=$(ask hello "peek abc" "msg 123456789" big:60000 cpu sleep cpu)
printf '%s\n' "$res" | sed 's/^/# /'
expect "a datagram from n1 reaches the server away, answer from home's port" "echo hello"
expect "MSG_PEEK then recvfrom see the same datagram" "peek same abc"
expect "recvmsg: a short buffer reports MSG_TRUNC, the source is n1's 127.0.0.1" "msg msg 1 from ok trunc 1"
expect "a 60000-byte datagram arrives whole and intact" "big 60000 same"
cpu=$(printf '%s\n' "$res" | awk '$1 == "cpu" { print $2 }' | tr '\n' ' ')
check "the server idles in its selector without spinning (CPU seconds before/after 2 s idle: $cpu)" \
	awk -v b="$cpu" 'BEGIN { exit !(split(b, v, " ") == 2 && v[2] - v[1] < 0.5) }'
res=$(ask quit)
expect "the server quits on request" "bye"
if wait_until 20 lab_exec n1 test -s /tmp/up.rc && [ "$(lab_exec n1 cat /tmp/up.rc)" = 0 ]; then
	ok "server exited with status 0"
else
	fail "server: $(lab_exec n1 sh -c 'cat /tmp/up.rc /tmp/up.log')"
fi
check "a non-blocking read with nothing queued raised BlockingIOError (EAGAIN)" \
	lab_exec n1 grep -qx "eagain ok" /tmp/up.log

# A server whose socket is open when it moves.
port=7442
lab_exec n1 sh -c "{ ssirun $py $prog server $port > /tmp/up2.log 2>&1; echo \$? > /tmp/up2.rc; } &"
get_pid() { pid=$(lab_pid_of 'net_udp_poll.py server'); [ -n "$pid" ]; }
wait_until 20 get_pid || fail "the second server is not in 'ssictl ps'"
wait_until 20 sh -c "ssilab exec n1 -- python3 $prog client $port ping 2>/dev/null | grep -q 'echo ping'" ||
	fail "no answer from the second server at home"
round() { # $1: where the server is now
	res=$(ask "hello $1" "peek $1" big:60000 cpu sleep cpu)
	printf '%s\n' "$res" | sed 's/^/# /'
	expect "server on $1 with a socket open since home: a datagram from n1 is answered" "echo hello $1"
	expect "server on $1: MSG_PEEK then recvfrom" "peek same $1"
	expect "server on $1: a 60000-byte datagram arrives whole and intact" "big 60000 same"
	cpu=$(printf '%s\n' "$res" | awk '$1 == "cpu" { print $2 }' | tr '\n' ' ')
	check "server on $1 idles without spinning (CPU seconds before/after 2 s idle: $cpu)" \
		awk -v b="$cpu" 'BEGIN { exit !(split(b, v, " ") == 2 && v[2] - v[1] < 0.5) }'
}
for to in n2 n1 n2; do
	out=$(lab_exec n1 ssictl migrate "$pid" $to 2>&1)
	if [ $to = n1 ]; then want="came home|moved from n2 to n1|home"; else want="moved from n1 to $to"; fi
	check "second server moved to $to: $out" sh -c "echo '$out' | grep -Eq '$want'"
	round $to
done
res=$(ask quit)
expect "the second server quits on request" "bye"
if wait_until 20 lab_exec n1 test -s /tmp/up2.rc && [ "$(lab_exec n1 cat /tmp/up2.rc)" = 0 ]; then
	ok "second server exited with status 0"
else
	fail "second server: $(lab_exec n1 sh -c 'cat /tmp/up2.rc /tmp/up2.log')"
fi
finish
