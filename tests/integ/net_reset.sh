#!/bin/bash
# netproxy: a peer that resets or half-closes is seen by a migrated client
# exactly as at home. The server listens only on n1's 127.0.0.1; the client
# (python3) moves to n2 with one connection open, then: that connection and
# a new one are reset by the server (SO_LINGER {1,0}) after some data ->
# the data, then ConnectionResetError, then EOF, and sends fail; the server
# half-closes -> the client reads EOF and can still send (the server logs
# what it got); the client half-closes -> the server reads EOF and answers.
# Control calls answer with home's view on a dup of a socket (made before
# or after the move) and on a socket passed as stdin (inetd style), whose
# peer then resets it.
. "$(dirname "$0")/lib.sh"
lab_require_root
command -v python3 >/dev/null || skip "python3 is not installed"
lab_up 2
mkdir -p "$LAB_FILES"
cp "$lab_top/tests/progs/net_reset.py" "$LAB_FILES/"
prog=$LAB_FILES/net_reset.py
port=7431

lab_exec n1 sh -c "mkdir -p /tmp/nr && (python3 $prog server $port /tmp/nr/log > /dev/null 2>&1 &)"
wait_until 10 sh -c "ssilab exec n1 -- python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", $port)).close()'" ||
	fail "home server did not start"

lab_exec n1 sh -c "{ ssirun python3 $prog client $port /tmp/nr/go /tmp/nr/out > /tmp/nr/client.log 2>&1; echo \$? > /tmp/nr/client.rc; } &"
lab_exec n1 sh -c "{ python3 $prog inetd $port /tmp/nr/go /tmp/nr/std > /tmp/nr/std.log 2>&1; echo \$? > /tmp/nr/std.rc; } &"
get_pid() { pid=$(lab_pid_of 'net_reset.py client'); [ -n "$pid" ]; }
wait_until 20 get_pid || fail "net_reset is not in 'ssictl ps'"
get_spid() { spid=$(lab_pid_of 'net_reset.py std'); [ -n "$spid" ]; }
wait_until 20 get_spid || fail "net_reset std is not in 'ssictl ps'"
sleep 1
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1)
check "client moved to n2 with a connection open: $out" sh -c "echo '$out' | grep -q 'moved from n1 to n2'"
out=$(lab_exec n1 ssictl migrate "$spid" n2 2>&1)
check "inetd-style program moved to n2: $out" sh -c "echo '$out' | grep -q 'moved from n1 to n2'"
lab_exec n1 touch /tmp/nr/go
lab_await_rc 60 /tmp/nr/client "client"
res=$(lab_exec n1 cat /tmp/nr/out 2>/dev/null)
printf '%s\n' "$res" | sed 's/^/# /'
expect "connection open before the move, peer resets: data, then ConnectionResetError" \
	"pre data before-reset then ConnectionResetError"
expect "... then EOF" "pre second recv EOF"
expect "... and sending fails" "pre send fails"
expect "connection made away, peer resets: data, then ConnectionResetError" \
	"new data before-reset then ConnectionResetError"
expect "... then EOF" "new second recv EOF"
expect "... and sending fails" "new send fails"
expect "peer half-closes: the client reads its data, then EOF" "half read hello then EOF"
expect "client half-closes: the peer reads EOF and still answers" "shut_wr answer count 5000 then EOF"
expect "getpeername on a dup of a connection made before the move: home's" \
	"dup pre family 2 peer ('127.0.0.1', $port)"
expect "setsockopt on the dup acts on the home socket" "dup pre keepalive 1"
expect "getpeername on a dup of a connection made away: home's" \
	"dup new family 2 peer ('127.0.0.1', $port)"
lab_await_rc 30 /tmp/nr/std "inetd-style program"
res=$(lab_exec n1 cat /tmp/nr/std 2>/dev/null)
printf '%s\n' "$res" | sed 's/^/# /'
expect "control calls on a socket at fd 0 (inetd style): home's view" \
	"std family 2 peer ('127.0.0.1', $port) type 1"
expect "the peer of the socket at fd 0 resets: data, then ConnectionResetError" \
	"std data before-reset then ConnectionResetError"
wait_until 10 sh -c "ssilab exec n1 -- grep -q 'half got still-sending' /tmp/nr/log"
check "after the peer's half-close the client can still send to it" \
	lab_exec n1 grep -qx "half got still-sending" /tmp/nr/log
finish
