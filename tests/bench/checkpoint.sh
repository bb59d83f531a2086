#!/bin/bash
# Checkpoints and restarts against plain file copies of the same size,
# measured in one run on a 1-host lab (needs root).
#
#   tests/bench/checkpoint.sh [MIB...]      (default: 64 1024; REPS=3 each)
#   tests/bench/checkpoint.sh --periodic [ITER]   (default ITER: 150000000)
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
#
# CRIU beside ours: with CRIU=PATH (a CRIU 4.x binary; default: `criu` on
# the PATH), the same memhog MIB, started without ssi in its own session
# outside the lab, is dumped (`criu dump`, which ends it) and restored
# (`criu restore -d`) from a directory in /dev/shm (a tmpfs, as the lab
# host's /tmp), REPS times; a second table gives CRIU's dump and restore
# beside our freeze and restart, with the ratios. A CRIU that is missing or
# whose `criu check` fails is skipped with its own message.
#
# --periodic: the cost of periodic checkpoints on a CPU-bound job. A python3
# loop of ITER steps holding 256 MiB of touched memory (so that each image
# is that big) runs under ssirun on n1 three times: without checkpoints,
# with --checkpoint-every 60 and with --checkpoint-every 10 (spool in the
# host's /tmp). Per run: the job's own wall time and CPU time (from inside
# it), the checkpoints written and their summed freeze (ssid's log), the
# share of the job's wall time it spent frozen (what the checkpoints cost
# it, robust to a busy machine) and the wall time against the run without
# checkpoints (which a busy machine blurs).
. "$(dirname "$0")/../integ/lib.sh"
lab_require_root
if [ "$1" = --periodic ]; then
	iter=${2:-150000000}
	avail=$(awk '/MemAvailable/ { print int($2 / 1024) }' /proc/meminfo)
	[ -x /usr/bin/python3 ] || skip "/usr/bin/python3 is not installed"
	[ "$avail" -gt 2048 ] || skip "needs about 2 GiB free (256 MiB job, 3 images of it in tmpfs); $avail MiB available"
	lab_up 1
	sed -i '1i spool = /tmp/spool' "$SSILAB_DIR/cluster.conf"
	lab_exec n1 kill -HUP "$(lab_ssid_pid n1)"
	wait_until 3 grep -q "reloaded" "$(lab_log n1)" || { echo "n1 did not reload" >&2; exit 1; }
	mkdir -p "$LAB_FILES"
	cat >"$LAB_FILES/cpu.py" <<'PY'
import sys, time
w0, c0 = time.monotonic(), time.process_time()
b = bytearray(256 << 20)
for i in range(0, len(b), 4096):
    b[i] = 1
x = 1
for i in range(int(sys.argv[1])):
    x = (x * 1103515245 + 12345) % 2147483648
print("%d %.3f %.3f" % (x, time.monotonic() - w0, time.process_time() - c0), flush=True)
PY
	printf '| checkpoints | job wall s | job CPU s | written | summed freeze ms | freeze / wall | wall / none |\n'
	printf '|---|---|---|---|---|---|---|\n'
	base=
	for every in 0 60 10; do
		opt=
		[ "$every" = 0 ] || opt="--checkpoint-every $every"
		lab_exec n1 rm -rf /tmp/spool/0
		lines0=$(wc -l <"$(lab_log n1)")
		out=$(lab_exec n1 ssirun $opt /usr/bin/python3 "$LAB_FILES/cpu.py" "$iter") || { echo "job: $out" >&2; exit 1; }
		set -- $out
		wall=$2 cpu=$3
		log=$(tail -n +"$((lines0 + 1))" "$(lab_log n1)" | grep 'periodic-.*frozen')
		n=$(printf '%s' "$log" | grep -c frozen)
		fz=$(printf '%s\n' "$log" | sed -n 's/.*frozen \([0-9.]*\) ms.*/\1/p' | awk '{ s += $1 } END { printf "%.0f", s }')
		[ -n "$base" ] || base=$wall
		awk -v e="$every" -v w="$wall" -v c="$cpu" -v n="$n" -v f="$fz" -v b="$base" 'BEGIN {
			printf "| %s | %.1f | %.1f | %d | %s | %.3f | %.3f |\n", e == 0 ? "none" : "every " e " s", w, c, n, f, f / 1000 / w, w / b }'
		[ "$n" -gt 0 ] && per=$(awk -v f="$fz" -v n="$n" 'BEGIN { printf "%.0f", f / n }')
	done
	# CRIU beside: one checkpoint of the same job by `criu dump --leave-running`
	# (the job is frozen for the whole dump), outside the lab, 3 times.
	criu=${CRIU:-$(command -v criu)}
	if [ -z "$criu" ] || [ ! -x "$criu" ] || ! "$criu" check >/dev/null 2>&1; then
		echo "# CRIU: not measured (set CRIU=PATH to a CRIU 4.x build whose 'criu check' passes)"
		exit 0
	fi
	cdir=$(mktemp -d /dev/shm/ssi-criu.XXXXXX)
	trap 'rm -rf "$cdir"; lab_down' EXIT
	setsid /usr/bin/python3 "$LAB_FILES/cpu.py" "$iter" </dev/null >/dev/null 2>&1 &
	jpid=$!
	disown "$jpid"
	big() { [ "$(awk '/VmRSS/ { print int($2 / 1024) }' "/proc/$jpid/status" 2>/dev/null)" -ge 256 ] 2>/dev/null; }
	wait_until 60 big ||
		{ echo "the job did not touch its memory" >&2; kill -KILL "$jpid"; exit 1; }
	: >"$SSILAB_DIR/cd"
	for r in 1 2 3; do
		rm -rf "$cdir/img" && mkdir "$cdir/img"
		t0=$(($(date +%s%N) / 1000000))
		"$criu" dump --leave-running -t "$jpid" -D "$cdir/img" -o dump.log >/dev/null 2>&1 ||
			{ echo "criu dump: $(tail -3 "$cdir/img/dump.log")" >&2; kill -KILL "$jpid"; exit 1; }
		echo $(($(date +%s%N) / 1000000 - t0)) >>"$SSILAB_DIR/cd"
	done
	kill -KILL "$jpid"
	cd_=$(sort -g "$SSILAB_DIR/cd" | sed -n 2p)
	awk -v c="$cd_" -v p="${per:-0}" -v s="$(du -sm "$cdir/img" | cut -f1)" -v v="$("$criu" --version | sed -n 's/^Version: //p')" 'BEGIN {
		r = c > 0 ? p / c : 0
		printf "# CRIU %s: one checkpoint of the same job (criu dump --leave-running, %d MiB of images): %d ms frozen (median of 3); ours: %d ms frozen per periodic checkpoint (every 10 s above): ours/CRIU %.2f\n", v, s, c, p, r }'
	exit 0
