#!/bin/bash
# A live move killed at its late stages leaves the process running at home (issue #14; the
# rounds are migrate_live.sh's part 3):
# 1. During the final copy: a livehog that rewrites all of its 32 MiB as fast as it can moves
#    to n2 over a link shaped to 100 Mbit/s, so its rounds are cut short and its final image
#    (most of its memory) takes seconds; once the process is frozen writing that image (its
#    thread blocked sending on its tracking socket, seen in /proc/PID/syscall), n2's ssi-xfer
#    is stopped and n2's ssid killed.
# 2. At restore: a steady livehog of 256 MiB moves to n3; n3's ssi-restore is stopped as soon
#    as it starts, the image is all there (home's process waits for its body's handshake: it holds a
#    TCP connection to n3), then n3's ssid is killed.
# Each time the move fails and says so, the process runs on at home with every page right and
# its memory no longer tracked, nothing is left on the destination, and it moves again
# afterwards (to n3, then n4).
. "$(dirname "$0")/lib.sh"
lab_require_root
livehog=${SSI_TESTDIR:-$lab_top/build/tests}/livehog
[ -x "$livehog" ] || { echo "not ok - $livehog is missing (make check builds it)"; exit 1; }
lab_up 4

started() { lab_exec n1 grep -q '^livehog ready' "/tmp/$1.out" 2>/dev/null; }
# hog TAG MIB HOT RATE: a livehog under ssirun on n1 (output in /tmp/TAG.out); prints its
# home pid once its memory is written.
hog() {
	lab_exec n1 sh -c "ssirun $livehog $2 $3 $4 > /tmp/$1.out 2>&1 &"
	wait_until 60 started "$1" || return 1
	lab_exec n1 sed -n 's/^livehog ready \([0-9]*\).*/\1/p' "/tmp/$1.out"
}
nverified() { lab_exec n1 grep -c '^livehog verify ok' "/tmp/$1.out"; }
# verified TAG PID WHAT: asks the process to check every page and waits for its answer.
verified() {
	local before
	before=$(nverified "$1")
	lab_exec n1 kill -USR1 "$2"
	if wait_until 30 sh -c "[ \$(ssilab exec n1 -- grep -c '^livehog verify ok' /tmp/$1.out) -gt $before ]"; then
		ok "$3: every page right ($(lab_exec n1 grep '^livehog verify ok' "/tmp/$1.out" | tail -1))"
	else
		fail "$3: pages checked: $(lab_exec n1 grep '^livehog verify' "/tmp/$1.out" | tail -2)"
	fi
}
where() { lab_exec n1 ssictl ps --json | grep -o "\"pid\":$1,\"node\":\"[a-z0-9]*\""; }
# moving TAG PID NODE: starts `ssictl migrate PID NODE` on n1 in the background; its output
# goes to /tmp/TAG.mig, its exit status to /tmp/TAG.migrc.
moving() {
	lab_exec n1 sh -c "ssictl migrate $2 $3 > /tmp/$1.mig 2>&1; echo \$? > /tmp/$1.migrc" &
}
# failed_home TAG PID NODE WHAT: the move to NODE failed and said so, the process runs at
# home untracked with every page right, nothing of it is left on NODE, and it moves again to
# NEXT ($5) and back home, its own checks after each freeze all right.
failed_home() {
	if wait_until 60 lab_exec n1 test -s "/tmp/$1.migrc" && [ "$(lab_exec n1 cat "/tmp/$1.migrc")" != 0 ] &&
		lab_exec n1 grep -q 'keeps running on n1' "/tmp/$1.mig"; then
		ok "$4: the move failed and said so: $(lab_exec n1 cat "/tmp/$1.mig")"
	else
		fail "$4: the move did not fail as it should (exit $(lab_exec n1 cat "/tmp/$1.migrc" 2>&1)): $(lab_exec n1 cat "/tmp/$1.mig" 2>&1)"
	fi
	[ "$(where "$2")" = "\"pid\":$2,\"node\":\"n1\"" ] && ok "$4: it runs at home on n1" ||
		fail "$4: where: $(where "$2")"
	if wait_until 10 sh -c "! ssilab exec n1 -- sh -c 'ls -l /proc/$2/fd | grep -q userfaultfd'"; then
		ok "$4: its memory is no longer tracked (no userfaultfd in it)"
	else
		fail "$4: it still holds a userfaultfd: $(lab_exec n1 ls -l /proc/"$2"/fd)"
	fi
	verified "$1" "$2" "$4: at home"
	if wait_until 10 sh -c "! ssilab exec $3 -- ps -eo args= | grep -Eq '^(ssi-agent|ssi-restore|ssi-xfer|$livehog)'"; then
		ok "$4: nothing of the move is left on $3"
	else
		fail "$4: left on $3: $(lab_exec "$3" ps -eo pid,stat,args)"
	fi
	local out
	out=$(lab_exec n1 ssictl migrate "$2" "$5" 2>&1) && ok "$4: it moves again, to $5: $out" ||
		fail "$4: moving again to $5: $out"
	verified "$1" "$2" "$4: on $5"
	lab_exec n1 ssictl migrate "$2" home >/dev/null 2>&1
	lab_exec n1 kill -USR2 "$2"
	# SIGUSR2: its last check, then it ends (0: every page right).
	if ! wait_until 30 sh -c "! ssilab exec n1 -- test -d /proc/$2"; then
		fail "$4: it did not end after its last check: $(lab_exec n1 tail -2 "/tmp/$1.out")"
	elif lab_exec n1 grep -q 'verify FAIL' "/tmp/$1.out"; then
		fail "$4: a check found a wrong page: $(lab_exec n1 grep 'verify FAIL' "/tmp/$1.out" | head -1)"
	else
		ok "$4: none of its own checks found a wrong page"
	fi
}

