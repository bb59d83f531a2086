#!/bin/bash
# Chained moves and coming home on a 3-host virtual cluster. memhog holds
# 512 MiB of patterned memory with a running checksum and moves
# n1 -> n2 -> n3 -> home while it runs: every iteration's checksum equals an
# unmigrated run's, `ssictl ps` shows the right node between moves, pid and
# parent never change, and its exit status reaches the parent shell.
# Homecomings that fail (the home restore is refused, input taken from home
# is still unread, the body's node is cut off mid-transfer) leave the body
# running where it was. Job control: SIGSTOP/SIGTSTP and SIGCONT sent to the
# home pid stop and continue the body, and the home process shows stopped.
. "$(dirname "$0")/lib.sh"
lab_require_root
memhog=${SSI_TESTDIR:-$lab_top/build/tests}/memhog
[ -x "$memhog" ] || { echo "not ok - $memhog is missing (make check builds it)"; exit 1; }
lab_up 3

MIB=512 ITERS=70 INTERVAL=100
mkdir -p "$LAB_FILES"

# The reference: the same run, never moved. Each line "iter=K sum=S" depends
# only on K.
lab_exec n1 sh -c "$memhog $MIB 140 $INTERVAL | cat > /tmp/ref.out"
sums() { lab_exec n1 sed -n 's/^memhog pid=[0-9]* ppid=[0-9]* \(iter=.*\)/\1/p' "$1"; }
sums /tmp/ref.out > "$SSILAB_DIR/ref.sums"
[ "$(wc -l < "$SSILAB_DIR/ref.sums")" = 140 ] && ok "reference run: 140 iterations" ||
	{ fail "reference run: $(lab_exec n1 tail -2 /tmp/ref.out)"; finish; }

# start TAG MIB ITERS [PREFIX] [PROG]: memhog (or PROG) under ssirun on n1
# (exit status 7), stdin from PREFIX's pipe if any, inside a subshell that
# records its pid and memhog's status; output into /tmp/TAG.out. Prints the pid.
start() {
	lab_exec n1 sh -c "sh -c 'echo \$\$ > /tmp/$1.sh; $4 ssirun ${5:-$memhog} $2 $3 $INTERVAL 7; echo \$? > /tmp/$1.rc' 2>&1 | cat > /tmp/$1.out &"
	wait_until 15 lab_exec n1 grep -q '^memhog pid=' "/tmp/$1.out" || { echo 0; return; }
	lab_exec n1 sed -n 's/^memhog start pid=\([0-9]*\).*/\1/p' "/tmp/$1.out"
}
iters() { lab_exec n1 grep -c '^memhog pid=' "/tmp/$1.out"; }
# progresses TAG: at least two more iterations within 10 s.
progresses() {
	p_from=$(iters "$1")
	wait_until 10 sh -c "[ \$(ssilab exec n1 -- grep -c '^memhog pid=' /tmp/$1.out) -ge $((p_from + 2)) ]"
}
# on NODE PID: ssictl ps (asked on n3) shows PID of n1 on NODE.
on() { lab_exec n3 ssictl ps --json | grep -q "\"home\":\"n1\",\"pid\":$2,\"node\":\"$1\""; }
# same_sums TAG: every iteration of the run has the reference's checksum.
same_sums() {
	sums "/tmp/$1.out" > "$SSILAB_DIR/$1.sums"
	head -n "$(wc -l < "$SSILAB_DIR/$1.sums")" "$SSILAB_DIR/ref.sums" | cmp -s - "$SSILAB_DIR/$1.sums"
}

# 1. n1 -> n2 -> n3 -> home while it runs.
pid=$(start c $MIB $ITERS)
[ "$pid" != 0 ] || { fail "memhog did not start: $(lab_exec n1 cat /tmp/c.out)"; finish; }
# The last step is asked from n2, naming the home: HOME:PID home.
for to in n2 n3 home; do
	if [ "$to" = home ]; then
		out=$(lab_exec n2 ssictl migrate "n1:$pid" home 2>&1)
	else
		out=$(lab_exec n1 ssictl migrate "$pid" "$to" 2>&1)
	fi
	rc=$?
	where=$to
	[ "$to" = home ] && where=n1
	if [ "$rc" = 0 ] && on "$where" "$pid"; then
		ok "ssictl migrate $pid $to: $out; ps shows it on $where"
	else
		fail "ssictl migrate $pid $to ($rc): $out; ps: $(lab_exec n3 ssictl ps | grep " $pid ")"
	fi
	progresses c && ok "it runs on after the move to $where" || fail "it runs on after the move to $where"
