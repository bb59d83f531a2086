#!/bin/bash
# Live migration against the bandwidth of the same path, measured in one run on
# a 2-host lab (needs root; about 2 minutes).
#
#   tests/bench/migrate.sh [MIB...]      (default: 64 512 2048; then two idle processes)
#
# Baseline, n1 -> n2 through the lab bridge, BW_MIB (default 1024) MiB into a
# freshly mmap'd buffer at n2 (what a restore writes into), BW_REPS (default 2)
# times each, alternating, medians: raw TCP, and ssi-xfer (ssi_chan, AES-GCM)
# with its stdout drained by a reader, which is the path an image takes
# (tests/bench/blast.py).
#
# Then, one at a time: memhog MIB (tests/progs/memhog.c, an iteration per
# second), `sleep` and an idle python3, each started with ssirun on n1 with its
# stdout through a pipe, and moved with `ssictl migrate PID n2`. Per process:
#   image   bytes of a checkpoint taken just before (ssi-freeze PID | wc -c),
#           whose "frozen" time is the local freeze-and-write alone (ckpt);
#   total   wall time of `ssictl migrate` inside n1 (until it returns 0: the
#           body runs on n2 and its deputy is connected);
#   freeze  from the kernel delivering the freeze signal to the process at n1
#           (its last instruction there) to the restored body's return from
#           that signal handler at n2 (rt_sigreturn: the first instruction of
#           the program there), both from one system-wide `perf record` of
#           tracepoints, so no clock is compared across processes;
#   before  from `ssictl` starting to the freeze signal (offer, ready, helpers
#           started: the control plane); after: from the body's first
#           instruction to ssictl's exit;
#   ratio   total / (image / bandwidth), against ssi-xfer's and raw TCP's.
# Without perf (apt-get install linux-perf) the freeze columns say "-".
. "$(dirname "$0")/../integ/lib.sh"
lab_require_root
command -v python3 >/dev/null || skip "python3 is not installed"
memhog=${SSI_TESTDIR:-$lab_top/build/tests}/memhog
[ -x "$memhog" ] || { echo "migrate.sh: $memhog not built: run 'make $memhog'" >&2; exit 1; }
blast=$lab_top/tests/bench/blast.py
sizes=${*:-64 512 2048}
bw_mib=${BW_MIB:-1024}
bw_reps=${BW_REPS:-2}

need=$(( $(echo "$sizes" | tr ' ' '\n' | sort -n | tail -1) * 2 + 2048 ))
avail=$(awk '/MemAvailable/ { print int($2 / 1024) }' /proc/meminfo)
[ "$avail" -gt "$need" ] || skip "needs about $need MiB free (source and destination copies); $avail MiB available"

work=$(mktemp -d /var/tmp/ssi-migbench.XXXXXX)
have_perf=0
if command -v perf >/dev/null && perf record -q -a -e signal:signal_deliver -o "$work/probe.data" true >/dev/null 2>&1; then
	have_perf=1
fi
lab_up 2
trap 'rc=$?; [ -n "${perf_pid:-}" ] && kill -INT "$perf_pid" 2>/dev/null; lab_down; rm -rf "$work"; exit $rc' EXIT

ms() { awk -v s="$1" 'BEGIN { printf "%.0f", s * 1000 }'; }
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# --- baseline ------------------------------------------------------------
bw_bytes=$((bw_mib << 20))
export BLAST_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
xfer=$SSI_BINDIR/ssi-xfer
port=7600
listening() { lab_exec n2 ss -Hltn "sport = :$1" | grep -q .; }
# blast KIND: one transfer n1 -> n2; prints the receiver's seconds.
blast() {
	port=$((port + 1))
	if [ "$1" = raw ]; then
		lab_exec n2 python3 "$blast" sink 198.18.0.2 $port $bw_bytes >"$work/sink" &
	else
		lab_exec n2 python3 "$blast" xrecv "$xfer" 198.18.0.2 $port $bw_bytes >"$work/sink" &
	fi
	local rx=$!
	wait_until 10 listening $port || { echo "blast: no listener" >&2; return 1; }
	if [ "$1" = raw ]; then
		lab_exec n1 python3 "$blast" source 198.18.0.2 $port $bw_bytes || return 1
	else
		lab_exec n1 python3 "$blast" xsend "$xfer" 198.18.0.2 $port $bw_bytes || return 1
	fi
	wait $rx || return 1
	cat "$work/sink"
}
for _ in $(seq "$bw_reps"); do
	blast raw >>"$work/bw.raw" || { fail "raw TCP transfer"; finish; }
	blast xfer >>"$work/bw.xfer" || { fail "ssi-xfer transfer"; finish; }
done
bw_raw=$(awk -v b=$bw_mib -v t="$(median <"$work/bw.raw")" 'BEGIN { printf "%.3f", b / 1024 / t }')
bw_xfer=$(awk -v b=$bw_mib -v t="$(median <"$work/bw.xfer")" 'BEGIN { printf "%.3f", b / 1024 / t }')
note "bandwidth n1 -> n2, $bw_mib MiB into a fresh buffer, median of $bw_reps: raw TCP $bw_raw GiB/s, ssi-xfer $bw_xfer GiB/s"

