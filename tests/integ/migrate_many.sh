#!/bin/bash
# Many migrations at once through one ssid: 40 ssi processes on n1 (memhog
# holding 1 MiB with a running checksum, each writing into a file of its own
# at home) are all moved to n2 by 40 concurrent `ssictl migrate`. Every move
# succeeds, `ssictl ps` shows all 40 on n2, and each goes on working there:
# its iterations keep reaching its file at home with the checksums of a run
# that never moved, and its exit status 7 reaches its parent shell.
# n2's ssid then watches two helper pipes per body (80 at once), past the
# 62 that its old hand-built poll set could hold; n1's ssid answers 40
# clients and runs 80 helpers at the same time. Fails when ssid watches
# fewer pipes (the offers of some moves go unanswered, or what some agents
# say at the end is never read).
. "$(dirname "$0")/lib.sh"
lab_require_root
memhog=${SSI_TESTDIR:-$lab_top/build/tests}/memhog
[ -x "$memhog" ] || { echo "not ok - $memhog is missing (make check builds it)"; exit 1; }
lab_up 2
mkdir -p "$LAB_FILES"

N=40 MIB=1 ITERS=300 INTERVAL=200

# The reference: the same run, never moved (faster: each line depends only
# on the iteration number).
lab_exec n1 sh -c "$memhog $MIB $ITERS 5 > /tmp/ref.out"
sums() { lab_exec n1 sed -n 's/^memhog pid=[0-9]* ppid=[0-9]* \(iter=.*\)/\1/p' "$1"; }
ref=$(sums /tmp/ref.out)
[ "$(printf '%s\n' "$ref" | wc -l)" = "$ITERS" ] && ok "reference run: $ITERS iterations" ||
	{ fail "reference run: $(lab_exec n1 tail -2 /tmp/ref.out)"; finish; }

# N runs under ssirun on n1, each in a shell of its own that records its exit
# status in /tmp/mI.rc; its output goes straight into the home file /tmp/mI.out.
lab_exec n1 sh -c "for i in \$(seq 1 $N); do
	{ ssirun $memhog $MIB $ITERS $INTERVAL 7 > /tmp/m\$i.out 2>&1; echo \$? > /tmp/m\$i.rc; } &
done"
started() { [ "$(lab_exec n1 sh -c "grep -l '^memhog pid=' /tmp/m*.out 2>/dev/null | wc -l")" = "$N" ]; }
wait_until 30 started && ok "$N processes run on n1" ||
	{ fail "only $(lab_exec n1 sh -c "grep -l '^memhog pid=' /tmp/m*.out | wc -l") of $N started"; finish; }
pids=$(lab_exec n1 sh -c "for i in \$(seq 1 $N); do sed -n 's/^memhog start pid=\([0-9]*\).*/\1/p' /tmp/m\$i.out; done")
[ "$(printf '%s\n' $pids | sort -u | wc -l)" = "$N" ] || { fail "pids of the $N runs: $pids"; finish; }

# All N moves asked at once, each by its own ssictl; their answers and exit
# statuses in /tmp/mig.PID. Started one by one, 40 ssictl trickle in over
# seconds on a busy machine and n2 never has many migrations starting at
# once. So they all wait for one lock, and n1's ssid is held (SIGSTOP) for
# at most 0.8 s while their requests reach its accept queue: it then takes
# them in one turn, and n2 gets the N offers together. (0.8 s: a peer
# not heard from for 1.8 s is down, and heartbeats come every 0.5 s.)
cat >"$LAB_FILES/ask.sh" <<EOF
exec 9>/tmp/go.lock
flock 9
for p in $(echo $pids); do
	{ flock -s /tmp/go.lock true; ssictl migrate \$p n2 > /tmp/mig.\$p 2>&1; echo "rc=\$?" >> /tmp/mig.\$p; } 9>&- &
done
i=0
while [ "\$(pgrep -c -x flock)" -lt $N ] && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i + 1)); done
kill -STOP $(lab_ssid_pid n1)
{ sleep 0.8; kill -CONT $(lab_ssid_pid n1); touch /tmp/go.late; } &
flock -u 9
q=0
while [ "\$q" != $N ] && [ ! -e /tmp/go.late ]; do
	sleep 0.05
	q=\$(ss -xlH src /run/ssi/ssid.sock | awk '{ print \$3 }')
