# closed_peer.py: a Unix stream socketpair whose peer wrote one byte and was
# closed before the move (zdtm's sockets02). Prints "ready"; on SIGUSR1
# reads the byte ("got x") and then the end of the stream ("then eof"),
# and exits 0. Away, the deputy has taken the byte and the end from home
# into the body's socket: the process must not come home without them.
# --live-peer: a child ("sleep") holds the peer open until SIGUSR1 (it is
# killed first, so that the end of the stream comes).
import os, signal, socket, subprocess, sys

a, b = socket.socketpair()
b.send(b"x")
kid = None
if "--live-peer" in sys.argv:
    kid = subprocess.Popen(["sleep", "1000"], pass_fds=[b.fileno()])
b.close()
go = []
signal.signal(signal.SIGUSR1, lambda s, f: go.append(1))
print("ready", flush=True)
while not go:
    signal.pause()
if kid:
    kid.kill()
    kid.wait()
print("got", a.recv(1).decode() or "nothing", flush=True)
print("then", "eof" if a.recv(1) == b"" else "more", flush=True)
