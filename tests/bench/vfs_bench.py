# vfs_bench.py: file-call costs as the process sees them, at home or away.
# Waits for a line on stdin (the test moves it first), then prints one
# "name value unit" line per figure.
import os, sys, time

d = sys.argv[1]
N = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
MB = 64
sys.stdin.readline()

def per_call(f, n):
    t = time.perf_counter()
    for _ in range(n):
        f()
    return (time.perf_counter() - t) / n * 1e6

path = os.path.join(d, "data")
fd = os.open(path, os.O_RDONLY)
print("stat_us %.1f" % per_call(lambda: os.stat(path), N), flush=True)
print("pread4k_us %.1f" % per_call(lambda: os.pread(fd, 4096, 8192), N), flush=True)
# A trapped call on a local descriptor (re-issued in the handler): a pipe.
r, w = os.pipe()
def pipe_rt():
    os.write(w, b"x")
    os.read(r, 1)
print("local_pipe_write_read_us %.2f" % per_call(pipe_rt, N * 5), flush=True)
print("getpid_us %.2f" % per_call(os.getpid, N * 5), flush=True)

def seq_read(size):
    """MB/s of reading the whole file from its start in calls of size bytes."""
    os.lseek(fd, 0, os.SEEK_SET)
    t = time.perf_counter()
    n = 0
    while True:
        b = os.read(fd, size)
        if not b:
            break
        n += len(b)
    return n / (time.perf_counter() - t) / 1e6

chunk = 1 << 20
print("seq_read_MBps %.0f" % seq_read(chunk), flush=True)
# Small sequential reads (stdio's and cat's sizes): read-ahead's case.
for small in (8192, 65536):
    print("seq_read_%dk_MBps %.0f" % (small // 1024, seq_read(small)), flush=True)
buf = b"y" * chunk
wfd = os.open(os.path.join(d, "out"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
t = time.perf_counter()
for _ in range(MB):
    os.write(wfd, buf)
os.fsync(wfd)
print("seq_write_MBps %.0f" % (MB * chunk / (time.perf_counter() - t) / 1e6), flush=True)