done
kill -CONT $(lab_ssid_pid n1)
echo "\$q of the $N requests were waiting together"
wait
EOF
note "$(lab_exec n1 sh "$LAB_FILES/ask.sh")"
# out: the runs' files at home (/tmp on n1), copied where this script sees them.
out=$SSILAB_DIR/files/out
fetch() { rm -rf "$out"; mkdir -p "$out"; lab_exec n1 sh -c "cp /tmp/m*.out /tmp/m*.rc /tmp/mig.* $out/ 2>/dev/null"; }
fetch
bad=
for p in $pids; do
	grep -qx "rc=0" "$out/mig.$p" && grep -q "moved from n1 to n2" "$out/mig.$p" ||
		bad="$bad [$p: $(tr '\n' ' ' <"$out/mig.$p")]"
done
[ -z "$bad" ] && ok "all $N concurrent moves to n2 succeeded" || fail "moves that failed:$bad"
# How far the runs had got when every move was done: they must go on from there.
moved_at=$(cat "$out"/m*.out | grep -c '^memhog pid=')
note "$moved_at of $((N * ITERS)) iterations were done when all had moved"

# ps, asked at home and on n2, lists each of them on n2; n2 runs the N bodies.
for host in n1 n2; do
	ps=$(lab_exec "$host" ssictl ps --json)
	missing=
	for p in $pids; do
		printf '%s' "$ps" | grep -q "\"home\":\"n1\",\"pid\":$p,\"node\":\"n2\"" || missing="$missing $p"
	done
	[ -z "$missing" ] && ok "ssictl ps on $host shows all $N on n2" || fail "ssictl ps on $host: not on n2:$missing"
done
bodies=$(lab_exec n2 pgrep -c -x memhog)
[ "$bodies" = "$N" ] && ok "n2 runs the $N bodies" || fail "n2 runs $bodies bodies, not $N"

# They run on over there: each reaches its end with status 7, and its home
# file has every iteration once, with its own pid and the reference checksums.
all_done() { [ "$(lab_exec n1 sh -c "cat /tmp/m*.rc 2>/dev/null | wc -l")" = "$N" ]; }
wait_until $((ITERS * INTERVAL / 1000 + 60)) all_done
fetch
bad=
i=0
for p in $pids; do
	i=$((i + 1))
	f=$out/m$i.out
	rc=$(cat "$out/m$i.rc" 2>/dev/null)
	if [ "$rc" != 7 ] || [ "$(sed -n 's/^memhog pid=[0-9]* ppid=[0-9]* \(iter=.*\)/\1/p' "$f")" != "$ref" ] ||
		[ "$(sed -n 's/^memhog pid=\([0-9]*\) .*/\1/p' "$f" | sort -u)" != "$p" ] ||
		! grep -q "^memhog done iters=$ITERS " "$f"; then
		bad="$bad [$p: status '$rc', $(tail -n 1 "$f")]"
	fi
done
if [ -z "$bad" ] && [ "$moved_at" -lt $((N * ITERS)) ]; then
	ok "each ran on on n2 to status 7, its output complete in its home file, with the reference checksums"
else
	fail "runs that went wrong (iterations done before the moves: $moved_at):$bad"
fi
# n2's ssid read every agent's status pipe to the end: each body's end, as
# its agent said it, is in n2's log (it watches 80 pipes while all run).
unheard=
for p in $pids; do
	grep -q "body of n1:$p: exited 7$" "$(lab_log n2)" || unheard="$unheard $p"
done
[ -z "$unheard" ] && ok "n2's ssid heard each agent say its body exited 7" ||
	fail "n2's ssid did not hear the agent of:$unheard"
gone() { ! lab_exec n2 pgrep -x memhog >/dev/null && ! lab_exec n2 pgrep -x ssi-agent >/dev/null; }
wait_until 10 gone && ok "nothing is left on n2" ||
	fail "left on n2: $(lab_exec n2 ps -e -o comm= | grep -c 'memhog\|ssi-agent') bodies and agents"
if grep -q "did not answer the offer" "$(lab_log n1)"; then
	fail "n1's log has an offer n2 did not answer: $(grep -m1 'did not answer' "$(lab_log n1)")"
else
	ok "n2 answered every offer in time"
fi

finish
