#!/bin/bash
# The away body's allow-list (docs/ARCHITECTURE.md, "Every system call
# accounted for"): tests/progs/escape.c, moved to n2 as root and as nobody,
# tries io_uring, open_tree then openat, open_by_handle_at, inotify, bpf,
# perf_event_open, an i386 open through int $0x80, an x32 open, raw
# syscall instructions in libssi.so's text, and prlimit64, tgkill and
# sched_getaffinity aimed at its agent (pid 1 there; the same on itself run), and opens
# through /proc/self/root and cwd (by path, by a directory fd, with . and ..), which are
# home's. Each call fails with ENOSYS (the opens with ENOENT, the marker being n2's), a file
# that exists only on n2 is never read, each refusal is logged once, and the
# program runs on and comes home. And the body's sandbox (#12): through a raw
# syscall in libssi.so's text, an openat of the file only n2 has, of the
# agent's /proc/1/root and environ, of /proc/sys/kernel/core_pattern (for
# writing, never written), a TCP connect to n2's loopback find nothing; netlink shows
# no interface of n2.
. "$(dirname "$0")/lib.sh"
lab_require_root
escape=${SSI_TESTDIR:-$lab_top/build/tests}/escape
[ -x "$escape" ] || { echo "not ok - $escape is missing (make check builds it)"; exit 1; }
lab_up 2

mkdir -p "$LAB_FILES"
chmod 755 "$LAB_FILES"
cp "$escape" "$LAB_FILES/escape"
chmod 755 "$LAB_FILES/escape"
prog=$LAB_FILES/escape
secret=n2-only-$$-$RANDOM$RANDOM
marker=/tmp/escape-marker
lab_exec n2 sh -c "echo $secret > $marker && chmod 644 $marker"
lab_exec n1 test -e "$marker" && fail "the marker must exist only on n2"
handle=$(lab_exec n2 "$prog" --handle "$marker" 2>/dev/null)
[ -n "$handle" ] || note "no file handle for $marker on n2: open_by_handle_at not tried"
# A TCP port that only n2 can reach: a server on n2's own loopback that
# hands the secret to whoever connects (n1's loopback has no such port).
port=47123
lab_exec n2 sh -c "python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((\"127.0.0.1\", $port)); s.listen(8)
while True:
    c, _ = s.accept(); c.sendall(sys.argv[1].encode() + b\"\\n\"); c.close()
' $secret >/dev/null 2>&1 &"
wait_until 10 lab_exec n2 sh -c "python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", $port), 1)'" ||
	fail "the server on n2's loopback did not start"
n2ifs=$(lab_exec n2 ls /sys/class/net | tr '\n' ' ')
[ "$n2ifs" != "lo " ] || fail "n2 should have interfaces besides lo: $n2ifs"

