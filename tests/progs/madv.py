# madv.py: private anonymous regions, each with one madvise advice, one
# mapped MAP_LOCKED, one MAP_NORESERVE, and a MAP_DROPPABLE one (zdtm's
# maps02). Prints "ready"; on SIGUSR1 prints, per region, its
# name and whether /proc/self/smaps still shows the advice ("dontfork
# ok", or "dontfork lost: VMFLAGS"), then whether a forked child sees the
# WIPEONFORK region zeroed ("wipe ok"), then "done". Exits 0.
import ctypes, mmap, os, signal

PAGE = mmap.PAGESIZE
ADV = [("dontfork", mmap.MADV_DONTFORK, "dc"), ("wipeonfork", 18, "wf"),
       ("dontdump", mmap.MADV_DONTDUMP, "dd"), ("hugepage", mmap.MADV_HUGEPAGE, "hg"),
       ("nohugepage", mmap.MADV_NOHUGEPAGE, "nh"), ("sequential", mmap.MADV_SEQUENTIAL, "sr"),
       ("random", mmap.MADV_RANDOM, "rr"), ("locked", None, "lo"), ("noreserve", None, "nr"),
       ("droppable", None, "dp")]
regions = []
for i, (name, adv, flag) in enumerate(ADV):
    # Sizes differ so that the kernel cannot merge neighbours.
    # MAP_LOCKED, MAP_NORESERVE; MAP_DROPPABLE (Linux 6.11) instead of MAP_PRIVATE.
    flags = mmap.MAP_ANONYMOUS | (0x08 if name == "droppable" else mmap.MAP_PRIVATE)
    flags |= {"locked": 0x2000, "noreserve": 0x4000}.get(name, 0)
    try:
        m = mmap.mmap(-1, (i + 2) * PAGE, flags=flags)
    except OSError:  # MAP_DROPPABLE before Linux 6.11
        print(name, "unsupported", flush=True)
        continue
    if adv is not None:
        m.madvise(adv)
    m[:4] = b"data"
    regions.append((name, flag, ctypes.addressof(ctypes.c_char.from_buffer(m)), m))


def vmflags():
    flags, cur = {}, None
    with open("/proc/self/smaps") as f:
        for line in f:
            if line[0] in "0123456789abcdef" and "-" in line.split()[0]:
                cur = int(line.split("-")[0], 16)
            elif line.startswith("VmFlags:"):
                flags[cur] = line.split()[1:]
    return flags


go = []
signal.signal(signal.SIGUSR1, lambda s, f: go.append(1))
print("ready", flush=True)
while not go:
    signal.pause()
fl = vmflags()
for name, flag, addr, m in regions:
    have = fl.get(addr, [])
    print(name, "ok" if flag in have else "lost: " + " ".join(have), flush=True)
wipe = [r for r in regions if r[0] == "wipeonfork"][0][3]
pid = os.fork()
if pid == 0:
    os._exit(0 if wipe[:4] == b"\0\0\0\0" else 1)
_, st = os.waitpid(pid, 0)
print("wipe", "ok" if os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0 else "kept", flush=True)
print("done", flush=True)
