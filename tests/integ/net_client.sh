#!/bin/bash
# netproxy: a migrated python3 client makes new connections from home. The
# servers it reaches listen only on n1's 127.0.0.1 and on a Unix socket in
# n1's private /tmp; n2 runs decoys at the same port and path that answer
# "away", so any reply "home" proves the connection was made at home.
. "$(dirname "$0")/lib.sh"
lab_require_root
command -v python3 >/dev/null || skip "python3 is not installed"
lab_up 2
mkdir -p "$LAB_FILES"
cp "$lab_top/tests/progs/net_probe.py" "$LAB_FILES/"
probe=$LAB_FILES/net_probe.py
port=7421

lab_exec n1 sh -c "mkdir -p /tmp/net && (python3 $probe server home $port /tmp/net/u.sock > /dev/null 2>&1 &)"
lab_exec n2 sh -c "mkdir -p /tmp/net && (python3 $probe server away $port /tmp/net/u.sock > /dev/null 2>&1 &)"
wait_until 10 lab_exec n1 test -S /tmp/net/u.sock || fail "home servers did not start"
wait_until 10 lab_exec n2 test -S /tmp/net/u.sock || fail "decoy servers did not start"

lab_exec n1 sh -c "{ ssirun python3 $probe client $port /tmp/net/u.sock /tmp/net/go /tmp/net/out > /tmp/net/client.log 2>&1; echo \$? > /tmp/net/client.rc; } &"
wait_until 20 sh -c "ssilab exec n1 -- ssictl ps | grep -q net_probe" || fail "client did not start"
get_pid() { pid=$(lab_pid_of 'net_probe'); [ -n "$pid" ]; }
wait_until 20 get_pid || fail "net_probe is not in 'ssictl ps'"
sleep 1
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1)
check "client moved to n2 with a connection open: $out" sh -c "echo '$out' | grep -q 'moved from n1 to n2'"
lab_exec n1 touch /tmp/net/go
lab_await_rc 60 /tmp/net/client "client"
res=$(lab_exec n1 cat /tmp/net/out 2>/dev/null)
printf '%s\n' "$res" | sed 's/^/# /'
expect "a connection open before the move still reaches home" "old home two"
expect "the connection open before the move: getpeername/getsockname at home" "old peername ('127.0.0.1', $port) sockname 127.0.0.1"
expect "a TCP connection made away reaches n1's 127.0.0.1" "tcp home three"
expect "getsockname/getpeername answer with home's view" "tcp sockname 127.0.0.1 peername ('127.0.0.1', $port)"
expect "getsockopt(SO_TYPE) is home's stream socket" "tcp type 1"
expect "setsockopt/getsockopt(TCP_NODELAY) at home" "tcp nodelay 1"
expect "shutdown(SHUT_WR) reaches the home peer, which closes: EOF" "tcp after shutdown b''"
expect "a Unix socket in n1's /tmp reached from n2" "unix home four"
expect "getpeername of the Unix connection is home's path" "unix peername /tmp/net/u.sock"
expect "non-blocking connect, 200 kB echoed through the new tunnel" "nonblock 200005"
expect "connect to a closed home port: ECONNREFUSED" "refused yes"
finish
