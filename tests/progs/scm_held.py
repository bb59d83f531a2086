#!/usr/bin/env python3
# scm_held.py - a datagram carrying a descriptor (SCM_RIGHTS), queued in a
# Unix socket the process holds when it moves (#17, zdtm's scm00-02).
#
# A socketpair(AF_UNIX, SOCK_DGRAM) (a, b) and a pipe: sends "plain" on a,
# then "fd" on a with the pipe's read end attached, closes its own copy of
# the read end and writes "through the pipe" into the write end. Prints
# "ready", then on each SIGUSR2 a check (its line: "check K ok" or
# "check K FAIL: why"):
#   check 0 (at home): nothing;
#   check 1 (away, in the test): b reads "plain" (the datagram ahead of
#     the one with the descriptor comes as usual);
#   check 2 (at home again): b receives "fd" with one descriptor, and
#     reading it gives "through the pipe": the descriptor was not lost.
import os, signal, socket, sys, time

asked = 0


def on_usr2(sig, frame):
    global asked
    asked += 1


a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
r, w = os.pipe()
a.send(b"plain")
socket.send_fds(a, [b"fd"], [r])
os.close(r)
os.write(w, b"through the pipe")
signal.signal(signal.SIGUSR2, on_usr2)
print("ready", flush=True)


def check(k):
    if k == 1:
        b.settimeout(10)
        m = b.recv(100)
        if m != b"plain":
            return "the first datagram is %r, not b'plain'" % m
    if k == 2:
        b.settimeout(10)
        msg, fds, flags, addr = socket.recv_fds(b, 100, 4)
        if msg != b"fd" or len(fds) != 1:
            return "got %r with %d descriptors, not b'fd' with 1" % (msg, len(fds))
        got = os.read(fds[0], 100)
        if got != b"through the pipe":
            return "the descriptor reads %r" % got
    return None


for k in range(3):
    while asked <= k:
        time.sleep(0.02)
    why = check(k)
    print("check %d %s" % (k, "ok" if why is None else "FAIL: " + why), flush=True)
