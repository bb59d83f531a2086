#!/usr/bin/env python3
"""netproxy test helper.

  net_probe.py server NAME PORT UPATH   line echo servers on 127.0.0.1:PORT and Unix UPATH;
                                        each answers "NAME <line>" per line
  net_probe.py client PORT UPATH GO OUT a client: one TCP connection made before the move,
                                        then waits for file GO, then connects anew (TCP and
                                        Unix) and writes what it saw to OUT
  net_probe.py sink PORT OUT            accepts one connection on 127.0.0.1:PORT, writes
                                        "<sha256> <bytes>" of everything it received to OUT
  net_probe.py source PORT MB MBPS OUT  sends MB MiB of random data to 127.0.0.1:PORT at
                                        about MBPS MiB/s, writes "<sha256> <bytes>" to OUT
"""
import hashlib
import os
import socket
import sys
import threading
import time


def serve(name, sock):
    def one(c):
        f = c.makefile("rwb")
        for line in f:
            f.write(name.encode() + b" " + line)
            f.flush()
        c.close()

    while True:
        c, _ = sock.accept()
        threading.Thread(target=one, args=(c,), daemon=True).start()


def ask(s, line):
    s.sendall(line.encode() + b"\n")
    buf = b""
    while not buf.endswith(b"\n"):
        d = s.recv(4096)
        if not d:
            return "EOF"
        buf += d
    return buf.decode().strip()


def sink(port, out):
    l = socket.socket()
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("127.0.0.1", port))
    l.listen(1)
    c, _ = l.accept()
    h, n = hashlib.sha256(), 0
    while True:
        d = c.recv(1 << 16)
        if not d:
            break
        h.update(d)
        n += len(d)
    with open(out, "w") as f:
        f.write("%s %d\n" % (h.hexdigest(), n))


def source(port, mb, mbps, out):
    s = socket.create_connection(("127.0.0.1", port))
    h, n, chunk = hashlib.sha256(), 0, 1 << 20
    t0 = time.monotonic()
    for i in range(mb):
        d = os.urandom(chunk)
        s.sendall(d)
        h.update(d)
        n += len(d)
        ahead = t0 + (i + 1) / mbps - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
    s.shutdown(socket.SHUT_WR)
    s.recv(1)
    with open(out, "w") as f:
        f.write("%s %d\n" % (h.hexdigest(), n))


def main():
    if sys.argv[1] == "sink":
        sink(int(sys.argv[2]), sys.argv[3])
        return
    if sys.argv[1] == "source":
        source(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5])
        return
    if sys.argv[1] == "server":
        name, port, upath = sys.argv[2], int(sys.argv[3]), sys.argv[4]
        t = socket.socket()
        t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        t.bind(("127.0.0.1", port))
        t.listen(16)
        try:
            os.unlink(upath)
        except FileNotFoundError:
            pass
        u = socket.socket(socket.AF_UNIX)
        u.bind(upath)
        u.listen(16)
        threading.Thread(target=serve, args=(name, u), daemon=True).start()
        serve(name, t)
        return
    port, upath, go, out = int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    res = []
    old = socket.create_connection(("127.0.0.1", port))
    res.append("before " + ask(old, "one"))
    while not os.path.exists(go):
        time.sleep(0.1)
    res.append("old " + ask(old, "two"))
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    res.append("tcp " + ask(s, "three"))
    res.append("tcp sockname %s peername %s" % (s.getsockname()[0], s.getpeername()))
    res.append("tcp type %d" % s.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    res.append("tcp nodelay %d" % s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
    s.shutdown(socket.SHUT_WR)
    res.append("tcp after shutdown %r" % s.recv(10))
    s.close()
    u = socket.socket(socket.AF_UNIX)
    u.connect(upath)
    res.append("unix " + ask(u, "four"))
    res.append("unix peername %s" % u.getpeername())
    u.close()
    # Non-blocking connect and a large echo through the tunnel.
    n = socket.socket()
    n.setblocking(False)
    try:
        n.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    n.setblocking(True)
    big = "x" * 200000
    res.append("nonblock %d" % len(ask(n, big)))
    try:
        socket.create_connection(("127.0.0.1", port + 1), timeout=5)
        res.append("refused no")
    except ConnectionRefusedError:
        res.append("refused yes")
    with open(out, "w") as f:
        f.write("\n".join(res) + "\ndone\n")


main()
