#!/bin/bash
# A node that pauses (a virtual machine stopped and resumed, a laptop lid
# closed) is usable again as soon as it is back (issue #15): n2 is cut off
# (its links set down) and every process there stopped (SIGSTOP) for 10 s,
# past the failure timeout, then resumed. Once each node sees the other up
# again, a move from n1 to n2 and one from n2 to n1 both work at the first
# asking (none waits out 'did not answer the offer'), and both processes
# then go home and end right. The time from the resume to each move is
# printed, not judged.
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_python
command -v nsenter >/dev/null || skip "nsenter is not installed"
lab_up 2

mkdir -p "$LAB_FILES"
prog=$LAB_FILES/tick.py
cat >"$prog" <<'PY'
import sys, time
# tick.py N: N numbered lines, one every 0.1 s.
for i in range(int(sys.argv[1])):
    print(i, flush=True)
    time.sleep(0.1)
PY
N=400

# start HOST TAG: tick.py under ssirun on HOST, its output and status in /tmp/TAG.*.
start() {
	lab_exec "$1" sh -c "{ ssirun $PY $prog $N 2>/tmp/$2.err; echo \$? > /tmp/$2.rc; } | cat > /tmp/$2.out &"
}
# pid_on HOST: the pid of HOST's own tick.py in its ssictl ps.
pid_on() {
	lab_exec "$1" ssictl ps --json 2>/dev/null | $PY -c '
import json, sys
for p in json.load(sys.stdin)["data"]:
    if p["home"] == sys.argv[1] and "tick.py" in p["cmd"]:
        print(p["pid"]); break' "$1"
}
ms() { echo $((($(date +%s%N) - t0) / 1000000)); }
links() {
	h2=$(lab_holder_pid n2)
	for l in $(nsenter -t "$h2" -n ip -o link show | sed -n 's/^[0-9]*: \([^:@]*\).*/\1/p'); do
		[ "$l" = lo ] || nsenter -t "$h2" -n ip link set "$l" "$1"
	done
}
# move HOST PID NODE: ssictl migrate on HOST, once.
move() {
	if out=$(lab_exec "$1" ssictl migrate "$2" "$3" 2>&1); then
		ok "on $1: $2 to $3 at the first asking, $(ms) ms after the resume: $out"
	else
		fail "on $1: ssictl migrate $2 $3, $(ms) ms after the resume: $out"
	fi
}

start n1 a
start n2 b
wait_until 20 eval 'pa=$(pid_on n1); [ -n "$pa" ]' || { fail "tick.py does not run on n1"; finish; }
wait_until 20 eval 'pb=$(pid_on n2); [ -n "$pb" ]' || { fail "tick.py does not run on n2"; finish; }
ok "n1 runs $pa, n2 runs $pb"

links down
lab_exec n2 kill -STOP -1
wait_until 15 eval '[ "$(lab_node_state n1 n2)" = down ]' && ok "n2 paused: n1 sees it down" ||
	fail "n1 still sees n2: $(lab_exec n1 ssictl nodes 2>&1)"
sleep 10 # the pause itself (no check rests on it)
t0=$(date +%s%N)
links up
lab_exec n2 kill -CONT -1
if wait_until 20 eval '[ "$(lab_node_state n1 n2)" = up ]'; then
	ok "n2 resumed: n1 sees it up again after $(ms) ms"
else
	fail "after the resume: n1 sees n2 $(lab_node_state n1 n2)"
	finish
fi
move n1 "$pa" n2
move n2 "$pb" n1
move n1 "$pa" n1
move n2 "$pb" n2

for h in n1:a n2:b; do
	if wait_until 90 lab_exec "${h%:*}" test -s "/tmp/${h#*:}.rc" &&
		[ "$(lab_exec "${h%:*}" cat "/tmp/${h#*:}.rc")" = 0 ]; then
		ok "${h#*:} on ${h%:*}: ended with status 0"
	else
		fail "${h#*:} on ${h%:*}: status '$(lab_exec "${h%:*}" cat "/tmp/${h#*:}.rc")': $(lab_exec "${h%:*}" cat "/tmp/${h#*:}.err")"
	fi
	got=$(lab_exec "${h%:*}" cat "/tmp/${h#*:}.out" | awk -v n=$N '$1 != NR - 1 { bad = 1 } END { print (NR == n && !bad) ? "ok" : NR " lines" }')
	[ "$got" = ok ] && ok "${h#*:}: every line once, in order" || fail "${h#*:}: output $got"
done
finish
