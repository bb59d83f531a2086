#!/bin/bash
# Image size and freeze time with zero pages left out, against a libssi.so that sends every
# present page (BASE_LIB, e.g. built from the commit before), in alternation in the same run.
# Two processes: zeropages (64 MiB present, 60 MiB of it zero pages) and memhog 256 MiB (no zero
# page: what the zero test costs when it never pays). One engine freeze each (ssi-freeze -x to a
# file under /dev/shm), N rounds (default 5); prints min/median/max of freeze ms and image MiB.
# Usage (root): BASE_LIB=/path/to/old/libssi.so bash tests/bench/zeropages.sh [N]
top=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${SSI_BINDIR:-$top/build/bin}
LIB=${SSI_LIBDIR:-$top/build/lib}/libssi.so
T=${SSI_TESTDIR:-$top/build/tests}
N=${1:-5}
[ -f "${BASE_LIB:-}" ] || { echo "set BASE_LIB to a libssi.so built without zero-page marks" >&2; exit 2; }
W=$(mktemp -d /dev/shm/ssi-zp.XXXXXX)
trap 'rm -rf "$W"' EXIT
export SSI_FREEZE_DIR=$W

# one LIB PROG ARGS...: prints "freeze_ms image_mib" for one freeze of PROG under LIB.
one() {
	local lib=$1 pid line
	shift
	rm -f "$W/out"
	env GLIBC_TUNABLES=glibc.pthread.rseq=0 LD_PRELOAD="$lib" "$@" >"$W/out" 2>&1 &
	pid=$!
	for _ in $(seq 100); do grep -q "ready\|iter=3 " "$W/out" 2>/dev/null && break; sleep 0.05; done
	line=$("$BIN/ssi-freeze" -x -o "$W/img" "$pid" 2>&1)
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	echo "$(printf '%s' "$line" | sed -n 's/.*frozen \([0-9.]*\) ms.*/\1/p') $(($(stat -c %s "$W/img") >> 20))"
	rm -f "$W/img"
}
stats() { sort -n | awk '{v[NR]=$1} END {printf "%s/%s/%s", v[1], v[int((NR+1)/2)], v[NR]}'; }

echo "# load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-22s %-9s %-24s %s\n' process lib "freeze ms min/med/max" "image MiB min/med/max"
for prog in "zeropages $W/mapped 30" "memhog 256 100000 1000"; do
	for i in $(seq "$N"); do
		for lib in base new; do
			l=$LIB
			[ $lib = base ] && l=$BASE_LIB
			echo "$lib $(one "$l" $T/$prog)" >>"$W/res"
		done
	done
	for lib in base new; do
		f=$(awk -v l=$lib '$1 == l {print $2}' "$W/res" | stats)
		m=$(awk -v l=$lib '$1 == l {print $3}' "$W/res" | stats)
		printf '%-22s %-9s %-24s %s\n' "${prog%% *}" $lib "$f" "$m"
	done
	rm -f "$W/res"
done
