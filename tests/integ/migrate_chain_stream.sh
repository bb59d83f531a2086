#!/bin/bash
# Moves of a process away, with its tunnels busy. stream_probe.py prints
# numbered lines to home's stdout (a pipe) as fast as they are taken, and
# sends numbered messages on a TCP connection to an echo server at home,
# back to back, while it moves n1 -> n2 -> n3 (asked from n2) -> home: home's pipe gets every line once
# and in order, the server every message once and in order, every echo comes
# back right, and the program's memory is unchanged. Then the destination's
# ssid is killed while a process away on n2 is being moved to n3: the move
# fails, the process runs on, and still nothing of either stream is lost or
# doubled. (A move from n2 to n3 goes through home today: the process then
# runs on at home; "Coming home" in docs/ARCHITECTURE.md.)
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_python
lab_up 3
mkdir -p "$LAB_FILES"
cp "$lab_top/tests/progs/stream_probe.py" "$LAB_FILES/"
probe=$LAB_FILES/stream_probe.py
# A slow reader at home (about 1 MB/s): the probe's stdout, and its tunnel
# while it is away, are always full, so that a move has output in flight.
slow=$LAB_FILES/slow_cat.py
cat > "$slow" <<'EOF'
import sys, time
while True:
    b = sys.stdin.buffer.read1(8192)
    if not b:
        break
    sys.stdout.buffer.write(b)
    sys.stdout.buffer.flush()
    time.sleep(0.008)
EOF

