#!/usr/bin/env python3
"""Benchmark helper for tests/bench/net.sh (single-threaded, so it can move).

  net.py server HOST PORT             serves connections one at a time: the first
                                      line "rr" = echo 64-byte messages until EOF,
                                      "stream MIB" = send MIB MiB, then close
  net.py rr HOST PORT COUNT           COUNT 64-byte round trips on one connection;
                                      prints the mean microseconds per request
  net.py stream HOST PORT MIB         receives MIB MiB; prints MiB/s
"""
import socket
import sys
import time


def server(host, port):
    l = socket.socket()
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind((host, port))
    l.listen(8)
    chunk = b"s" * (1 << 20)
    while True:
        c, _ = l.accept()
        f = c.makefile("rb")
        cmd = f.readline().split()
        if cmd and cmd[0] == b"rr":
            while True:
                m = f.read(64)
                if len(m) < 64:
                    break
                c.sendall(m)
        elif cmd and cmd[0] == b"stream":
            for _ in range(int(cmd[1])):
                c.sendall(chunk)
        f.close()
        c.close()


def main():
    mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "server":
        server(host, port)
        return
    s = socket.create_connection((host, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if mode == "rr":
        n = int(sys.argv[4])
        s.sendall(b"rr\n")
        m = b"q" * 64
        t0 = time.perf_counter()
        for _ in range(n):
            s.sendall(m)
            got = 0
            while got < 64:
                got += len(s.recv(64 - got))
        dt = time.perf_counter() - t0
        print("%.1f" % (dt / n * 1e6))
    else:
        mib = int(sys.argv[4])
        s.sendall(b"stream %d\n" % mib)
        t0 = time.perf_counter()
        total = 0
        while True:
            d = s.recv(1 << 20)
            if not d:
                break
            total += len(d)
        dt = time.perf_counter() - t0
        print("%.0f" % (total / (1 << 20) / dt))


main()