done
lab_exec n1 ssictl ps | grep -q "^n1 *$pid n1 *running" && ok "at home it is listed as running" ||
	fail "at home it is listed as running: $(lab_exec n1 ssictl ps | grep " $pid ")"
wait_until 60 lab_exec n1 test -s /tmp/c.rc
[ "$(lab_exec n1 cat /tmp/c.rc)" = 7 ] && ok "its exit status 7 reaches the parent shell" ||
	fail "exit status: '$(lab_exec n1 cat /tmp/c.rc)'"
if same_sums c && [ "$(wc -l < "$SSILAB_DIR/c.sums")" = "$ITERS" ] &&
	lab_exec n1 grep -q "^memhog done iters=$ITERS " /tmp/c.out; then
	ok "all $ITERS checksums equal the unmigrated run's, none lost or repeated"
else
	fail "checksums: $(diff "$SSILAB_DIR/ref.sums" "$SSILAB_DIR/c.sums" | head -4 | tr '\n' ' ')"
fi
[ "$(lab_exec n1 sed -n 's/^memhog pid=\([0-9]*\) .*/\1/p' /tmp/c.out | sort -u)" = "$pid" ] &&
	ok "its pid stayed $pid" || fail "its pid changed"
sh_pid=$(lab_exec n1 cat /tmp/c.sh)
[ "$(lab_exec n1 sed -n 's/^memhog pid=[0-9]* ppid=\([0-9]*\) .*/\1/p' /tmp/c.out | sort -u)" = "$sh_pid" ] &&
	ok "getppid() stayed its parent shell $sh_pid" ||
	fail "getppid changed: $(lab_exec n1 grep -o 'ppid=[0-9]*' /tmp/c.out | sort | uniq -c | tr '\n' ' ')"

# 2. The home restore is refused (a file it maps differs at home from the
# one on n2): the body runs on where it was, and finishes there.
# The same file (size, mtime) in n1's and n2's private /tmp; then n1's
# changes.
lab_exec n1 cp -p "$memhog" /tmp/memhog-copy
lab_exec n2 cp -p "$memhog" /tmp/memhog-copy
pid=$(start r 16 80 "" /tmp/memhog-copy)
lab_exec n1 ssictl migrate "$pid" n2 >/dev/null 2>&1 && on n2 "$pid" || fail "memhog-copy moved to n2"
lab_exec n1 touch -d '2001-01-01' /tmp/memhog-copy
out=$(lab_exec n1 ssictl migrate "$pid" home 2>&1)
rc=$?
if [ "$rc" != 0 ] && echo "$out" | grep -q "changed since the freeze" && echo "$out" | grep -q "keeps running on n2"; then
	ok "home restore refused: $out"
else
	fail "home restore refused ($rc): $out"
fi
on n2 "$pid" && progresses r && ok "the body runs on on n2" || fail "the body runs on on n2"
wait_until 30 lab_exec n1 test -s /tmp/r.rc
[ "$(lab_exec n1 cat /tmp/r.rc)" = 7 ] && lab_exec n1 grep -q '^memhog done iters=80 ' /tmp/r.out &&
	[ "$(iters r)" = 80 ] && ok "it finished on n2 with all 80 iterations and status 7" ||
	fail "it finished on n2: rc '$(lab_exec n1 cat /tmp/r.rc)', $(lab_exec n1 tail -1 /tmp/r.out)"