# start TAG MIB: an echo server at home (not an ssi process) logging what it
# receives into /tmp/TAG.srv, and the probe under ssirun writing into
# /tmp/TAG.out through a pipe, its exit status into /tmp/TAG.rc. Prints the
# probe's pid, or 0.
start() {
	lab_exec n1 sh -c "$PY -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((\"127.0.0.1\", 0)); s.listen(1)
open(\"/tmp/$1.port\", \"w\").write(str(s.getsockname()[1]))
c, _ = s.accept(); f = c.makefile(\"rb\"); log = open(\"/tmp/$1.srv\", \"w\")
for line in f:
    log.write(line.decode()); log.flush(); c.sendall(line)
log.write(\"eof\n\"); log.close(); c.close()
' > /dev/null 2>&1 &"
	wait_until 10 lab_exec n1 test -s "/tmp/$1.port" || { echo 0; return; }
	lab_exec n1 sh -c "sh -c 'echo \$\$ > /tmp/$1.sh; exec ssirun $PY $probe \$(cat /tmp/$1.port) /tmp/$1.stop $2' | $PY $slow > /tmp/$1.out &"
	wait_until 30 lab_exec n1 grep -q '^line 20$' "/tmp/$1.out" || { echo 0; return; }
	lab_exec n1 cat "/tmp/$1.sh"
}
lines() { lab_exec n1 grep -c '^line ' "/tmp/$1.out"; }
# progresses TAG: at least 50 more lines within 20 s.
progresses() {
	p_from=$(lines "$1")
	wait_until 20 sh -c "[ \$(ssilab exec n1 -- grep -c '^line ' /tmp/$1.out) -ge $((p_from + 50)) ]"
}
on() { lab_exec n1 ssictl ps --json 2>/dev/null | grep -q "\"home\":\"n1\",\"pid\":$2,\"node\":\"$1\""; }
# finish_run TAG WHAT: stops the probe and checks both streams end to end.
finish_run() {
	lab_exec n1 touch "/tmp/$1.stop"
	if ! wait_until 30 lab_exec n1 grep -q '^eof$' "/tmp/$1.srv"; then
		fail "$2: the probe did not end: $(lab_exec n1 tail -3 "/tmp/$1.out")"
		return
	fi
	wait_until 10 lab_exec n1 grep -q '^done ' "/tmp/$1.out"
	done=$(lab_exec n1 grep '^done ' "/tmp/$1.out")
	nl=$(echo "$done" | awk '{print $2}')
	nm=$(echo "$done" | awk '{print $3}')
	[ "$done" = "done $nl $nm errors 0" ] && [ "${nl:-0}" -gt 100 ] && [ "${nm:-0}" -gt 100 ] &&
		ok "$2: $nl lines, $nm messages, every echo right" || fail "$2: '$done'"
	# Every line 0..nl-1 once, in order, between the two sums; every message.
	lab_exec n1 sh -c "sed -n 's/^line //p' /tmp/$1.out" > "$SSILAB_DIR/$1.lines"
	lab_exec n1 sh -c "sed -n 's/^msg //p' /tmp/$1.srv" > "$SSILAB_DIR/$1.msgs"
	seq 0 $((nl - 1)) | cmp -s - "$SSILAB_DIR/$1.lines" &&
		ok "$2: home's pipe got lines 0..$((nl - 1)), each once, in order" ||
		fail "$2: home's pipe: $(seq 0 $((nl - 1)) | diff - "$SSILAB_DIR/$1.lines" | head -5 | tr '\n' ' ')"
	seq 0 $((nm - 1)) | cmp -s - "$SSILAB_DIR/$1.msgs" &&
		ok "$2: the home server got messages 0..$((nm - 1)), each once, in order" ||
		fail "$2: home's server: $(seq 0 $((nm - 1)) | diff - "$SSILAB_DIR/$1.msgs" | head -5 | tr '\n' ' ')"
	sums=$(lab_exec n1 grep -c '^sum ' "/tmp/$1.out")
	[ "$sums" = 2 ] && [ "$(lab_exec n1 grep '^sum ' "/tmp/$1.out" | sort -u | wc -l)" = 1 ] &&
		ok "$2: its memory is what it was" || fail "$2: memory sums: $(lab_exec n1 grep '^sum ' "/tmp/$1.out")"
}

# 1. n1 -> n2 -> n3 -> home, each move while both streams run.
pid=$(start a 64)
[ "$pid" != 0 ] || { fail "the probe did not start: $(lab_exec n1 cat /tmp/a.out)"; finish; }
ok "the probe runs (pid $pid, 64 MiB), streaming"
for hop in "n1 $pid n2" "n2 n1:$pid n3" "n1 $pid home"; do
	set -- $hop
	out=$(lab_exec "$1" ssictl migrate "$2" "$3" 2>&1)
	rc=$?
	where=$3
	[ "$where" = home ] && where=n1
	if [ $rc = 0 ] && on "$where" "$pid"; then
		ok "asked on $1, moved to $3: $out"
	else
		fail "asked on $1, to $3: $out"
	fi
	progresses a && ok "it streams on after the move to $3" || fail "no progress after the move to $3"
done
finish_run a "n1 -> n2 -> n3 -> home"

# 2. The destination's ssid is killed while the process moves n2 -> n3.
pid=$(start b 384)
[ "$pid" != 0 ] || { fail "the second probe did not start: $(lab_exec n1 cat /tmp/b.out)"; finish; }
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1) && on n2 "$pid" && ok "the second probe (384 MiB) moved to n2: $out" ||
	fail "the second probe to n2: $out"
lab_exec n1 sh -c "ssictl migrate $pid n3 > /tmp/b.mig 2>&1; echo \$? >> /tmp/b.mig" &
mig=$!
if wait_until 60 grep -q "receiving process $pid of n1" "$(lab_log n3)"; then
	lab_kill_ssid n3 KILL
	wait "$mig"
	out=$(lab_exec n1 cat /tmp/b.mig)
	if [ "$(echo "$out" | tail -1)" != 0 ] && echo "$out" | grep -q "runs.*on n1\|keeps running on n1"; then
		ok "n3's ssid killed during the move: it fails: $(echo "$out" | head -1)"
	else
		fail "n3's ssid killed during the move: $out"
	fi
else
	wait "$mig"
	fail "the transfer to n3 never started: $(lab_exec n1 cat /tmp/b.mig)"
fi
on n1 "$pid" && ok "it runs on at home (the move went through home)" ||
	fail "where it runs: $(lab_exec n1 ssictl ps 2>&1 | grep " $pid ")"
progresses b && ok "it streams on after the failed move" || fail "no progress after the failed move"
finish_run b "a failed move n2 -> n3"
finish
