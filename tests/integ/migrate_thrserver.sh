#!/bin/bash
# A thread-per-connection server moved while it serves (#11): python3's unmodified
# socketserver.ThreadingTCPServer (one thread per client, the listener at home, clients at home)
# moved n1 -> n2 -> n3 -> home (a move refused because input taken from home is not read yet
# is asked again: the clients never pause). Three clients connect before the first move, three between each
# pair of moves and three after the last; each sends 30 lines, 0.1 s apart, and checks every
# answer (the line in capitals, with how many lines its connection had served). Every client
# must be served right to its end, whichever node its thread ran on at each line, and the
# server must end with status 0 and the count of connections it served. Part 2: a thread made
# away comes home with its tid while home's low numbers are taken.
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_python
lab_up 3
mkdir -p "$LAB_FILES"
cat >"$LAB_FILES/srv.py" <<'EOF'
import os, socketserver, threading, time
served = []
class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        n = 0
        for line in self.rfile:
            n += 1
            self.wfile.write(b"%d %s" % (n, line.upper()))
        served.append(n)
srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
srv.daemon_threads = True
t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1})
t.start()
print("ready", os.getpid(), srv.server_address[1], flush=True)
while not os.path.exists("/tmp/srv.stop"):
    time.sleep(0.1)
srv.shutdown()
t.join()
srv.server_close()
print("served", len(served), sum(served), flush=True)
EOF
cat >"$LAB_FILES/client.py" <<'EOF'
import socket, sys, time
port, k = int(sys.argv[1]), sys.argv[2].encode()
s = socket.create_connection(("127.0.0.1", port))
f = s.makefile("rwb")
for i in range(1, 31):
    f.write(b"client %s line %d\n" % (k, i))
    f.flush()
    got = f.readline()
    want = b"%d CLIENT %s LINE %d\n" % (i, k, i)
    if got != want:
        print("client", k.decode(), "line", i, "got", got, "want", want, flush=True)
        sys.exit(1)
    if i == 1:
        open("/tmp/cl%s.started" % k.decode(), "w").close()
    time.sleep(0.1)
s.close()
print("client", k.decode(), "ok", flush=True)
EOF
lab_exec n1 sh -c "{ ssirun $PY $LAB_FILES/srv.py 2>/tmp/srv.err; echo \$? >/tmp/srv.rc; } >/tmp/srv.out &"
wait_until 10 lab_exec n1 grep -q '^ready' /tmp/srv.out
pid=$(lab_exec n1 awk '/^ready/ { print $2 }' /tmp/srv.out)
port=$(lab_exec n1 awk '/^ready/ { print $3 }' /tmp/srv.out)
clients() {
	for c in "$@"; do
		lab_exec n1 sh -c "$PY $LAB_FILES/client.py $port $c >/tmp/cl$c.out 2>&1; echo \$? >/tmp/cl$c.rc" &
	done
}
# A client is under way once the server answered its first line.
serving() { for c in "$@"; do lab_exec n1 test -e /tmp/cl$c.started || return 1; done; }
on() { lab_exec n3 ssictl ps --json | grep -q "\"home\":\"n1\",\"pid\":$pid,\"node\":\"$1\""; }
clients 1 2 3
k=1
for to in n2 n3 home; do
	wait_until 10 serving $k $((k + 1)) $((k + 2)) || fail "clients $k-$((k + 2)) were not served before the move to $to"
	k=$((k + 3))
	# A move away from n2 goes through home, which is refused while input taken from home is
	# not read yet ("try again later": the clients keep sending): asked again, as a user would.
	for try in $(seq 1 20); do
		out=$(lab_exec n1 ssictl migrate "$pid" "$to" 2>&1) && break
		case $out in *"try again later"*) note "move to $to, try $try: $out" ;; *) break ;; esac
		lab_exec n1 sleep 0.3
	done
	if [ "$to" = home ]; then where=n1; else where=$to; fi
	wait_until 10 on "$where" && ok "the server, serving clients, moved to $to: $out" ||
		fail "the server did not move to $to: $out"
	clients $k $((k + 1)) $((k + 2))
done
wait
bad=
for k in $(seq 1 12); do
	[ "$(lab_exec n1 cat /tmp/cl$k.rc 2>/dev/null)" = 0 ] || bad="$bad $k($(lab_exec n1 cat /tmp/cl$k.out 2>&1))"
