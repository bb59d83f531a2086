#!/bin/bash
# Read-ahead of small sequential reads away (vfs-proxy): a python3 program on
# n2 reads its stdin, a home file (n2 has a decoy of that name), in 4 KiB
# os.read calls, in phases the test starts one by one:
#   1: 256 reads (1 MiB). The deputy's read system calls (/proc/PID/io
#      syscr at n1) must grow by far less than 256: the reads were answered
#      from a read-ahead, not forwarded one by one.
#   2: lseek(0, 0, SEEK_CUR) must say 1 MiB: the program's offset, not the
#      read-ahead's.
#   3: 2 reads, then the program writes 4 KiB of X through another fd into
#      the block after the next one, then reads 2 more: the last is the X's
#      (its own write drops what was read ahead).
#   4: 30 more reads, then it exits; the shell at home that started it runs
#      cat on the same stdin, which must go on exactly where the program
#      stopped (home's shared offset was put back at exit).
# Every byte the program read is compared with the home file. Last, a FIFO
# at home opened away is never read ahead (its bytes would be lost).
. "$(dirname "$0")/lib.sh"
lab_require_root
[ -x /usr/bin/python3 ] || skip "Debian's python3 is not installed (pyenv's lives under /root)"
lab_up 2
mkdir -p "$LAB_FILES"
lab_exec n1 sh -c 'mkdir -p /tmp/ra && head -c 3145728 /dev/urandom > /tmp/ra/data'
lab_exec n2 sh -c 'mkdir -p /tmp/ra && head -c 3145728 /dev/zero > /tmp/ra/data'
cat >"$LAB_FILES/ra.py" <<'PY'
import hashlib, os, sys, time
# ra.py DIR: reads stdin in 4 KiB pieces, phase N when DIR/goN exists;
# writes DIR/doneN (the offset after phase 2), and the sha256 of all it read
# to stdout at the end.
d = sys.argv[1]
h = hashlib.sha256()
def phase(n):
    while not os.path.exists("%s/go%d" % (d, n)):
        time.sleep(0.05)
def done(n, text=""):
    with open("%s/done%d" % (d, n), "w") as f:
        f.write(text)
def reads(k):
    for _ in range(k):
        b = os.read(0, 4096)
        if len(b) != 4096:
            sys.exit(4)
        h.update(b)
    return b
phase(1); reads(256); done(1)
phase(2); done(2, str(os.lseek(0, 0, os.SEEK_CUR)))
phase(3)
reads(2)
at = os.lseek(0, 0, os.SEEK_CUR)
fd = os.open(d + "/data", os.O_WRONLY)
os.pwrite(fd, b"X" * 4096, at + 4096)
os.close(fd)
last = reads(2)
done(3, "x" if last == b"X" * 4096 else "stale")
phase(4); reads(30)
# Only local calls from here (stdout is a pipe at home): exit_group itself
# must give home its offset back.
sys.stdout.write(h.hexdigest() + "\n")
sys.stdout.flush()
os._exit(0)
PY
# The program, then cat on the same stdin: one shell at home.
lab_exec n1 sh -c "{ { ssirun --node n2 /usr/bin/python3 $LAB_FILES/ra.py /tmp/ra; echo \$? > /tmp/ra/rc; } | cat > /tmp/ra/read.sha256; cat > /tmp/ra/rest; } < /tmp/ra/data 2> /tmp/ra/log &"
onn2() { lab_exec n2 ssictl ps --json 2>/dev/null | grep -q 'ra.py'; }
if wait_until 10 onn2; then ok "ra.py runs on n2"; else fail "ra.py never ran on n2"; finish; fi
pid=$(lab_pid_of ra.py)
[ -n "$pid" ] || { fail "no home pid for ra.py on n1"; finish; }
syscr() { lab_exec n1 awk '$1 == "syscr:" { print $2 }' "/proc/$pid/io"; }
step() { # N: starts phase N and waits for it
	lab_exec n1 touch "/tmp/ra/go$1"
	wait_until 30 lab_exec n1 test -e "/tmp/ra/done$1" || { fail "phase $1 never ended: $(lab_exec n1 cat /tmp/ra/log)"; finish; }
}
before=$(syscr)
step 1
after=$(syscr)
check "256 reads of 4 KiB away: the deputy made $((after - before)) read calls (< 64: read ahead)" \
	[ $((after - before)) -lt 64 ]
step 2
check "lseek(SEEK_CUR) says the program's offset: $(lab_exec n1 cat /tmp/ra/done2) (1048576)" \
	[ "$(lab_exec n1 cat /tmp/ra/done2)" = 1048576 ]
step 3
check "its own write through another fd is seen by its next reads: $(lab_exec n1 cat /tmp/ra/done3)" \
	[ "$(lab_exec n1 cat /tmp/ra/done3)" = x ]
lab_exec n1 touch /tmp/ra/go4
if wait_until 30 lab_exec n1 test -s /tmp/ra/rc; then
	check "the program exited with status 0 ($(lab_exec n1 cat /tmp/ra/rc))" [ "$(lab_exec n1 cat /tmp/ra/rc)" = 0 ]
else
	fail "the program did not end: $(lab_exec n1 cat /tmp/ra/log)"
fi
n=$(((256 + 4 + 30) * 4096))
want=$(lab_exec n1 sh -c "head -c $n /tmp/ra/data | sha256sum | cut -d' ' -f1")
wait_until 10 lab_exec n1 test -s /tmp/ra/read.sha256
check "every byte it read is home's file's" [ "$(lab_exec n1 cat /tmp/ra/read.sha256)" = "$want" ]
want=$(lab_exec n1 sh -c "tail -c +$((n + 1)) /tmp/ra/data | sha256sum | cut -d' ' -f1")
got=$(lab_exec n1 sh -c "sha256sum < /tmp/ra/rest | cut -d' ' -f1")
check "cat at home goes on where the program stopped ($(lab_exec n1 stat -c %s /tmp/ra/rest) bytes)" \
	[ "$got" = "$want" ]

# A FIFO at home is never read ahead: a program on n2 opens it by path, takes
# 3 x 4 KiB and exits; a cat at home that opens it afterwards must get all
# the rest (a sleeping reader keeps the writer from EPIPE meanwhile).
lab_exec n1 sh -c 'mkfifo /tmp/ra/fifo; head -c 1048576 /tmp/ra/data > /tmp/ra/fifo.src'
lab_exec n1 sh -c "sleep 60 < /tmp/ra/fifo & s=\$!
	cat /tmp/ra/fifo.src > /tmp/ra/fifo &
	ssirun --node n2 /usr/bin/python3 -c '
import os
fd = os.open(\"/tmp/ra/fifo\", os.O_RDONLY)
for _ in range(3):
    os.read(fd, 4096)
os._exit(0)
' 2> /tmp/ra/fifo.log
	cat < /tmp/ra/fifo > /tmp/ra/fifo.rest & c=\$!
	sleep 0.2; kill \$s; wait \$c"
got=$(lab_exec n1 stat -c %s /tmp/ra/fifo.rest 2>/dev/null)
want=$(lab_exec n1 sh -c "tail -c +12289 /tmp/ra/fifo.src | sha256sum")
check "a home FIFO is not read ahead: a reader after the program gets the other $got bytes (1036288)" \
	[ "$(lab_exec n1 sh -c 'sha256sum < /tmp/ra/fifo.rest')" = "$want" ]
finish