# run TAG USER: starts escape on n1 as USER, moves it to n2, lets it try,
# brings it home; its output in /tmp/TAG.out on n1.
run() {
	tag=$1 user=$2
	as=
	[ "$user" = root ] || as="setpriv --reuid=$user --regid=nogroup --clear-groups"
	lab_exec n1 rm -f "/tmp/$tag.pid" "/tmp/$tag.go" "/tmp/$tag.home" "/tmp/$tag.rc"
	lab_exec n1 sh -c "{ $as env ESCAPE_PORT=$port ssirun $prog /tmp/$tag.pid /tmp/$tag.go /tmp/$tag.home $marker $handle 2>&1; echo \$? > /tmp/$tag.rc; } | cat > /tmp/$tag.out &"
	if ! wait_until 10 lab_exec n1 test -s "/tmp/$tag.pid"; then
		fail "$tag: escape did not start: $(lab_exec n1 cat /tmp/$tag.out)"
		return
	fi
	pid=$(lab_exec n1 cat "/tmp/$tag.pid")
	out=$(lab_exec n1 $as ssictl migrate "$pid" n2 2>&1)
	[ $? = 0 ] && ok "$tag: moved to n2 as $user: $out" || { fail "$tag: move to n2: $out"; return; }
	lab_exec n1 sh -c "touch /tmp/$tag.go"
	if ! wait_until 20 lab_exec n1 grep -qx done "/tmp/$tag.out"; then
		fail "$tag: the attempts did not finish: $(lab_exec n1 cat /tmp/$tag.out | tr '\n' ' ')"
		return
	fi
	o=$(lab_exec n1 cat "/tmp/$tag.out")
	printf '%s\n' "$o" | sed "s/^/# $tag: /"
	names="io_uring_setup open_tree inotify_init1 bpf perf_event_open int80_open x32_open"
	names="$names prlimit_agent tgkill_agent sched_getaffinity_agent setpriority_agent setpriority_user"
	[ -n "$handle" ] && names="$names open_by_handle_at"
	printf '%s\n' "$o" | grep -q '^libssi_gadget none' ||
		names="$names libssi_io_uring_setup libssi_inotify_init1"
	for n in $names; do
		if printf '%s\n' "$o" | grep -q "^$n rc=" &&
			! printf '%s\n' "$o" | grep "^$n rc=" | grep -vq "^$n rc=-1 errno=38\$"; then
			ok "$tag: $n fails with ENOSYS"
		else
			fail "$tag: $n: $(printf '%s\n' "$o" | grep "^$n " | tr '\n' ' ')"
		fi
	done
	# /proc/self's root and cwd links, by path or directory fd: home's (where
	# the marker does not exist), never this node's.
	for n in proc_root proc_thread_root proc_dot_root proc_dotdot_root proc_pid_root \
		proc_task_root proc_dirfd_root proc_taskfd_root proc_cwd; do
		printf '%s\n' "$o" | grep -qx "$n rc=-1 errno=2" && ok "$tag: $n is home's (ENOENT there)" ||
			fail "$tag: $n: $(printf '%s\n' "$o" | grep "^$n " | tr '\n' ' ')"
	done
	# The body's sandbox (#12): the calls the shim makes, run from its text
	# with the program's arguments, find no file of n2 (an empty root), not
	# the agent's (/proc/1 is covered) and no network; the program's own
	# TCP connect is home's (nothing listens there), and a netlink listing
	# shows its own loopback, none of n2's interfaces ($n2ifs).
	if ! printf '%s\n' "$o" | grep -q '^libssi_gadget none'; then
		for n in libssi_openat libssi_proc1_root libssi_proc1_environ libssi_proc_sys; do
			printf '%s\n' "$o" | grep -qx "$n rc=-1 errno=2" && ok "$tag: $n finds nothing (ENOENT)" ||
				fail "$tag: $n: $(printf '%s\n' "$o" | grep "^$n " | tr '\n' ' ')"
		done
		printf '%s\n' "$o" | grep -qx "libssi_connect rc=-1 errno=101" &&
			ok "$tag: libssi_connect to n2's loopback: network unreachable" ||
			fail "$tag: libssi_connect: $(printf '%s\n' "$o" | grep "^libssi_connect " | tr '\n' ' ')"
	fi
	printf '%s\n' "$o" | grep -qx "net_connect rc=-1 errno=111" &&
		ok "$tag: net_connect is made at home (refused there)" ||
		fail "$tag: net_connect: $(printf '%s\n' "$o" | grep "^net_connect " | tr '\n' ' ')"
	printf '%s\n' "$o" | grep -qx "ifaces lo," && ok "$tag: netlink lists its own loopback only" ||
		fail "$tag: interfaces seen away: $(printf '%s\n' "$o" | grep "^ifaces")"
	for n in prlimit_self tgkill_self setpriority_self; do
		printf '%s\n' "$o" | grep -qx "$n rc=0 errno=0" && ok "$tag: $n runs" ||
			fail "$tag: $n: $(printf '%s\n' "$o" | grep "^$n ")"
	done
	if printf '%s\n' "$o" | grep -q "$secret\|read=[1-9]"; then
		fail "$tag: a byte of n2's own file was read: $(printf '%s\n' "$o" | grep 'read=')"
	else
		ok "$tag: no byte of the file only on n2 was read"
	fi
	for n in inotify_init1 bpf; do
		c=$(printf '%s\n' "$o" | grep -c "system call [0-9]* ($n) is refused in a migrated process")
		[ "$c" = 1 ] && ok "$tag: the refusal of $n is logged once" ||
			fail "$tag: the refusal of $n is logged $c times"
	done
	printf '%s\n' "$o" | grep -q "of the i386 ABI (int \$0x80) is refused" &&
		ok "$tag: the int \$0x80 call is refused as i386" || fail "$tag: no line for the int \$0x80 call"
	printf '%s\n' "$o" | grep -q "of the x32 ABI is refused" &&
		ok "$tag: the x32 call is refused by the filter" || fail "$tag: no line for the x32 call"
	out=$(lab_exec n1 $as ssictl migrate "$pid" home 2>&1)
	[ $? = 0 ] && ok "$tag: came home: $out" || fail "$tag: home: $out"
	lab_exec n1 sh -c "touch /tmp/$tag.home"
	n1net=$(lab_exec n1 readlink /proc/self/ns/net)
	if wait_until 20 lab_exec n1 test -s "/tmp/$tag.rc" && [ "$(lab_exec n1 cat /tmp/$tag.rc)" = 0 ] &&
		lab_exec n1 grep -qxF "home $n1net" "/tmp/$tag.out"; then
		ok "$tag: it ran on, came home (n1's network namespace) and exited 0"
	else
		fail "$tag: rc '$(lab_exec n1 cat /tmp/$tag.rc)' (n1 is $n1net), $(lab_exec n1 tail -2 /tmp/$tag.out | tr '\n' ' ')"
	fi
}

run r root
run u nobody
finish