# 3. Input the deputy took from home that the body has not read cannot go
# back into a home pipe that another process (the writer, here) holds too:
# the homecoming is refused, named, nothing is lost (migrate_pipe_ahead.sh:
# when nobody else holds it, the bytes go back).
pid=$(start i 16 80 "{ echo hello; sleep 30; } |")
lab_exec n1 ssictl migrate "$pid" n2 >/dev/null 2>&1 && on n2 "$pid" || fail "the reader moved to n2"
out=$(lab_exec n1 ssictl migrate "$pid" home 2>&1)
rc=$?
if [ "$rc" != 0 ] && echo "$out" | grep -q "fd 0 has 6 bytes read ahead from a home pipe that process [0-9]* holds too" &&
	on n2 "$pid" && progresses i; then
	ok "unread home input: refused, runs on on n2: $out"
else
	fail "unread home input ($rc): $out"
fi
lab_exec n1 kill -TERM "$pid"

# 4. The body's node is cut off while its image is on the way home (the
# body's freeze times out after 5 s, the link is down for 8): the body thaws
# and runs on n2; once the link is back the process still ends with the
# reference checksums.
pid=$(start x $MIB $ITERS "SSI_FREEZE_TIMEOUT=5")
lab_exec n1 ssictl migrate "$pid" n2 >/dev/null 2>&1 && on n2 "$pid" || fail "the 512 MiB process moved to n2"
lab_exec n1 sh -c "ssictl migrate $pid home > /tmp/x.mig 2>&1; echo \$? >> /tmp/x.mig" &
mig=$!
if wait_until 10 grep -q "body of n1:$pid: coming home" "$(lab_log n2)"; then
	ip -n "ssilab$lab_tag-br" link set vn2 down
	sleep 8
	ip -n "ssilab$lab_tag-br" link set vn2 up
	wait "$mig"
	out=$(lab_exec n1 cat /tmp/x.mig)
	if [ "$(echo "$out" | tail -1)" != 0 ] && echo "$out" | grep -q "keeps running on n2"; then
		ok "n2 cut off mid-transfer: the homecoming fails: $(echo "$out" | head -1)"
	else
		fail "n2 cut off mid-transfer: $out"
	fi
else
	wait "$mig"
	fail "the homecoming never started: $(lab_exec n1 cat /tmp/x.mig)"
fi
on n2 "$pid" && progresses x && ok "the body runs on on n2" || fail "the body runs on on n2"
wait_until 60 lab_exec n1 test -s /tmp/x.rc
if [ "$(lab_exec n1 cat /tmp/x.rc)" = 7 ] && same_sums x && [ "$(wc -l < "$SSILAB_DIR/x.sums")" = "$ITERS" ]; then
	ok "it ends with status 7 and the reference checksums"
else
	fail "after the cut: rc '$(lab_exec n1 cat /tmp/x.rc)', $(lab_exec n1 tail -2 /tmp/x.out)"
fi

# 5. Job control: stop signals sent to the home pid stop the body (its
# progress stops) and the home process shows stopped; SIGCONT continues both.
pid=$(start j 16 400)
lab_exec n1 ssictl migrate "$pid" n2 >/dev/null 2>&1 && on n2 "$pid" || fail "memhog moved to n2"
# The body's state on n2 (its output is no measure: a stopped deputy holds
# it back at home anyway).
body_state() { lab_exec n2 sh -c "cut -d' ' -f3 /proc/\$(pgrep -f '^$memhog 16 400')/stat"; }
stopped() {
	[ "$(lab_exec n1 sh -c "cut -d' ' -f3 /proc/$pid/stat")" = T ] && [ "$(body_state)" = T ] &&
		lab_exec n1 ssictl ps | grep -q " $pid n2 *stopped"
}
for sig in STOP TSTP; do
	lab_exec n1 kill -"$sig" "$pid"
	if wait_until 5 stopped && sleep 1 && a=$(iters j) && sleep 1 && [ "$(iters j)" = "$a" ] && stopped; then
		ok "SIG$sig to the home pid: the body on n2 stops, the home process is stopped"
	else
		fail "SIG$sig to the home pid: body on n2 '$(body_state)', $(lab_exec n1 ssictl ps | grep " $pid ")"
	fi
	lab_exec n1 kill -CONT "$pid"
	progresses j && ! stopped && ok "SIGCONT: it runs again" || fail "SIGCONT after SIG$sig"
done
lab_exec n1 kill -TERM "$pid"

finish
