#!/bin/bash
# A node that cannot make the body's sandbox refuses the move, says why, and
# leaves nothing behind; the process runs on at home, intact (#12). n2's
# ssid is started again under tests/progs/nocall.c, a seccomp filter that
# every helper it starts inherits (as a container runtime's profile would
# be): one call of the sandbox's setup either fails with EPERM or kills
# the process that makes it, at exactly that stage:
#
#   unshare     the agent's child, before the exec of ssi-restore
#   mount       the restorer's first step (the body's mounts made private),
#               before it reads the image's records
#   pivot_root  once every file is mapped and the body's /proc mounted
#   umount2     after the pivot: the node's tree detached
#   setresuid   (kill) the body's credentials, after the sandbox
#   capset      (kill) its capabilities, the last step before it resumes
#   seccomp     ssi's trap, which the body installs after the deputy said
#               'D': the agent tries it in a throwaway child before it
#               listens, so the move is refused before anything is frozen
#
# For each, one process (a python3 counter on n1, the same all along) is
# moved to n2: the move fails with the reason (EPERM: the sandbox's own
# sentence; killed: the restorer's death by SIGSYS), the process is home
# and its counter goes on, and no helper, restorer or body is left on n2.
# Then, n2's ssid without the filter, it moves to n2 and home for real,
# and its output has every number once, in order, to its end.
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_python
nocall=${SSI_TESTDIR:-$lab_top/build/tests}/nocall
[ -x "$nocall" ] || { echo "not ok - $nocall is missing (make check builds it)"; exit 1; }
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

# restart_n2 [CALL ACTION]: n2's ssid killed and started again, under
# nocall CALL ACTION if given; returns once n1 and n2 see each other.
restart_n2() {
	old=$(lab_ssid_pid n2)
	lab_exec n2 kill -KILL "$old"
	lab_exec n2 sh -c "while kill -0 $old 2>/dev/null; do sleep 0.05; done"
	pre=
	[ $# = 0 ] || pre="$nocall $1 $2"
	lab_exec n2 sh -c "$pre ssid --cluster $SSILAB_DIR/cluster.conf --name n2 --keys $SSILAB_DIR/n2/keys \
		</dev/null >>$SSILAB_DIR/n2/ssid.log 2>&1 & echo \$! > $SSILAB_DIR/n2/ssid.pid"
	both_up() { [ "$(lab_node_state n1 n2)" = up ] && [ "$(lab_node_state n2 n1)" = up ]; }
	wait_until 15 both_up || fail "n1 and n2 do not see each other after n2's ssid restarted"
}
# at_home: ssictl ps on n1 lists the process on n1.
at_home() { lab_exec n1 ssictl ps --json | grep -q "\"home\":\"n1\",\"pid\":$pid,\"node\":\"n1\""; }
# counting: the counter grows by more than 5 within 5 s.
counting() {
	n=$(lab_exec n1 sh -c 'wc -l < /tmp/c.out')
	wait_until 5 sh -c "[ \$(ssilab exec n1 -- sh -c 'wc -l < /tmp/c.out') -gt $((n + 5)) ]"
}
# n2_clean: no helper, restorer or body on n2 (the body would be a
# process of a PID namespace below n2's, seen from n2 all the same).
n2_clean() { ! lab_exec n2 pgrep -f 'ssi-agent|ssi-restore|ssi-xfer|count\.py' >/dev/null; }

lab_exec n1 sh -c "{ ssirun $PY $prog /tmp/c.stop > /tmp/c.out 2>&1; echo \$? > /tmp/c.rc; } &"
wait_until 10 lab_exec n1 test -s /tmp/c.out || { fail "count.py did not start"; finish; }
pid=$(lab_pid_of count.py)
[ -n "$pid" ] || { fail "count.py is not listed by ssictl ps"; finish; }

# case CALL ACTION EXPECTED: n2 under nocall CALL ACTION; the move fails
# saying EXPECTED (a fixed string), and the rest as above.
case_() {
	call=$1 action=$2 want=$3
	restart_n2 "$call" "$action"
	[ "$(lab_exec n2 sh -c "grep '^Seccomp_filters:' /proc/$(lab_ssid_pid n2)/status")" != "Seccomp_filters:	0" ] ||
		fail "$call $action: n2's ssid has no filter"
	out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1)
	rc=$?
	if [ $rc != 0 ] && [ -z "${out##*"$want"*}" ] && { [ -z "${out##*keeps running on n1*}" ] || [ -z "${out##*the process keeps running here*}" ]; }; then
		ok "$call $action: the move is refused ($rc): $out"
	else
		fail "$call $action: status $rc: $out (wanted '$want')"
	fi
	at_home && ok "$call $action: ssictl ps shows it on n1" || fail "$call $action: ps: $(lab_exec n1 ssictl ps)"
	counting && ok "$call $action: it runs on at home" || fail "$call $action: it stopped: $(lab_exec n1 tail -n 2 /tmp/c.out)"
	wait_until 10 n2_clean && ok "$call $action: nothing is left on n2" ||
		fail "$call $action: left on n2: $(lab_exec n2 pgrep -af 'ssi-|count')"
}

case_ unshare errno "the body's sandbox cannot be made on this node: unshare: Operation not permitted"
case_ mount errno "sandbox: cannot make the body's mounts private"
case_ pivot_root errno "sandbox: pivot_root failed"
case_ umount2 errno "sandbox: cannot detach the node's file system"
filt="(Bad system call: a seccomp filter of this node forbids a call the restore needs"
case_ unshare kill "ssi-restore was killed by signal 31 $filt"
case_ mount kill "the new task was killed by signal 31 before resuming $filt"
case_ pivot_root kill "the new task was killed by signal 31 before resuming $filt"
case_ umount2 kill "the new task was killed by signal 31 before resuming $filt"
case_ setresuid kill "the new task was killed by signal 31 before resuming $filt"
case_ capset kill "the new task was killed by signal 31 before resuming $filt"
case_ seccomp errno "this node cannot confine a body: seccomp: Operation not permitted"
case_ seccomp kill "this node cannot confine a body: installing ssi's seccomp filter killed the process by signal 31 (Bad system call: a seccomp filter of this node forbids it)"

# The same process, n2 as it should be: it moves, and comes home.
restart_n2
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1)
[ $? = 0 ] && ok "n2 without the filter: it moves: $out" || fail "n2 without the filter: $out"
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
