# tests/engine/lib.sh - helpers for the migration engine tests (sourced).
#
# Bodies run in a fresh PID namespace whose pid 1 is a shell, so memhog is
# pid 2 with ppid 1, as after a restore (ssi-restore is pid 1 there).
# Output: "ok - ..." / "not ok - ..." lines; exit 77 means skipped.

top=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${SSI_BINDIR:-$top/build/bin}
LIB=${SSI_LIBDIR:-$top/build/lib}
TDIR=${SSI_TESTDIR:-$top/build/tests}
MEMHOG=$TDIR/memhog
nfail=0

if [ "$(id -u)" != 0 ]; then
	echo "# skipped: needs root (PID namespaces, clone3 set_tid, PR_SET_MM)"
	exit 77
fi
for f in "$BIN/ssi-restore" "$BIN/ssi-freeze" "$LIB/libssi.so" "$MEMHOG"; do
	if [ ! -x "$f" ] && [ ! -f "$f" ]; then
		echo "not ok - missing $f (run: make all build/tests/memhog)"
		exit 1
	fi
done
if ! unshare --pid --fork --mount-proc true 2>/dev/null; then
	echo "# skipped: cannot create PID namespaces here"
	exit 77
fi

WORK=$(mktemp -d /tmp/ssi-engine.XXXXXX)
export SSI_FREEZE_DIR=$WORK/sock
mkdir -p "$SSI_FREEZE_DIR"
cleanup() {
	for p in $(jobs -p); do kill -9 "$p" 2>/dev/null; done
	[ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

ok() { echo "ok - $*"; }
not() { ! "$@"; }
notok() { echo "not ok - $*"; nfail=$((nfail + 1)); }
check() { # check DESCRIPTION COMMAND...
	local d=$1; shift
	if "$@"; then ok "$d"; else notok "$d"; fi
}

# start_body OUT ARGS...: memhog under libssi.so in a new pid namespace;
# sets BODY_WRAP (unshare's pid) and BODY (memhog's pid outside the ns).
start_body() {
	local out=$1; shift
	unshare --pid --fork --mount-proc sh -c '"$@" & wait $!' sh \
		env GLIBC_TUNABLES=glibc.pthread.rseq=0 LD_PRELOAD="$LIB/libssi.so" \
		"$MEMHOG" "$@" >"$out" 2>&1 &
	BODY_WRAP=$!
	BODY=$(find_leaf "$BODY_WRAP" 2)
}

# restore_body IMAGE OUT: ssi-restore as pid 1 of a new pid namespace,
# output appended to OUT; sets BODY_WRAP and BODY as start_body does.
restore_body() {
	unshare --pid --fork --mount-proc "$BIN/ssi-restore" "$1" >>"$2" 2>>"$WORK/restore.err" &
	BODY_WRAP=$!
	BODY=$(find_leaf "$BODY_WRAP" 2)
}

# find_leaf PID DEPTH: the descendant DEPTH levels below PID (waits).
find_leaf() {
	local p=$1 d=$2 i c
	for i in $(seq 100); do
		c=$p
		local k
		for k in $(seq "$d"); do
			c=$(pgrep -P "$c" | head -n 1)
			[ -n "$c" ] || break
		done
		if [ -n "$c" ]; then echo "$c"; return 0; fi
		sleep 0.05
	done
	return 1
}

# wait_line FILE REGEX [SECONDS]: waits until FILE has a matching line.
wait_line() {
	local i
	for i in $(seq $((${3:-20} * 20))); do
		grep -Eq "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# last_iter FILE: the highest iteration printed so far.
last_iter() { grep -o 'iter=[0-9]*' "$1" | tail -n 1 | cut -d= -f2; }

# reference_sum MIB ITERS: the final line of an unmigrated run.
reference_sum() { "$MEMHOG" "$1" "$2" 1 | grep '^memhog done'; }

# iters_consecutive FILE N: lines iter=1..N each exactly once, in order,
# all with pid=2 ppid=1.
iters_consecutive() {
	local want got
	want=$(seq "$2" | sed 's/^/2 1 /')
	got=$(sed -n 's/^memhog pid=\([0-9]*\) ppid=\([0-9]*\) iter=\([0-9]*\) .*/\1 \2 \3/p' "$1")
	[ "$want" = "$got" ]
}
