#!/bin/sh
# A job that turns I/O-heavy on home files comes home by itself (issue #13). A python job on
# n1 spins on the CPU (no system calls) for 6 s and is moved to n2 by hand; then it reads a
# file that exists only in n1's /tmp, one small pread at a time: away, each one is a call
# forwarded home, which its deputy serves. n1's balancer sees the calls (the deputy's
# wake-ups) above io_limit and brings the job home, with no one asking, and logs why; the
# job's result (a checksum of what it read) is right. While it only computes, away, it stays.
. "$(dirname "$0")/lib.sh"
lab_require_root
command -v python3 >/dev/null 2>&1 || skip "python3 is not installed"
py=python3
[ -x /usr/bin/python3 ] && py=/usr/bin/python3

LAB_BALANCE=on lab_up 2
mkdir -p "$LAB_FILES"
cat >"$LAB_FILES/turn_io.py" <<'PY'
import os, sys, time, zlib
# CPU only: time.monotonic is the vDSO, no system call.
end = time.monotonic() + float(sys.argv[2])
x = 0
while time.monotonic() < end:
    x = (x * 1103515245 + 12345) & 0xffffffff
print("io phase", flush=True)
fd = os.open(sys.argv[1], os.O_RDONLY)
size = os.fstat(fd).st_size
crc, n = 0, 0
end = time.monotonic() + float(sys.argv[3])
while time.monotonic() < end:
    for off in range(0, size, 64):
        crc = zlib.crc32(os.pread(fd, 64, off), crc)
        n += 1
print("done passes=%d crc=%d" % (n * 64 // size, crc), flush=True)
PY
lab_exec n1 sh -c "head -c 4096 /dev/urandom >/tmp/home-only.dat"
ref_crc=$(lab_exec n1 $py -c "
import zlib; d = open('/tmp/home-only.dat', 'rb').read(); print(zlib.crc32(d))")

lab_exec n1 sh -c "ssirun $py $LAB_FILES/turn_io.py /tmp/home-only.dat 6 12 >/tmp/job.out 2>&1 &"
where() { lab_exec n1 ssictl ps | awk '/turn_io.py/ && $1 == "n1" { print $3 }'; }
is_on() { [ "$(where)" = "$1" ]; }
wait_until 10 is_on n1 || fail "the job did not show in ssictl ps"
pid=$(lab_exec n1 ssictl ps | awk '/turn_io.py/ && $1 == "n1" { print $2 }')
check "the job moves to n2 by hand" lab_exec n1 ssictl migrate "$pid" n2
sleep 4 # past the minimum residence (3 s), still computing
if lab_exec n1 grep -q "io phase" /tmp/job.out; then
    note "the machine is slow: the job reached its I/O phase within 4 s"
else
    check "computing away, it stays on n2 past the residence" is_on n2
fi
check "it turns to I/O" wait_until 30 lab_exec n1 grep -q "io phase" /tmp/job.out
check "it comes home to n1 by itself" wait_until 15 is_on n1
check "n1's balancer says why: its forwarded calls" \
    grep -q "balance: bringing home: process $pid on n2 makes [0-9]* forwarded calls/s (io_limit 200)" \
    "$SSILAB_DIR/n1/ssid.log"
check "the job ends" wait_until 30 lab_exec n1 grep -q "^done" /tmp/job.out
out=$(lab_exec n1 grep "^done" /tmp/job.out)
crc=${out##*crc=}
passes=$(echo "$out" | sed -n 's/.*passes=\([0-9]*\).*/\1/p')
# The crc of P passes over the file: each pass continues the running crc.
want=$(lab_exec n1 $py -c "
import zlib; d = open('/tmp/home-only.dat', 'rb').read(); c = 0
for _ in range($passes): c = zlib.crc32(d, c)
print(c)")
note "$out (one pass alone: $ref_crc)"
check "what it read is home's file ($passes passes, crc $crc)" [ "$crc" = "$want" ]

finish
