#!/bin/bash
# The deputy and the body agent, on one machine but across namespaces.
#
# Two virtual hosts: "home" and "away", each with its own network
# namespace (a veth pair on 198.18.1.0/24), mount namespace with a private
# /tmp, and PID namespace. A program starts at home under libssi.so with a
# pipe for stdin and for stdout; ssi-freeze --deputy moves its body to an
# ssi-agent on the away host, and the home process stays as its deputy. The
# deputy <-> agent traffic crosses the veth, sealed by ssi_chan.
#
# Checks: output byte-identical to an unmigrated run; stdin fed after the
# move arrives; getpid() unchanged; the exit code (and a death by signal)
# reaches the parent's wait; SIGUSR1/SIGTERM sent to the home pid reach the
# body; SIGKILL of the deputy kills the body; SIGKILL of the agent makes
# the deputy die as if killed, saying why; the deputy's RSS drops; a failed
# connect leaves the program running at home with correct output; nothing
# is left behind in either namespace.
. "$(dirname "$0")/lib.sh"

for f in "$BIN/ssi-agent"; do
	[ -x "$f" ] || { echo "not ok - missing $f (run: make all)"; exit 1; }
done
command -v ip >/dev/null || { echo "# skipped: needs iproute2 (ip)"; exit 77; }
# The virtual hosts mount their own /tmp: a build tree under /tmp (a CI
# clone) is bound back over it, as ssilab does, and nothing else.
SSI_KEEP=
case "$top/" in
/tmp/*) SSI_KEEP=$top ;;
esac
export SSI_KEEP
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)

# The freeze sockets must be reachable from the home host's private /tmp.
FZ=$(mktemp -d /var/tmp/ssi-deputy.XXXXXX)
export SSI_FREEZE_DIR=$FZ
NSH=ssi-dh-$$ NSA=ssi-da-$$
PORT=7001
A_ADDR=198.18.1.2

teardown() {
	local ns p
	for ns in $NSH $NSA; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$FZ"
	cleanup
}
trap teardown EXIT

ip netns add $NSH && ip netns add $NSA || { echo "# skipped: cannot create network namespaces"; exit 77; }
ip link add vdh$$ type veth peer name vda$$ || { echo "# skipped: no veth"; exit 77; }
ip link set vdh$$ netns $NSH
ip link set vda$$ netns $NSA
ip -n $NSH addr add 198.18.1.1/24 dev vdh$$
ip -n $NSA addr add $A_ADDR/24 dev vda$$
for ns in $NSH $NSA; do ip -n $ns link set lo up; done
ip -n $NSH link set vdh$$ up
ip -n $NSA link set vda$$ up

# A virtual host's init: private /tmp, then the command; for the home host
# the program runs as pid 2 under a shell whose `wait` is the parent's.
# Both hosts start alike: a private /tmp, with a build tree under /tmp (a
# CI clone) bound back over it. Sourced with the tmpfs name in $1.
cat >"$WORK/private_tmp.sh" <<'EOF'
[ -z "$SSI_KEEP" ] || exec 7<"$SSI_KEEP" || exit 99
mount -t tmpfs "$1" /tmp || exit 99
if [ -n "$SSI_KEEP" ]; then
	mkdir -p "$SSI_KEEP" && mount --no-canonicalize --bind /proc/self/fd/7 "$SSI_KEEP" || exit 99
	exec 7<&-
fi
EOF
cat >"$WORK/home.sh" <<'EOF'
set -- ssi-home "$@"
. "$(dirname "$0")/private_tmp.sh"
shift
# (an asynchronous command's stdin would be /dev/null without the dup)
exec 3<&0
"$@" 0<&3 3<&- 9>&- &
wait $!
echo "status=$?" >&9
EOF
cat >"$WORK/away.sh" <<'EOF'
set -- ssi-away "$@"
. "$(dirname "$0")/private_tmp.sh"
shift
exec "$@"
EOF
head -c 32 /dev/urandom >"$WORK/key"

# home_start NAME CMD...: runs CMD at home with stdin from the FIFO
# $WORK/NAME.in and stdout to the FIFO $WORK/NAME.pipe (copied to
# $WORK/NAME.out), stderr to NAME.err; status line in NAME.status.
# Sets HJOB (the host's unshare) and HPID (the program, as seen here).
home_start() {
	local n=$1; shift
	rm -f "$WORK/$n".*
	mkfifo "$WORK/$n.in" "$WORK/$n.pipe"
	cat "$WORK/$n.pipe" >"$WORK/$n.out" &
	CATJOB=$!
	ip netns exec $NSH unshare --mount --pid --fork --mount-proc sh "$WORK/home.sh" \
		env GLIBC_TUNABLES=glibc.pthread.rseq=0 LD_PRELOAD="$LIB/libssi.so" "$@" \
		<"$WORK/$n.in" >"$WORK/$n.pipe" 2>"$WORK/$n.err" 9>"$WORK/$n.status" &
	HJOB=$!
	exec 7>"$WORK/$n.in" # the test holds stdin's writing end
	# The host's init first runs mount(8): wait for the process that has
	# libssi.so loaded.
	local i
	for i in $(seq 750); do
		HPID=$(pgrep -P "$(pgrep -P "$HJOB" | head -n 1)" 2>/dev/null | head -n 1)
		[ -n "$HPID" ] && grep -q libssi.so "/proc/$HPID/maps" 2>/dev/null && return 0
		sleep 0.02
	done
	echo "# home_start $n: program did not start"
}

# home_wait NAME: closes stdin, waits for the program's end; sets st to
# the status its parent's `wait` saw (128+N: killed by signal N).
home_wait() {
	exec 7>&-
	wait "$HJOB"
	wait "$CATJOB"
	st=$(sed -n 's/^status=//p' "$WORK/$1.status")
}

# away_start NAME: ssi-agent as pid 1 of the away host, image from the
# FIFO NAME.img (opened read-write so that nobody blocks in open: the
# agent reads up to the image's END record, it needs no EOF). Returns when
# the agent listens, as ssid waits for that line before the verdict.
# Sets AJOB.
away_start() {
	local n=$1
	mkfifo "$WORK/$n.img"
	ip netns exec $NSA unshare --mount --pid --fork --mount-proc sh "$WORK/away.sh" \
		"$BIN/ssi-agent" --listen $A_ADDR:$PORT --key-fd 5 --image-fd 3 --status-fd 4 \
		--accept-timeout 10 3<>"$WORK/$n.img" 4>"$WORK/$n.astatus" 5<"$WORK/key" \
		2>"$WORK/$n.aerr" 7>&- &
	AJOB=$!
	wait_line "$WORK/$n.astatus" '^listening' 10 || echo "# away_start $n: agent does not listen"
}

# migrate NAME [PORT]: freezes HPID with the deputy verdict; sets MRC.
migrate() {
	timeout 60 "$BIN/ssi-freeze" -q --deputy $A_ADDR:${2:-$PORT} --key-fd 5 -o "$WORK/$1.img" "$HPID" \
		5<"$WORK/key" 2>"$WORK/$1.ferr"
	MRC=$?
}

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
ns_empty() { [ -z "$(ip netns pids "$1")" ]; }
wait_ns_empty() {
	local i
	for i in $(seq 100); do ns_empty "$1" && return 0; sleep 0.05; done
	return 1
}
# iters_ok FILE N: iterations 1..N once each, in order, all printed with
# the pid the program had when it started at home (parent: the host's init).
iters_ok() {
	local pid want got
	pid=$(sed -n 's/^memhog start pid=\([0-9]*\) .*/\1/p' "$1")
	[ -n "$pid" ] || return 1
	want=$(seq "$2" | sed "s/^/$pid 1 /")
	got=$(sed -n 's/^memhog pid=\([0-9]*\) ppid=\([0-9]*\) iter=\([0-9]*\) .*/\1 \2 \3/p' "$1")
	[ "$want" = "$got" ]
}

