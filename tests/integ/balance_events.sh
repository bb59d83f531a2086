#!/bin/sh
# ssictl events (issue #13): the cluster's migrations, balancer decisions, refusals,
# administration and node changes as one stream, from every node. 'ssictl events --follow
# --json' runs on n3 from the start; meanwhile n1 moves a memhog to n2 by hand, n2 is blocked
# (and refuses an offer) and unblocked, and n1's balancer moves CPU-bound jobs. The follower
# on n3 must have seen each, attributed to the node where it happened, as valid JSON lines, and
# 'ssictl events' on n2 lists the same stream as text, and 'ssictl events --json' as one
# envelope {format, data, missing}.
. "$(dirname "$0")/lib.sh"
lab_require_root
memhog=${SSI_TESTDIR:-$lab_top/build/tests}/memhog
cpuhog=${SSI_TESTDIR:-$lab_top/build/tests}/cpuhog
[ -x "$memhog" ] && [ -x "$cpuhog" ] || { echo "not ok - memhog or cpuhog is missing (make check builds them)"; exit 1; }
command -v python3 >/dev/null 2>&1 || skip "python3 is not installed"

LAB_BALANCE=on lab_up 3 --cpu 0.3
lab_exec n3 sh -c "ssictl events --follow --json >/tmp/ev.json 2>/tmp/ev.err & echo \$! >/tmp/ev.pid"

# started: memhog printed its first line (its main runs: it can be moved).
started() { lab_exec n1 grep -q '^memhog start' "$1"; }
lab_exec n1 sh -c "ssirun --stay $memhog 4 300 50 >/tmp/m.out 2>&1 & echo \$! >/tmp/m.pid"
wait_until 15 started /tmp/m.out || note "memhog did not start: $(lab_exec n1 cat /tmp/m.out)"
m=$(lab_exec n1 cat /tmp/m.pid)
check "memhog moves to n2 by hand" lab_exec n1 ssictl migrate "$m" n2
check "block n2" lab_exec n2 ssictl block
lab_exec n1 sh -c "ssirun --stay $memhog 4 300 50 >/tmp/m2.out 2>&1 & echo \$! >/tmp/m2.pid"
wait_until 15 started /tmp/m2.out || note "the second memhog did not start: $(lab_exec n1 cat /tmp/m2.out)"
lab_exec n1 ssictl migrate "$(lab_exec n1 cat /tmp/m2.pid)" n2 >/dev/null 2>&1
check "unblock n2" lab_exec n2 ssictl unblock
# Endless jobs (killed at the end): short ones could end, under load, before anything moved.
lab_exec n1 sh -c "for i in 1 2 3; do ssirun $cpuhog 100000000 7 >/dev/null 2>&1 & done"

# seen NODE KIND TEXT-PATTERN: the follower on n3 has a JSON line of that event.
seen() {
    lab_exec n3 python3 -c '
import json, re, sys
for line in open("/tmp/ev.json"):
    e = json.loads(line)
    if e["node"] == sys.argv[1] and e["kind"] == sys.argv[2] and re.search(sys.argv[3], e["text"]):
        sys.exit(0)
sys.exit(1)' "$@"
}
check "n3 saw n1's manual migration" wait_until 10 seen n1 migrated "process $m moved from n1 to n2"
check "n3 saw n2 blocked" wait_until 5 seen n2 admin "n2 is blocked"
check "n3 saw n2 refuse an offer while blocked" wait_until 5 seen n2 refused "n2 is blocked: it takes no guests"
check "n3 saw n1's failed migration" wait_until 5 seen n1 failed "n2 refused"
check "n3 saw n2 unblocked" wait_until 5 seen n2 admin "n2 takes guests again"
check "n3 saw n1's balancer move or place a job, with its reason" wait_until 20 seen n1 balance "(moving|placing): process [0-9]+ n1 -> n[23]: CPU share"
check "n3 saw nodes come up" seen n3 node "n3 sees node n[12] up"
check "every line of the follower is valid JSON" lab_exec n3 python3 -c '
import json
for line in open("/tmp/ev.json"): json.loads(line)'
text=$(lab_exec n2 ssictl events)
if printf '%s\n' "$text" | grep -q "^[0-9:.]* n1 *migrated *process $m moved from n1 to n2\$"; then
    ok "ssictl events on n2 lists the same as text"
else
    fail "ssictl events on n2 lists the same as text: $text"
fi
# Without --follow, --json is one envelope {format, data, missing} like every --json answer.
if err=$(lab_exec n2 ssictl events --json | python3 -c '
import json, sys
env = json.load(sys.stdin)
assert set(env) == {"format", "data", "missing"}, sorted(env)
assert env["format"] == 1 and env["missing"] == [], env
ev = env["data"]
assert any(e["node"] == "n1" and e["kind"] == "migrated" and
           e["text"].endswith("process %s moved from n1 to n2" % sys.argv[1]) for e in ev), "no migration"
seqs = [e["seq"] for e in ev]
assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), "seq not rising"
for e in ev:
    assert set(e) == {"seq", "time_ms", "node", "kind", "text"}, e' "$m" 2>&1); then
    ok "ssictl events --json on n2: one envelope listing the same events"
else
    fail "ssictl events --json on n2: $err"
fi
lab_exec n3 sh -c 'kill $(cat /tmp/ev.pid)'
lab_exec n1 pkill -f "cpuhog 100000000"
check "the follower wrote no error" lab_exec n3 test ! -s /tmp/ev.err

finish
