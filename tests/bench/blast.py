#!/usr/bin/env python3
"""blast.py: one-way bulk transfers for tests/bench/migrate.sh, the baseline a
migration is compared with. The receiver always writes into a freshly mmap'd
buffer (what a restore writes into) and prints the seconds from its first byte
to its last; it exits non-zero unless every byte arrived.

  blast.py sink ADDR PORT BYTES      raw TCP: listen on ADDR:PORT, receive BYTES
  blast.py source ADDR PORT BYTES    raw TCP: connect (retrying 10 s), send BYTES
  blast.py xrecv XFER ADDR PORT BYTES   ssi-xfer recv on ADDR:PORT, its stdout
                                        drained into the buffer
  blast.py xsend XFER ADDR PORT BYTES   BYTES into ssi-xfer send --to ADDR:PORT

Start the receiver first and wait until it listens (ssi-xfer send connects
once). The xfer modes read the 32-byte channel key as hex from $BLAST_KEY. The data
is one 1 MiB pattern, sent again and again from memory in use."""
import mmap
import os
import socket
import subprocess
import sys
import time

CHUNK = 1 << 20


def fresh(n):
    return memoryview(mmap.mmap(-1, n))


def drain(read_into, n):
    """Receives n bytes with read_into(view) -> count; seconds first->last."""
    buf, off, t0 = fresh(n), 0, None
    while off < n:
        k = read_into(buf[off:off + min(CHUNK * 4, n - off)])
        if k <= 0:
            sys.exit("blast: the stream ended after %d of %d bytes" % (off, n))
        if t0 is None:
            t0 = time.monotonic()
        off += k
    return time.monotonic() - t0


def pattern():
    return bytes(range(256)) * (CHUNK // 256)


def key_fd():
    r, w = os.pipe()
    os.write(w, bytes.fromhex(os.environ["BLAST_KEY"]))
    os.close(w)
    return r


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode in ("xrecv", "xsend"):
        xfer, args = args[0], args[1:]
    addr, port, n = args[0], int(args[1]), int(args[2])
    if mode == "sink":
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((addr, port))
        ls.listen(1)
        c, _ = ls.accept()
        print("%.6f" % drain(c.recv_into, n))
        c.sendall(b"k")
    elif mode == "source":
        deadline = time.monotonic() + 10
        while True:
            try:
                s = socket.create_connection((addr, port))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        p, left = pattern(), n
        while left:
            k = min(left, CHUNK)
            s.sendall(p[:k])
            left -= k
        s.shutdown(socket.SHUT_WR)
        s.recv(1)
    elif mode == "xrecv":
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((addr, port))
        ls.listen(1)
        kf = key_fd()
        x = subprocess.Popen([xfer, "recv", "--listen-fd", str(ls.fileno()), "--key-fd", str(kf)],
                             stdout=subprocess.PIPE, pass_fds=(ls.fileno(), kf))
        ls.close()
        os.close(kf)
        fd = x.stdout.fileno()
        dt = drain(lambda v: os.readv(fd, [v]), n)
        if x.wait() != 0:
            sys.exit("blast: ssi-xfer recv failed")
        print("%.6f" % dt)
    elif mode == "xsend":
        kf = key_fd()
        x = subprocess.Popen([xfer, "send", "--to", "%s:%d" % (addr, port), "--key-fd", str(kf)],
                             stdin=subprocess.PIPE, pass_fds=(kf,))
        os.close(kf)
        p, left, fd = pattern(), n, x.stdin.fileno()
        while left:
            left -= os.write(fd, p[:min(left, CHUNK)])
        x.stdin.close()
        if x.wait() != 0:
            sys.exit("blast: ssi-xfer send failed")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