# 1. Killed during the final copy.
tc -n "ssilab$lab_tag-br" qdisc add dev vn2 root tbf rate 100mbit burst 64kb latency 2s ||
	{ fail "cannot shape the link to n2"; finish; }
pid=$(hog a 32 32 -1)
[ -n "$pid" ] && ok "livehog rewriting 32 MiB as fast as it can runs on n1 (pid $pid)" ||
	{ fail "livehog a did not start: $(lab_exec n1 cat /tmp/a.out)"; finish; }
tracked() { lab_exec n1 sh -c "ls -l /proc/$pid/fd | grep -q userfaultfd"; }
# The process is in its final freeze when its thread is blocked in sendto (44) on a socket
# (its tracking socket; livehog's own output goes to a file): the rounds are over, and it
# runs no code of its own until that image is out.
final_copy() {
	local nr fd
	read -r nr fd _ < <(lab_exec n1 cat "/proc/$pid/syscall" 2>/dev/null)
	[ "$nr" = 44 ] && lab_exec n1 readlink "/proc/$pid/fd/$((fd))" | grep -q '^socket:'
}
moving a "$pid" n2
if wait_until 30 tracked && wait_until 60 final_copy; then
	lab_exec n2 pkill -STOP -f 'ssi-xfer recv'
	if final_copy; then
		ok "the process froze for its final copy, and the copy stalled"
		lab_kill_ssid n2 KILL
	else
		fail "the final copy ended before n2 was stopped: $(lab_exec n1 cat /tmp/a.mig 2>&1)"
	fi
else
	fail "the process never froze for a final copy: $(lab_exec n1 cat /tmp/a.mig 2>&1)"
fi
tc -n "ssilab$lab_tag-br" qdisc del dev vn2 root
failed_home a "$pid" n2 "killed during the final copy" n3

# 2. Killed at restore.
pid=$(hog b 256 4 10)
[ -n "$pid" ] && ok "livehog of 256 MiB rewriting 4 MiB at 10 MB/s runs on n1 (pid $pid)" ||
	{ fail "livehog b did not start: $(lab_exec n1 cat /tmp/b.out)"; finish; }
# n3 stops its restorer the moment it starts (a loop there, not a poll from here: the
# restore of what the rounds carried takes a fraction of a second).
lab_exec n3 sh -c 'i=0; while [ $i -lt 20000 ]; do pkill -STOP -x ssi-restore && exit 0; i=$((i + 1)); done; exit 1' &
stopper=$!
# Home's process sent its whole image (what the rounds left is small: it fits in the
# pipes and the socket's buffers) and waits for its body: it holds a TCP connection (to
# n3's agent, for the handshake), which it makes only after the image's END.
verdict() { lab_exec n1 ss -tnp | grep -q "pid=$pid,"; }
moving b "$pid" n3
# (Two tasks are named ssi-restore since the body has a user namespace: the restorer and the
# task it made; the restorer is the one stopped.)
if wait "$stopper" && wait_until 30 verdict &&
	lab_exec n3 ps -o stat= -C ssi-restore | grep -q '^T'; then
	ok "n3's restorer stopped, the whole image there: the process waits for its body"
	lab_kill_ssid n3 KILL
else
	fail "could not stop n3 at restore: $(lab_exec n1 cat /tmp/b.mig 2>&1); $(lab_exec n3 ps -eo pid,stat,args)"
fi
failed_home b "$pid" n3 "killed at restore" n4
finish
