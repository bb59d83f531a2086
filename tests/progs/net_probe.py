#!/usr/bin/env python3
"""netproxy test helper.

  net_probe.py server NAME PORT UPATH   line echo servers on 127.0.0.1:PORT and Unix UPATH;
                                        each answers "NAME <line>" per line
  net_probe.py client PORT UPATH GO OUT a client: one TCP connection made before the move,
                                        then waits for file GO, then connects anew (TCP and
                                        Unix) and writes what it saw to OUT
  net_probe.py sink PORT OUT            accepts one connection on 127.0.0.1:PORT, writes
                                        "<sha256> <bytes>" of everything it received to OUT
  net_probe.py udpserver NAME PORT      UDP echo on 127.0.0.1:PORT: answers "NAME <datagram>"
  net_probe.py udpclient PORT GO OUT    UDP requests after the file GO exists; results to OUT
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


def udpserver(name, port):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", port))
    while True:
        d, a = u.recvfrom(65536)
        u.sendto(name.encode() + b" " + d, a)


def udpclient(port, go, out):
    res = []
    while not os.path.exists(go):
        time.sleep(0.1)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(5)
    u.sendto(b"one", ("127.0.0.1", port))
    d, a = u.recvfrom(1000)
    res.append("sendto %s from %s" % (d.decode(), a))
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b.connect(("127.0.0.1", port))
    res.append("sockname %s peer %s" % (b.getsockname()[0], b.getpeername()))
    b.send(b"two")
    res.append("connected %s" % b.recv(1000).decode())
    b.sendmsg([b"thr", b"ee"])
    d, _, flags, a = b.recvmsg(1000)
    res.append("msg %s from %s" % (d.decode(), a))
    b.send(b"x" * 3000)
    res.append("big %d" % len(b.recv(10000)))
    q = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    q.bind(("127.0.0.1", 0))
    q.settimeout(0.5)
    try:
        q.recvfrom(100)
        res.append("timeout no")
    except socket.timeout:
        res.append("timeout yes")
    with open(out, "w") as f:
        f.write("\n".join(res) + "\ndone\n")


def main():
    if sys.argv[1] == "udpserver":
        udpserver(sys.argv[2], int(sys.argv[3]))
        return
    if sys.argv[1] == "udpclient":
        udpclient(int(sys.argv[2]), sys.argv[3], sys.argv[4])
        return
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
    res.append("old peername %s sockname %s" % (old.getpeername(), old.getsockname()[0]))
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