MIB=32 ITERS=50 INTERVAL=40

# --- reference: the same program, not migrated --------------------------------
home_start ref "$MEMHOG" $MIB $ITERS $INTERVAL
home_wait ref
check "unmigrated memhog exits 0 at home (status $st)" [ "$st" = 0 ]

# --- 1. memhog moves, keeps its pid, output identical, signal, exit code ----
home_start mh "$MEMHOG" $MIB $ITERS $INTERVAL
wait_line "$WORK/mh.out" 'iter=5 '
away_start mh
rss0=$(rss_kb "$HPID")
migrate mh
check "ssi-freeze --deputy succeeds (rc $MRC)" [ $MRC = 0 ]
check "agent reports running then connected" wait_line "$WORK/mh.astatus" '^connected'
# (the deputy gives its memory back as it becomes one: up to 5 s for that on a loaded machine)
for _ in $(seq 50); do
	rss1=$(rss_kb "$HPID")
	[ "$rss1" -lt $((rss0 / 4)) ] && break
	sleep 0.1
done
check "deputy RSS drops after the move (${rss0} kB -> ${rss1} kB)" [ "$rss1" -lt $((rss0 / 4)) ]
check "the home pid is still there (the deputy)" kill -0 "$HPID"
kill -USR1 "$HPID"
check "SIGUSR1 sent to the home pid reaches the body" wait_line "$WORK/mh.out" 'memhog got SIGUSR1'
home_wait mh
check "the parent's wait sees the body's exit status 0 ($st)" [ "$st" = 0 ]
wait "$AJOB"; arc=$?
check "agent exits 0 after relaying the exit" [ $arc = 0 ]
check "agent reported the exit" grep -qx 'exited 0' "$WORK/mh.astatus"
grep -v 'memhog got SIGUSR1' "$WORK/mh.out" >"$WORK/mh.cmp"
check "output identical to the unmigrated run (no byte lost, duplicated or reordered)" \
	cmp -s "$WORK/ref.out" "$WORK/mh.cmp"
