#!/bin/bash
# Checkpoint and restart (issue #15). A python3 computation on n1 writes its
# steps to a home file and its result to a pipe. `ssictl checkpoint` writes
# its image while it runs on; it is killed; `ssirun --restart` starts it
# again from the checkpoint at home, then again with --node n2 (restarted at
# home, then moved): both times the result and the file are the ones of an
# uninterrupted run, the restarted process is listed by `ssictl ps` (it
# registered again) and runs where it should. Corrupt, truncated and
# foreign checkpoints, and a home file that is gone or shorter than the
# process's offset, are refused with a clear message, and nothing runs.
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_python
lab_up 2

mkdir -p "$LAB_FILES"
prog=$LAB_FILES/ckpt_work.py
cp "$lab_top/tests/progs/ckpt_work.py" "$prog"
N=200

# The uninterrupted run, without ssi.
lab_exec n1 sh -c "$PY $prog /tmp/ref.out $N > /tmp/ref.stdout"
ref=$(lab_exec n1 cat /tmp/ref.stdout)
case "$ref" in "result "*) ok "reference run: $ref" ;; *) fail "reference run: '$ref'"; finish ;; esac

lines() { lab_exec n1 sh -c "wc -l < $1 2>/dev/null || echo 0"; }
lab_exec n1 sh -c "{ ssirun $PY $prog /tmp/a.out $N 2>/tmp/a.err; echo \$? > /tmp/a.rc; } | cat > /tmp/a.stdout &"
has_lines() { [ "$(lines "$1")" -ge "$2" ]; }
wait_until 20 has_lines /tmp/a.out 20 || { fail "the computation did not start"; finish; }
pid=$(lab_pid_of work.py)
[ -n "$pid" ] || { fail "work.py is not in ssictl ps"; finish; }

out=$(lab_exec n1 sh -c "cd /tmp && ssictl checkpoint $pid a.ckpt" 2>&1)
if [ $? = 0 ] && echo "$out" | grep -q "written to /tmp/a.ckpt"; then
	ok "ssictl checkpoint $pid a.ckpt (relative path): $out"
else
	fail "ssictl checkpoint: $out"
	finish
fi
at=$(lines /tmp/a.out)
wait_until 10 has_lines /tmp/a.out $((at + 5)) && ok "the process runs on after its checkpoint" ||
	fail "the process stopped after its checkpoint ($(lines /tmp/a.out) lines)"
out=$(lab_exec n1 ssi-ckpt info /tmp/a.ckpt 2>&1)
echo "$out" | grep -q "node n1, pid $pid" && echo "$out" | grep -q "work.py /tmp/a.out" &&
	ok "ssi-ckpt info: $(echo "$out" | head -1)" || fail "ssi-ckpt info: $out"
lab_exec n1 kill -KILL "$pid"
wait_until 10 lab_exec n1 test -s /tmp/a.rc && [ "$(lab_exec n1 cat /tmp/a.rc)" = 137 ] &&
	ok "killed (status 137) with $(lines /tmp/a.out) lines written" || fail "kill: '$(lab_exec n1 cat /tmp/a.rc)'"
grep_out() { lab_exec n1 grep -q "$2" "$1"; }

# restart NAME [--node N]: ssirun --restart a.ckpt in the background, its
# stdout into /tmp/NAME.stdout, stderr into NAME.err, status into NAME.rc.
restart() {
	n=$1
	shift
	lab_exec n1 sh -c "{ ssirun $* --restart /tmp/a.ckpt > /tmp/$n.stdout 2>/tmp/$n.err; echo \$? > /tmp/$n.rc; } &"
}
ps_shows() { lab_exec n1 ssictl ps --json | grep -q "\"home\":\"n1\",\"pid\":$pid,\"node\":\"$1\""; }

# At home.
restart r1
if wait_until 10 ps_shows n1; then ok "restarted at home: ssictl ps lists pid $pid on n1"; else
	fail "restarted at home: not in ssictl ps: $(lab_exec n1 ssictl ps) $(lab_exec n1 cat /tmp/r1.err)"; fi
