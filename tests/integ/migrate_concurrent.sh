#!/bin/bash
# Concurrent calls away (#11): one thread of a moved process blocked in a read of a home pipe
# (its stdin, a fifo at home whose writer writes nothing yet) does not stall the other
# threads' calls. python3: a thread reads fd 0; the main thread appends a line to a home file
# every 50 ms (open, write, close: forwarded home). Moved to n2 while the reader blocks, the
# ticks must go on growing there; then a line written into the fifo at home reaches the reader.
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_python
lab_up 2
mkdir -p "$LAB_FILES"
cat >"$LAB_FILES/conc.py" <<'EOF'
import os, threading, time
got = []
def reader():
    got.append(os.read(0, 100))
t = threading.Thread(target=reader)
t.start()
print("ready", os.getpid(), flush=True)
i = 0
while t.is_alive() and i < 4000:
    i += 1
    with open("/tmp/conc.ticks", "a") as f:
        f.write("%d\n" % i)
    time.sleep(0.05)
t.join()
print("got", got[0].decode().strip(), flush=True)
EOF
lab_exec n1 mkfifo /tmp/conc.in
# The fifo's writer holds it open (and writes nothing) for as long as the test may take.
lab_exec n1 sh -c "sleep 300 >/tmp/conc.in &"
lab_exec n1 sh -c "{ ssirun $PY $LAB_FILES/conc.py </tmp/conc.in 2>/tmp/conc.err; echo \$? >/tmp/conc.rc; } >/tmp/conc.out &"
wait_until 10 lab_exec n1 grep -q '^ready' /tmp/conc.out
pid=$(lab_exec n1 awk '/^ready/ { print $2 }' /tmp/conc.out)
ticks() { lab_exec n1 sh -c 'wc -l </tmp/conc.ticks'; }
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1) && ok "moved to n2 with a thread blocked in a read of its stdin: $out" ||
	fail "moved to n2: $out"
n=$(ticks)
grows() { [ "$(ticks)" -ge $((n + 20)) ]; }
wait_until 20 grows && ok "the other thread's forwarded calls went on away ($n, then $(ticks) ticks)" ||
	fail "the other thread's calls stalled away: $n ticks, then $(ticks)"
node=$(lab_exec n1 ssictl ps --json | $PY -c '
import json, sys
print(next((p["node"] for p in json.load(sys.stdin)["data"] if p["pid"] == int(sys.argv[1])), "gone"))' "$pid")
[ "$node" = n2 ] && ok "it ran on n2 meanwhile" || fail "it was on $node, not n2"
lab_exec n1 sh -c 'echo hello >/tmp/conc.in'
if wait_until 20 lab_exec n1 test -s /tmp/conc.rc; then
	res=$(lab_exec n1 cat /tmp/conc.out)
	expect "the blocked reader got the line written at home" "got hello"
	[ "$(lab_exec n1 cat /tmp/conc.rc)" = 0 ] && ok "it exited 0" || fail "it exited $(lab_exec n1 cat /tmp/conc.rc)"
else
	fail "it did not end: $(lab_exec n1 cat /tmp/conc.out)"
fi
err=$(lab_exec n1 cat /tmp/conc.err)
[ -z "$err" ] && ok "nothing on its stderr" || fail "its stderr: $err"
lab_exec n1 pkill -x -f 'sleep 300'
finish
