#!/bin/bash
# Live migration against the bandwidth of the same path, measured in one run on
# a 2-host lab (needs root; about 2 minutes).
#
#   tests/bench/migrate.sh [MIB...]      (default: 64 512 2048; then two idle processes)
#
# SSILAB_INSTANCE=K (see ssilab(1)) runs its lab beside others.
#
# Baseline, measured just before each migration with the image's size (at
# least 64 MiB: writing fresh memory gets slower per byte as sizes grow), half
# the repetitions before the migration and half after, n1 ->
# n2 through the lab bridge into a freshly mmap'd buffer at n2 (what a restore
# writes into), BW_REPS (default 2) times each, alternating, medians: raw TCP,
# and ssi-xfer (ssi_chan, AES-GCM) with its stdout drained by a reader, which
# is the path an image takes (tests/bench/blast.py).
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
#   before  from `ssictl migrate` starting to the freeze signal (offer, ready,
#           helpers started: the control plane); after: from the body's first
#           instruction to ssictl's return (negative: ssictl returned first;
#           it waits for the deputy's connection, not for the body's return
#           from the handler); perf's clock against `date` in n1, shifted;
#   ratio   total / (image / bandwidth), against ssi-xfer's and raw TCP's;
#   home    wall time of `ssictl migrate PID home` inside n1 afterwards (until
#           it returns 0: the body came back and the process runs the
#           program at home again; docs/ENGINE.md, "Coming home").
# Without perf (apt-get install linux-perf) the freeze columns say "-".
. "$(dirname "$0")/../integ/lib.sh"
lab_require_root
command -v python3 >/dev/null || skip "python3 is not installed"
memhog=${SSI_TESTDIR:-$lab_top/build/tests}/memhog
[ -x "$memhog" ] || { echo "migrate.sh: $memhog not built: run 'make $memhog'" >&2; exit 1; }
blast=$lab_top/tests/bench/blast.py
sizes=${*:-64 512 2048}
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
export BLAST_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
xfer=$SSI_BINDIR/ssi-xfer
port=7600
listening() { lab_exec n2 ss -Hltn "sport = :$1" | grep -q .; }
# blast KIND: one transfer n1 -> n2; prints the receiver's seconds.
blast() {
	port=$((port + 1))
	if [ "$1" = raw ]; then
		lab_exec n2 python3 "$blast" sink $LAB_SUBNET.2 $port $bw_bytes >"$work/sink" &
	else
		lab_exec n2 python3 "$blast" xrecv "$xfer" $LAB_SUBNET.2 $port $bw_bytes >"$work/sink" &
	fi
	local rx=$!
	wait_until 10 listening $port || { echo "blast: no listener" >&2; return 1; }
	if [ "$1" = raw ]; then
		lab_exec n1 python3 "$blast" source $LAB_SUBNET.2 $port $bw_bytes || return 1
	else
		lab_exec n1 python3 "$blast" xsend "$xfer" $LAB_SUBNET.2 $port $bw_bytes || return 1
	fi
	wait $rx || return 1
	cat "$work/sink"
}
# baseline_run MIB: one raw TCP and one ssi-xfer transfer of MIB MiB, appended
# to $work/bw.raw and $work/bw.xfer.
baseline_run() {
	bw_bytes=$(($1 << 20))
	blast raw >>"$work/bw.raw" || { fail "raw TCP transfer"; finish; }
	blast xfer >>"$work/bw.xfer" || { fail "ssi-xfer transfer"; finish; }
}

# baseline_result MIB: bw_raw and bw_xfer (GiB/s), medians of what was run.
baseline_result() {
	bw_raw=$(awk -v b="$1" -v t="$(median <"$work/bw.raw")" 'BEGIN { printf "%.3f", b / 1024 / t }')
	bw_xfer=$(awk -v b="$1" -v t="$(median <"$work/bw.xfer")" 'BEGIN { printf "%.3f", b / 1024 / t }')
	rm -f "$work/bw.raw" "$work/bw.xfer"
}

# --- migrations ----------------------------------------------------------
# gpid HOST NSPID LEVELS: the pid, outside, of the process with pid NSPID in
# the innermost of its LEVELS nested PID namespaces, below HOST's holder: the
# trace is system-wide and other labs may run programs with the same names.
gpid() {
	local holder p q i
	holder=$(ssilab status | awk -v h="$1" '$1 == h { print $3 }')
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		awk -v n="$2" -v l="$3" '/^NSpid:/ { exit !(NF - 1 == l && $NF == n) } ' /proc/$p/status 2>/dev/null || continue
		q=$p
		for i in 1 2 3 4 5 6; do
			q=$(awk '/^PPid:/ { print $2 }' /proc/$q/status 2>/dev/null)
			[ -n "$q" ] && [ "$q" != 0 ] || break
			[ "$q" = "$holder" ] && { echo "$p"; return 0; }
		done
	done
	return 1
}

# trace_times SRC BODY: from perf.data (CLOCK_MONOTONIC), prints "sig body":
# the freeze signal's delivery to pid SRC and pid BODY's first rt_sigreturn
# after it, in seconds.
trace_times() {
	perf script -i "$work/perf.data" -F pid,time,event,trace 2>/dev/null | awk -v src="$1" -v body="$2" '
		{ t = $2; sub(/:$/, "", t) }
		$3 == "signal:signal_deliver:" && $1 == src && $4 == "sig=63" && !sig { sig = t }
		$3 == "syscalls:sys_enter_rt_sigreturn:" && sig && $1 == body && !b { b = t }
		END { if (sig && b) print sig, b }'
}