if wait_until 60 lab_exec n1 test -s /tmp/r1.rc && [ "$(lab_exec n1 cat /tmp/r1.rc)" = 0 ]; then
	ok "the restarted process ended with status 0"
else
	fail "restart at home: status '$(lab_exec n1 cat /tmp/r1.rc)': $(lab_exec n1 cat /tmp/r1.err)"
fi
got=$(lab_exec n1 cat /tmp/r1.stdout)
[ "$got" = "$ref" ] && ok "restarted at home: same result ($got)" || fail "restarted at home: '$got', want '$ref'"
lab_exec n1 cmp /tmp/ref.out /tmp/a.out && ok "restarted at home: the home file is the uninterrupted run's" ||
	fail "restarted at home: the home file differs"

# On another node: restarted at home, then moved to n2.
restart r2 --node n2
if wait_until 15 ps_shows n2; then ok "restarted with --node n2: ssictl ps shows it on n2"; else
	fail "restarted with --node n2: $(lab_exec n1 ssictl ps) $(lab_exec n1 cat /tmp/r2.err)"; fi
lab_exec n2 pgrep -f "work.py /tmp/a.out" >/dev/null && ok "its body runs on n2" || fail "no body on n2"
if wait_until 60 lab_exec n1 test -s /tmp/r2.rc && [ "$(lab_exec n1 cat /tmp/r2.rc)" = 0 ]; then
	ok "the process restarted on n2 ended with status 0"
else
	fail "restart on n2: status '$(lab_exec n1 cat /tmp/r2.rc)': $(lab_exec n1 cat /tmp/r2.err)"
fi
got=$(lab_exec n1 cat /tmp/r2.stdout)
[ "$got" = "$ref" ] && ok "restarted on n2: same result ($got)" || fail "restarted on n2: '$got', want '$ref'"
lab_exec n1 cmp /tmp/ref.out /tmp/a.out && ok "restarted on n2: the home file is the uninterrupted run's" ||
	fail "restarted on n2: the home file differs"

# refused WHAT FILE NEEDLE: ssirun --restart FILE exits 125 with NEEDLE in its
# message, and nothing of work.py runs.
refused() {
	out=$(lab_exec n1 ssirun --restart "$2" 2>&1)
	rc=$?
	if [ "$rc" = 125 ] && echo "$out" | grep -q "$3" && ! lab_exec n1 pgrep -f work.py >/dev/null; then
		ok "$1 refused: $out"
	else
		fail "$1: exit $rc: $out"
	fi
}
lab_exec n1 sh -c 'cp /tmp/a.ckpt /tmp/bad.ckpt && printf "\125" | dd of=/tmp/bad.ckpt bs=1 seek=200000 conv=notrunc 2>/dev/null'
refused "a corrupt checkpoint (one byte changed)" /tmp/bad.ckpt "hash does not match"
lab_exec n1 sh -c 'head -c 1000000 /tmp/a.ckpt > /tmp/cut.ckpt'
refused "a truncated checkpoint" /tmp/cut.ckpt "checkpoint truncated"
lab_exec n1 sh -c "head -c 65536 $PY > /tmp/foreign.ckpt"
refused "a foreign file" /tmp/foreign.ckpt "not an ssi checkpoint"
lab_exec n1 sh -c 'tail -c +409 /tmp/a.ckpt > /tmp/bare.ckpt'
refused "a bare image without its header" /tmp/bare.ckpt "bare migration image"
lab_exec n1 sh -c 'cp /tmp/a.out /tmp/a.keep && head -c 10 /tmp/a.keep > /tmp/a.out'
refused "a home file now shorter than the offset" /tmp/a.ckpt "fewer than the offset"
lab_exec n1 rm -f /tmp/a.out
refused "a home file that is gone" /tmp/a.ckpt "/tmp/a.out cannot be reopened"
lab_exec n1 cp /tmp/a.keep /tmp/a.out

