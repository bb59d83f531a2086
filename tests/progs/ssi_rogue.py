#!/usr/bin/env python3
"""ssi_rogue.py: a misbehaving local client of ssid, for the security tests
(tests/integ/sec_*.sh). Speaks ssi_msg frames (wire/ssi_msg.h) on ssid's
local socket ($SSI_SOCKET, default /run/ssi/ssid.sock).

  ssi_rogue.py stale PIDFILE   registers, then leaves the connection to a
                               child and exits: a stale record of a dead pid
                               (prints the dead pid in PIDFILE; the child
                               holds the socket for 300 s)
  ssi_rogue.py forge PIDFILE   connects, exits, and its child sends REGISTER
                               on the inherited connection; prints the answer
  ssi_rogue.py flood N OUT     opens N idle connections; writes to OUT how
                               many ssid accepted and kept, then holds them
                               for 300 s
  ssi_rogue.py spam N          sends N NODES requests on one connection as
                               fast as it can; prints how many were answered
                               and how many refused as too many
"""
import os, socket, struct, sys, time

SOCK = os.environ.get("SSI_SOCKET", "/run/ssi/ssid.sock")
REGISTER, ERROR, OK = 5, 1, 2
TAG_PID, TAG_PPID, TAG_CMD, TAG_ERRNO, TAG_TEXT = 12, 13, 14, 1, 2


def field(tag, val):
    return struct.pack(">BH", tag, len(val)) + val


def frame(mtype, body):
    return b"SI" + bytes([1, mtype]) + struct.pack(">I", len(body)) + body


def register(pid):
    body = (field(TAG_PID, struct.pack(">Q", pid)) + field(TAG_PPID, struct.pack(">Q", 1)) +
            field(TAG_CMD, b"rogue"))
    return frame(REGISTER, body)


def answer(s):
    s.settimeout(5)
    hdr = b""
    while len(hdr) < 8:
        b = s.recv(8 - len(hdr))
        if not b:
            return "closed"
        hdr += b
    n = struct.unpack(">I", hdr[4:8])[0]
    body = b""
    while len(body) < n:
        body += s.recv(n - len(body))
    if hdr[3] != ERROR:
        return "OK"
    text = b""
    i = 0
    while i + 3 <= len(body):
        tag, ln = struct.unpack(">BH", body[i:i + 3])
        if tag == TAG_TEXT:
            text = body[i + 3:i + 3 + ln]
        i += 3 + ln
    return "ERROR " + text.decode(errors="replace")


def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(SOCK)
    return s


def main():
    mode = sys.argv[1]
    if mode == "stale":
        s = connect()
        s.sendall(register(os.getpid()))
        print("register:", answer(s), flush=True)
        with open(sys.argv[2], "w") as f:
            f.write(str(os.getpid()))
        if os.fork() == 0:
            os.setsid()
            null = os.open("/dev/null", os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            time.sleep(300)
            os._exit(0)
        os._exit(0)
    elif mode == "forge":
        s = connect()
        r, w = os.pipe()
        if os.fork() == 0:
            os.read(r, 1)  # the parent is gone
            time.sleep(0.2)
            s.sendall(register(0))
            print("register:", answer(s), flush=True)
            time.sleep(2)
            os._exit(0)
        with open(sys.argv[2], "w") as f:
            f.write(str(os.getpid()))
        os.write(w, b"x")
        os._exit(0)
    elif mode == "flood":
        want, out = int(sys.argv[2]), sys.argv[3]
        socks = []
        for i in range(want):
            try:
                socks.append(connect())
            except OSError as e:
                print("connect", i, "failed:", e, flush=True)
                break
        time.sleep(1)
        # Which ones ssid kept: a closed connection reads EOF at once.
        kept = 0
        for s in socks:
            s.setblocking(False)
            try:
                b = s.recv(1)
                kept += 0 if b == b"" else 1
            except BlockingIOError:
                kept += 1
            except OSError:
                pass
        with open(out, "w") as f:
            f.write("%d %d\n" % (len(socks), kept))
        time.sleep(300)
    elif mode == "spam":
        n = int(sys.argv[2])
        s = connect()
        s.sendall(frame(6, b"") * n)
        answered = refused = 0
        for i in range(n):
            a = answer(s)
            if a == "closed":
                break
            if a.startswith("ERROR") and "too many requests" in a:
                refused += 1
            else:
                answered += 1
        print("answered %d refused %d" % (answered, refused), flush=True)
    else:
        sys.exit("usage: see the top of this file")


main()