rows=()
# migrate_one TAG READY CMD...: starts CMD on n1 (stdout through a pipe into
# /tmp/TAG.out there), waits for READY (a regexp of its output, or "" for a
# second), measures as described above, checks it runs on n2, then kills it.
migrate_one() {
	local tag=$1 ready=$2 pid
	shift 2
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
	local bw_mib=$(( (image + (1 << 20) - 1) >> 20 ))
	[ $bw_mib -ge 64 ] || bw_mib=64
	# Half the baseline before, half after: memory freed moments ago is
	# cheaper to fault in again, and each side frees some for the other.
	local i
	rm -f "$work/bw.raw" "$work/bw.xfer"
	for i in $(seq $(( (bw_reps + 1) / 2 ))); do baseline_run $bw_mib; done
	if [ $have_perf = 1 ]; then
		perf record -q -a -k CLOCK_MONOTONIC -e signal:signal_deliver -e syscalls:sys_enter_rt_sigreturn \
			-o "$work/perf.data" >/dev/null 2>&1 &
		perf_pid=$!
		sleep 1.5
	fi
	local out rc total
	local src
	src=$(gpid n1 "$pid" 2)
	out=$(lab_exec n1 sh -c 't0=$(date +%s%N); ssictl migrate '"$pid"' n2; rc=$?; t1=$(date +%s%N); echo "t $t0 $t1"; exit $rc' 2>&1)
	rc=$?
	if [ $have_perf = 1 ]; then
		kill -INT $perf_pid
		wait $perf_pid
		perf_pid=
	fi
	local t0 t1
	read -r t0 t1 <<<"$(echo "$out" | sed -n 's/^t //p')"
	total=$((t1 - t0))
	if [ $rc != 0 ]; then
		fail "ssictl migrate $pid n2 ($tag): $out"
		return
	fi
	local freeze=- before=- after=- tt body
	if [ $have_perf = 1 ] && body=$(gpid n2 "$pid" 3) && tt=$(trace_times "$src" "$body") && [ -n "$tt" ]; then
		read -r t_sig t_body <<<"$tt"
		# perf's clock is CLOCK_MONOTONIC (it refuses CLOCK_REALTIME), date's
		# is CLOCK_REALTIME: shift by their difference, read back to back.
		local off
		off=$(python3 -c 'import time; a = time.time(); b = time.monotonic(); print("%.6f" % (a - b))')
		freeze=$(ms "$(echo "$t_body - $t_sig" | bc -l)")
		before=$(ms "$(echo "$t_sig + $off - $t0 / 1000000000" | bc -l)")
		after=$(ms "$(echo "$t1 / 1000000000 - $t_body - $off" | bc -l)")
	fi
	if lab_exec n1 ssictl ps | awk -v p="$pid" '$2 == p && $3 == "n2" { f = 1 } END { exit !f }'; then
		ok "$tag ($pid) moved to n2"
	else
		fail "$tag ($pid) is not shown on n2: $(lab_exec n1 ssictl ps)"
	fi
	local home=-
	out=$(lab_exec n1 sh -c 't0=$(date +%s%N); ssictl migrate '"$pid"' home; rc=$?; t1=$(date +%s%N); echo "t $t0 $t1"; exit $rc' 2>&1)
	if [ $? = 0 ] && lab_exec n1 ssictl ps | awk -v p="$pid" '$2 == p && $3 == "n1" { f = 1 } END { exit !f }'; then
		read -r t0 t1 <<<"$(echo "$out" | sed -n 's/^t //p')"
		home=$(((t1 - t0) / 1000000))
		ok "$tag ($pid) came home in $home ms"
	else
		fail "$tag ($pid) home: $out"
	fi
	lab_exec n1 kill "$pid"
	wait_until 20 sh -c "! ssilab exec n1 -- ssictl ps | awk -v p=$pid '\$2 == p { f = 1 } END { exit !f }'" ||
		note "$tag ($pid) still listed after kill"
	for i in $(seq $((bw_reps / 2))); do baseline_run $bw_mib; done
	baseline_result $bw_mib
	note "$tag: image $image B, total $((total / 1000000)) ms, freeze $freeze ms, home $home ms; ssi-xfer $bw_xfer GiB/s, raw $bw_raw GiB/s"
	rows+=("$tag $image $ckpt $total $freeze $before $after $bw_xfer $bw_raw $home")
}

for mib in $sizes; do
	migrate_one "memhog$mib" "iter=1 " "$memhog" "$mib" 100000 1000
done
migrate_one sleep "" sleep 600
migrate_one python3 "" python3 -c "'import time; time.sleep(600)'"

echo
echo "migration n1 -> n2 ($(date -u +%F), $(nproc) CPUs); bandwidth (GiB/s) of ssi-xfer and raw TCP, image-sized"
printf '%-12s %9s %8s %9s %9s %9s %8s %6s %6s %10s %9s %9s\n' process image ckpt total freeze before after bwxfer bwraw "ratio xfer" "ratio raw" home
for r in "${rows[@]}"; do
	read -r tag image ckpt total freeze before after bw_xfer bw_raw home <<<"$r"
	awk -v tag="$tag" -v img="$image" -v ck="$ckpt" -v tot="$total" -v fr="$freeze" -v be="$before" -v af="$after" \
		-v bx="$bw_xfer" -v br="$bw_raw" -v ho="$home" 'BEGIN {
		t = tot / 1e9; g = img / 1073741824
		printf "%-12s %7.1fMi %6.1fms %7.0fms %7sms %7sms %6sms %6.3f %6.3f %10.2f %9.2f %7sms\n", tag, img / 1048576, ck,
			t * 1000, fr, be, af, bx, br, t / (g / bx), t / (g / br), ho }'
done
finish
