#!/bin/bash
# Checkpoints and restarts against plain file copies of the same size,
# measured in one run on a 1-host lab (needs root).
#
#   tests/bench/checkpoint.sh [MIB...]      (default: 64 1024; REPS=3 each)
#
# SSILAB_INSTANCE=K (see ssilab(1)) runs its lab beside others.
#
# memhog MIB (tests/progs/memhog.c) runs under ssirun on n1. Per repetition:
#   freeze    how long the process was frozen (ssi-ckpt's own figure: from
#             the freeze signal to the END of its image on disk);
#   ckpt      wall time of `ssictl checkpoint PID FILE` (freeze, then the
#             BLAKE2b hash of the file, fsync, rename: the process runs);
#   size      the checkpoint file;
#   restart   `ssirun --restart FILE` after a SIGKILL, until the process
#             runs memhog's code again (its /proc/PID/exe is memhog);
#   write     baseline: `dd bs=1M conv=fsync` of the same number of bytes
#             into the same file system (the lab host's /tmp);
#   read      baseline: `cat` of the checkpoint to /dev/null.
# Medians of REPS; ratios freeze/write and restart/read.
. "$(dirname "$0")/../integ/lib.sh"
lab_require_root
memhog=${SSI_TESTDIR:-$lab_top/build/tests}/memhog
[ -x "$memhog" ] || { echo "checkpoint.sh: $memhog not built: run 'make $memhog'" >&2; exit 1; }
sizes=${*:-64 1024}
reps=${REPS:-3}
need=$(( $(echo "$sizes" | tr ' ' '\n' | sort -n | tail -1) * 3 + 1024 ))
avail=$(awk '/MemAvailable/ { print int($2 / 1024) }' /proc/meminfo)
[ "$avail" -gt "$need" ] || skip "needs about $need MiB free (process, image in tmpfs, restart); $avail MiB available"
lab_up 1

now_ms() { echo $(($(date +%s%N) / 1000000)); }
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
runs_memhog() { [ "$(lab_exec n1 readlink "/proc/$1/exe" 2>/dev/null)" = "$memhog" ]; }

printf '| MiB | freeze ms | ckpt ms | size MiB | restart ms | write ms | read ms | freeze/write | restart/read |\n'
printf '|---|---|---|---|---|---|---|---|---|\n'
for mib in $sizes; do
	: >"$SSILAB_DIR/fz" ; : >"$SSILAB_DIR/ck" ; : >"$SSILAB_DIR/rs" ; : >"$SSILAB_DIR/wr" ; : >"$SSILAB_DIR/rd"
	size=0
	for r in $(seq "$reps"); do
		lab_exec n1 rm -f /tmp/m.ckpt /tmp/base
		lab_exec n1 sh -c "ssirun $memhog $mib 100000 1000 > /tmp/m.out 2>&1 &"
		wait_until 60 lab_exec n1 grep -q . /tmp/m.out || { echo "memhog did not start" >&2; exit 1; }
		pid=$(lab_exec n1 pgrep -f "^$memhog $mib" | head -1)
		t0=$(now_ms)
		out=$(lab_exec n1 ssictl checkpoint "$pid" /tmp/m.ckpt 2>&1) || { echo "checkpoint: $out" >&2; exit 1; }
		t1=$(now_ms)
		echo "$out" | sed -n 's/.*frozen \([0-9.]*\) ms.*/\1/p' >>"$SSILAB_DIR/fz"
		echo $((t1 - t0)) >>"$SSILAB_DIR/ck"
		size=$(lab_exec n1 stat -c %s /tmp/m.ckpt)
		lab_exec n1 kill -KILL "$pid"
		wait_until 10 sh -c "! ssilab exec n1 -- kill -0 $pid 2>/dev/null"
		t0=$(now_ms)
		lab_exec n1 sh -c "ssirun --restart /tmp/m.ckpt > /tmp/r.out 2>&1 &"
		wait_until 120 runs_memhog "$pid" || { echo "restart: $(lab_exec n1 cat /tmp/r.out)" >&2; exit 1; }
		t1=$(now_ms)
		echo $((t1 - t0)) >>"$SSILAB_DIR/rs"
		lab_exec n1 kill -KILL "$pid"
		wait_until 10 sh -c "! ssilab exec n1 -- kill -0 $pid 2>/dev/null"
		t0=$(now_ms)
		lab_exec n1 dd if=/dev/zero of=/tmp/base bs=1M count=$((size / 1048576)) conv=fsync status=none
		t1=$(now_ms)
		echo $((t1 - t0)) >>"$SSILAB_DIR/wr"
		t0=$(now_ms)
		lab_exec n1 sh -c 'cat /tmp/m.ckpt > /dev/null'
		t1=$(now_ms)
		echo $((t1 - t0)) >>"$SSILAB_DIR/rd"
	done
	fz=$(median <"$SSILAB_DIR/fz") ck=$(median <"$SSILAB_DIR/ck") rs=$(median <"$SSILAB_DIR/rs")
	wr=$(median <"$SSILAB_DIR/wr") rd=$(median <"$SSILAB_DIR/rd")
	awk -v m="$mib" -v fz="$fz" -v ck="$ck" -v s="$size" -v rs="$rs" -v wr="$wr" -v rd="$rd" 'BEGIN {
		fw = wr > 0 ? fz / wr : 0; rr = rd > 0 ? rs / rd : 0
		printf "| %d | %.1f | %d | %.1f | %d | %d | %d | %.2f | %.2f |\n", m, fz, ck, s / 1048576, rs, wr, rd, fw, rr }'
	lab_exec n1 rm -f /tmp/m.ckpt /tmp/base
done
