# vfs_probe.py: file calls before and after a move, driven by stdin lines
# from the test (so that "after" is known to run away). Prints one result
# line per check; a moved run must print exactly what an unmoved run does.
import fcntl, hashlib, mmap, os, sys

def say(*a):
    print(*a, flush=True)

def attempt(f):
    try:
        return f()
    except OSError as e:
        return "errno %s" % __import__("errno").errorcode.get(e.errno, e.errno)

# Before: files opened at home, partly read; one appended to.
pre = open("/tmp/vfs/pre.bin", "rb")
say("pre head", hashlib.sha256(pre.read(1000)).hexdigest())
app = open("/tmp/vfs/app.log", "a")
app.write("before\n")
app.flush()
gone = open("/tmp/vfs/gone.txt", "rb")
say("gone head", gone.read(6))
rw = os.open("/tmp/vfs/rw.bin", os.O_RDWR | os.O_CREAT, 0o644)
os.lseek(rw, 100, os.SEEK_SET)
say("ready")

for line in sys.stdin:
    if line.strip() == "go":
        break

# After (away when the test moved us): the same descriptors go on.
say("pre rest", hashlib.sha256(pre.read()).hexdigest(), "at", pre.tell())
app.write("after\n")
app.flush()
say("app fstat", os.fstat(app.fileno()).st_size)
say("gone rest", gone.read(), "link count", os.fstat(gone.fileno()).st_nlink)
say("rw offset", os.lseek(rw, 0, os.SEEK_CUR))
os.write(rw, b"X" * 10)
say("rw pread", os.pread(rw, 12, 99))
# ENOENT at home although the body's node has that file.
say("only-away", attempt(lambda: open("/tmp/vfs/only-away.txt").read()))
say("only-home", attempt(lambda: open("/tmp/vfs/only-home.txt").read()))
# chdir + relative paths, getcwd, *at calls with a directory fd.
os.chdir("/tmp/vfs/sub")
say("cwd", os.getcwd())
say("rel", open("rel.txt").read().strip())
say("listdir", sorted(os.listdir(".")))
dfd = os.open("/tmp/vfs", os.O_RDONLY | os.O_DIRECTORY)
say("dirfd stat", os.stat("sub/rel.txt", dir_fd=dfd).st_size)
say("scandir", sorted(e.name for e in os.scandir("/tmp/vfs/tree/d2")))
# Create, write, fsync, rename, symlink, readlink, chmod, truncate, unlink, mkdir, rmdir.
with open("new.txt", "w") as f:
    f.write("new file\n")
    f.flush()
    os.fsync(f.fileno())
os.rename("new.txt", "renamed.txt")
os.symlink("renamed.txt", "link")
say("readlink", os.readlink("link"), open("link").read().strip())
os.chmod("renamed.txt", 0o600)
say("mode", oct(os.stat("renamed.txt").st_mode & 0o777))
os.truncate("renamed.txt", 3)
say("truncated", open("renamed.txt").read())
os.mkdir("d")
say("access", os.access("d", os.W_OK), os.path.isdir("d"))
os.rmdir("d")
os.unlink("link")
say("exists", os.path.exists("link"), os.path.exists("renamed.txt"))
# dup, dup2, fcntl flags and record locks on a home file.
fd = os.open("/tmp/vfs/pre.bin", os.O_RDONLY)
fd2 = os.dup(fd)
os.lseek(fd, 5, os.SEEK_SET)
say("dup shares offset", os.lseek(fd2, 0, os.SEEK_CUR))
os.dup2(fd, 42)
say("dup2", os.read(42, 3).hex(), "cloexec", bool(fcntl.fcntl(42, fcntl.F_GETFD) & fcntl.FD_CLOEXEC))
say("append flag", bool(fcntl.fcntl(app.fileno(), fcntl.F_GETFL) & os.O_APPEND))
fcntl.lockf(rw, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 0)
say("locked")
for line in sys.stdin:  # the test tries the lock at home meanwhile
    if line.strip() == "unlock":
        break
for x in (fd, fd2, 42):
    os.close(x)
# mmap(MAP_PRIVATE) of a home file.
with open("/tmp/vfs/pre.bin", "rb") as f:
    m = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ)
    say("mmap", hashlib.sha256(m[:]).hexdigest(), len(m))
    m.close()
# One read and one write larger than a call-link message (1 MiB, itself
# several channel records), at odd sizes and offsets.
import random
big = random.Random(4).randbytes(3 * 1048576 + 4099)
bf = os.open("/tmp/vfs/big.bin", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
say("big write", os.write(bf, big), os.lseek(bf, 0, os.SEEK_CUR))
back = os.pread(bf, len(big) + 10, 0)
say("big pread", len(back), back == big, hashlib.sha256(back).hexdigest())
os.lseek(bf, 5, os.SEEK_SET)
back = os.read(bf, 2 * 1048576 + 1)
say("big read", len(back), back == big[5:5 + 2 * 1048576 + 1], os.lseek(bf, 0, os.SEEK_CUR))
os.close(bf)
# Local: /dev/null, /dev/zero and the process's own /proc/self.
say("devnull", open("/dev/null", "rb").read(), len(open("/dev/zero", "rb").read(5)))
say("proc self", open("/proc/self/status").read().split("\n")[0])
say("imports", __import__("json").dumps({"a": 1}), str(__import__("decimal").Decimal(1) / 8))
say("done")
