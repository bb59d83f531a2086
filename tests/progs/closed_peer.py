# closed_peer.py: a Unix stream socketpair whose peer wrote one byte and was
# closed before the move (zdtm's sockets02). Prints "ready"; on SIGUSR1
# reads the byte ("got x") and then the end of the stream ("then eof"),
# and exits 0. Away, the deputy has taken the byte and the end from home
# into the body's socket: the process must not come home without them.
import os, signal, socket

a, b = socket.socketpair()
b.send(b"x")
b.close()
go = []
signal.signal(signal.SIGUSR1, lambda s, f: go.append(1))
print("ready", flush=True)
while not go:
    signal.pause()
print("got", a.recv(1).decode() or "nothing", flush=True)
print("then", "eof" if a.recv(1) == b"" else "more", flush=True)
