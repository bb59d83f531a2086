#!/usr/bin/env python3
"""many_fds.py DIR NFILES NSOCK PORT: opens NFILES files in DIR (each holding
its own number) and NSOCK TCP connections to an echo server at
127.0.0.1:PORT, then, each time DIR/go.K appears, checks every descriptor
(files: read back from offset 0, then append a line and read it back;
sockets: an echo round trip) and writes DIR/res.K: "ok FILES SOCKS NET"
or "bad ..." with the first failure. NET is the net namespace it runs in.
Used by tests/integ/vfs_many_files.sh."""
import os, socket, sys, time

d, nfiles, nsock, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
files = []
for i in range(nfiles):
    fd = os.open(os.path.join(d, "f%05d" % i), os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, b"file %d\n" % i)
    files.append(fd)
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(nsock)]
with open(os.path.join(d, "ready"), "w") as f:
    f.write("%d %d %d\n" % (os.getpid(), files[0], files[-1]))


def check(k):
    for i, fd in enumerate(files):
        os.lseek(fd, 0, os.SEEK_SET)
        want = b"file %d\n" % i
        got = os.read(fd, 64)
        if not got.startswith(want):
            return "bad file %d (fd %d): %r" % (i, fd, got[:20])
        if i % 97 == 0:  # and some writes: appended at the end, read back
            line = b"round %d\n" % k
            end = os.lseek(fd, 0, os.SEEK_END)
            os.write(fd, line)
            os.lseek(fd, end, os.SEEK_SET)
            if os.read(fd, 64) != line:
                return "bad write to file %d (fd %d)" % (i, fd)
    for j, s in enumerate(socks):
        msg = b"sock %d round %d\n" % (j, k)
        s.sendall(msg)
        got = b""
        while len(got) < len(msg):
            b = s.recv(len(msg) - len(got))
            if not b:
                break
            got += b
        if got != msg:
            return "bad socket %d: %r" % (j, got)
    return "ok %d %d %s" % (len(files), len(socks), os.readlink("/proc/self/ns/net"))


k = 0
while k < 10:
    go = os.path.join(d, "go.%d" % k)
    if os.path.exists(go):
        r = check(k)
        with open(os.path.join(d, "res.%d" % k), "w") as f:
            f.write(r + "\n")
        k += 1
    time.sleep(0.1)