# Periodic checkpoints: the spool in the lab host's private /tmp (the
# cluster file's spool, taken in by SIGHUP), every second, the last 3 kept,
# their age in ssictl ps; the newest restarts the process.
sed -i '1i spool = /tmp/spool' "$SSILAB_DIR/cluster.conf"
lab_exec n1 kill -HUP "$(lab_ssid_pid n1)"
wait_until 10 grep -q "reloaded" "$(lab_log n1)" || fail "n1 did not reload its cluster file"
lab_exec n1 sh -c "{ ssirun --checkpoint-every 1 $PY $prog /tmp/p.out $N > /tmp/p.stdout 2>/tmp/p.err; echo \$? > /tmp/p.rc; } &"
wait_until 20 has_lines /tmp/p.out 5 || { fail "the periodic computation did not start"; finish; }
ppid=$(lab_pid_of "work.py /tmp/p.out")
four() { lab_exec n1 test -e "/tmp/spool/0/n1-$ppid-periodic-4.ckpt"; }
# Kept: finished files only (the next one is written as NAME.tmpNNN, and the oldest goes once
# the newest is in place, so a count taken mid-checkpoint may see 4 for a moment).
kept() { lab_exec n1 sh -c "ls /tmp/spool/0/ | grep -c '^n1-$ppid-periodic-[0-9]*\.ckpt\$'"; }
three() { files=$(kept); [ "$files" = 3 ]; }
if wait_until 15 four; then
	wait_until 5 three
	[ "$files" = 3 ] && ok "periodic checkpoints every second, the last 3 kept ($(lab_exec n1 ls /tmp/spool/0 | tr '\n' ' '))" ||
		fail "periodic: $files files: $(lab_exec n1 ls /tmp/spool/0)"
else
	fail "no 4th periodic checkpoint: $(lab_exec n1 ls /tmp/spool/0 2>&1) $(tail -3 "$(lab_log n1)")"
fi
age=$(lab_exec n1 ssictl ps --json | python3 -c '
import json, sys
for p in json.load(sys.stdin)["data"]:
    if p["pid"] == int(sys.argv[1]): print(p.get("checkpoint_age_ms", "none"))' "$ppid")
case "$age" in none | "") fail "ssictl ps --json has no checkpoint age" ;;
*) [ "$age" -lt 3000 ] && ok "ssictl ps shows the last checkpoint's age (${age} ms)" || fail "age $age ms" ;; esac
lab_exec n1 ssictl ps | grep -q "checkpoint .*s ago" && ok "and says it in its table" || fail "ps table: $(lab_exec n1 ssictl ps)"
lab_exec n1 kill -KILL "$ppid"
wait_until 10 lab_exec n1 test -s /tmp/p.rc
last=$(lab_exec n1 sh -c "ls /tmp/spool/0/n1-$ppid-periodic-*.ckpt | sort -t- -k4 -n | tail -1")
lab_exec n1 sh -c "ssirun --restart $last > /tmp/p2.stdout 2>/tmp/p2.err; echo \$? > /tmp/p2.rc"
# Its stdout was a file (/tmp/p.stdout): reopened at its offset, the result goes there.
got=$(lab_exec n1 cat /tmp/p.stdout)
[ "$(lab_exec n1 cat /tmp/p2.rc)" = 0 ] && [ "$got" = "$ref" ] && lab_exec n1 cmp -s /tmp/ref.out /tmp/p.out &&
	ok "restarted from the newest periodic checkpoint ($(basename "$last")): same result and file" ||
	fail "restart from $last: '$got' rc $(lab_exec n1 cat /tmp/p2.rc): $(lab_exec n1 cat /tmp/p2.err)"

# Bad requests.
out=$(lab_exec n1 ssictl checkpoint 999999 /tmp/x.ckpt 2>&1)
[ $? != 0 ] && echo "$out" | grep -q "not an ssi process" && ok "unknown pid: $out" || fail "unknown pid: $out"
lab_exec n1 test -e /tmp/x.ckpt && fail "a refused checkpoint left a file" || ok "a refused checkpoint leaves no file"

finish
