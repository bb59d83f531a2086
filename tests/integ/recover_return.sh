#!/bin/bash
# A lost node that comes back is told (issue #15). A python3 computation of
# n1 with periodic checkpoints, quiet (it says nothing home until its
# result), is moved to n2. n2 is then paused: its links set down and every
# process there stopped (SIGSTOP), past the failure timeout: n1 declares it
# dead, the deputy's link probe fails and the process is recovered at home
# from its last checkpoint. n2 is then resumed (links up, SIGCONT): its old
# body would run on beside the recovered process until its agent noticed
# the dead link; instead n1 tells n2 (RECOVERED) and n2 kills it at once,
# logged there and in `ssictl events`. The recovered process finishes with
# the uninterrupted run's result, once (nothing doubled).
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_python
command -v nsenter >/dev/null || skip "nsenter is not installed"
command -v ip >/dev/null || skip "ip (iproute2) is not installed"
lab_up 2

mkdir -p "$LAB_FILES"
prog=$LAB_FILES/quiet.py
cat >"$prog" <<'PY'
import sys, time
x = 1
for i in range(int(sys.argv[1])):
    for j in range(20000):
        x = (x * 1103515245 + 12345 + j) % 2147483648
    time.sleep(0.03)
print("result", x, flush=True)
PY
N=600

lab_exec n1 sh -c "$PY $prog $N > /tmp/ref.stdout"
ref=$(lab_exec n1 cat /tmp/ref.stdout)
case "$ref" in "result "*) ok "reference run: $ref" ;; *) fail "reference run: '$ref'"; finish ;; esac

sed -i '1i spool = /tmp/spool' "$SSILAB_DIR/cluster.conf"
lab_exec n1 kill -HUP "$(lab_ssid_pid n1)"
wait_until 10 grep -q "reloaded" "$(lab_log n1)" || fail "n1 did not reload its cluster file"

ps_shows() { lab_exec n1 ssictl ps --json 2>/dev/null | grep -q "\"home\":\"n1\",\"pid\":$pid,\"node\":\"$1\""; }
newest() { lab_exec n1 sh -c "ls /tmp/spool/0/n1-$pid-periodic-*.ckpt 2>/dev/null | sed 's/.*-//; s/.ckpt//' | sort -n | tail -1"; }
body_on_n2() { lab_exec n2 pgrep -f "quiet.py $N" >/dev/null; }
no_body_on_n2() { ! body_on_n2; }
links() {
	h2=$(lab_holder_pid n2)
	for l in $(nsenter -t "$h2" -n ip -o link show | sed -n 's/^[0-9]*: \([^:@]*\).*/\1/p'); do
		[ "$l" = lo ] || nsenter -t "$h2" -n ip link set "$l" "$1"
	done
}

lab_exec n1 sh -c "{ ssirun --checkpoint-every 1 $PY $prog $N 2>/tmp/a.err; echo \$? > /tmp/a.rc; } | cat > /tmp/a.stdout &"
wait_until 20 eval 'pid=$(lab_pid_of "quiet.py $N"); [ -n "$pid" ]' || { fail "quiet.py is not in ssictl ps"; finish; }
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1) && wait_until 5 ps_shows n2 &&
	ok "moved to n2: $out" || { fail "migrate to n2: $out"; finish; }
seq=$(newest)
more() { s=$(newest); [ -n "$s" ] && [ "$s" -ge $((${seq:-0} + 2)) ]; }
wait_until 10 more || { fail "no periodic checkpoint while away"; finish; }
body_on_n2 && ok "its body runs on n2" || fail "no body on n2"

# Pause n2: cut off, every process stopped (the host's pid 1 excepted).
links down
lab_exec n2 kill -STOP -1
ok "n2 paused (links down, its processes stopped)"
if wait_until 20 ps_shows n1; then
	ok "recovered at home: ssictl ps lists pid $pid on n1"
else
	fail "not recovered: $(lab_exec n1 ssictl ps 2>&1) $(lab_exec n1 cat /tmp/a.err) $(tail -5 "$(lab_log n1)")"
	links up
	lab_exec n2 kill -CONT -1
	finish
fi
body_on_n2 && ok "the old body is still there on the paused n2" || fail "the old body is gone already"

t0=$(date +%s%N)
links up
lab_exec n2 kill -CONT -1
ok "n2 resumed"
if wait_until 15 no_body_on_n2; then
	ok "the old body on n2 ended $((($(date +%s%N) - t0) / 1000000)) ms after n2 came back"
else
	fail "the old body still runs on n2: $(lab_exec n2 ps -ef)"
fi
wait_until 5 grep -q "the body of n1:$pid here was recovered at its home while this node was cut off: killed it" "$(lab_log n2)" &&
	ok "n2 was told and killed it: $(grep "the body of n1:$pid here" "$(lab_log n2)" | tail -1 | cut -c1-200)" ||
	fail "n2 was not told: $(tail -8 "$(lab_log n2)")"
wait_until 5 grep -q "n2 was told that process $pid was recovered here: it killed the old body" "$(lab_log n1)" &&
	ok "n1 heard n2's answer: $(grep "n2 was told that process $pid" "$(lab_log n1)" | tail -1 | cut -c1-200)" ||
	fail "no answer from n2 in n1's log: $(grep -i recover "$(lab_log n1)" | tail -3)"
wait_until 5 eval 'lab_exec n1 ssictl events | grep -q "old body of n1:$pid on n2 was killed"' &&
	ok "ssictl events: $(lab_exec n1 ssictl events | grep "old body of n1:$pid" | head -1)" ||
	fail "no event from n2 in ssictl events: $(lab_exec n1 ssictl events | tail -2)"

if wait_until 90 lab_exec n1 test -s /tmp/a.rc && [ "$(lab_exec n1 cat /tmp/a.rc)" = 0 ]; then
	ok "its parent at home saw it end with status 0"
else
	fail "recovered process: status '$(lab_exec n1 cat /tmp/a.rc)': $(lab_exec n1 cat /tmp/a.err)"
fi
got=$(lab_exec n1 cat /tmp/a.stdout)
[ "$got" = "$ref" ] && ok "its result, once, into the same pipe ($got)" || fail "output '$got', want '$ref'"

finish
