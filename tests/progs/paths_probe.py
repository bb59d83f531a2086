# paths_probe.py MODE ITERS: what a process sees through O_PATH
# descriptors ("opath": fd a on a home file, fd b on a home directory) or
# from a deleted cwd ("cwd"), printed every 100 ms as one line that a
# move must not change.
import os, sys, time

mode, iters, d = sys.argv[1], int(sys.argv[2]), sys.argv[3]


def probe():
    if mode == "opath":
        st = os.fstat(a)
        inner = os.stat("f", dir_fd=b)
        return "size=%d link=%s inner=%d" % (st.st_size, os.readlink("/proc/self/fd/%d" % a), inner.st_size)
    out = []
    try:
        out.append("getcwd=" + os.getcwd())
    except FileNotFoundError:
        out.append("getcwd=ENOENT")
    try:
        open("new", "w").close()
        out.append("create=ok")
    except FileNotFoundError:
        out.append("create=ENOENT")
    return " ".join(out)


if mode == "opath":
    a = os.open(os.path.join(d, "f"), os.O_PATH)
    b = os.open(d, os.O_PATH | os.O_DIRECTORY)
else:
    os.mkdir(os.path.join(d, "gone"))
    os.chdir(os.path.join(d, "gone"))
    os.rmdir(os.path.join(d, "gone"))
for i in range(iters):
    print("tick", i, probe(), flush=True)
    time.sleep(0.1)
print("done", flush=True)
