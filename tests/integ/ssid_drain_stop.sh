#!/bin/bash
# Draining a node when its ssid is stopped, only when asked (issue #15). Every
# ssid of the lab runs with SSID_DRAIN_ON_STOP=yes (what the systemd unit's
# environment file sets). n1 runs a process of its own and a guest from n2.
# SIGTERM to n1's ssid (systemctl stop): it drains before it exits: the guest
# goes home to n2, n1's own process moves to another node, then ssid exits;
# both processes finish right. Then n1's ssid runs again and hosts a guest:
# SIGINT (what the unit's restart sends) stops it at once and the guest runs
# on there, as without the option.
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_python
export SSID_DRAIN_ON_STOP=yes
lab_up 3

mkdir -p "$LAB_FILES"
prog=$LAB_FILES/steps.py
cat >"$prog" <<'PY'
import sys, time
out, n = sys.argv[1], int(sys.argv[2])
with open(out, "w") as f:
    for i in range(n):
        f.write("%d\n" % i)
        f.flush()
        time.sleep(0.05)
PY
N=400
lines() { lab_exec "$1" sh -c "wc -l < $2 2>/dev/null || echo 0"; }
has_lines() { [ "$(lines "$1" "$2")" -ge "$3" ]; }
where() { lab_exec "$1" ssictl ps --json 2>/dev/null | python3 -c '
import json, sys
for p in json.load(sys.stdin)["data"]:
    if p["home"] == sys.argv[1] and p["pid"] == int(sys.argv[2]): print(p["node"])' "$2" "$3"; }
is_at() { [ "$(where "$1" "$2" "$3")" = "$4" ]; }
pid_on() { lab_exec "$1" ssictl ps --json 2>/dev/null | python3 -c '
import json, sys
for p in json.load(sys.stdin)["data"]:
    if p["home"] == sys.argv[1] and sys.argv[2] in p["cmd"]: print(p["pid"]); break' "$1" "$2"; }
ssid_gone() { ! lab_exec n1 kill -0 "$(lab_ssid_pid n1)" 2>/dev/null; }
start_ssid() {
	lab_exec n1 sh -c "$1 ssid --cluster $SSILAB_DIR/cluster.conf --name n1 --keys $SSILAB_DIR/n1/keys \
		</dev/null >>$SSILAB_DIR/n1/ssid.log 2>&1 & echo \$! > $SSILAB_DIR/n1/ssid.pid"
}

lab_exec n1 sh -c "{ ssirun $PY $prog /tmp/a.out $N; echo \$? > /tmp/a.rc; } >/dev/null 2>&1 &"
lab_exec n2 sh -c "{ ssirun $PY $prog /tmp/b.out $N; echo \$? > /tmp/b.rc; } >/dev/null 2>&1 &"
wait_until 20 has_lines n1 /tmp/a.out 5 && wait_until 20 has_lines n2 /tmp/b.out 5 ||
	{ fail "the programs did not start"; finish; }
a=$(pid_on n1 "steps.py /tmp/a.out")
b=$(pid_on n2 "steps.py /tmp/b.out")
out=$(lab_exec n2 ssictl migrate "$b" n1 2>&1) && wait_until 5 is_at n2 n2 "$b" n1 &&
	ok "n1 runs its own process $a and n2's $b: $out" || { fail "migrate $b to n1: $out"; finish; }

lab_kill_ssid n1 TERM
ok "SIGTERM to n1's ssid"
wait_until 30 ssid_gone && ok "n1's ssid exited" || fail "n1's ssid still runs after 30 s"
grep -q "draining before shutting down" "$(lab_log n1)" && ok "it drained first" ||
	fail "no drain in n1's log: $(tail -5 "$(lab_log n1)")"
grep -q "drained (no guest here, no move in flight): shutting down" "$(lab_log n1)" &&
	ok "and exited once drained" || fail "n1's log: $(tail -5 "$(lab_log n1)")"
is_at n2 n2 "$b" n2 && ok "the guest $b went home to n2" || fail "the guest $b is on '$(where n2 n2 "$b")'"
moved=$(grep -o "process $a moved from n1 to n[23]" "$(lab_log n1)" | tail -1)
[ -n "$moved" ] && ok "n1's own process moved away: $moved" || fail "process $a did not move: $(grep "process $a" "$(lab_log n1)" | tail -3)"
lab_await_rc 60 /tmp/a "n1's process (its deputy serving it without ssid)"
wait_until 60 lab_exec n2 test -s /tmp/b.rc && [ "$(lab_exec n2 cat /tmp/b.rc)" = 0 ] &&
	ok "n2's process finished with status 0" || fail "n2's process: '$(lab_exec n2 cat /tmp/b.rc)'"
[ "$(lines n1 /tmp/a.out)" = $N ] && [ "$(lines n2 /tmp/b.out)" = $N ] &&
	ok "both wrote their $N lines" || fail "lines: $(lines n1 /tmp/a.out) and $(lines n2 /tmp/b.out)"

# SIGINT (the unit's restart) never drains.
start_ssid ""
wait_until 10 lab_all_up n2 3 && wait_until 10 lab_all_up n1 3 || fail "n1's ssid did not come back"
lab_exec n2 sh -c "{ ssirun $PY $prog /tmp/c.out $N; echo \$? > /tmp/c.rc; } >/dev/null 2>&1 &"
wait_until 20 has_lines n2 /tmp/c.out 5 || { fail "the third program did not start"; finish; }
c=$(pid_on n2 "steps.py /tmp/c.out")
out=$(lab_exec n2 ssictl migrate "$c" n1 2>&1) && wait_until 5 is_at n2 n2 "$c" n1 &&
	ok "n2's $c moved to n1: $out" || { fail "migrate $c to n1: $out"; finish; }
lab_kill_ssid n1 INT
wait_until 5 ssid_gone && ok "SIGINT: n1's ssid exited at once" || fail "n1's ssid still runs 5 s after SIGINT"
lab_exec n1 pgrep -f "steps.py /tmp/c.out" >/dev/null && is_at n2 n2 "$c" n1 &&
	ok "the guest $c runs on on n1" || fail "the guest $c: on '$(where n2 n2 "$c")'"
wait_until 60 lab_exec n2 test -s /tmp/c.rc && [ "$(lab_exec n2 cat /tmp/c.rc)" = 0 ] &&
	ok "and finishes with status 0" || fail "the guest: '$(lab_exec n2 cat /tmp/c.rc)'"

finish
