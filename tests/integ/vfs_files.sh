#!/bin/bash
# vfs-proxy: programs moved mid-run keep seeing their home host's files.
# Every file they use exists only in the home host's private /tmp (the
# body's host has different files of the same names, or none), and each
# result must equal an unmoved run's, byte for byte.
. "$(dirname "$0")/lib.sh"
lab_require_root
for p in sha256sum gzip gunzip sort find du python3 sqlite3; do
	command -v "$p" >/dev/null || skip "$p is not installed"
done
# Half a CPU per host: long enough runs to move them in the middle.
lab_up 2 --cpu 0.5
mkdir -p "$LAB_FILES"
cp "$lab_top/tests/progs/vfs_probe.py" "$LAB_FILES/"

# pid_of WORD: the home pid of the ssi process whose command line has WORD.
pid_of() {
	lab_exec n1 ssictl ps --json | python3 -c '
import json, sys
for p in json.load(sys.stdin):
    if p["home"] == "n1" and sys.argv[1] in p["cmd"]:
        print(p["pid"]); break' "$1"
}

# move_mid WORD [DELAY]: waits until WORD runs, lets it run DELAY s, then stops
# it there (SIGSTOP) and asks for the move; SIGCONT lets the freeze signal in
# before the program's next instruction, so even a fast program moves right
# in the middle of its work.
move_mid() {
	local pid out
	wait_until 20 sh -c "[ -n \"\$(ssilab exec n1 -- ssictl ps | grep -F -- '$1')\" ]"
	pid=$(pid_of "$1")
	sleep "${2:-0.5}"
	lab_exec n1 kill -STOP "$pid"
	lab_exec n1 sh -c "ssictl migrate $pid n2 > /tmp/vfs/mig.out 2>&1 & sleep 1; kill -CONT $pid; wait"
	out=$(lab_exec n1 cat /tmp/vfs/mig.out)
	check "$1 moved to n2 mid-run: $out" lab_exec n1 grep -q "moved from n1 to n2" /tmp/vfs/mig.out
}

# done_ok FILE: waits for a run's exit status file; true if it is 0.
done_ok() {
	wait_until 120 lab_exec n1 test -s "$1" && [ "$(lab_exec n1 cat "$1")" = 0 ]
}

# Home files; the body's host gets same-named files with other contents.
lab_exec n1 sh -c 'mkdir -p /tmp/vfs/sub /tmp/vfs/tree &&
	head -c 200000000 /dev/urandom > /tmp/vfs/big &&
	seq 1 600000 | sed "s/\$/ lorem ipsum dolor sit amet/" > /tmp/vfs/text &&
	seq 1 800000 | shuf --random-source=/tmp/vfs/big > /tmp/vfs/words &&
	for d in $(seq 1 40); do mkdir -p /tmp/vfs/tree/d$d/e; for f in $(seq 1 25); do
		head -c $((d * f * 37)) /tmp/vfs/text > /tmp/vfs/tree/d$d/e/f$f; done; done'
lab_exec n2 sh -c 'mkdir -p /tmp/vfs && echo other > /tmp/vfs/big && echo other > /tmp/vfs/text &&
	echo 3 > /tmp/vfs/words && echo away > /tmp/vfs/only-away.txt'

# 1. sha256sum of a 200 MB home file.
ref=$(lab_exec n1 sha256sum /tmp/vfs/big)
lab_exec n1 sh -c '{ ssirun sha256sum /tmp/vfs/big > /tmp/vfs/sha.out 2>/tmp/vfs/sha.err; echo $? > /tmp/vfs/sha.rc; } &'
move_mid "sha256sum /tmp/vfs/big"
if done_ok /tmp/vfs/sha.rc && [ "$(lab_exec n1 cat /tmp/vfs/sha.out)" = "$ref" ]; then
	ok "sha256sum of 200 MB read at home after the move: $ref"
else
	fail "sha256sum: '$(lab_exec n1 cat /tmp/vfs/sha.out /tmp/vfs/sha.err)' want '$ref'"
fi

# 2. gzip -c text > text.gz (stdout a home file), then gunzip, compared.
lab_exec n1 sh -c 'gzip -c /tmp/vfs/text > /tmp/vfs/ref.gz'
lab_exec n1 sh -c '{ ssirun gzip -c /tmp/vfs/text > /tmp/vfs/text.gz 2>/tmp/vfs/gz.err; echo $? > /tmp/vfs/gz.rc; } &'
move_mid "gzip -c /tmp/vfs/text" 0.2
if done_ok /tmp/vfs/gz.rc && lab_exec n1 cmp -s /tmp/vfs/ref.gz /tmp/vfs/text.gz &&
	lab_exec n1 sh -c 'gunzip -c /tmp/vfs/text.gz | cmp -s - /tmp/vfs/text'; then
	ok "gzip -c > home file: identical to an unmoved run, gunzips to the input"
