#!/bin/bash
# The destination's helpers killed at chosen stages of a move (#12, faults):
# the move fails, the process runs on at home, nothing is left on n2. n2's
# ssid is started again from a copy of the helpers where one of them is run
# under strace, which kills it (SIGKILL, injected at the call's entry) at
# the N-th call of a kind:
#
#   ssi-agent accept4 #1   the deputy's data link: the body is restored
#   ssi-agent accept4 #2   the deputy's call link
#   ssi-agent sendmsg #1   the call link passed to the body
#   ssi-xfer  accept4 #1   the image stream, before a byte of it
#
# (the agent is pid 1 of the body's PID namespace: strace -D keeps it so).
# One python3 counter on n1, the same all along; then, n2's ssid as it
# should be, it moves and comes home, every number once, in order.
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_python
command -v strace >/dev/null || skip "strace is not installed (apt-get install strace)"
lab_up 2
mkdir -p "$LAB_FILES"
prog=$LAB_FILES/count.py
cat >"$prog" <<'PY'
import os, sys, time
# count.py STOPFILE: 0, 1, 2, ... every 20 ms until STOPFILE exists, then "done".
i = 0
while not os.path.exists(sys.argv[1]):
    print(i, flush=True)
    i += 1
    time.sleep(0.02)
print("done", flush=True)
PY
kbin=$LAB_FILES/kbin
mkdir -p "$kbin"
for f in ssid ssi-agent ssi-xfer ssi-freeze ssi-restore ssi-ckpt; do
	[ -x "$SSI_BINDIR/$f" ] && cp "$SSI_BINDIR/$f" "$kbin/"
done
[ -x "$kbin/ssid" ] && [ -x "$kbin/ssi-agent" ] || { fail "no ssid or ssi-agent in $SSI_BINDIR"; finish; }

# restart_n2 [HELPER CALL N]: n2's ssid killed and started again from
# $kbin, HELPER there run under strace killing it at the N-th CALL; returns
# once n1 and n2 see each other.
restart_n2() {
	for f in ssi-agent ssi-xfer; do
		[ -f "$kbin/$f.real" ] && mv -f "$kbin/$f.real" "$kbin/$f"
	done
	if [ $# = 3 ]; then
		mv "$kbin/$1" "$kbin/$1.real"
		printf '#!/bin/sh\nexec strace -D -qq -o /dev/null -e trace=%s -e inject=%s:signal=KILL:when=%s %s "$@"\n' \
			"$2" "$2" "$3" "$kbin/$1.real" >"$kbin/$1"
		chmod +x "$kbin/$1"
	fi
	old=$(lab_ssid_pid n2)
	lab_exec n2 kill -KILL "$old"
	lab_exec n2 sh -c "while kill -0 $old 2>/dev/null; do sleep 0.05; done"
	lab_exec n2 sh -c "$kbin/ssid --cluster $SSILAB_DIR/cluster.conf --name n2 --keys $SSILAB_DIR/n2/keys \
		</dev/null >>$SSILAB_DIR/n2/ssid.log 2>&1 & echo \$! > $SSILAB_DIR/n2/ssid.pid"
	both_up() { [ "$(lab_node_state n1 n2)" = up ] && [ "$(lab_node_state n2 n1)" = up ]; }
	wait_until 15 both_up || fail "n1 and n2 do not see each other after n2's ssid restarted"
}
at_home() { lab_exec n1 ssictl ps --json | grep -q "\"home\":\"n1\",\"pid\":$pid,\"node\":\"n1\""; }
counting() {
	n=$(lab_exec n1 sh -c 'wc -l < /tmp/c.out')
	wait_until 5 sh -c "[ \$(ssilab exec n1 -- sh -c 'wc -l < /tmp/c.out') -gt $((n + 5)) ]"
}
n2_clean() { ! lab_exec n2 pgrep -f 'ssi-agent|ssi-restore|ssi-xfer|count\.py|strace' >/dev/null; }

lab_exec n1 sh -c "{ ssirun $PY $prog /tmp/c.stop > /tmp/c.out 2>&1; echo \$? > /tmp/c.rc; } &"
wait_until 10 lab_exec n1 test -s /tmp/c.out || { fail "count.py did not start"; finish; }
pid=$(lab_pid_of count.py)
[ -n "$pid" ] || { fail "count.py is not listed by ssictl ps"; finish; }

case_() {
	what="$1 killed at $2 #$3"
	restart_n2 "$1" "$2" "$3"
	out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1)
	rc=$?
	if [ $rc != 0 ] && { [ -z "${out##*keeps running on n1*}" ] || [ -z "${out##*the process keeps running here*}" ]; }; then
		ok "$what: the move fails ($rc): $out"
	else
		fail "$what: status $rc: $out"
	fi
	at_home && ok "$what: ssictl ps shows it on n1" || fail "$what: ps: $(lab_exec n1 ssictl ps)"
	counting && ok "$what: it runs on at home" || fail "$what: it stopped: $(lab_exec n1 tail -n 2 /tmp/c.out)"
	wait_until 10 n2_clean && ok "$what: nothing is left on n2" ||
		fail "$what: left on n2: $(lab_exec n2 pgrep -af 'ssi-|count|strace')"
}
case_ ssi-agent accept4 1
case_ ssi-agent accept4 2
case_ ssi-agent sendmsg 1
case_ ssi-xfer accept4 1

restart_n2
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1)
[ $? = 0 ] && ok "n2 as it should be: it moves: $out" || fail "n2 as it should be: $out"
counting || fail "it does not count on n2"
out=$(lab_exec n1 ssictl migrate "$pid" home 2>&1)
[ $? = 0 ] && ok "and comes home: $out" || fail "coming home: $out"
lab_exec n1 touch /tmp/c.stop
wait_until 10 lab_exec n1 test -s /tmp/c.rc
[ "$(lab_exec n1 cat /tmp/c.rc)" = 0 ] && ok "it ended with status 0" || fail "status '$(lab_exec n1 cat /tmp/c.rc)'"
lab_exec n1 awk '$0 == "done" { d = NR; next } $1 != NR - 1 { bad = NR } END { exit !(d == NR && !bad && NR > 100) }' /tmp/c.out &&
	ok "its output has every number once, in order ($(lab_exec n1 sh -c 'wc -l < /tmp/c.out') lines)" ||
	fail "its output: $(lab_exec n1 awk '$0 != "done" && $1 != NR - 1 { print NR": "$0; exit }' /tmp/c.out)"
finish
