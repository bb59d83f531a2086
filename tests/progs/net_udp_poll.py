#!/usr/bin/env python3
"""netproxy: a UDP server driven by an event loop (selectors: epoll).

server PORT: binds 127.0.0.1:PORT (made after the process moved, so the
    socket lives at home and the datagrams come down a tunnel), waits in
    the selector and answers each datagram:
      "cpu"        -> "cpu <seconds of CPU this process used>"
      "peek X"     -> peeks first (MSG_PEEK), then reads: "peek <same?> X"
      "msg X"      -> read with recvmsg: "msg X from <addr ok?> trunc <flags>"
      "big " + data -> "big <length> <data as the client makes it?>"
      "quit"       -> "bye", exits
      anything     -> "echo <it>"
    reading until BlockingIOError (O_NONBLOCK -> EAGAIN) after each wakeup;
    "eagain ok" is logged to stdout once.
client PORT REQ...: sends each request from n1 and prints each answer
    ("big:N": a datagram of N bytes, "sleep": 2 s without a request).
"""
import os
import selectors
import socket
import sys
import time


def server(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", port))
    s.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_READ)
    said = False
    while True:
        sel.select()
        while True:
            try:
                first = s.recv(64, socket.MSG_PEEK)
            except BlockingIOError:
                if not said:
                    print("eagain ok", flush=True)
                    said = True
                break
            if first.startswith(b"msg "):
                data, _anc, flags, addr = s.recvmsg(5)
                ans = b"msg %s from %s trunc %d" % (data, b"ok" if addr[0] == "127.0.0.1" else b"bad",
                                                  1 if flags & socket.MSG_TRUNC else 0)
            else:
                data, addr = s.recvfrom(65536)
                if data.startswith(b"big "):
                    ans = b"big %d %s" % (len(data), b"same" if data[4:] == pattern(len(data) - 4) else b"differ")
                elif data == b"cpu":
                    t = os.times()
                    ans = b"cpu %.3f" % (t.user + t.system)
                elif data.startswith(b"peek "):
                    ans = b"peek %s %s" % (b"same" if data[:len(first)] == first else b"differ", data[5:])
                elif data == b"quit":
                    s.sendto(b"bye", addr)
                    return
                else:
                    ans = b"echo " + data
            s.sendto(ans, addr)


def pattern(n):
    return bytes(i % 251 for i in range(n))


def client(port, reqs):
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.settimeout(10)
    for r in reqs:
        if r == "sleep":
            time.sleep(2)
            continue
        if r.startswith("big:"):  # one datagram of that many bytes
            c.sendto(b"big " + pattern(int(r[4:]) - 4), ("127.0.0.1", port))
        else:
            c.sendto(r.encode(), ("127.0.0.1", port))
        print(c.recvfrom(4096)[0].decode(), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(int(sys.argv[2]))
    else:
        client(int(sys.argv[2]), sys.argv[3:])
