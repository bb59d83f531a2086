#!/usr/bin/env python3
"""netproxy: a peer that resets or half-closes, seen by a client.

server PORT LOG: on 127.0.0.1:PORT; per connection the first line says what
    to do: "rst" answers "before-reset" then closes with SO_LINGER {1,0}
    (an RST); "half" sends "hello", shuts its side down (SHUT_WR), reads
    what the client still sends and logs it to LOG; "count" reads to EOF
    and answers with the byte count, then closes.
client PORT GO OUT: opens two connections, waits for the file GO (the test
    moves the process meanwhile), then exercises every case and writes one
    line per result to OUT (also control calls on dups of its sockets).
inetd PORT GO OUT: connects to PORT and runs "ssirun python3 THIS std GO
    OUT" with the connection as stdin (inetd style).
std GO OUT: waits for GO, then writes what control calls on fd 0 say, and
    what it reads there (the server resets that connection after GO).
"""
import os
import socket
import struct
import sys
import threading
import time


def serve(port, log):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)

    def one(c):
        f = c.makefile("rb")
        what = f.readline().strip()
        if what == b"rst":
            c.sendall(b"before-reset\n")
            time.sleep(0.5)
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.close()
        elif what == b"rstgo":
            # Resets once the test says the client has moved.
            c.sendall(b"before-reset\n")
            while not os.path.exists(os.path.join(os.path.dirname(log), "go")):
                time.sleep(0.1)
            time.sleep(0.5)
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.close()
        elif what == b"half":
            c.sendall(b"hello\n")
            c.shutdown(socket.SHUT_WR)
            rest = f.read()
            with open(log, "ab") as o:
                o.write(b"half got " + rest.strip() + b"\n")
            c.close()
        elif what == b"count":
            rest = f.read()
            c.sendall(b"count %d\n" % len(rest))
            c.close()

    while True:
        c, _ = ls.accept()
        threading.Thread(target=one, args=(c,), daemon=True).start()


def recv_all(s):
    d = b""
    while True:
        try:
            b = s.recv(4096)
        except OSError as e:
            return d, type(e).__name__
        if not b:
            return d, "EOF"
        d += b


def reset_case(s, out, tag):
    s.sendall(b"rst\n")
    d, how = recv_all(s)
    out.write("%s data %s then %s\n" % (tag, d.decode().strip(), how))
    try:
        s.recv(10)
        out.write("%s second recv EOF\n" % tag)
    except OSError as e:
        out.write("%s second recv %s\n" % (tag, type(e).__name__))
    try:
        for _ in range(4):
            s.send(b"x" * 100)
        out.write("%s send ok\n" % tag)
    except OSError as e:
        out.write("%s send %s\n" % (tag, "fails"))
    s.close()


def client(port, go, outp):
    pre = socket.create_connection(("127.0.0.1", port))
    pre2 = socket.create_connection(("127.0.0.1", port))
    while not os.path.exists(go):
        time.sleep(0.1)
    with open(outp, "w") as out:
        reset_case(pre, out, "pre")
        out.flush()
        reset_case(socket.create_connection(("127.0.0.1", port)), out, "new")
        out.flush()
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"half\n")
        d, how = recv_all(s)
        out.write("half read %s then %s\n" % (d.decode().strip(), how))
        s.sendall(b"still-sending\n")
        s.close()
        s = socket.create_connection(("127.0.0.1", port))
        d = socket.socket(fileno=os.dup(pre2.fileno()))
        out.write("dup pre family %d peer %s\n" % (d.family, d.getpeername()))
        d.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        out.write("dup pre keepalive %d\n" % pre2.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE))
        d = socket.socket(fileno=os.dup(s.fileno()))
        out.write("dup new family %d peer %s\n" % (d.family, d.getpeername()))
        s.sendall(b"count\n" + b"y" * 5000)
        s.shutdown(socket.SHUT_WR)
        d, how = recv_all(s)
        out.write("shut_wr answer %s then %s\n" % (d.decode().strip(), how))
        s.close()


def std(go, outp):
    while not os.path.exists(go):
        time.sleep(0.1)
    s = socket.socket(fileno=0)
    with open(outp, "w") as out:
        out.write("std family %d peer %s type %d\n" % (
            s.family, s.getpeername(), s.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE)))
        d, how = recv_all(s)
        out.write("std data %s then %s\n" % (d.decode().strip(), how))
    s.detach()


if __name__ == "__main__":
    if sys.argv[1] == "server":
        serve(int(sys.argv[2]), sys.argv[3])
    elif sys.argv[1] == "inetd":
        c = socket.create_connection(("127.0.0.1", int(sys.argv[2])))
        c.sendall(b"rstgo\n")
        os.dup2(c.fileno(), 0)
        os.execvp("ssirun", ["ssirun", sys.executable, sys.argv[0], "std", sys.argv[3], sys.argv[4]])
    elif sys.argv[1] == "std":
        std(sys.argv[2], sys.argv[3])
    else:
        client(int(sys.argv[2]), sys.argv[3], sys.argv[4])
