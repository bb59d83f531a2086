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

# run_moved NAME DELAY CMD: runs CMD (stdout /tmp/vfs/NAME.out, a home file)
# under ssirun, stops it after DELAY s of work (SIGSTOP), asks for the move
# and lets it go on (SIGCONT): the freeze signal is taken before its next
# instruction, so even a fast program moves right in the middle of its work.
# Its exit status lands in /tmp/vfs/NAME.rc.
run_moved() {
	local name=$1 delay=$2 out
	shift 2
	lab_exec n1 rm -f "/tmp/vfs/$name.rc" "/tmp/vfs/$name.pid"
	# DELAY counts from its registration with ssid (the shim's constructor,
	# slower than 30 ms on a loaded host with half a CPU), not from the fork.
	lab_exec n1 sh -c "{ ssirun $* > /tmp/vfs/$name.out 2>/tmp/vfs/$name.err & p=\$!
		while kill -0 \$p 2>/dev/null && ! ssictl ps --json | grep -q '\"pid\":'\$p','; do sleep 0.005; done
		sleep $delay; kill -STOP \$p; echo \$p > /tmp/vfs/$name.pid; wait \$p; echo \$? > /tmp/vfs/$name.rc; } &"
	wait_until 20 lab_exec n1 test -s "/tmp/vfs/$name.pid"
	local p
	p=$(lab_exec n1 cat "/tmp/vfs/$name.pid")
	lab_exec n1 sh -c "rm -f /tmp/vfs/mig.out; { ssictl migrate $p n2 > /tmp/vfs/mig.new 2>&1; mv /tmp/vfs/mig.new /tmp/vfs/mig.out; } &"
	# Stopped, it can only be frozen once it runs again: continued once n2 takes the offer (its
	# freeze is asked next), however long the offer took.
	taken() { grep -q "receiving process $p of n1" "$(lab_log n2)" || lab_exec n1 test -s /tmp/vfs/mig.out; }
	wait_until 30 taken
	lab_exec n1 kill -CONT "$p"
	wait_until 60 lab_exec n1 test -e /tmp/vfs/mig.out
	out=$(lab_exec n1 cat /tmp/vfs/mig.out)
	check "$name moved to n2 mid-run: $out" lab_exec n1 grep -q "moved from n1 to n2" /tmp/vfs/mig.out
}

# done_ok FILE: waits for a run's exit status file; true if it is 0.
done_ok() {
	wait_until 120 lab_exec n1 test -s "$1" && [ "$(lab_exec n1 cat "$1")" = 0 ]
}

# Home files; the body's host gets same-named files with other contents.
lab_exec n1 sh -c 'mkdir -p /tmp/vfs/sub /tmp/vfs/tree &&
	head -c 200000000 /dev/urandom > /tmp/vfs/big &&
	seq 1 1500000 | sed "s/\$/ lorem ipsum dolor sit amet/" > /tmp/vfs/text &&
	seq 1 800000 | shuf --random-source=/tmp/vfs/big > /tmp/vfs/words &&
	python3 -c "
