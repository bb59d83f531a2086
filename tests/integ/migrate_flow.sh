#!/bin/bash
# Flow control through the tunnels while a program moves: a slow reader at
# home (the body must block in write, the deputy and agent buffer at most a
# window), and a slow body (the deputy must stop reading home stdin, the
# producer at home blocks). Both streams are 24 MiB, far more than every
# buffer on the path; the output must equal an unmoved run byte for byte.
. "$(dirname "$0")/lib.sh"
lab_require_root
for p in tr python3 sha256sum; do
	command -v "$p" >/dev/null || skip "$p is not installed"
done
lab_up 2
mkdir -p "$LAB_FILES"
py=$(python3 -c 'import sys; print(sys.executable)')

# Deterministic input, made at home only (its /tmp is private).
lab_exec n1 "$py" -c '
import random, sys
r = random.Random(7)
with open("/tmp/in", "wb") as f:
    for _ in range(24 * 16):
        f.write(bytes(r.choice(b"abcdefghijklmnopqrstuvwxyz\n") for _ in range(65536)))'

# slow.py MS: copies stdin to stdout in 64 KiB steps, sleeping MS ms after
# each (a slow consumer at home, or a slow body).
cat >"$LAB_FILES/slow.py" <<'PY'
import os, sys, time
ms = float(sys.argv[1]) / 1000
while True:
    b = os.read(0, 65536)
    if not b:
        break
    while b:
        b = b[os.write(1, b):]
    time.sleep(ms)
PY
slow="$py $LAB_FILES/slow.py"


# flow NAME BODYCMD SINKCMD: input | ssirun BODYCMD | SINKCMD, moved once output flows
# (not after a fixed second: under load the stream could end first).
flow() {
	local name=$1 body=$2 sink=$3
	lab_exec n1 sh -c "$body < /tmp/in | $sink > /tmp/$name.ref"
	lab_exec n1 sh -c "{ ssirun $body < /tmp/in 2>&1; echo \$? > /tmp/$name.rc; } | $sink > /tmp/$name.out &"
	wait_until 10 sh -c "[ -n \"\$(ssilab exec n1 -- ssictl ps --json | grep -F '$body')\" ]"
	local pid out
	pid=$(lab_pid_of "$body")
	wait_until 10 lab_exec n1 test -s "/tmp/$name.out"
	out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1)
	if [ $? = 0 ]; then ok "$name: moved mid-stream: $out"; else fail "$name: moved mid-stream: $out"; fi
	if wait_until 60 lab_exec n1 test -s "/tmp/$name.rc" && [ "$(lab_exec n1 cat "/tmp/$name.rc")" = 0 ] &&
		lab_exec n1 cmp -s "/tmp/$name.ref" "/tmp/$name.out"; then
		ok "$name: 24 MiB identical to an unmoved run"
	else
		fail "$name: status '$(lab_exec n1 cat "/tmp/$name.rc")': $(lab_exec n1 sh -c "cmp /tmp/$name.ref /tmp/$name.out 2>&1; wc -c /tmp/$name.ref /tmp/$name.out")"
	fi
}

# tr writes as fast as it reads; the reader at home takes ~5 s.
flow slow-reader "tr a-m n-z" "$slow 12"
# The body reads 64 KiB every 12 ms; cat at home pushes as fast as it can.
flow slow-body "$slow 12" "cat"

finish