done
[ -z "$bad" ] && ok "all 12 clients, before, between and after the moves, served right to the end" ||
	fail "clients not served right:$bad"
lab_exec n1 touch /tmp/srv.stop
wait_until 20 lab_exec n1 test -s /tmp/srv.rc
res=$(lab_exec n1 cat /tmp/srv.out)
expect "the server counted 12 connections and 360 lines" "served 12 360"
[ "$(lab_exec n1 cat /tmp/srv.rc)" = 0 ] && ok "the server exited 0" || fail "the server exited '$(lab_exec n1 cat /tmp/srv.rc)'"
err=$(lab_exec n1 cat /tmp/srv.err)
[ -z "$err" ] && ok "nothing on its stderr" || fail "its stderr: $err"
# 2. A thread made away comes home with its tid, even where the low numbers are taken at home
# (the kernel's threads are there on a real node): n1's first free numbers from 2 up are held
# by processes made with those pids (clone3 with set_tid, as root), then python3, moved to n2,
# starts a thread there, and comes home with it running.
cat >"$LAB_FILES/holdpids.py" <<'EOF'
import ctypes, os, struct, sys, time
libc = ctypes.CDLL(None, use_errno=True)
held = []
for pid in range(2, 40):
    tid = ctypes.c_long(pid)
    args = ctypes.create_string_buffer(struct.pack("11Q", 0, 0, 0, 0, 17, 0, 0, 0, ctypes.addressof(tid), 1, 0))
    r = libc.syscall(435, args, 88)
    if r == 0:
        while True:
            libc.pause()
    if r > 0:
        held.append(r)
print("held", len(held), flush=True)
while not os.path.exists("/tmp/hp.end"):
    time.sleep(0.1)
for p in held:
    os.kill(p, 9)
    os.waitpid(p, 0)
EOF
cat >"$LAB_FILES/awaythr.py" <<'EOF'
import os, threading, time
ids = []
go = threading.Event()
def worker():
    ids.append(threading.get_native_id())
    while not os.path.exists("/tmp/at.end"):
        time.sleep(0.05)
    ids.append(threading.get_native_id())
print("ready", os.getpid(), flush=True)
while not os.path.exists("/tmp/at.go"):
    time.sleep(0.05)
t = threading.Thread(target=worker)
t.start()
while not ids:
    time.sleep(0.01)
print("made", ids[0], flush=True)
t.join()
print("tids", ids[0], ids[1], flush=True)
EOF
lab_exec n1 sh -c "$PY $LAB_FILES/holdpids.py >/tmp/hp.out 2>&1 &"
wait_until 10 lab_exec n1 grep -q '^held' /tmp/hp.out
note "$(lab_exec n1 cat /tmp/hp.out) low pids held at home"
lab_exec n1 sh -c "{ ssirun $PY $LAB_FILES/awaythr.py 2>/tmp/at.err; echo \$? >/tmp/at.rc; } >/tmp/at.out &"
wait_until 10 lab_exec n1 grep -q '^ready' /tmp/at.out
pid=$(lab_exec n1 awk '/^ready/ { print $2 }' /tmp/at.out)
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1) && ok "python3 moved to n2: $out" || fail "python3 moved to n2: $out"
lab_exec n1 touch /tmp/at.go
wait_until 10 lab_exec n1 grep -q '^made' /tmp/at.out
tid=$(lab_exec n1 awk '/^made/ { print $2 }' /tmp/at.out)
out=$(lab_exec n1 ssictl migrate "$pid" home 2>&1) && ok "it came home with the thread made on n2 (tid $tid) running: $out" ||
	fail "it did not come home with the thread made on n2 (tid $tid): $out"
lab_exec n1 touch /tmp/at.end
wait_until 20 lab_exec n1 test -s /tmp/at.rc
res=$(lab_exec n1 cat /tmp/at.out)
expect "the thread kept its tid" "tids $tid $tid"
[ "$(lab_exec n1 cat /tmp/at.rc)" = 0 ] && ok "it exited 0" || fail "it exited '$(lab_exec n1 cat /tmp/at.rc)': $(lab_exec n1 cat /tmp/at.err)"
lab_exec n1 touch /tmp/hp.end
finish