import os
t = open(\"/tmp/vfs/text\", \"rb\").read(200000)
for d in range(1, 101):
    os.makedirs(\"/tmp/vfs/tree/d%d/e\" % d)
    for f in range(1, 51):
        open(\"/tmp/vfs/tree/d%d/%s/f%d\" % (d, \"e\" if f % 2 else \".\", f), \"wb\").write(t[: d * f * 37])"'
lab_exec n2 sh -c 'mkdir -p /tmp/vfs && echo other > /tmp/vfs/big && echo other > /tmp/vfs/text &&
	echo 3 > /tmp/vfs/words && echo away > /tmp/vfs/only-away.txt'

# 1. sha256sum of a 200 MB home file.
ref=$(lab_exec n1 sha256sum /tmp/vfs/big)
run_moved sha 0.5 sha256sum /tmp/vfs/big
if done_ok /tmp/vfs/sha.rc && [ "$(lab_exec n1 cat /tmp/vfs/sha.out)" = "$ref" ]; then
	ok "sha256sum of 200 MB read at home after the move: $ref"
else
	fail "sha256sum: '$(lab_exec n1 cat /tmp/vfs/sha.out /tmp/vfs/sha.err)' want '$ref'"
fi

# 2. gzip -c text > text.gz (stdout a home file), then gunzip, compared.
lab_exec n1 sh -c 'gzip -c /tmp/vfs/text > /tmp/vfs/ref.gz'
run_moved gz 0.2 gzip -c /tmp/vfs/text
if done_ok /tmp/vfs/gz.rc && lab_exec n1 cmp -s /tmp/vfs/ref.gz /tmp/vfs/gz.out &&
	lab_exec n1 sh -c 'gunzip -c /tmp/vfs/gz.out | cmp -s - /tmp/vfs/text'; then
	ok "gzip -c > home file: identical to an unmoved run, gunzips to the input"
else
	fail "gzip: $(lab_exec n1 sh -c 'cat /tmp/vfs/gz.err; ls -l /tmp/vfs/ref.gz /tmp/vfs/gz.out')"
fi
run_moved gunz 0.1 gunzip -c /tmp/vfs/ref.gz
if done_ok /tmp/vfs/gunz.rc && lab_exec n1 cmp -s /tmp/vfs/gunz.out /tmp/vfs/text; then
	ok "gunzip moved mid-run: output identical to the input"
else
	fail "gunzip: $(lab_exec n1 cat /tmp/vfs/gunz.err)"
fi

# 3. sort of a large file into an output file.
lab_exec n1 sort --parallel=1 /tmp/vfs/words -o /tmp/vfs/sorted.ref
run_moved sort 0.5 sort --parallel=1 /tmp/vfs/words -o /tmp/vfs/sorted.out
if done_ok /tmp/vfs/sort.rc && lab_exec n1 cmp -s /tmp/vfs/sorted.ref /tmp/vfs/sorted.out; then
	ok "sort -o home file: identical to an unmoved run"
else
	fail "sort: $(lab_exec n1 sh -c 'cat /tmp/vfs/sort.err; ls -l /tmp/vfs/sorted.*')"
fi

# 4. find and du over a home tree (5000 files in 200 directories).
# Both are quick (30-80 ms for one walk here): each walks the tree four times (du -l: no
# deduplication), and is stopped 20 ms after it registered.
for t in "find /tmp/vfs/tree /tmp/vfs/tree /tmp/vfs/tree /tmp/vfs/tree -ls" \
	"du -abl /tmp/vfs/tree /tmp/vfs/tree /tmp/vfs/tree /tmp/vfs/tree"; do
	name=${t%% *}
	lab_exec n1 sh -c "$t > /tmp/vfs/$name.ref"
	run_moved "$name" 0.02 "$t"
	if done_ok "/tmp/vfs/$name.rc" && lab_exec n1 cmp -s "/tmp/vfs/$name.out" "/tmp/vfs/$name.ref"; then
		ok "$name over a home tree: identical to an unmoved run ($(lab_exec n1 sh -c "wc -l < /tmp/vfs/$name.out") lines)"
	else
		fail "$name: $(lab_exec n1 sh -c "cat /tmp/vfs/$name.err; wc -l /tmp/vfs/$name.out /tmp/vfs/$name.ref")"
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
# The interpreter itself, not a pyenv-style bash wrapper: a wrapper that has
# not exec'd python3 yet when the move comes (0.5 s at half a CPU on a busy
# machine) forks away, and so comes home first (#11).
py=python3
[ -x /usr/bin/python3 ] && py=/usr/bin/python3
lab_exec n1 $py "$LAB_FILES/walk.py" /tmp/vfs/tree /tmp/vfs/walk.ref
run_moved walk 0.5 $py "$LAB_FILES/walk.py" /tmp/vfs/tree /tmp/vfs/walk.out
if done_ok /tmp/vfs/walk.rc && lab_exec n1 cmp -s /tmp/vfs/walk.ref /tmp/vfs/walk.out; then
	ok "python3 walking a home tree, writing a home file: identical to an unmoved run"
else
	fail "python3 walk: $(lab_exec n1 sh -c 'cat /tmp/vfs/walk.err; wc -l /tmp/vfs/walk.*')"
fi

# 6. sqlite3 inserting rows into a database at home, one transaction per
# row (record locks, pread/pwrite, fsync, its journal); the SQL comes from a
# home file on stdin.
python3 -c '
print("create table t(i integer primary key, v text);")
for i in range(2000):
    print("insert into t(v) values (\x27row %d %s\x27);" % (i, "x" * (i % 50)))
print("select count(*), sum(length(v)) from t;")' > "$LAB_FILES/sql.txt"
lab_exec n1 sh -c "sqlite3 /tmp/vfs/ref.db < $LAB_FILES/sql.txt > /tmp/vfs/sql.ref"
run_moved sql 0.1 sqlite3 /tmp/vfs/moved.db "< $LAB_FILES/sql.txt"
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
