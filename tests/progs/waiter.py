# waiter.py: a parent waits for children it forked before it moved (#17).
# Forks two children that sleep until SIGTERM, then exit 7 (the first) or
# 5 (the second); counts its SIGCHLDs; prints "ready A B". On SIGUSR1
# (sent once it runs away) it prints "waiting", waits for A with a
# blocking waitpid ("A 7"), then for any child with a blocking waitid
# ("B 5"), then asks once more with WNOHANG, which must find no child
# ("none left"), then prints its SIGCHLD count and "done", and exits 0 on
# the next SIGUSR1. The test sends each child's SIGTERM while the parent
# is blocked in its wait.
import os, signal, sys, time

chld = 0
usr1 = 0


def on_chld(sig, frame):
    global chld
    chld += 1


def on_usr1(sig, frame):
    global usr1
    usr1 += 1


def child(code):
    signal.signal(signal.SIGTERM, lambda s, f: os._exit(code))
    while True:
        time.sleep(600)


a = os.fork()
if a == 0:
    child(7)
b = os.fork()
if b == 0:
    child(5)
signal.signal(signal.SIGCHLD, on_chld)
signal.signal(signal.SIGUSR1, on_usr1)
print("ready", a, b, flush=True)
while usr1 < 1:
    signal.pause()
print("waiting", flush=True)
pid, st = os.waitpid(a, 0)
print("A" if pid == a else "pid %d" % pid, os.WEXITSTATUS(st) if os.WIFEXITED(st) else st, flush=True)
r = os.waitid(os.P_ALL, 0, os.WEXITED)
print("B" if r.si_pid == b else "pid %d" % r.si_pid, r.si_status, flush=True)
try:
    print("left", os.waitpid(-1, os.WNOHANG), flush=True)
except ChildProcessError:
    print("none left", flush=True)
print("sigchld", chld, flush=True)
print("done", flush=True)
while usr1 < 2:
    signal.pause()
sys.exit(0)