else
	fail "gzip: $(lab_exec n1 sh -c 'cat /tmp/vfs/gz.err; ls -l /tmp/vfs/ref.gz /tmp/vfs/text.gz')"
fi
lab_exec n1 sh -c '{ ssirun gunzip -c /tmp/vfs/ref.gz > /tmp/vfs/gunz.out 2>/tmp/vfs/gunz.err; echo $? > /tmp/vfs/gunz.rc; } &'
move_mid "gunzip -c /tmp/vfs/ref.gz" 0.05
if done_ok /tmp/vfs/gunz.rc && lab_exec n1 cmp -s /tmp/vfs/gunz.out /tmp/vfs/text; then
	ok "gunzip moved mid-run: output identical to the input"
else
	fail "gunzip: $(lab_exec n1 cat /tmp/vfs/gunz.err)"
fi

# 3. sort of a large file into an output file.
lab_exec n1 sort --parallel=1 /tmp/vfs/words -o /tmp/vfs/sorted.ref
lab_exec n1 sh -c '{ ssirun sort --parallel=1 /tmp/vfs/words -o /tmp/vfs/sorted.out 2>/tmp/vfs/sort.err; echo $? > /tmp/vfs/sort.rc; } &'
move_mid "sort --parallel=1" 0.5
if done_ok /tmp/vfs/sort.rc && lab_exec n1 cmp -s /tmp/vfs/sorted.ref /tmp/vfs/sorted.out; then
	ok "sort -o home file: identical to an unmoved run"
else
	fail "sort: $(lab_exec n1 sh -c 'cat /tmp/vfs/sort.err; ls -l /tmp/vfs/sorted.*')"
fi

# 4. find and du over a home tree (1000 files in 80 directories).
for t in "find /tmp/vfs/tree -printf %p_%s_%y\\n" "du -ab /tmp/vfs/tree"; do
	name=${t%% *}
	lab_exec n1 sh -c "$t | sort > /tmp/vfs/$name.ref"
	lab_exec n1 sh -c "{ ssirun $t > /tmp/vfs/$name.raw 2>/tmp/vfs/$name.err; echo \$? > /tmp/vfs/$name.rc; } &"
	move_mid "$t" 0.05
	if done_ok "/tmp/vfs/$name.rc" && lab_exec n1 sh -c "sort /tmp/vfs/$name.raw | cmp -s - /tmp/vfs/$name.ref"; then
		ok "$name over a home tree: identical to an unmoved run ($(lab_exec n1 sh -c "wc -l < /tmp/vfs/$name.raw") lines)"
	else
		fail "$name: $(lab_exec n1 sh -c "cat /tmp/vfs/$name.err; wc -l /tmp/vfs/$name.raw /tmp/vfs/$name.ref")"
	fi
done

# 5. python3 walking the tree and writing results (imports after the move
# map home .so files with MAP_PRIVATE).
cat > "$LAB_FILES/walk.py" <<'PY'
import hashlib, os, sys, time
time.sleep(1.5)
import csv, json, decimal
out = open(sys.argv[2], "w")
for root, dirs, files in sorted(os.walk(sys.argv[1])):
    for f in sorted(files):
        p = os.path.join(root, f)
        out.write("%s %d %s\n" % (p, os.path.getsize(p), hashlib.md5(open(p, "rb").read()).hexdigest()))
out.write(json.dumps({"d": str(decimal.Decimal(1) / 7)}) + "\n")
out.close()
PY
lab_exec n1 python3 "$LAB_FILES/walk.py" /tmp/vfs/tree /tmp/vfs/walk.ref
lab_exec n1 sh -c "{ ssirun python3 $LAB_FILES/walk.py /tmp/vfs/tree /tmp/vfs/walk.out 2>/tmp/vfs/walk.err; echo \$? > /tmp/vfs/walk.rc; } &"
move_mid "walk.py" 0.5
if done_ok /tmp/vfs/walk.rc && lab_exec n1 cmp -s /tmp/vfs/walk.ref /tmp/vfs/walk.out; then
	ok "python3 walking a home tree, writing a home file: identical to an unmoved run"
else
	fail "python3 walk: $(lab_exec n1 sh -c 'cat /tmp/vfs/walk.err; wc -l /tmp/vfs/walk.*')"
fi

# 6. sqlite3 inserting rows into a database at home (locks, pread/pwrite);
# the SQL comes slowly through a pipe, so the move is mid-run.
cat > "$LAB_FILES/sql.py" <<'PY'
import sys, time
print("create table t(i integer primary key, v text);")
for i in range(300):
    print("insert into t(v) values ('row %d %s');" % (i, "x" * (i % 50)))
    if i < 100:
        sys.stdout.flush(); time.sleep(0.02)
