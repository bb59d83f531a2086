#!/bin/bash
# Recovery when a node dies (issue #15). A python3 computation on n1 with
# periodic checkpoints (every second) writes its steps to a home file and its
# result into a pipe at home; it is moved to n2, checkpointed there, and n2 is
# killed outright (its pid 1, so every process of that host). The deputy at
# home becomes the program again from the last checkpoint: same pid, same
# parent (the shell waiting for it), same pipe; ssictl ps lists it at home,
# ssictl events says so, and it ends with the uninterrupted run's result and
# file. Then a process without checkpoints moved to n3, whose network is cut
# and every process killed (no reset reaches home: only the failure detector
# and the link probe can tell): its parent at home sees it killed by SIGKILL
# within the failure timeout and a short grace, and nothing of it is left.
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_python
command -v nsenter >/dev/null || skip "nsenter is not installed"
lab_up 3

mkdir -p "$LAB_FILES"
prog=$LAB_FILES/ckpt_work.py
cp "$lab_top/tests/progs/ckpt_work.py" "$prog"
N=300

lab_exec n1 sh -c "$PY $prog /tmp/ref.out $N > /tmp/ref.stdout"
ref=$(lab_exec n1 cat /tmp/ref.stdout)
case "$ref" in "result "*) ok "reference run: $ref" ;; *) fail "reference run: '$ref'"; finish ;; esac

# Checkpoints into the lab host's private /tmp.
sed -i '1i spool = /tmp/spool' "$SSILAB_DIR/cluster.conf"
lab_exec n1 kill -HUP "$(lab_ssid_pid n1)"
wait_until 10 grep -q "reloaded" "$(lab_log n1)" || fail "n1 did not reload its cluster file"

lines() { lab_exec n1 sh -c "wc -l < $1 2>/dev/null || echo 0"; }
has_lines() { [ "$(lines "$1")" -ge "$2" ]; }
ps_shows() { lab_exec n1 ssictl ps --json 2>/dev/null | grep -q "\"home\":\"n1\",\"pid\":$pid,\"node\":\"$1\""; }
newest() { lab_exec n1 sh -c "ls /tmp/spool/0/n1-$pid-periodic-*.ckpt 2>/dev/null | sed 's/.*-//; s/.ckpt//' | sort -n | tail -1"; }

lab_exec n1 sh -c "{ ssirun --checkpoint-every 1 $PY $prog /tmp/a.out $N 2>/tmp/a.err; echo \$? > /tmp/a.rc; } | cat > /tmp/a.stdout &"
wait_until 20 has_lines /tmp/a.out 5 || { fail "the computation did not start"; finish; }
pid=$(lab_pid_of "work.py /tmp/a.out")
[ -n "$pid" ] || { fail "work.py is not in ssictl ps"; finish; }
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1) && wait_until 5 ps_shows n2 &&
	ok "moved to n2: $out" || { fail "migrate to n2: $out"; finish; }
seq=$(newest)
more() { s=$(newest); [ -n "$s" ] && [ "$s" -ge $((${seq:-0} + 2)) ]; }
wait_until 10 more && ok "periodic checkpoints go on while it runs on n2 (now #$(newest))" ||
	{ fail "no periodic checkpoint while away: $(lab_exec n1 ls /tmp/spool/0) $(tail -5 "$(lab_log n1)")"; finish; }
at=$(lines /tmp/a.out)

t0=$(date +%s%N)
kill -KILL "$(lab_holder_pid n2)"
ok "n2 killed outright with $at lines written"
if wait_until 15 ps_shows n1; then
	ok "restarted at home within $((($(date +%s%N) - t0) / 1000000)) ms: ssictl ps lists pid $pid on n1"
else
	fail "not recovered: $(lab_exec n1 ssictl ps 2>&1) $(lab_exec n1 cat /tmp/a.err) $(tail -5 "$(lab_log n1)")"
fi
lab_exec n1 ssictl events | grep -q "process $pid .*restarted at home from its last checkpoint" &&
	ok "ssictl events: $(lab_exec n1 ssictl events | grep "process $pid .*restarted" | head -1)" ||
	fail "no recovery event: $(lab_exec n1 ssictl events | tail -5)"
if wait_until 60 lab_exec n1 test -s /tmp/a.rc && [ "$(lab_exec n1 cat /tmp/a.rc)" = 0 ]; then
	ok "its parent at home saw it end with status 0"
else
	fail "recovered process: status '$(lab_exec n1 cat /tmp/a.rc)': $(lab_exec n1 cat /tmp/a.err)"
fi
got=$(lab_exec n1 cat /tmp/a.stdout)
[ "$got" = "$ref" ] && ok "same result into the same pipe ($got)" || fail "result '$got', want '$ref'"
lab_exec n1 cmp /tmp/ref.out /tmp/a.out && ok "the home file is the uninterrupted run's" ||
	fail "the home file differs"

# Without checkpoints, on n3, with no reset to tell home.
lab_exec n1 sh -c "{ ssirun $PY $prog /tmp/b.out $N 2>/tmp/b.err; echo \$? > /tmp/b.rc; } | cat > /tmp/b.stdout &"
wait_until 20 has_lines /tmp/b.out 5 || { fail "the second computation did not start"; finish; }
pid=$(lab_pid_of "work.py /tmp/b.out")
out=$(lab_exec n1 ssictl migrate "$pid" n3 2>&1) && wait_until 5 ps_shows n3 &&
	ok "moved to n3: $out" || { fail "migrate to n3: $out"; finish; }
h3=$(lab_holder_pid n3)
for l in $(nsenter -t "$h3" -n ip -o link show | sed -n 's/^[0-9]*: \([^:@]*\).*/\1/p'); do
	[ "$l" = lo ] || nsenter -t "$h3" -n ip link set "$l" down
done
t0=$(date +%s%N)
kill -KILL "$h3"
ok "n3 cut off and killed outright"
# The failure timeout (3 s), the link probe (2 s and a retransmission) and a
# grace; TCP keepalive alone would take about 25 s.
if wait_until 12 lab_exec n1 test -s /tmp/b.rc; then
	ms=$((($(date +%s%N) - t0) / 1000000))
	rc=$(lab_exec n1 cat /tmp/b.rc)
	[ "$rc" = 137 ] && ok "its parent at home saw it killed by SIGKILL (status 137) after $ms ms" ||
		fail "status '$rc' after $ms ms: $(lab_exec n1 cat /tmp/b.err)"
else
	fail "no end seen at home within 12 s: $(lab_exec n1 ssictl ps 2>&1) $(tail -5 "$(lab_log n1)")"
fi
left() { lab_exec n1 pgrep -f "work.py /tmp/b.out" >/dev/null || lab_exec n1 ssictl ps | grep -q "work.py /tmp/b.out"; }
none_left() { ! left; }
if ! wait_until 10 none_left; then fail "something of it is left at home: $(lab_exec n1 ssictl ps)"; else
	ok "nothing of it is left at home (no process, not in ssictl ps)"; fi
lab_exec n1 ssictl events | grep -q "node n3 is down: process $pid" &&
	ok "ssictl events says n3 was found down with process $pid on it" ||
	fail "no event for process $pid: $(lab_exec n1 ssictl events | tail -5)"

finish