fi
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
ours=
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
	ours="$ours $mib:$fz:$rs"
done

# CRIU's dump and restore of the same program, outside the lab.
criu=${CRIU:-$(command -v criu)}
if [ -z "$criu" ] || [ ! -x "$criu" ]; then
	echo "# CRIU: not measured: no criu binary (set CRIU=PATH to a CRIU 4.x build)"
	exit 0
fi
if ! chk=$("$criu" check 2>&1); then
	echo "# CRIU: not measured: '$criu check' fails here: $(printf '%s' "$chk" | tail -2 | tr '\n' ' ')"
	exit 0
fi
echo
echo "# CRIU $("$criu" --version | sed -n 's/^Version: //p') ($criu) beside ours, same memhog, medians of $reps"
printf '| MiB | ours freeze ms | CRIU dump ms | freeze/dump | ours restart ms | CRIU restore ms | restart/restore | CRIU images MiB |\n'
printf '|---|---|---|---|---|---|---|---|\n'
cdir=$(mktemp -d /dev/shm/ssi-criu.XXXXXX)
trap 'rm -rf "$cdir"; lab_down' EXIT
for entry in $ours; do
	mib=${entry%%:*} rest=${entry#*:}
	fz=${rest%%:*} rs=${rest#*:}
	: >"$SSILAB_DIR/cd" ; : >"$SSILAB_DIR/cr"
	for r in $(seq "$reps"); do
		rm -rf "$cdir/img" && mkdir "$cdir/img"
		setsid "$memhog" "$mib" 100000 1000 </dev/null >"$cdir/m.out" 2>&1 &
		mpid=$!
		disown "$mpid" # no "Killed" from the shell when criu dump ends it
		wait_until 60 grep -q . "$cdir/m.out" || { echo "memhog did not start" >&2; exit 1; }
		t0=$(now_ms)
		"$criu" dump -t "$mpid" -D "$cdir/img" -o dump.log >/dev/null 2>&1 ||
			{ echo "criu dump: $(tail -3 "$cdir/img/dump.log")" >&2; kill -KILL "$mpid"; exit 1; }
		t1=$(now_ms)
		echo $((t1 - t0)) >>"$SSILAB_DIR/cd"
		wait_until 10 sh -c "! kill -0 $mpid 2>/dev/null"
		csize=$(du -sb "$cdir/img" | cut -f1)
		t0=$(now_ms)
		"$criu" restore -d -D "$cdir/img" -o restore.log >/dev/null 2>&1 ||
			{ echo "criu restore: $(tail -3 "$cdir/img/restore.log")" >&2; exit 1; }
		t1=$(now_ms)
		echo $((t1 - t0)) >>"$SSILAB_DIR/cr"
		kill -0 "$mpid" 2>/dev/null || { echo "criu restore: pid $mpid is not back" >&2; exit 1; }
		kill -KILL "$mpid"
		wait_until 10 sh -c "! kill -0 $mpid 2>/dev/null"
	done
	cd_=$(median <"$SSILAB_DIR/cd") cr=$(median <"$SSILAB_DIR/cr")
	awk -v m="$mib" -v fz="$fz" -v rs="$rs" -v cd="$cd_" -v cr="$cr" -v s="$csize" 'BEGIN {
		fd = cd > 0 ? fz / cd : 0; rr = cr > 0 ? rs / cr : 0
		printf "| %d | %.1f | %d | %.2f | %d | %d | %.2f | %.1f |\n", m, fz, cd, fd, rs, cr, rr, s / 1048576 }'
done
