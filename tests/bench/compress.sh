#!/bin/bash
# Does compressing the image stream pay on loopback? (issue #14: "cheap compression is allowed
# where a benchmark shows it pays on this link, measured against the channel's own speed".)
#
#   tests/bench/compress.sh [REPS]      (default 3; root for the freezes; about 2 minutes)
#
# Three real images, each taken with one engine freeze (ssi-freeze -x to /dev/shm, no ssid):
#   python3  a python3 holding 1.5 million small dicts, lists and strings (a typical heap);
#   memhog   memhog 256 (tests/progs/memhog.c: 256 MiB of patterned words);
#   livehog  livehog 256 0 0 (256 MiB of hashed words: no compressor finds anything).
# Each image then crosses ssi-xfer (the channel an image takes: AES-GCM) on 127.0.0.1, three
# ways, in alternation, REPS times: as is; through `lz4 -1` before the sender and `lz4 -d`
# after the receiver; the same with `zstd -1`. The compressors are processes of their own, so
# they run on the other CPU beside the channel (the best case for them). Time: from starting
# the sender to the receiver's pipeline ending (its output to /dev/null), median of REPS.
# Ratios: compressed bytes / image bytes, and time / the plain transfer's time of the same
# round (< 1: compression pays). Last, each compressor alone on the image (file to file, one
# CPU): MB/s of image bytes compressed and decompressed. docs/BENCHMARKS.md, "Compressing the image stream".
top=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${SSI_BINDIR:-$top/build/bin}
LIB=${SSI_LIBDIR:-$top/build/lib}/libssi.so
T=${SSI_TESTDIR:-$top/build/tests}
REPS=${1:-3}
for t in lz4 zstd python3; do
	command -v $t >/dev/null || { echo "compress.sh: $t is not installed" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "compress.sh: run as root (ssi-freeze)" >&2; exit 2; }
W=$(mktemp -d /dev/shm/ssi-cz.XXXXXX)
trap 'rm -rf "$W"' EXIT
export SSI_FREEZE_DIR=$W
head -c 32 /dev/urandom >"$W/key"

# image NAME READY PROG ARGS...: one freeze of PROG (under libssi.so) into $W/NAME.img, once
# its output shows READY.
image() {
	local name=$1 ready=$2 pid
	shift 2
	env GLIBC_TUNABLES=glibc.pthread.rseq=0 LD_PRELOAD="$LIB" "$@" >"$W/out" 2>&1 &
	pid=$!
	for _ in $(seq 600); do grep -q "$ready" "$W/out" 2>/dev/null && break; sleep 0.1; done
	"$BIN/ssi-freeze" -x -o "$W/$name.img" "$pid" >/dev/null 2>&1 ||
		{ echo "compress.sh: cannot freeze $name: $(tail -2 "$W/out")" >&2; exit 1; }
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

port=$((30000 + $$ % 20000))
# xfer IMG COMP DECOMP: one transfer of IMG through COMP | ssi-xfer send -> ssi-xfer recv |
# DECOMP on 127.0.0.1; prints its seconds.
xfer() {
	local t0 t1 rx
	port=$((port + 1))
	python3 -c '
import os, socket, sys
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", int(sys.argv[1])))
ls.listen(1)
k = os.open(sys.argv[2], os.O_RDONLY)
os.set_inheritable(ls.fileno(), True)
os.set_inheritable(k, True)
os.execv(sys.argv[3], [sys.argv[3], "recv", "--listen-fd", str(ls.fileno()), "--key-fd", str(k)])
' "$port" "$W/key" "$BIN/ssi-xfer" | $3 >/dev/null &
	rx=$!
	for _ in $(seq 100); do ss -Hltn "sport = :$port" | grep -q . && break; sleep 0.02; done
	t0=$(date +%s%N)
	$2 <"$1" | "$BIN/ssi-xfer" send --to "127.0.0.1:$port" --key-fd 3 3<"$W/key" ||
		echo "compress.sh: ssi-xfer send failed" >&2
	wait "$rx" || echo "compress.sh: the receiving side failed" >&2
	t1=$(date +%s%N)
	awk -v d=$((t1 - t0)) 'BEGIN { printf "%.3f\n", d / 1e9 }'
}
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

image python3 ready python3 -c '
import time
d = [{"id": i, "name": "user%d" % i, "tags": ["a", "b", str(i % 97)], "score": i * 0.25}
     for i in range(1500000)]
print("ready", flush=True)
time.sleep(600)'
image memhog 'iter=3 ' "$T/memhog" 256 100000 1000
image livehog 'livehog ready' "$T/livehog" 256 0 0

# alone CMD IMG: the compressor alone, IMG through CMD into /dev/null (compress) and its output
# back (decompress, through DCMD = $3); prints "MB/s in, MB/s out" of the image's bytes.
alone() {
	local size t0 t1 t2
	size=$(stat -c %s "$2")
	t0=$(date +%s%N)
	$1 <"$2" >"$W/c"
	t1=$(date +%s%N)
	$3 <"$W/c" >/dev/null
	t2=$(date +%s%N)
	rm -f "$W/c"
	awk -v s="$size" -v a=$((t1 - t0)) -v b=$((t2 - t1)) 'BEGIN { printf "%.0f/%.0f", s / a * 1000, s / b * 1000 }'
}

echo "# $(date -u '+%F %H:%M') UTC, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), medians of $REPS"
printf '%-8s %9s | %-9s | %-21s | %-21s | %s\n' image MiB "plain s" "lz4 -1: size, s, x" "zstd -1: size, s, x" \
	"alone, MB/s comp/decomp: lz4, zstd"
for name in python3 memhog livehog; do
	img=$W/$name.img
	size=$(stat -c %s "$img")
	lz=$(lz4 -1 -c <"$img" | wc -c)
	zs=$(zstd -1 -q -c <"$img" | wc -c)
	rm -f "$W/t.plain" "$W/t.lz4" "$W/t.zstd" "$W/x.lz4" "$W/x.zstd"
	for _ in $(seq "$REPS"); do
		p=$(xfer "$img" cat cat)
		l=$(xfer "$img" "lz4 -1 -c" "lz4 -d -c")
		z=$(xfer "$img" "zstd -1 -q -c" "zstd -d -q -c")
		echo "$p" >>"$W/t.plain"
		echo "$l" >>"$W/t.lz4"
		echo "$z" >>"$W/t.zstd"
		awk -v a="$l" -v b="$p" 'BEGIN { printf "%.2f\n", a / b }' >>"$W/x.lz4"
		awk -v a="$z" -v b="$p" 'BEGIN { printf "%.2f\n", a / b }' >>"$W/x.zstd"
	done
	a_lz=$(alone "lz4 -1 -c" "$img" "lz4 -d -c")
	a_zs=$(alone "zstd -1 -q -c" "$img" "zstd -d -q -c")
	printf '%-8s %9.1f | %-9s | %-21s | %-21s | %s\n' "$name" "$(awk -v s="$size" 'BEGIN { print s / 1048576 }')" \
		"$(median <"$W/t.plain")" \
		"$(awk -v a="$lz" -v b="$size" 'BEGIN { printf "%.2f", a / b }'), $(median <"$W/t.lz4"), $(median <"$W/x.lz4")x" \
		"$(awk -v a="$zs" -v b="$size" 'BEGIN { printf "%.2f", a / b }'), $(median <"$W/t.zstd"), $(median <"$W/x.zstd")x" \
		"$a_lz, $a_zs"
done
