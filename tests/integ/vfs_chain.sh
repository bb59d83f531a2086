#!/bin/bash
# Home files across every kind of move: a python3 program keeps a log file
# opened in append mode before it moves, reads an input file opened before it
# moves, and creates a new file at every step, while it goes n1 -> n2 -> n3
# (through home) -> home. Every file lives only in n1's private /tmp; n2 and
# n3 have decoys of the same names. The log and the files made away must be
# exactly what an unmoved run makes, and the program ends at home with its
# files still open and right.
. "$(dirname "$0")/lib.sh"
lab_require_root
command -v python3 >/dev/null || skip "python3 is not installed"
lab_up 3
mkdir -p "$LAB_FILES"
py=$(python3 -c 'import sys; print(sys.executable)')

cat >"$LAB_FILES/steps.py" <<'PY'
import os, sys, time
# steps.py DIR N: reads DIR/in line by line (opened once, before any move),
# appends "i line host-independent" to DIR/log (opened once), and creates
# DIR/made/i at each step; at the end lists DIR/made into the log.
d, n = sys.argv[1], int(sys.argv[2])
src = open(os.path.join(d, "in"))
log = open(os.path.join(d, "log"), "a")
os.makedirs(os.path.join(d, "made"), exist_ok=True)
with open(os.path.join(d, "pid"), "w") as f:
    f.write("%d\n" % os.getpid())
for i in range(n):
    line = src.readline().strip()
    log.write("%d %s %d\n" % (i, line, len(os.listdir(os.path.join(d, "made")))))
    log.flush()
    with open(os.path.join(d, "made", "%03d" % i), "w") as f:
        f.write(line * 3)
    time.sleep(0.05)
log.write("end %s\n" % " ".join(sorted(os.listdir(os.path.join(d, "made")))))
log.close()
print("done", os.path.getsize(os.path.join(d, "log")))
PY

setup() {
	lab_exec n1 sh -c "rm -rf /tmp/$1 && mkdir /tmp/$1 && seq 1000 1400 | sed 's/^/line-/' > /tmp/$1/in && echo start > /tmp/$1/log"
}
setup ref
# 300 steps of 50 ms: 15 s, in which three moves and the seconds between them fit on a loaded
# machine (200 steps left about as much time as the moves may take under load).
N=300
lab_exec n1 "$py" "$LAB_FILES/steps.py" /tmp/ref $N > /dev/null
for h in n2 n3; do
	lab_exec "$h" sh -c "mkdir -p /tmp/run/made && echo decoy > /tmp/run/in && echo decoy-$h > /tmp/run/log && touch /tmp/run/made/zzz"
done

setup run
lab_exec n1 sh -c "{ ssirun $py $LAB_FILES/steps.py /tmp/run $N 2>&1; echo \$? > /tmp/run.rc; } | cat > /tmp/run.out &"
wait_until 10 lab_exec n1 test -s /tmp/run/pid || { fail "the program did not start"; finish; }
pid=$(lab_exec n1 cat /tmp/run/pid)
for step in "n2 $pid" "n3 $pid" "home $pid"; do
	set -- $step
	sleep 1
	out=$(lab_exec n1 ssictl migrate "$2" "$1" 2>&1)
	if [ $? = 0 ]; then ok "migrate to $1: $out"; else fail "migrate to $1: $out"; fi
done
if wait_until 30 lab_exec n1 test -s /tmp/run.rc && [ "$(lab_exec n1 cat /tmp/run.rc)" = 0 ]; then
	ok "it ended at home with status 0: $(lab_exec n1 cat /tmp/run.out)"
else
	fail "status '$(lab_exec n1 cat /tmp/run.rc)': $(lab_exec n1 cat /tmp/run.out)"
fi
if lab_exec n1 cmp -s /tmp/ref/log /tmp/run/log; then
	ok "the log (appended through every move) equals an unmoved run's ($(lab_exec n1 sh -c 'wc -l < /tmp/run/log') lines)"
else
	fail "the log differs: $(lab_exec n1 sh -c 'diff /tmp/ref/log /tmp/run/log | head -5')"
fi
if [ "$(lab_exec n1 sh -c 'cd /tmp/ref/made && cat *' | sha256sum)" = "$(lab_exec n1 sh -c 'cd /tmp/run/made && cat *' | sha256sum)" ]; then
	ok "the $N files made at home, away and back are those of an unmoved run"
else
	fail "the files made differ: $(lab_exec n1 ls /tmp/run/made | wc -l) files"
fi
for h in n2 n3; do
	if [ "$(lab_exec "$h" cat /tmp/run/log)" = "decoy-$h" ] && [ "$(lab_exec "$h" ls /tmp/run/made)" = zzz ]; then
		ok "nothing was written on $h's own /tmp"
	else
		fail "$h's /tmp was touched: $(lab_exec "$h" ls /tmp/run/made | head -3)"
	fi
done

finish