check "getpid() unchanged: every line has the start pid, ppid=1, iterations 1..$ITERS once" \
	iters_ok "$WORK/mh.cmp" $ITERS
check "the body ran at the away host (iterations after the move)" \
	[ "$(grep -c 'iter=' "$WORK/mh.out")" -gt 6 ]
check "nothing left in either host" wait_ns_empty $NSA
check "nothing left at home" wait_ns_empty $NSH

# --- 2. stdin fed after the move arrives; exit code passes through -----------
PYPROG='import sys
n = 0
for line in sys.stdin:
    n += 1
    print(n, line.strip()[::-1], flush=True)
print("lines", n, flush=True)
sys.exit(7)'
seq 1 200 | sed 's/$/ abcdefghij/' >"$WORK/lines"
home_start py "$PY" -c "$PYPROG"
head -n 100 "$WORK/lines" >&7
wait_line "$WORK/py.out" '^100 '
away_start py
migrate py
check "python: ssi-freeze --deputy succeeds (rc $MRC)" [ $MRC = 0 ]
wait_line "$WORK/py.astatus" '^connected'
tail -n +101 "$WORK/lines" >&7
home_wait py
wait "$AJOB"
expect=$("$PY" -c "$PYPROG" <"$WORK/lines")
check "python: stdin written after the move arrives, output complete and in order" \
	[ "$expect" = "$(cat "$WORK/py.out")" ]
check "python: exit code 7 reaches the parent's wait ($st)" [ "$st" = 7 ]

# --- 3. sha256sum reading a pipe across the move ------------------------------
head -c 3000000 /dev/urandom >"$WORK/data"
home_start sha sha256sum
head -c 1000000 "$WORK/data" >&7
away_start sha
migrate sha
check "sha256sum: ssi-freeze --deputy succeeds (rc $MRC)" [ $MRC = 0 ]
tail -c +1000001 "$WORK/data" >&7
home_wait sha
wait "$AJOB"
check "sha256sum: digest of stdin fed before and after the move is right" \
	[ "$(sha256sum <"$WORK/data")" = "$(cat "$WORK/sha.out")" ]
check "sha256sum: exit 0 ($st)" [ "$st" = 0 ]

