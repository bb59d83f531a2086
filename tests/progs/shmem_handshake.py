# shmem_handshake.py MODE ITERS: a MAP_SHARED|MAP_ANONYMOUS mapping (64
# pages) set up in a handshake with a child, as CRIU's zdtm start-up does.
# The child writes pages 0 and 63 and exits ("alone"), or stays alive
# mapping it ("shared"). The parent then only counts in page 32, every
# 100 ms, and reads pages 0 and 63 at the end: pages that are not in its
# own page tables at a move (the kernel's fault-around maps at most the
# 16 pages around a fault) must still hold the child's bytes after it.
# "ghost": the same bytes in a private mapping of a file deleted since.
import mmap, os, sys, time

mode, iters = sys.argv[1], int(sys.argv[2])
C = 32 * 4096  # the count
P = 63 * 4096  # the child's second page
if mode == "ghost":
    # No child: a private mapping of a file that is then deleted, with the
    # same bytes where the child would write them.
    name = "/tmp/ghost-%d" % os.getpid()
    with open(name, "wb") as f:
        f.write(b"from child" + b"\0" * (P - 10) + b"page two" + b"\0" * (4096 - 8))
    f = open(name, "r+b")
    m = mmap.mmap(f.fileno(), 64 * 4096, flags=mmap.MAP_PRIVATE)
    f.close()
    os.unlink(name)
    pid = 1
else:
    m = mmap.mmap(-1, 64 * 4096)
    pid = os.fork()
if pid == 0:
    m[0:10] = b"from child"
    m[P:P + 8] = b"page two"
    if mode == "shared":
        time.sleep(600)
    os._exit(0)
if mode == "alone":
    os.waitpid(pid, 0)
elif mode == "shared":
    time.sleep(0.5)
for i in range(iters):
    n = int.from_bytes(m[C:C + 8], "little") + 1
    m[C:C + 8] = n.to_bytes(8, "little")
    print("tick", i, n, flush=True)
    time.sleep(0.1)
print("done", bytes(m[0:10]).decode(), bytes(m[P:P + 8]).decode(),
      int.from_bytes(m[C:C + 8], "little"), flush=True)
