#!/bin/bash
# Threads move (#11) on a 3-host virtual cluster. tests/progs/threads (eight
# threads besides main: producers and consumers on condition variables, a
# counter on a robust mutex, a sleeper in nanosleep; each checks its tid,
# name, mask and altstack on every round, the program its results) moves
# n1 -> n2 -> n3 -> home while it runs: it goes on after every move, its
# tids and pid never change, and its own checks pass. Then python3 with
# threading and concurrent.futures.ThreadPoolExecutor moves mid-run, away
# and back, and prints what an unmoved run prints.
. "$(dirname "$0")/lib.sh"
lab_require_root
threads=${SSI_TESTDIR:-$lab_top/build/tests}/threads
[ -x "$threads" ] || { echo "not ok - $threads is missing (make check builds it)"; exit 1; }
lab_up 3

ITERS=60 INTERVAL=100
lab_exec n1 sh -c "{ ssirun $threads $ITERS $INTERVAL; echo status=\$?; } >/tmp/t.out 2>&1 &"
wait_until 10 lab_exec n1 grep -q 'iter=3 ' /tmp/t.out || { fail "threads did not start: $(lab_exec n1 cat /tmp/t.out)"; finish; }
pid=$(lab_exec n1 sed -n 's/^threads pid=\([0-9]*\) .*/\1/p' /tmp/t.out | head -n 1)
iters() { lab_exec n1 grep -c '^threads pid=' /tmp/t.out; }
progresses() {
	p_from=$(iters)
	wait_until 10 sh -c "[ \$(ssilab exec n1 -- grep -c '^threads pid=' /tmp/t.out) -ge $((p_from + 3)) ]"
}
on() { lab_exec n3 ssictl ps --json | grep -q "\"home\":\"n1\",\"pid\":$2,\"node\":\"$1\""; }
for to in n2 n3 home; do
	out=$(lab_exec n1 ssictl migrate "$pid" "$to" 2>&1)
	rc=$?
	where=$to
	[ "$to" = home ] && where=n1
	if [ "$rc" = 0 ] && on "$where" "$pid"; then
		ok "ssictl migrate $pid $to with nine threads: $out"
	else
		fail "ssictl migrate $pid $to ($rc): $out"
	fi
	progresses && ok "its threads run on after the move to $where" ||
		fail "its threads run on after the move to $where: $(lab_exec n1 tail -n 3 /tmp/t.out)"
done
wait_until 60 lab_exec n1 grep -q '^status=' /tmp/t.out
lab_exec n1 grep -q '^status=0$' /tmp/t.out && lab_exec n1 grep -qx 'threads done ok' /tmp/t.out &&
	ok "it ended with status 0 and its own checks passed" ||
	fail "end: $(lab_exec n1 grep -E 'MISMATCH|done|status' /tmp/t.out | head -n 5 | tr '\n' ' ') $(lab_exec n1 tail -n 2 /tmp/t.out | tr '\n' ' ') $(lab_exec n1 sh -c "cat /proc/$pid/task/*/stat | cut -d' ' -f1-3; cat /proc/$pid/task/*/wchan; echo; cat /proc/$pid/task/*/syscall" | tr '\n' ' ')"
[ "$(lab_exec n1 grep -c '^threads pid=' /tmp/t.out)" = $ITERS ] && ok "all $ITERS rounds, none lost or repeated" ||
	fail "rounds: $(lab_exec n1 grep -c '^threads pid=' /tmp/t.out)"
hosts=$(lab_exec n1 sed -n 's/^threads pid=.* host=\(.*\)/\1/p' /tmp/t.out | sort | uniq -c | tr '\n' ' ')
[ "$(lab_exec n1 sed -n 's/^threads pid=.* host=\(.*\)/\1/p' /tmp/t.out | sort -u)" = n1/n1 ] &&
	ok "every thread ran trapped away: the sleeper, and one made each round (host name n1)" ||
	fail "threads made away: host names $hosts"
[ "$(lab_exec n1 sed -n 's/^threads pid=\([0-9]*\) .* tids=\([0-9.]*\) .*/\1 \2/p' /tmp/t.out | sort -u | wc -l)" = 1 ] &&
	ok "pid and every tid the same in every round" ||
	fail "tids changed: $(lab_exec n1 sed -n 's/.* tids=\([0-9.]*\) .*/\1/p' /tmp/t.out | sort | uniq -c | tr '\n' ' ')"

# 2. python3: threading and a ThreadPoolExecutor, moved mid-run and back.
mkdir -p "$LAB_FILES"
cat > "$LAB_FILES/pool.py" <<'PY'
import concurrent.futures, hashlib, os, sys, threading, time
# pool.py ROUNDS: each round four jobs hash a chain in a pool of four
# threads, while a plain thread counts under a lock; prints one line a round.
lock, count = threading.Lock(), [0]
def counter(stop):
    while not stop.is_set():
        with lock:
            count[0] += 1
        time.sleep(0.001)
