#!/bin/bash
# The body's sandbox and the one way out of it (#12): a process started with
# ssirun --node n2 runs on n2 in a network namespace of its own (neither
# n1's nor n2's). With 'sandbox = off' in n2's cluster file (taken in by
# SIGHUP) the next one runs in n2's own, and n2's ssid says so in its log;
# with the line gone, the sandbox is back.
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_python
lab_up 2
py=$(python3 -c 'import sys; print(sys.executable)')
n1net=$(lab_exec n1 readlink /proc/self/ns/net)
n2net=$(lab_exec n2 readlink /proc/self/ns/net)
netns() {
	lab_exec n1 sh -c "ssirun --node n2 $py -c 'import os; print(os.readlink(\"/proc/self/ns/net\"))' 2>&1 | cat"
}
# reload: n2's ssid reads the cluster file again (SIGHUP); returns once it
# has said so.
reload() {
	n=$(grep -c "reloaded " "$SSILAB_DIR/n2/ssid.log")
	lab_exec n2 sh -c 'kill -HUP $(pgrep -x ssid)'
	wait_until 10 sh -c "[ \$(grep -c 'reloaded ' '$SSILAB_DIR/n2/ssid.log') -gt $n ]" ||
		fail "n2's ssid did not reload its cluster file"
}
got=$(netns)
[ "${got#net:}" != "$got" ] && [ "$got" != "$n1net" ] && [ "$got" != "$n2net" ] &&
	ok "sandboxed: its own network namespace ($got; n1 $n1net, n2 $n2net)" || fail "sandboxed: $got"
conf=$SSILAB_DIR/cluster.conf
cp "$conf" "$conf.orig"
sed -i 's/^cluster = \(.*\)$/cluster = \1\nsandbox = off/' "$conf"
grep -qx "sandbox = off" "$conf" || fail "could not write sandbox = off into $conf"
reload
got=$(netns)
[ "$got" = "$n2net" ] && ok "sandbox = off: it runs in n2's own network namespace" ||
	fail "sandbox = off: $got (n2 is $n2net)"
grep -q "runs here without its sandbox (cluster file: sandbox = off)" "$SSILAB_DIR/n2/ssid.log" &&
	ok "n2's ssid says so in its log" || fail "no warning in n2's log"
cp "$conf.orig" "$conf"
reload
got=$(netns)
[ "${got#net:}" != "$got" ] && [ "$got" != "$n2net" ] && ok "the line gone: sandboxed again ($got)" ||
	fail "the line gone: $got"
finish
