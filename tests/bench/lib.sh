# Helpers for benchmarks: a one-node cluster on a private socket, and
# timing of commands in alternation so that plain and ssi runs see the same
# machine noise. Benchmarks print figures; they never pass or fail on time.

top=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${SSI_BINDIR:-$top/build/bin}

bench_ssid_start() {
	bench_dir=$(mktemp -d /tmp/ssi-bench.XXXXXX)
	key=$("$BIN/ssictl" keygen "$bench_dir/keys") || return 1
	port=$((20000 + $$ % 20000))
	cat >"$bench_dir/cluster.conf" <<EOC
cluster = bench
node = b1
    endpoint = tcp://127.0.0.1:$port
    key = "$key"
EOC
	export SSI_SOCKET=$bench_dir/ssid.sock
	"$BIN/ssid" --cluster "$bench_dir/cluster.conf" --name b1 --keys "$bench_dir/keys" \
		--socket "$SSI_SOCKET" 2>"$bench_dir/ssid.log" &
	bench_ssid=$!
	for _ in $(seq 50); do
		[ -S "$SSI_SOCKET" ] && return 0
		sleep 0.1
	done
	echo "bench: ssid did not start; see $bench_dir/ssid.log" >&2
	return 1
}

bench_ssid_stop() {
	[ -n "${bench_ssid:-}" ] && kill "$bench_ssid" 2>/dev/null && wait "$bench_ssid" 2>/dev/null
	[ -n "${bench_dir:-}" ] && rm -rf "$bench_dir"
}

# Wall time of one run of "$@" in seconds (stdout discarded).
bench_time() {
	local t0 t1
	t0=$(date +%s.%N)
	"$@" >/dev/null 2>&1
	t1=$(date +%s.%N)
	echo "$t1 - $t0" | bc -l
}

median() {
	sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