# --- migrations ----------------------------------------------------------
# trace_times COMM: from perf.data, prints "sig start body end": the freeze
# signal's delivery to COMM, ssictl's exec, the body's first rt_sigreturn
# (another pid with the same COMM, after the signal) and ssictl's exit; seconds.
trace_times() {
	perf script -i "$work/perf.data" -F comm,pid,time,event,trace 2>/dev/null | awk -v comm="$1" '
		{ t = $3; sub(/:$/, "", t) }
		$4 == "signal:signal_deliver:" && $1 == comm && $5 == "sig=63" && !sig { sig = t; src = $2 }
		$4 == "sched:sched_process_exec:" && $1 == "ssictl" && !start { start = t }
		$4 == "sched:sched_process_exit:" && /comm=ssictl/ { end = t }
		$4 == "syscalls:sys_enter_rt_sigreturn:" && sig && $1 == comm && $2 != src && !body { body = t }
		END { if (sig && body) print sig, start, body, end }'
}

rows=()
# migrate TAG COMM CMD...: starts CMD on n1 (stdout through a pipe into
# /tmp/TAG.out there), waits for READY (a regexp of its output, or "" for a
# second), measures as described above, checks it runs on n2, then kills it.
migrate_one() {
	local tag=$1 comm=$2 ready=$3 pid
	shift 3
	lab_exec n1 sh -c "{ ssirun $* 2>&1; } | cat > /tmp/$tag.out & echo \$! > /tmp/$tag.sh"
	if [ -n "$ready" ]; then
		wait_until 120 sh -c "ssilab exec n1 -- grep -q '$ready' /tmp/$tag.out" || { fail "$tag did not get ready"; return; }
	else
		sleep 1
	fi
	pid=$(lab_exec n1 ssictl ps | awk -v c="$1" '$4 == "running" && index($0, c) { p = $2 } END { print p }')
	[ -n "$pid" ] || { fail "$tag: not in ssictl ps"; return; }
	local ck image ckpt
	ck=$(lab_exec n1 sh -c "ssi-freeze $pid 2>/tmp/$tag.ckpt | wc -c; cat /tmp/$tag.ckpt")
	image=$(echo "$ck" | head -1)
	ckpt=$(echo "$ck" | sed -n 's/.*frozen \([0-9.]*\) ms.*/\1/p')
	[ "$image" -gt 0 ] 2>/dev/null || { fail "$tag: checkpoint: $ck"; return; }
	if [ $have_perf = 1 ]; then
		perf record -q -a -k CLOCK_MONOTONIC -e signal:signal_deliver -e syscalls:sys_enter_rt_sigreturn \
			-e sched:sched_process_exec -e sched:sched_process_exit -o "$work/perf.data" >/dev/null 2>&1 &
		perf_pid=$!
		sleep 1.5
	fi
	local out rc total
	out=$(lab_exec n1 sh -c 't0=$(date +%s%N); ssictl migrate '"$pid"' n2; rc=$?; echo "ns $(( $(date +%s%N) - t0 ))"; exit $rc' 2>&1)
	rc=$?
	if [ $have_perf = 1 ]; then
		kill -INT $perf_pid
		wait $perf_pid
		perf_pid=
	fi
	total=$(echo "$out" | sed -n 's/^ns //p')
	if [ $rc != 0 ]; then
		fail "ssictl migrate $pid n2 ($tag): $out"
		return
	fi
	local freeze=- before=- after=- tt
	if [ $have_perf = 1 ] && tt=$(trace_times "$comm") && [ -n "$tt" ]; then
		read -r t_sig t_start t_body t_end <<<"$tt"
		freeze=$(ms "$(echo "$t_body - $t_sig" | bc -l)")
		[ -n "$t_start" ] && before=$(ms "$(echo "$t_sig - $t_start" | bc -l)")
		[ -n "$t_end" ] && after=$(ms "$(echo "$t_end - $t_body" | bc -l)")
	fi
	if lab_exec n1 ssictl ps | awk -v p="$pid" '$2 == p && $3 == "n2" { f = 1 } END { exit !f }'; then
		ok "$tag ($pid) moved to n2"
	else
		fail "$tag ($pid) is not shown on n2: $(lab_exec n1 ssictl ps)"
	fi
	rows+=("$tag $image $ckpt $total $freeze $before $after")
	lab_exec n1 kill "$pid"
	wait_until 20 sh -c "! ssilab exec n1 -- ssictl ps | awk -v p=$pid '\$2 == p { f = 1 } END { exit !f }'" ||
		note "$tag ($pid) still listed after kill"
}

for mib in $sizes; do
	migrate_one "memhog$mib" memhog "iter=1 " "$memhog" "$mib" 100000 1000
done
migrate_one sleep sleep "" sleep 600
migrate_one python3 python3 "" python3 -c "'import time; time.sleep(600)'"

echo
echo "migration n1 -> n2 ($(date -u +%F), $(nproc) CPUs; bandwidth: ssi-xfer $bw_xfer GiB/s, raw TCP $bw_raw GiB/s)"
printf '%-12s %9s %8s %9s %9s %9s %8s %10s %9s\n' process image ckpt total freeze before after "ratio xfer" "ratio raw"
for r in "${rows[@]}"; do
	read -r tag image ckpt total freeze before after <<<"$r"
	awk -v tag="$tag" -v img="$image" -v ck="$ckpt" -v tot="$total" -v fr="$freeze" -v be="$before" -v af="$after" \
		-v bx="$bw_xfer" -v br="$bw_raw" 'BEGIN {
		t = tot / 1e9; g = img / 1073741824
		printf "%-12s %7.1fMi %6.1fms %7.0fms %7sms %7sms %6sms %10.2f %9.2f\n", tag, img / 1048576, ck, t * 1000,
			fr, be, af, t / (g / bx), t / (g / br) }'
done
finish