# --- 4. bc computing digits, moved mid-computation ---------------------------
home_start bcref bc -l
echo "scale=1800; 4*a(1)" >&7
exec 7>&-
home_wait bcref
home_start bc bc -l
echo "scale=1800; 4*a(1)" >&7
sleep 0.4
away_start bc
migrate bc
check "bc: ssi-freeze --deputy succeeds (rc $MRC)" [ $MRC = 0 ]
home_wait bc
wait "$AJOB"
check "bc: digits identical to an unmigrated run" cmp -s "$WORK/bcref.out" "$WORK/bc.out"
check "bc: the work was really moved (agent saw it exit 0)" grep -qx 'exited 0' "$WORK/bc.astatus"

# --- 5. SIGTERM to the home pid kills the body; the parent sees it -----------
home_start term "$MEMHOG" 8 1000 $INTERVAL
wait_line "$WORK/term.out" 'iter=3 '
away_start term
migrate term
wait_line "$WORK/term.astatus" '^connected'
kill -TERM "$HPID"
home_wait term
wait "$AJOB"
check "SIGTERM reaches the body: parent's wait sees death by signal 15 ($st)" [ "$st" = 143 ]
check "agent reports the body killed by 15" grep -qx 'killed 15' "$WORK/term.astatus"
check "SIGTERM: nothing left behind" wait_ns_empty $NSA

# --- 6. SIGKILL of the deputy kills the body -----------------------------------
home_start kd "$MEMHOG" 8 1000 $INTERVAL
wait_line "$WORK/kd.out" 'iter=3 '
away_start kd
migrate kd
wait_line "$WORK/kd.astatus" '^connected'
check "body runs away before the kill" [ -n "$(ip netns pids $NSA)" ]
kill -KILL "$HPID"
home_wait kd
wait "$AJOB"; arc=$?
check "deputy SIGKILL: the body dies with it (no orphan)" wait_ns_empty $NSA
check "deputy SIGKILL: agent says why and fails" grep -q '^failed: deputy connection lost' "$WORK/kd.astatus"
check "deputy SIGKILL: agent exit status 1 ($arc)" [ $arc = 1 ]

# --- 7. SIGKILL of the agent: the deputy dies as if killed, saying why ------------
home_start ka "$MEMHOG" 8 1000 $INTERVAL
wait_line "$WORK/ka.out" 'iter=3 '
away_start ka
migrate ka
wait_line "$WORK/ka.astatus" '^connected'
kill -KILL "$(find_leaf "$AJOB" 1)"
home_wait ka
check "agent SIGKILL: the parent's wait sees the deputy killed by SIGKILL ($st)" [ "$st" = 137 ]
check "agent SIGKILL: the deputy says why on stderr" grep -q 'lost the connection to the body' "$WORK/ka.err"
check "agent SIGKILL: nothing left" wait_ns_empty $NSA

# --- 8. failed connect at the verdict: the program goes on at home --------------
home_start fc "$MEMHOG" $MIB $ITERS $INTERVAL
wait_line "$WORK/fc.out" 'iter=5 '
migrate fc 7999 # nobody listens there
check "failed connect: ssi-freeze says the process continues at home (rc $MRC)" [ $MRC = 3 ]
home_wait fc
check "failed connect: program exits 0 at home ($st)" [ "$st" = 0 ]
check "failed connect: output identical to the unmigrated run" cmp -s "$WORK/ref.out" "$WORK/fc.out"
# The reason goes to the requester, never into the program's stderr (#17).
check "failed connect: the requester says why" grep -q 'could not reach the agent' "$WORK/fc.ferr"
check "failed connect: nothing from ssi in the program's stderr" sh -c "! grep -q 'ssi' '$WORK/fc.err'"

if [ $nfail != 0 ]; then
	for f in "$WORK"/*.err "$WORK"/*.aerr "$WORK"/*.astatus "$WORK"/*.ferr; do
		[ -s "$f" ] && sed "s|^|# $(basename "$f"): |" "$f"
	done
fi
exit $((nfail != 0))
