#!/usr/bin/env python3
"""stream_probe.py PORT STOPFILE [MIB]: streams numbered lines both ways
while it is moved. It holds MIB MiB of random bytes (0: none) and runs two
threads until STOPFILE exists: one prints "line N" to stdout, 100 lines
per write, as fast as its reader takes them (a slow reader keeps the
pipe, and a moved body's tunnel, full); the other connects to a TCP echo server at 127.0.0.1:PORT and
sends "msg N", reading the echo back before the next one. It ends with
"done LINES MSGS errors E" (E: echoes that were not "msg N"), closes the
connection and exits 0. Its memory's checksum is printed at the start and
at the end ("sum ..."): they must be equal. Used by
tests/integ/migrate_chain_stream.sh."""
import hashlib, os, socket, sys, threading

port, stop = int(sys.argv[1]), sys.argv[2]
mib = int(sys.argv[3]) if len(sys.argv) > 3 else 0
mem = bytearray(os.urandom(mib << 20)) if mib else bytearray()
print("sum %s" % hashlib.sha256(mem).hexdigest(), flush=True)
s = socket.create_connection(("127.0.0.1", port))
f = s.makefile("rb")
stopped = threading.Event()
nlines = 0


def lines():
    global nlines
    while not os.path.exists(stop):
        sys.stdout.write("".join("line %d\n" % (nlines + i) for i in range(100)))
        sys.stdout.flush()
        nlines += 100
    stopped.set()


t = threading.Thread(target=lines)
t.start()
n = errors = 0
while not stopped.is_set():
    s.sendall(b"msg %d\n" % n)
    if f.readline() != b"msg %d\n" % n:
        errors += 1
    n += 1
t.join()
print("sum %s" % hashlib.sha256(mem).hexdigest(), flush=True)
print("done %d %d errors %d" % (nlines, n, errors), flush=True)
s.shutdown(socket.SHUT_WR)
f.read()
s.close()
