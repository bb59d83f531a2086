#!/bin/bash
# A socketpair made away works as one made at home (python3's socket.socketpair(),
# unmodified): data both ways, getsockname, getsockopt, a timeout, a file
# object over it. The agent passes the body its call link at the lowest free
# number, which in a small program is the number the freeze's own socket held
# (fd 3), and the netproxy took that number for a tunnel of the image: a
# socketpair made away at fd 3 then had its control calls sent home, where no
# fd 3 exists (EBADF). Checked on n2 twice (the pair closed in between, so the
# numbers are reused), then at home after coming home.
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_up 2
mkdir -p "$LAB_FILES"
cat >"$LAB_FILES/pair.py" <<'PY'
import os, signal, socket, sys, time
n = 0
def check(*_):
    global n
    try:
        a, b = socket.socketpair()
        fds = (a.fileno(), b.fileno())
        a.sendall(b"ping %d" % n)
        got = b.recv(64)
        b.sendall(b"pong")
        back = a.recv(64)
        name = a.getsockname()
        typ = a.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE)
        b.settimeout(0.2)
        try:
            b.recv(1)
            timed = "no timeout"
        except socket.timeout:
            timed = "timeout"
        f = b.makefile("rwb")
        a.sendall(b"line\n")
        line = f.readline()
        f.close(); a.close(); b.close()
        ok = (got == b"ping %d" % n and back == b"pong" and typ == socket.SOCK_STREAM
              and timed == "timeout" and line == b"line\n")
        print("check %d %s fds=%s name=%r %s" % (n, "ok" if ok else "bad", fds, name, timed),
              flush=True)
    except Exception as e:
        print("check %d error %r" % (n, e), flush=True)
    n += 1
    if n == 4:
        sys.exit(0)
signal.signal(signal.SIGUSR2, check)
print("ready", flush=True)
while True:
    time.sleep(1)
PY
lab_exec n1 sh -c "{ ssirun /usr/bin/python3 $LAB_FILES/pair.py 2>/tmp/p.err; echo status=\$?; } >/tmp/p.out &"
wait_until 10 lab_exec n1 grep -q '^ready' /tmp/p.out
pid=$(lab_pid_of pair.py)
lab_probe_check "$pid" /tmp/p.out /tmp/p.err 0 "at home: a socketpair carries data, names, options, a timeout"
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1) && ok "moved to n2: $out" || fail "moved to n2: $out"
lab_probe_check "$pid" /tmp/p.out /tmp/p.err 1 "on n2: a socketpair made away works the same"
lab_probe_check "$pid" /tmp/p.out /tmp/p.err 2 "on n2 again, its numbers reused: the same"
out=$(lab_exec n1 ssictl migrate "$pid" home 2>&1) && ok "came home: $out" || fail "came home: $out"
lab_probe_check "$pid" /tmp/p.out /tmp/p.err 3 "at home again: the same"
lab_probe_end /tmp/p.out /tmp/p.err
finish
