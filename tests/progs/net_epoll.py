#!/usr/bin/env python3
"""Edge-triggered epoll echo server (single thread), for the netproxy tests.

  net_epoll.py server PORT        listens on 127.0.0.1:PORT; answers every line upper-cased
  net_epoll.py client PORT N ID   N requests on one connection; exits 0 if every answer is right
"""
import errno
import select
import socket
import sys


def server(port):
    l = socket.socket()
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("127.0.0.1", port))
    l.listen(64)
    l.setblocking(False)
    ep = select.epoll()
    ep.register(l.fileno(), select.EPOLLIN | select.EPOLLET)
    conns, bufs = {}, {}
    while True:
        for fd, ev in ep.poll():
            if fd == l.fileno():
                while True:  # edge-triggered: drain the accept queue
                    try:
                        c, _ = l.accept()
                    except BlockingIOError:
                        break
                    c.setblocking(False)
                    conns[c.fileno()] = c
                    bufs[c.fileno()] = b""
                    ep.register(c.fileno(), select.EPOLLIN | select.EPOLLET)
                continue
            c = conns[fd]
            closed = False
            while True:  # edge-triggered: read until EAGAIN
                try:
                    d = c.recv(65536)
                except BlockingIOError:
                    break
                if not d:
                    closed = True
                    break
                bufs[fd] += d
            while b"\n" in bufs[fd]:
                line, bufs[fd] = bufs[fd].split(b"\n", 1)
                c.setblocking(True)
                c.sendall(line.upper() + b"\n")
                c.setblocking(False)
            if closed:
                ep.unregister(fd)
                del conns[fd], bufs[fd]
                c.close()


def client(port, n, ident):
    s = socket.create_connection(("127.0.0.1", port))
    f = s.makefile("rwb")
    for i in range(n):
        msg = ("c%s-req%d-" % (ident, i)) + "x" * (i % 50)
        f.write(msg.encode() + b"\n")
        f.flush()
        if f.readline().decode().strip() != msg.upper():
            sys.exit(1)


if sys.argv[1] == "server":
    server(int(sys.argv[2]))
else:
    client(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