def job(r, k):
    h = b"%d-%d" % (r, k)
    for _ in range(3000):
        h = hashlib.sha256(h).digest()
    return h.hex()[:16]
stop = threading.Event()
t = threading.Thread(target=counter, args=(stop,))
t.start()
open(sys.argv[2], "w").write("%d\n" % os.getpid())
with concurrent.futures.ThreadPoolExecutor(max_workers=4) as ex:
    for r in range(int(sys.argv[1])):
        print("round", r, " ".join(ex.map(job, [r] * 4, range(4))), flush=True)
        time.sleep(0.1)
stop.set()
t.join()
print("pool done", count[0] > 0, flush=True)
PY
lab_exec n1 sh -c "python3 $LAB_FILES/pool.py 60 /tmp/ref.pid > /tmp/ref.out 2>&1"
lab_exec n1 sh -c "{ ssirun python3 $LAB_FILES/pool.py 60 /tmp/p.pid; echo status=\$?; } >/tmp/p.out 2>&1 &"
wait_until 10 lab_exec n1 grep -q '^round 3 ' /tmp/p.out || fail "pool.py did not start: $(lab_exec n1 cat /tmp/p.out)"
ppid=$(lab_exec n1 cat /tmp/p.pid)
out=$(lab_exec n1 ssictl migrate "$ppid" n2 2>&1) && on n2 "$ppid" && ok "python3 with a thread pool moved to n2: $out" ||
	fail "python3 with a thread pool moved to n2: $out"
sleep 1
out=$(lab_exec n1 ssictl migrate "$ppid" home 2>&1) && ok "and came home: $out" || fail "and came home: $out"
wait_until 60 lab_exec n1 grep -q '^status=' /tmp/p.out
lab_exec n1 grep -q '^status=0$' /tmp/p.out && ok "it ended with status 0" || fail "status: $(lab_exec n1 tail -n 3 /tmp/p.out)"
if [ "$(lab_exec n1 grep -v '^status=' /tmp/p.out)" = "$(lab_exec n1 cat /tmp/ref.out)" ]; then
	ok "its output equals an unmoved run's"
else
	fail "output differs: $(lab_exec n1 sh -c 'grep -v ^status= /tmp/p.out | diff /tmp/ref.out -' | head -n 4 | tr '\n' ' ')"
fi

# 3. Real threaded programs moved mid-run: xz -T2 compressing a home file, sort --parallel=2.
# prog_moved TAG CMD: CMD (its output into /tmp/TAG.out) under ssirun on n1, moved to n2 once it
# has run for a moment and home again; its output must equal an unmoved run's.
prog_moved() {
	lab_exec n1 sh -c "$2 > /tmp/$1.ref"
	lab_exec n1 sh -c "{ ssirun $2 > /tmp/$1.out; echo \$? > /tmp/$1.rc; } 2>/tmp/$1.err &"
	wait_until 10 sh -c "ssilab exec n1 -- pgrep -x $3 >/dev/null" || { fail "$1 did not start"; return; }
	xpid=$(lab_exec n1 pgrep -x "$3" | head -n 1)
	sleep 0.5
	out=$(lab_exec n1 ssictl migrate "$xpid" n2 2>&1) && ok "$1 moved to n2 mid-run: $out" ||
		fail "$1 moved to n2 mid-run: $out"
	sleep 0.5
	out=$(lab_exec n1 ssictl migrate "$xpid" home 2>&1) && ok "$1 came home: $out" ||
		{ lab_exec n1 test -s /tmp/$1.rc && note "$1 ended before coming home: $out" || fail "$1 came home: $out"; }
	wait_until 300 lab_exec n1 test -s /tmp/$1.rc
	if [ "$(lab_exec n1 cat /tmp/$1.rc)" = 0 ] && lab_exec n1 cmp -s /tmp/$1.out /tmp/$1.ref; then
		ok "$1: status 0, output equal to an unmoved run's"
	else
		fail "$1: status '$(lab_exec n1 cat /tmp/$1.rc)', $(lab_exec n1 cat /tmp/$1.err | head -n 3 | tr '\n' ' ')"
	fi
}
lab_exec n1 sh -c "seq 1 1000000 | sed 's/\$/ some text that compresses/' > /tmp/big.txt"
prog_moved xz "xz -T2 -6 -c /tmp/big.txt" xz
lab_exec n1 sh -c "seq 1 3000000 | sort -R --random-source=/tmp/big.txt > /tmp/shuf.txt"
prog_moved sort "sort --parallel=2 -S 64M /tmp/shuf.txt" sort
finish
