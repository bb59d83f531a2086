#!/bin/bash
# The foundation on a 3-host virtual cluster: membership, the cluster-wide
# process table, refusal of a stranger's key, failure detection, and exit
# status through ssirun.
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_up 3

# Every node sees the three up (ssilab up waits for it; check from each side).
for h in n1 n2 n3; do
	if wait_until 5 sh -c "ssilab exec $h -- ssictl nodes --json | grep -o '\"state\":\"up\"' | wc -l | grep -qx 3"; then
		ok "$h sees 3 nodes up"
	else
		fail "$h sees 3 nodes up: $(lab_exec $h ssictl nodes --json)"
	fi
done

# A restarted daemon sees the whole cluster again within 5 s.
lab_exec n2 pkill -x ssid
wait_until 5 sh -c "ssilab exec n1 -- ssictl nodes --json | grep -q '\"name\":\"n2\",\"state\":\"down\"'"
lab_exec n2 sh -c "ssid --cluster $SSILAB_DIR/cluster.conf --name n2 --keys $SSILAB_DIR/n2/keys >>$SSILAB_DIR/n2/ssid.log 2>&1 &"
if wait_until 5 sh -c "ssilab exec n2 -- ssictl nodes --json | grep -o '\"state\":\"up\"' | wc -l | grep -qx 3"; then
	ok "a restarted ssid sees all nodes up within 5 s"
else
	fail "a restarted ssid sees all nodes up within 5 s: $(lab_exec n2 ssictl nodes --json)"
fi

# A process started with ssirun on n1 is listed from n2, with its home.
lab_exec n1 sh -c 'ssirun sleep 30 >/dev/null 2>&1 & echo $! > /tmp/sleep.pid'
pid=$(lab_exec n1 cat /tmp/sleep.pid)
ps_has_sleep() {
	lab_exec n2 ssictl ps --json | grep -q "{\"home\":\"n1\",\"pid\":$pid,\"node\":\"n1\",\"state\":\"[a-z]*\",\"uid\":0,\"cmd\":\"sleep 30\"[,}]"
}
if wait_until 5 ps_has_sleep; then
	ok "ssictl ps --json on n2 shows 'ssirun sleep 30' of n1 (pid $pid)"
else
	fail "ssictl ps --json on n2 shows n1's sleep 30: $(lab_exec n2 ssictl ps --json)"
fi
lab_exec n1 kill "$pid"
if wait_until 5 sh -c "! ssilab exec n2 -- ssictl ps --json | grep -q '\"pid\":$pid,'"; then
	ok "the process leaves the table when it exits"
else
	fail "the process leaves the table when it exits"
fi

# A fourth ssid whose key is not in the cluster file is refused and logged.
rm -rf "$SSILAB_DIR/stranger"
key=$(ssictl keygen "$SSILAB_DIR/stranger")
{
	cat "$SSILAB_DIR/cluster.conf"
	printf 'node = n4\n    endpoint = tcp://%s.3:7499\n    key = "%s"\n' "$LAB_SUBNET" "$key"
} >"$SSILAB_DIR/stranger/cluster.conf"
lab_exec n3 sh -c "ssid --cluster $SSILAB_DIR/stranger/cluster.conf --name n4 --keys $SSILAB_DIR/stranger --socket /run/ssi/stranger.sock >$SSILAB_DIR/stranger/ssid.log 2>&1 &"
if wait_until 5 grep -qF "refused a peer from $LAB_SUBNET.3: its key $key" "$SSILAB_DIR/n1/ssid.log"; then
	ok "n1 refuses and logs a node whose key is not in its cluster file"
else
	fail "n1 refuses the stranger: $(tail -5 "$SSILAB_DIR/n1/ssid.log")"
fi
stranger_nothing() {
	stranger_view=$(lab_exec n3 ssictl --socket /run/ssi/stranger.sock nodes --json)
	echo "$stranger_view" | grep -q '"name":"n1","state":"down"' && ! lab_exec n1 ssictl nodes --json | grep -q n4
}
if wait_until 10 stranger_nothing; then
	ok "the stranger gets nothing: it sees n1 down, n1 does not list it"
else
	fail "the stranger gets nothing: $stranger_view"
fi
lab_exec n3 pkill -f stranger.sock
rm -rf "$SSILAB_DIR/stranger"

# Killing one ssid: the others see it down (1.8 s without a heartbeat, checked every 500 ms;
# 10 s of patience for a loaded machine, the time printed).
lab_exec n3 pkill -x ssid
t0=$(date +%s%N)
if wait_until 10 sh -c "ssilab exec n1 -- ssictl nodes --json | grep -q '\"name\":\"n3\",\"state\":\"down\"'"; then
	ok "n1 sees n3 down after its ssid was killed ($((($(date +%s%N) - t0) / 1000000)) ms)"
else
	fail "n1 sees n3 down within 10 s: $(lab_exec n1 ssictl nodes --json)"
fi
if wait_until 10 grep -q "node n3 is down" "$SSILAB_DIR/n2/ssid.log"; then
	ok "n2 logs n3 down"
else
	fail "n2 logs n3 down"
fi

# ssirun without a daemon says so and runs nothing.
out=$(lab_exec n3 ssirun touch /tmp/ran 2>&1)
rc=$?
if [ "$rc" = 125 ] && echo "$out" | grep -q "no ssid answers" && ! lab_exec n3 test -e /tmp/ran; then
	ok "ssirun with no ssid exits 125 with a hint and runs nothing"
else
	fail "ssirun with no ssid: rc=$rc: $out"
fi

# Exit status through ssirun: a code, and a death by signal.
lab_exec n1 ssirun sh -c 'exit 7'
rc=$?
[ "$rc" = 7 ] && ok "ssirun sh -c 'exit 7' exits 7" || fail "ssirun sh -c 'exit 7' exits 7, got $rc"
st=$(lab_exec n1 bash -c 'ssirun sleep 30 & p=$!; sleep 0.3; kill -TERM $p; wait $p; echo $?')
[ "$st" = 143 ] && ok "a program killed by SIGTERM under ssirun: wait gives 143" ||
	fail "SIGTERM under ssirun: wait gives $st, not 143"
st=$(lab_exec n1 bash -c 'ssirun sh -c "kill -KILL \$\$"; echo $?')
[ "$st" = 137 ] && ok "a program killed by SIGKILL under ssirun: status 137" ||
	fail "SIGKILL under ssirun: status $st, not 137"
out=$(lab_exec n1 ssirun /nonexistent/prog 2>&1)
rc=$?
[ "$rc" = 127 ] && ok "ssirun of a missing program exits 127" || fail "ssirun of a missing program: $rc: $out"
# ssirun is no extra process: $! is the program's pid, registered under it.
# (ssirun talks to ssid before it execs: up to 5 s for that on a loaded machine; an extra
# process would never be named sleep.)
lab_exec n1 bash -c 'ssirun sleep 30 & echo $! > /tmp/p; for i in $(seq 50); do
    [ "$(cat /proc/$!/comm)" = sleep ] && break; sleep 0.1; done; cat /proc/$!/comm > /tmp/comm'
[ "$(lab_exec n1 cat /tmp/comm)" = sleep ] && ok "\$! of 'ssirun sleep' is sleep itself" ||
	fail "\$! of 'ssirun sleep' is $(lab_exec n1 cat /tmp/comm)"

finish
