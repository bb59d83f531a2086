#!/bin/bash
# netproxy: UDP through home. A python3 client moved to n2 sends datagrams
# to a UDP echo server on n1's 127.0.0.1 (n2 runs a decoy on the same port
# that answers "away"): sendto/recvfrom, connected send/recv,
# sendmsg/recvmsg, a 3000-byte datagram, a receive timeout.
. "$(dirname "$0")/lib.sh"
lab_require_root
command -v python3 >/dev/null || skip "python3 is not installed"
lab_up 2
mkdir -p "$LAB_FILES"
cp "$lab_top/tests/progs/net_probe.py" "$LAB_FILES/"
probe=$LAB_FILES/net_probe.py
port=7621

lab_exec n1 sh -c "mkdir -p /tmp/net && (python3 $probe udpserver home $port > /dev/null 2>&1 &)"
lab_exec n2 sh -c "mkdir -p /tmp/net && (python3 $probe udpserver away $port > /dev/null 2>&1 &)"
lab_exec n1 sh -c "{ ssirun python3 $probe udpclient $port /tmp/net/go /tmp/net/out > /tmp/net/client.log 2>&1; echo \$? > /tmp/net/client.rc; } &"
wait_until 20 sh -c "ssilab exec n1 -- ssictl ps | grep -q net_probe" || fail "client did not start"
get_pid() { pid=$(lab_pid_of 'net_probe'); [ -n "$pid" ]; }
wait_until 20 get_pid || fail "net_probe is not in 'ssictl ps'"
sleep 0.5
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1)
check "client moved to n2: $out" sh -c "echo '$out' | grep -q 'moved from n1 to n2'"
lab_exec n1 touch /tmp/net/go
lab_await_rc 60 /tmp/net/client "client"
res=$(lab_exec n1 cat /tmp/net/out 2>/dev/null)
printf '%s\n' "$res" | sed 's/^/# /'
expect "sendto/recvfrom reach n1's 127.0.0.1" "sendto home one from ('127.0.0.1', $port)"
expect "getsockname/getpeername of a connected UDP socket: home's" "sockname 127.0.0.1 peer ('127.0.0.1', $port)"
expect "connected UDP send/recv through home" "connected home two"
expect "sendmsg/recvmsg through home" "msg home three from ('127.0.0.1', $port)"
expect "a 3000-byte datagram whole" "big 3005"
expect "a receive timeout (settimeout) expires as at home" "timeout yes"
finish
