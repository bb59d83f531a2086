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

# Instruction counts (exact and repeatable, unlike wall time on a shared
# machine): what the shim adds to a whole run, per program.
if command -v valgrind >/dev/null 2>&1; then
	lib=${SSI_LIBDIR:-$top/build/lib}/libssi.so
	echo 'scale=600; 4*a(1)' >"$bench_dir/bc.in"
	# count VAR=VALUE... PROG ARGS...: instructions of one run of PROG.
	count() {
		local vars=()
		while [[ $1 == *=* ]]; do
			vars+=("$1")
			shift
		done
		env "${vars[@]}" valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null |
			sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
	}
	for prog in "bc -l $bench_dir/bc.in" "dd if=/dev/zero of=/dev/null bs=1 count=200000"; do
		# shellcheck disable=SC2086
		p=$(count X=1 $prog </dev/null)
		# shellcheck disable=SC2086
		s=$(count LD_PRELOAD="$lib" GLIBC_TUNABLES=glibc.pthread.rseq=0 SSI_SOCKET=/nonexistent $prog </dev/null)
		printf '%-44s plain %12s instr   libssi %12s instr   added %s (%.2f%%)\n' "${prog%% /*}" "$p" "$s" \
			"$((s - p))" "$(echo "($s - $p) * 100 / $p" | bc -l)"
	done
fi
