#!/bin/sh
# Runs each fuzz harness (tests/fuzz/fuzz_*.c) over its committed seed
# corpus (corpus/NAME) and its regression inputs (regress/NAME: every input
# that once crashed it, replayed first), then fuzzes for FUZZ_TIME seconds
# (default 8: the short run of 'make check'; 'make fuzz' runs 600). New
# inputs go to a scratch directory, so the committed corpora do not change.
# A crash is saved in build/fuzz/crash-NAME-* and fails the run.
# Prints "ok - fuzz NAME" or "not ok - fuzz NAME" per harness; exits 77
# (skipped) when the harnesses were not built (no clang with libFuzzer).
# Environment: SSI_FUZZDIR (where the harnesses are built), FUZZ_TIME,
# FUZZ_NAMES (a subset).

top=$(cd "$(dirname "$0")/../.." && pwd)
dir=${SSI_FUZZDIR:-$top/build/fuzz}
time=${FUZZ_TIME:-8}
names=${FUZZ_NAMES:-msg cluster image tunnel call}
rc=0

for n in $names; do
	if [ ! -x "$dir/fuzz_$n" ]; then
		echo "skipped: fuzz harness $dir/fuzz_$n not built: clang with libFuzzer not found" \
			"(apt-get install clang libclang-rt-dev, then ./configure)"
		exit 77
	fi
done

for n in $names; do
	work=$(mktemp -d /tmp/ssifuzz-$n.XXXXXX) || exit 1
	mkdir -p "$top/tests/fuzz/regress/$n"
	log=$dir/fuzz-$n.log
	# -max_len: the seeds and regressions are small, but the decoders must
	# meet long inputs too (an image's data, a message near a record).
	"$dir/fuzz_$n" -max_total_time="$time" -timeout=10 -rss_limit_mb=2560 -max_len=65536 \
		-print_final_stats=1 -artifact_prefix="$dir/crash-$n-" \
		"$work" "$top/tests/fuzz/corpus/$n" "$top/tests/fuzz/regress/$n" >"$log" 2>&1
	r=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	if [ "$r" = 0 ] && [ -n "$execs" ] && [ "$execs" -gt 0 ]; then
		echo "ok - fuzz $n ($execs inputs in ${time} s, corpus $(ls "$work" | wc -l))"
	else
		echo "not ok - fuzz $n (exit $r; $log; the input is in $dir/crash-$n-*)"
		tail -n 40 "$log"
		rc=1
	fi
	rm -rf "$work"
done
exit $rc
