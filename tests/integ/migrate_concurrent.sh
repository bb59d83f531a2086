#!/bin/bash
# Concurrent calls away (#11): one thread of a moved process blocked in a read of a home pipe
# (its stdin, a fifo at home whose writer writes nothing yet) does not stall the other
# threads' calls. python3: a thread reads fd 0; the main thread appends a line to a home file
# every 50 ms (open, write, close: forwarded home). Moved to n2 while the reader blocks, the
# ticks must go on growing there; then a line written into the fifo at home reaches the reader.
# Part 2: the same with threads blocked in accept, flock and F_SETLKW (a signal for the last one
# is taken and its wait goes on), each wait ending as its cause goes at home.
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
# 2. The same for the waits that #11 names beside reads: a thread blocked in accept on a
# listener made at home, one in flock and one in fcntl F_SETLKW (lockf) on home files whose
# locks other processes at home hold. Moved to n2, the main thread's ticks go on; then each
# wait ends as its cause goes at home (a client connects, each holder ends).
cat >"$LAB_FILES/waits.py" <<'EOF'
import fcntl, os, signal, socket, threading, time
def on_usr1(sig, frame):
    with open("/tmp/w.usr1", "a") as f:
        f.write("usr1\n")
signal.signal(signal.SIGUSR1, on_usr1)
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(4)
fl = open("/tmp/w.flock", "a")
lk = open("/tmp/w.lockf", "a")
done = {}
def acceptor():
    c, _ = ls.accept()
    done["accept"] = c.recv(10).decode()
    c.close()
def flocker():
    fcntl.flock(fl, fcntl.LOCK_EX)
    done["flock"] = "flock"
def lockfer():
    fcntl.lockf(lk, fcntl.LOCK_EX)
    done["lockf"] = "lockf"
ts = [threading.Thread(target=f) for f in (acceptor, flocker, lockfer)]
for t in ts:
    t.start()
print("ready", os.getpid(), ls.getsockname()[1], flush=True)
i = sent = 0
while any(t.is_alive() for t in ts) and i < 4000:
    i += 1
    if not sent and os.path.exists("/tmp/w.sig"):
        signal.pthread_kill(ts[2].ident, signal.SIGUSR1)  # the thread in F_SETLKW
        sent = 1
    with open("/tmp/w.ticks", "a") as f:
        f.write("%d\n" % i)
    time.sleep(0.05)
for t in ts:
    t.join()
print("done", done.get("accept"), done.get("flock"), done.get("lockf"), flush=True)
EOF
cat >"$LAB_FILES/holdlock.py" <<'EOF'
import fcntl, os, sys, time
f = open("/tmp/w." + sys.argv[1], "a")
(fcntl.flock if sys.argv[1] == "flock" else fcntl.lockf)(f, fcntl.LOCK_EX)
print(os.getpid(), flush=True)
time.sleep(300)
EOF
for l in flock lockf; do
	lab_exec n1 sh -c "$PY $LAB_FILES/holdlock.py $l >/tmp/w.$l.pid 2>&1 &"
	wait_until 10 lab_exec n1 test -s /tmp/w.$l.pid
done
lab_exec n1 sh -c "{ ssirun $PY $LAB_FILES/waits.py 2>/tmp/w.err; echo \$? >/tmp/w.rc; } >/tmp/w.out &"
wait_until 10 lab_exec n1 grep -q '^ready' /tmp/w.out
pid=$(lab_exec n1 awk '/^ready/ { print $2 }' /tmp/w.out)
port=$(lab_exec n1 awk '/^ready/ { print $3 }' /tmp/w.out)
wticks() { lab_exec n1 sh -c 'wc -l </tmp/w.ticks'; }
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1) &&
	ok "moved to n2 with threads blocked in accept, flock and F_SETLKW: $out" || fail "moved to n2: $out"
n=$(wticks)
wgrows() { [ "$(wticks)" -ge $((n + 20)) ]; }
wait_until 20 wgrows && ok "the other thread's forwarded calls went on away ($n, then $(wticks) ticks)" ||
	fail "the other thread's calls stalled away behind accept, flock or F_SETLKW: $n ticks, then $(wticks)"
# A signal for the thread waiting in F_SETLKW: its handler runs (python's, in the main thread,
# once the wait returned EINTR) and the wait goes on (python retries it).
lab_exec n1 touch /tmp/w.sig
wait_until 20 lab_exec n1 grep -q usr1 /tmp/w.usr1 && ok "a signal for the thread waiting in F_SETLKW was taken" ||
	fail "the signal for the thread waiting in F_SETLKW was not taken"
lab_exec n1 grep -q lockf /tmp/w.out && fail "the F_SETLKW ended while the lock was held" ||
	ok "the F_SETLKW wait went on after the signal"
lab_exec n1 $PY -c "import socket; s = socket.create_connection(('127.0.0.1', $port)); s.sendall(b'hi'); s.close()"
lab_exec n1 sh -c 'kill $(cat /tmp/w.flock.pid)'
lab_exec n1 sh -c 'kill $(cat /tmp/w.lockf.pid)'
if wait_until 20 lab_exec n1 test -s /tmp/w.rc; then
	res=$(lab_exec n1 cat /tmp/w.out)
	expect "accept took the connection made at home, flock and F_SETLKW took the locks" "done hi flock lockf"
	[ "$(lab_exec n1 cat /tmp/w.rc)" = 0 ] && ok "it exited 0" || fail "it exited $(lab_exec n1 cat /tmp/w.rc)"
else
	fail "it did not end: $(lab_exec n1 cat /tmp/w.out /tmp/w.err)"
fi
err=$(lab_exec n1 cat /tmp/w.err)
[ -z "$err" ] && ok "nothing on its stderr" || fail "its stderr: $err"
lab_exec n1 pkill -x -f 'sleep 300'
finish
