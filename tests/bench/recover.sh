#!/bin/bash
# Recovery when a node dies, against a restart by hand of the same image,
# measured in one run (needs root).
#
#   tests/bench/recover.sh [MIB...]     (default: 64; REPS=3 each)
#
# SSILAB_INSTANCE=K (see ssilab(1)) runs its lab beside others.
#
# A lab of 2 x REPS + 1 hosts per size. Per repetition: memhog MIB
# (tests/progs/memhog.c) runs under `ssirun --checkpoint-every 2` on n1
# (spool in n1's /tmp, a tmpfs), is moved to the next unused host, and once
# two periodic checkpoints were taken there that host's pid 1 is killed
# (every process in it dies, as when a machine dies). Two ways, a row each:
#   reset     the host killed: its kernel resets the body's connections, so
#             home's deputy sees its link break at once;
#   silent    the host's links set down first, then killed: nothing reaches
#             home, which notices by the failure timeout (3 s of silence in
#             the gossip) and the deputy's link probe (2 s).
# Columns:
#   recover   from the kill until n1's `ssictl ps` lists the process on n1
#             again and it runs memhog's code (/proc/PID/exe), both polled
#             through `ssilab exec` (about 100-150 ms of it is the polling);
#   restart   baseline: the same process then killed at home and started
#             again by hand from the newest checkpoint file at the kill
#             (`ssirun --restart FILE`, in memhog's cwd), until it runs
#             memhog's code;
#   detect    recover - restart: what noticing the loss costs (the failure
#             timeout, the deputy's link probe, the exec of ssi-ckpt).
# Medians of REPS; the ratio recover/restart.
. "$(dirname "$0")/../integ/lib.sh"
lab_require_root
command -v nsenter >/dev/null || skip "nsenter is not installed"
memhog=${SSI_TESTDIR:-$lab_top/build/tests}/memhog
[ -x "$memhog" ] || { echo "recover.sh: $memhog not built: run 'make $memhog'" >&2; exit 1; }
sizes=${*:-64}
reps=${REPS:-3}
need=$(( $(echo "$sizes" | tr ' ' '\n' | sort -n | tail -1) * 8 + 1024 ))
avail=$(awk '/MemAvailable/ { print int($2 / 1024) }' /proc/meminfo)
[ "$avail" -gt "$need" ] || skip "needs about $need MiB free (process, images in tmpfs, restart); $avail MiB available"
hosts=$((2 * reps * $(echo "$sizes" | wc -w) + 1))
lab_up "$hosts"
sed -i '1i spool = /tmp/spool' "$SSILAB_DIR/cluster.conf"
lab_exec n1 kill -HUP "$(lab_ssid_pid n1)"
wait_until 3 grep -q "reloaded" "$(lab_log n1)" || { echo "n1 did not reload" >&2; exit 1; }

now_ms() { echo $(($(date +%s%N) / 1000000)); }
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
runs_memhog() { [ "$(lab_exec n1 readlink "/proc/$1/exe" 2>/dev/null)" = "$memhog" ]; }
ps_on() { lab_exec n1 ssictl ps --json 2>/dev/null | grep -q "\"home\":\"n1\",\"pid\":$pid,\"node\":\"$1\""; }
recovered() { ps_on n1 && runs_memhog "$pid"; }
newest() { lab_exec n1 sh -c "ls /tmp/spool/0/n1-$pid-periodic-*.ckpt 2>/dev/null | sed 's/.*-//; s/.ckpt//' | sort -n | tail -1"; }

echo "# $hosts hosts, memhog under ssirun --checkpoint-every 2, medians of $reps"
# cut HOST: its links down (nothing it sends reaches anyone).
cut() {
	hp=$(lab_holder_pid "$1")
	for l in $(nsenter -t "$hp" -n ip -o link show | sed -n 's/^[0-9]*: \([^:@]*\).*/\1/p'); do
		[ "$l" = lo ] || nsenter -t "$hp" -n ip link set "$l" down
	done
}

printf '| MiB | death | image MiB | recover ms | restart ms | detect ms | recover/restart |\n'
printf '|---|---|---|---|---|---|---|\n'
h=1
for mib in $sizes; do
for how in reset silent; do
	: >"$SSILAB_DIR/rc" ; : >"$SSILAB_DIR/rs"
	size=0
	for r in $(seq "$reps"); do
		h=$((h + 1))
		lab_exec n1 sh -c "ssirun --checkpoint-every 2 $memhog $mib 100000 1000 > /tmp/m.out 2>&1 &"
		wait_until 60 lab_exec n1 grep -q . /tmp/m.out || { echo "memhog did not start" >&2; exit 1; }
		pid=$(lab_exec n1 pgrep -f "^$memhog $mib" | head -1)
		out=$(lab_exec n1 ssictl migrate "$pid" "n$h" 2>&1) || { echo "migrate: $out" >&2; exit 1; }
		seq=$(newest)
		more() { s=$(newest); [ -n "$s" ] && [ "$s" -ge $((${seq:-0} + 2)) ]; }
		wait_until 60 more || { echo "no periodic checkpoint on n$h" >&2; exit 1; }
		file=/tmp/spool/0/n1-$pid-periodic-$(newest).ckpt
		[ "$how" = silent ] && cut "n$h"
		t0=$(now_ms)
		kill -KILL "$(lab_holder_pid "n$h")"
		wait_until 120 recovered || { echo "not recovered: $(lab_exec n1 cat /tmp/m.out)" >&2; exit 1; }
		t1=$(now_ms)
		echo $((t1 - t0)) >>"$SSILAB_DIR/rc"
		size=$(lab_exec n1 stat -c %s "$file")
		lab_exec n1 cp "$file" /tmp/m.ckpt
		lab_exec n1 kill -KILL "$pid"
		wait_until 10 sh -c "! ssilab exec n1 -- kill -0 $pid 2>/dev/null"
		lab_exec n1 rm -rf /tmp/spool/0
		t0=$(now_ms)
		# From memhog's own cwd: a restart keeps the cwd of whoever starts it
		# (ssirun's here, the deputy's in a recovery), and memhog checks it.
		lab_exec n1 sh -c "cd /tmp && ssirun --restart /tmp/m.ckpt > /tmp/r.out 2>&1 &"
		wait_until 120 runs_memhog "$pid" || { echo "restart: $(lab_exec n1 cat /tmp/r.out) m.out $(lab_exec n1 tail -c 600 /tmp/m.out) exe $(lab_exec n1 readlink /proc/$pid/exe) $(lab_exec n1 ps -ef) $(tail -5 "$(lab_log n1)")" >&2; exit 1; }
		t1=$(now_ms)
		echo $((t1 - t0)) >>"$SSILAB_DIR/rs"
		lab_exec n1 kill -KILL "$pid"
		wait_until 10 sh -c "! ssilab exec n1 -- kill -0 $pid 2>/dev/null"
		lab_exec n1 rm -f /tmp/m.ckpt
	done
	rc=$(median <"$SSILAB_DIR/rc") rs=$(median <"$SSILAB_DIR/rs")
	awk -v m="$mib" -v w="$how" -v s="$size" -v rc="$rc" -v rs="$rs" 'BEGIN {
		ratio = rs + 0 ? rc / rs : 0 # not '>' in printf's list: awk takes it for a redirection
		printf "| %d | %s | %.1f | %d | %d | %d | %.2f |\n", m, w, s / 1048576, rc, rs, rc - rs, ratio }'
done
done
