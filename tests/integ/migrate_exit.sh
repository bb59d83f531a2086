#!/bin/bash
# ssictl migrate's exit statuses (ssictl(1), EXIT STATUS), each produced by
# its real case on a 3-host lab: usage (2), no such ssi process (9, also relayed
# from another node as HOME:PID, as is an unknown node), refused
# by the precheck (4: 301 threads), unknown node (5), permission (6: nobody
# moving root's process), timeout (8: --timeout 1 while the destination's
# ssid is stopped), failed on the way (7: the destination's ssid killed while
# the image is on its way), node down (5). After each failure the process
# runs on at home, untouched; then it moves (0).
. "$(dirname "$0")/lib.sh"
lab_require_root
[ -x /usr/bin/python3 ] || skip "/usr/bin/python3 is not installed"
command -v setpriv >/dev/null || skip "setpriv (util-linux) is not installed"
memhog=${SSI_TESTDIR:-$lab_top/build/tests}/memhog
[ -x "$memhog" ] || { echo "not ok - $memhog is missing (make check builds it)"; exit 1; }
lab_up 3

mkdir -p "$LAB_FILES"
prog=$LAB_FILES/sleeper.py
cat >"$prog" <<'PY'
import sys, threading, time
# sleeper.py TAG [threads]: sleeps for a minute, with 300 more threads if asked.
if len(sys.argv) > 2:
    for _ in range(300):
        threading.Thread(target=lambda: time.sleep(3600), daemon=True).start()
time.sleep(60)
PY

has_pid() { [ -n "$(lab_pid_of "$1")" ]; }

# start TAG [threads]: sleeper.py under ssirun on n1; prints its home pid.
start() {
	lab_exec n1 sh -c "ssirun /usr/bin/python3 $prog $* >/dev/null 2>&1 &"
	wait_until 10 has_pid "sleeper.py $1"
	lab_pid_of "sleeper.py $1"
}

# at_home PID: PID runs at home on n1, untouched ("running" in ssictl ps).
at_home() {
	lab_exec n1 ssictl ps --json | grep -q "\"home\":\"n1\",\"pid\":$1,\"node\":\"n1\",\"state\":\"running\""
}

# code WANT WHAT CMD...: runs CMD on n1; ok if it exits WANT.
code() {
	want=$1 what=$2
	shift 2
	out=$(lab_exec n1 "$@" 2>&1)
	rc=$?
	[ "$rc" = "$want" ] && ok "$what: exit $rc ($out)" || fail "$what: exit $rc, want $want: $out"
}

pid=$(start a)
[ -n "$pid" ] && ok "sleeper started (pid $pid)" || { fail "sleeper did not start"; finish; }

code 2 "usage error" ssictl migrate "$pid"
code 2 "bad --timeout" ssictl migrate --timeout 0 "$pid" n2
code 9 "no such ssi process" ssictl migrate 999999 n2
code 5 "unknown node" ssictl migrate "$pid" n9
# Relayed from n3 (HOME:PID): the home's class comes back through n3.
out=$(lab_exec n3 ssictl migrate "n1:$pid" n9 2>&1)
rc=$?
[ "$rc" = 5 ] && ok "relayed from n3, unknown node: exit 5 ($out)" || fail "relayed, unknown node: exit $rc: $out"
out=$(lab_exec n3 ssictl migrate "n1:999999" n2 2>&1)
rc=$?
[ "$rc" = 9 ] && ok "relayed from n3, no such process: exit 9 ($out)" || fail "relayed, no such process: exit $rc: $out"
out=$(lab_exec n3 ssictl migrate "n8:$pid" n2 2>&1)
rc=$?
[ "$rc" = 5 ] && ok "unknown home node: exit 5 ($out)" || fail "unknown home node: exit $rc: $out"
code 6 "permission: nobody moves root's process" \
	setpriv --reuid=65534 --regid=65534 --clear-groups ssictl migrate "$pid" n2
at_home "$pid" && ok "after those, it runs at home" || fail "after those: $(lab_exec n1 ssictl ps)"

tpid=$(start t threads)
code 4 "refused: 301 threads" ssictl migrate "$tpid" n2
at_home "$tpid" && ok "the refused process runs at home" || fail "refused: $(lab_exec n1 ssictl ps)"

# Timeout: n3's ssid stopped, the offer waits; ssictl gives up after 1 s.
lab_kill_ssid n3 STOP
t0=$(date +%s%N)
code 8 "timeout: n3's ssid stopped, --timeout 1" ssictl migrate --timeout 1 "$pid" n3
t1=$(date +%s%N)
[ $(((t1 - t0) / 1000000)) -lt 4000 ] && ok "gave up after about 1 s ($(((t1 - t0) / 1000000)) ms)" ||
	fail "gave up after $(((t1 - t0) / 1000000)) ms"
# The offer's own deadline passes (n3 still stopped): the process stays home.
wait_until 15 grep -q "n3 did not answer the offer" "$(lab_log n1)" ||
	fail "n1 gives up its offer to n3: $(tail -3 "$(lab_log n1)")"
lab_kill_ssid n3 CONT
at_home "$pid" && ok "after the timeout it runs at home" || fail "after the timeout: $(lab_exec n1 ssictl ps)"
wait_until 10 lab_all_up n1 3 || fail "n3 back up"

# Failed on the way: n2's ssid killed while the image (256 MiB) is on its way.
lab_exec n1 sh -c "ssirun $memhog 256 600 100 > /tmp/m.out 2>&1 &"
wait_until 10 lab_exec n1 grep -q '^memhog start pid=' /tmp/m.out
mpid=$(lab_exec n1 sed -n 's/^memhog start pid=\([0-9]*\).*/\1/p' /tmp/m.out)
lab_exec n1 sh -c "ssictl migrate $mpid n2 > /tmp/m.mig 2>&1; echo \$? >> /tmp/m.mig" &
mig=$!
if wait_until 10 grep -q "receiving process $mpid of n1" "$(lab_log n2)"; then
	lab_kill_ssid n2 KILL
	wait "$mig"
	out=$(lab_exec n1 cat /tmp/m.mig)
	[ "$(echo "$out" | tail -1)" = 7 ] && ok "failed on the way: exit 7 ($(echo "$out" | head -1))" ||
		fail "failed on the way: want exit 7: $out"
	wait_until 10 at_home "$mpid" && ok "the process runs on at home" ||
		fail "after the failed move: $(lab_exec n1 ssictl ps)"
else
	wait "$mig"
	fail "the transfer to n2 never started: $(lab_exec n1 cat /tmp/m.mig)"
fi

# Node down: n2's ssid is dead; once n1 sees it down, a move there exits 5.
wait_until 10 sh -c "[ \"\$(ssilab exec n1 -- ssictl nodes --json | tr '}' '\n' | grep '\"name\":\"n2\"' | grep -o 'down')\" = down ]"
code 5 "node down" ssictl migrate "$pid" n2
at_home "$pid" && ok "it runs at home" || fail "after node down: $(lab_exec n1 ssictl ps)"

code 0 "a move that works" ssictl migrate "$pid" n3
finish
