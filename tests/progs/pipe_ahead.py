# pipe_ahead.py: home pipes with input in them when the process moves
# (zdtm's pipe03, fifo, fifo_ro). p1: an anonymous pipe of 1 MiB, full
# (more than the deputy may read ahead: some stays in the home pipe); a
# FIFO opened read-write with 64 KiB in it; p2: 1000 bytes and its write
# end closed. Away, the deputy reads them ahead into the body. Prints
# "ready"; on SIGUSR1 reads everything and prints one line per pipe ("p1
# ok", "fifo ok", "p2 ok eof", each followed by what went wrong
# otherwise, and p1's pipe size), then "done". p1 has two more read ends,
# a dup and a reopen, that are never read (all is read from the first).
# --shared: no more read ends, but a child ("sleep") holds p1's read end
# too. Exits 0.
import fcntl, os, signal, subprocess, sys

F_SETPIPE_SZ, F_GETPIPE_SZ = 1031, 1032
P1 = 1 << 20


def pattern(seed, n):
    return bytes((seed * 7 + i * 13 + i // 251) & 0xFF for i in range(n))


def read_exact(fd, n):
    b = bytearray()
    while len(b) < n:
        k = os.read(fd, n - len(b))
        if not k:
            break
        b += k
    return bytes(b)


def nothing_more(fd):
    fl = fcntl.fcntl(fd, fcntl.F_GETFL)
    fcntl.fcntl(fd, fcntl.F_SETFL, fl | os.O_NONBLOCK)
    try:
        more = os.read(fd, 1)
        return "eof" if more == b"" else "more bytes"
    except BlockingIOError:
        return "nothing more"
    finally:
        fcntl.fcntl(fd, fcntl.F_SETFL, fl)


r1, w1 = os.pipe()
fcntl.fcntl(w1, F_SETPIPE_SZ, P1)
if "--shared" not in sys.argv:
    # Two more read ends of p1, never read: a dup and a reopen (zdtm's
    # pipe01). Away, each is a tunnel the deputy reads ahead into.
    r1d = os.dup(r1)
    r1o = os.open("/proc/self/fd/%d" % r1, os.O_RDONLY)
d1 = pattern(1, P1)
os.set_blocking(w1, False)
off = 0
while off < P1:
    off += os.write(w1, d1[off:off + 65536])
os.set_blocking(w1, True)

fifo = "/tmp/pipe_ahead.%d.fifo" % os.getpid()
os.mkfifo(fifo)
ff = os.open(fifo, os.O_RDWR)
d3 = pattern(3, 65536)
os.write(ff, d3)

r2, w2 = os.pipe()
d2 = pattern(2, 1000)
os.write(w2, d2)
os.close(w2)

kid = None
if "--shared" in sys.argv:
    kid = subprocess.Popen(["sleep", "1000"], pass_fds=[r1])

go = []
signal.signal(signal.SIGUSR1, lambda s, f: go.append(1))
print("ready", flush=True)
while not go:
    signal.pause()

got = read_exact(r1, P1)
try:
    size = fcntl.fcntl(w1, F_GETPIPE_SZ)
except OSError as e:  # away, a pipe is a tunnel: no pipe size
    size = e.strerror
print("p1", "ok" if got == d1 else "differs (%d bytes)" % len(got), nothing_more(r1), "size", size,
      flush=True)
got = read_exact(ff, len(d3))
print("fifo", "ok" if got == d3 else "differs (%d bytes)" % len(got), nothing_more(ff), flush=True)
got = read_exact(r2, len(d2))
print("p2", "ok" if got == d2 else "differs (%d bytes)" % len(got), nothing_more(r2), flush=True)
os.unlink(fifo)
if kid:
    kid.kill()
    kid.wait()
print("done", flush=True)
