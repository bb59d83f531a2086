#!/bin/bash
# A program's own seccomp filters move with it (#12): tests/progs/ownfilter.c
# installs two before it is moved, one with syscall(SYS_seccomp) that makes
# mkdir fail with EPERM, one with prctl(PR_SET_SECCOMP) that makes sysinfo (a
# call a body makes locally) fail with EACCES, and prints what both give and
# the kernel's count of its filters every 100 ms. Moved to n2 and home again,
# as root and as nobody: every line, at home, away and home again, has both
# refusals; away the body holds ssi's filter and its own two (3), and home
# again its own two only (nothing installed twice). Without the filters
# installed again away, sysinfo succeeds on n2 (mkdir is still refused: it
# runs at home, in the deputy, which kept them) and the count there is 1.
# And a filter that forbids a call a move needs (execve, for the homecoming;
# socket, for the freeze to hear its request) makes the move refused up
# front with that reason, the program running on at home.
. "$(dirname "$0")/lib.sh"
lab_require_root
prog=${SSI_TESTDIR:-$lab_top/build/tests}/ownfilter
[ -x "$prog" ] || { echo "not ok - $prog is missing (make check builds it)"; exit 1; }
lab_up 2
mkdir -p "$LAB_FILES"
chmod 755 "$LAB_FILES"
cp "$prog" "$LAB_FILES/ownfilter"
chmod 755 "$LAB_FILES/ownfilter"
prog=$LAB_FILES/ownfilter

# run TAG USER: starts ownfilter on n1 as USER, moves it to n2 and home
# again, and checks every line it printed.
run() {
	tag=$1 user=$2
	as=
	[ "$user" = root ] || as="setpriv --reuid=$user --regid=nogroup --clear-groups"
	dir=$LAB_FILES/$tag.dir
	rm -rf "$dir"
	mkdir -p "$dir"
	chmod 777 "$dir"
	lab_exec n1 sh -c "{ $as ssirun $prog $dir /tmp/$tag.stop > /tmp/$tag.out 2>&1; echo \$? > /tmp/$tag.rc; } &"
	wait_until 10 lab_exec n1 test -s "/tmp/$tag.out" || { fail "$tag: ownfilter did not start: $(lab_exec n1 cat /tmp/$tag.out)"; return; }
	pid=$(lab_exec n1 pgrep -f "^$prog $dir")
	note "$tag at home: $(lab_exec n1 head -n 1 /tmp/$tag.out)"
	for to in n2 home; do
		# A freeze that catches it reading /proc/self/status (a descriptor
		# opened on n2) cannot come home: that refusal is right, try again.
		for try in 1 2 3 4 5; do
			out=$(lab_exec n1 $as ssictl migrate "$pid" "$to" 2>&1) && break
			printf '%s' "$out" | grep -q "/status) was opened on this node" || break
			sleep 0.2
		done
		[ -z "${out##*moved*}" ] || [ -z "${out##*came home*}" ] || { fail "$tag: move to $to: $out"; return; }
		ok "$tag: $out"
		n=$(lab_exec n1 sh -c "wc -l < /tmp/$tag.out")
		wait_until 5 sh -c "[ \$(ssilab exec n1 -- sh -c 'wc -l < /tmp/$tag.out') -gt $((n + 3)) ]"
		[ "$to" = n2 ] && away=$(lab_exec n1 tail -n 1 "/tmp/$tag.out")
	done
	lab_exec n1 touch "/tmp/$tag.stop"
	wait_until 10 lab_exec n1 test -s "/tmp/$tag.rc"
	[ "$(lab_exec n1 cat /tmp/$tag.rc)" = 0 ] && ok "$tag: it ran to its end (status 0)" ||
		fail "$tag: status '$(lab_exec n1 cat /tmp/$tag.rc)': $(lab_exec n1 tail -n 3 /tmp/$tag.out)"
	other=$(lab_exec n1 sh -c "grep -v -x -e done -e 'mkdir=1 sysinfo=13 filters=[0-9]*' /tmp/$tag.out | sort | uniq -c")
	[ -z "$other" ] && ok "$tag: mkdir (EPERM) and sysinfo (EACCES) refused on every line, at home, on n2 and home again ($(lab_exec n1 grep -c mkdir /tmp/$tag.out) lines)" ||
		fail "$tag: lines without both refusals: $other"
	[ "$away" = "mkdir=1 sysinfo=13 filters=3" ] && ok "$tag: on n2 its two filters were installed again after ssi's ($away)" ||
		fail "$tag: on n2: $away"
	last=$(lab_exec n1 sh -c "grep -v done /tmp/$tag.out | tail -n 1")
	[ "$last" = "mkdir=1 sysinfo=13 filters=2" ] && ok "$tag: home again it holds its own two filters, none twice" ||
		fail "$tag: home again: $last"
	[ ! -e "$dir/made" ] && ok "$tag: no directory was made" || fail "$tag: $dir/made exists"
}
run r root
run u nobody

# A filter that forbids a call a move needs: refused up front, with the
# reason; the program runs on at home, its filters intact. execve: the
# deputy execs ssi-restore to bring the body home (without the check the
# process would move and never come home). socket: the freeze could not
# even reach the one who asks for it; the shim tells ssid when the filter
# is installed (PIN), so the move and a checkpoint are refused at once
# with the reason (without it: "did not connect" after the freeze's time).
refused() {
	tag=$1 call=$2
	dir=$LAB_FILES/$tag.dir
	mkdir -p "$dir"
	chmod 777 "$dir"
	lab_exec n1 sh -c "{ ssirun $prog $dir /tmp/$tag.stop $call > /tmp/$tag.out 2>&1; echo \$? > /tmp/$tag.rc; } &"
	wait_until 10 lab_exec n1 test -s /tmp/$tag.out || fail "$tag: ownfilter did not start"
	pid=$(lab_exec n1 pgrep -f "^$prog $dir")
	out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1)
	rc=$?
	if [ $rc != 0 ] && printf '%s' "$out" | grep -q "filter 1 forbids $call, which ssi needs"; then
		ok "$tag: a filter that forbids $call: refused ($rc): $out"
	else
		fail "$tag: a filter that forbids $call: status $rc: $out"
	fi
	if [ "$call" = socket ]; then
		out=$(lab_exec n1 ssictl checkpoint "$pid" 2>&1)
		rc=$?
		if [ $rc != 0 ] && printf '%s' "$out" | grep -q "cannot be checkpointed: .*filter 1 forbids socket"; then
			ok "$tag: and a checkpoint ($rc): $out"
		else
			fail "$tag: a checkpoint: status $rc: $out"
		fi
	fi
	n=$(lab_exec n1 sh -c "wc -l < /tmp/$tag.out")
	wait_until 5 sh -c "[ \$(ssilab exec n1 -- sh -c 'wc -l < /tmp/$tag.out') -gt $((n + 3)) ]" &&
		[ "$(lab_exec n1 tail -n 1 /tmp/$tag.out)" = "mkdir=1 sysinfo=13 filters=2" ] &&
		ok "$tag: it runs on at home under its own filters" ||
		fail "$tag: after the refusal: $(lab_exec n1 tail -n 2 /tmp/$tag.out)"
	lab_exec n1 touch /tmp/$tag.stop
	wait_until 10 lab_exec n1 test -s /tmp/$tag.rc
	[ "$(lab_exec n1 cat /tmp/$tag.rc)" = 0 ] && ok "$tag: it ran to its end (status 0)" ||
		fail "$tag: status '$(lab_exec n1 cat /tmp/$tag.rc)'"
}
refused c execve
refused s socket
finish
