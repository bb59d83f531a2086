#!/bin/bash
# Files mapped at the freeze are home's bytes or the move is refused up front:
# python3 maps /tmp/data.bin (each lab host has a /tmp of its own) and prints
# the BLAKE2b of the mapped bytes every 100 ms. Moved to n2 where that file
# is missing, where it has other bytes with the same size and time (the
# restorer's own check, size and mtime, would let it through), and where it
# has the same bytes with another time: each move is refused before anything
# is frozen, the message names the file and says what to do, and the process
# keeps running at home reading home's bytes. With an exact copy on n2
# (cp -p) it moves, reads the same bytes there and comes home.
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_python
lab_up 2
mkdir -p "$LAB_FILES"

cat >"$LAB_FILES/mapper.py" <<'EOF'
import hashlib, mmap, os, sys, time
f = open(sys.argv[1], "rb")
m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
while not os.path.exists(sys.argv[2]):
    print(hashlib.blake2b(m[:]).hexdigest()[:16], flush=True)
    time.sleep(0.1)
print("done", flush=True)
EOF
head -c 65536 /dev/urandom > "$LAB_FILES/data.bin"
head -c 65536 /dev/urandom > "$LAB_FILES/other.bin"
lab_exec n1 cp -p "$LAB_FILES/data.bin" /tmp/data.bin
mtime=$(lab_exec n1 stat -c %.9Y /tmp/data.bin)

lab_exec n1 sh -c "{ ssirun $PY $LAB_FILES/mapper.py /tmp/data.bin /tmp/stop > /tmp/m.out 2>&1; echo \$? > /tmp/m.rc; } &"
wait_until 10 lab_exec n1 test -s /tmp/m.out || { fail "mapper.py did not start"; finish; }
pid=$(lab_exec n1 pgrep -f "^$PY $LAB_FILES/mapper.py")
want=$(lab_exec n1 head -n 1 /tmp/m.out)
# same_bytes: every line so far is home's hash (the mapped bytes never changed).
same_bytes() { [ -z "$(lab_exec n1 grep -v -x -e "$want" -e done /tmp/m.out)" ]; }
# refused WHAT EXPECT: the move to n2 fails, its message matches EXPECT; the process is home.
refused() {
	out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1)
	rc=$?
	if [ "$rc" != 0 ] && printf '%s' "$out" | grep -q -- "$2" &&
		printf '%s' "$out" | grep -q "keeps running" &&
		lab_exec n1 ssictl ps --json | grep -q "\"home\":\"n1\",\"pid\":$pid,\"node\":\"n1\""; then
		ok "$1: refused (exit $rc): $out"
	else
		fail "$1: exit $rc: $out"
	fi
}

refused "missing on n2" "maps /tmp/data.bin, which n2 does not have"
lab_exec n2 cp "$LAB_FILES/other.bin" /tmp/data.bin
lab_exec n2 touch -d "@$mtime" /tmp/data.bin
[ "$(lab_exec n2 stat -c '%s %.9Y' /tmp/data.bin)" = "$(lab_exec n1 stat -c '%s %.9Y' /tmp/data.bin)" ] ||
	note "could not give n2's file home's size and time"
refused "other bytes, same size and time" "maps /tmp/data.bin, whose bytes on n2 differ from home's"
lab_exec n2 cp "$LAB_FILES/data.bin" /tmp/data.bin
lab_exec n2 touch -d "@$((${mtime%.*} - 100))" /tmp/data.bin
refused "same bytes, another time" "same bytes but another modification time"
lab_exec n2 touch -d "@$mtime" /tmp/data.bin
sleep 0.3
same_bytes && ok "it read home's bytes all along" || fail "it read other bytes: $(lab_exec n1 sort -u /tmp/m.out | tr '\n' ' ')"

out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1) && ok "an exact copy on n2: $out" || fail "exact copy: $out"
n=$(lab_exec n1 sh -c 'wc -l < /tmp/m.out')
wait_until 5 sh -c "[ \$(ssilab exec n1 -- sh -c 'wc -l < /tmp/m.out') -gt $((n + 3)) ]" ||
	fail "it does not run on on n2"
out=$(lab_exec n1 ssictl migrate "$pid" home 2>&1) && ok "came home: $out" || fail "home: $out"
lab_exec n1 touch /tmp/stop
wait_until 10 lab_exec n1 test -s /tmp/m.rc
rc=$(lab_exec n1 cat /tmp/m.rc 2>/dev/null)
[ "$rc" = 0 ] && same_bytes && ok "it ended with status 0, every read of the mapping home's bytes" ||
	fail "status '$rc'; hashes: $(lab_exec n1 sort -u /tmp/m.out | tr '\n' ' ')"
finish