print("select count(*), sum(length(v)) from t;")
PY
lab_exec n1 sh -c "python3 $LAB_FILES/sql.py | sqlite3 /tmp/vfs/ref.db > /tmp/vfs/sql.ref"
lab_exec n1 sh -c "{ python3 $LAB_FILES/sql.py | ssirun sqlite3 /tmp/vfs/moved.db > /tmp/vfs/sql.out 2>/tmp/vfs/sql.err; echo \$? > /tmp/vfs/sql.rc; } &"
move_mid "sqlite3 /tmp/vfs/moved.db" 0.5
if done_ok /tmp/vfs/sql.rc && lab_exec n1 cmp -s /tmp/vfs/sql.ref /tmp/vfs/sql.out &&
	[ "$(lab_exec n1 sqlite3 /tmp/vfs/moved.db 'select * from t' | md5sum)" = \
	  "$(lab_exec n1 sqlite3 /tmp/vfs/ref.db 'select * from t' | md5sum)" ]; then
	ok "sqlite3 inserting into a home database: same rows as an unmoved run ($(lab_exec n1 cat /tmp/vfs/sql.out))"
else
	fail "sqlite3: $(lab_exec n1 sh -c 'cat /tmp/vfs/sql.err /tmp/vfs/sql.out')"
fi

# 7. The probe: descriptors open before the move (offset, append, a file
# deleted at home while open), ENOENT at home although the body's host has
# the file, chdir + relative paths, *at calls, dup/fcntl/locks, mmap,
# local /dev and /proc/self. Stdout is a home file ('prog > out').
probe() { # probe TAG MOVE
	lab_exec n1 sh -c 'rm -rf /tmp/vfs/sub /tmp/vfs/rw.bin /tmp/vfs/app.log && mkdir -p /tmp/vfs/sub &&
		head -c 50000 /tmp/vfs/text > /tmp/vfs/pre.bin && echo relative > /tmp/vfs/sub/rel.txt &&
		echo home > /tmp/vfs/only-home.txt && printf "gone: still readable\n" > /tmp/vfs/gone.txt &&
		rm -f /tmp/vfs/in && mkfifo /tmp/vfs/in'
	lab_exec n1 sh -c "{ ssirun python3 $LAB_FILES/vfs_probe.py < /tmp/vfs/in > /tmp/vfs/probe.$1 2>/tmp/vfs/probe.$1.err; echo \$? > /tmp/vfs/probe.$1.rc; } &"
	lab_exec n1 sh -c "exec 3>/tmp/vfs/in
		until grep -q ready /tmp/vfs/probe.$1 2>/dev/null; do sleep 0.1; done
		if [ $2 = move ]; then ssictl migrate \$(ssictl ps | awk '/vfs_probe/ {print \$2}') n2 > /tmp/vfs/probe.$1.mig 2>&1; fi
		rm /tmp/vfs/gone.txt
		echo go >&3
		until grep -q locked /tmp/vfs/probe.$1 2>/dev/null; do sleep 0.1; done
		python3 -c 'import fcntl, os
fd = os.open(\"/tmp/vfs/rw.bin\", os.O_RDWR)
try:
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 0); print(\"lock free\")
except OSError: print(\"lock held\")' > /tmp/vfs/probe.$1.lock
		echo unlock >&3"
	wait_until 60 lab_exec n1 test -s "/tmp/vfs/probe.$1.rc"
	lab_exec n1 sh -c "cat /tmp/vfs/app.log >> /tmp/vfs/probe.$1"
}
probe ref stay
probe moved move
check "probe moved to n2 after opening its files: $(lab_exec n1 cat /tmp/vfs/probe.moved.mig)" \
	lab_exec n1 grep -q "moved from n1 to n2" /tmp/vfs/probe.moved.mig
if lab_exec n1 cmp -s /tmp/vfs/probe.ref /tmp/vfs/probe.moved && lab_exec n1 grep -q '^done' /tmp/vfs/probe.moved; then
	ok "probe: $(lab_exec n1 grep -c . /tmp/vfs/probe.moved) results identical to an unmoved run"
else
	fail "probe differs: $(lab_exec n1 sh -c 'diff /tmp/vfs/probe.ref /tmp/vfs/probe.moved; cat /tmp/vfs/probe.moved.err')"
fi
for c in "pre rest" "gone rest b'still readable" "only-away errno ENOENT" "only-home home" \
	"cwd /tmp/vfs/sub" "rel relative" "proc self Name:"; do
	check "probe after the move: $c" lab_exec n1 grep -q "^$c" /tmp/vfs/probe.moved
done
check "a record lock taken away is held at home" lab_exec n1 grep -q "lock held" /tmp/vfs/probe.moved.lock

finish
