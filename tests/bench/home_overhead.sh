#!/bin/bash
# Cost of running at home under ssirun: real programs, each plain and under
# ssirun in alternation (ABAB...), medians of REPS runs, printed as ratios.
# Usage: tests/bench/home_overhead.sh [REPS]   (default 7)
. "$(dirname "$0")/lib.sh"
reps=${1:-7}
bench_ssid_start || exit 1
trap bench_ssid_stop EXIT

run_pair() {
	local label=$1
	shift
	local plain=() ssi=()
	"$@" >/dev/null 2>&1 # warm the caches once
	for _ in $(seq "$reps"); do
		plain+=("$(bench_time "$@")")
		ssi+=("$(bench_time "$BIN/ssirun" "$@")")
	done
	local p s
	p=$(printf '%s\n' "${plain[@]}" | median)
	s=$(printf '%s\n' "${ssi[@]}" | median)
	printf '%-44s plain %8.3f s   ssirun %8.3f s   ratio %.3f\n' "$label" "$p" "$s" "$(echo "$s / $p" | bc -l)"
}

echo "home overhead, medians of $reps alternating runs ($(nproc) CPUs, $(uname -r))"
run_pair "dd bs=1 count=4000000 (8M syscalls)" dd if=/dev/zero of=/dev/null bs=1 count=4000000
run_pair "bc -l: 4*a(1) to 2500 digits (CPU)" sh -c "echo 'scale=2500; 4*a(1)' | bc -l"
run_pair "true (start-up: register with ssid)" true
