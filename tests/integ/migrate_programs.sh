#!/bin/bash
# Unmodified programs nobody here wrote, moved mid-run while they read a
# stream fed through a pipe at home and write into a pipe at home:
# sha256sum, gzip -c and bc -l. Each output must equal an unmoved run's.
. "$(dirname "$0")/lib.sh"
lab_require_root
for p in sha256sum gzip bc python3; do
	command -v "$p" >/dev/null || skip "$p is not installed"
done
lab_up 2
mkdir -p "$LAB_FILES"

# A slow, deterministic stream: 160 chunks, 40 ms apart (about 7 s).
cat >"$LAB_FILES/gen.py" <<'PY'
import sys, time, random
kind = sys.argv[1]
r = random.Random(42)
for i in range(160):
    if kind == "bc":
        sys.stdout.write("scale=120; 4*a(1) + %d/7\n" % i)
    else:
        sys.stdout.write("".join(r.choice("abcdefgh\n") for _ in range(8192)))
    sys.stdout.flush()
    time.sleep(0.04)
PY
gen="python3 $LAB_FILES/gen.py"

# pid_of NAME: the home pid of the ssi process whose command starts with NAME.
pid_of() {
	lab_exec n1 ssictl ps --json | python3 -c '
import json, sys
for p in json.load(sys.stdin)["data"]:
    if p["cmd"].split()[0].endswith("/" + sys.argv[1]) or p["cmd"].split()[0] == sys.argv[1]:
        print(p["pid"]); break' "$1"
}

run_one() {
	local name=$1 kind=$2
	shift 2
	local cmd="$*"
	lab_exec n1 sh -c "$gen $kind | $cmd | cat > /tmp/$name.ref"
	lab_exec n1 sh -c "{ $gen $kind | ssirun $cmd 2>&1; echo \$? > /tmp/$name.rc; } | cat > /tmp/$name.out &"
	local pid
	wait_until 10 sh -c "[ -n \"\$(ssilab exec n1 -- ssictl ps --json | grep '\"cmd\":\"$1')\" ]"
	pid=$(pid_of "$1")
	sleep 1
	local out
	out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1)
	if [ $? = 0 ]; then ok "$cmd moved mid-stream: $out"; else fail "$cmd moved mid-stream: $out"; fi
	if wait_until 30 lab_exec n1 test -s "/tmp/$name.rc" && [ "$(lab_exec n1 cat "/tmp/$name.rc")" = 0 ] &&
		lab_exec n1 cmp -s "/tmp/$name.ref" "/tmp/$name.out"; then
		ok "$cmd: output identical to an unmoved run ($(lab_exec n1 sh -c "wc -c < /tmp/$name.ref") bytes)"
	else
		fail "$cmd: status '$(lab_exec n1 cat "/tmp/$name.rc")', outputs differ: $(lab_exec n1 sh -c "cmp /tmp/$name.ref /tmp/$name.out 2>&1; wc -c /tmp/$name.ref /tmp/$name.out")"
	fi
}

run_one sha data sha256sum
run_one gzip data gzip -c
run_one bc bc bc -l

finish
