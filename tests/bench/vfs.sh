#!/bin/bash
# vfs-proxy costs, at home and away in the same run: forwarded stat and 4 KiB
# pread latency, sequential read and write throughput (1 MiB calls, a 64 MiB
# home file), the cost of a trapped call on a local fd (pipe write+read,
# re-issued by the SIGSYS handler); then, in the same run, the raw ssi_chan
# figures of the path the call link takes (n2 -> n1 through the lab's veths
# and bridge: chan_bench path in n2 against chan_bench serve in n1): 64 B
# round trip, 64 B out and a 4 KiB record back (a 4 KiB pread's sizes),
# and 1 MiB-record throughput both ways; the ratios of the away
# figures to them; and chan_bench's loopback round trips for reference.
# Usage: tests/bench/vfs.sh   (root; SSILAB_INSTANCE as for the tests; ~50 s)
# Needs build/tests/chan_bench (make bench, or make build/tests/chan_bench).
. "$(dirname "$0")/../integ/lib.sh"
lab_require_root
lab_up 2
mkdir -p "$LAB_FILES"
cp "$lab_top/tests/bench/vfs_bench.py" "$LAB_FILES/"
lab_exec n1 sh -c 'mkdir -p /tmp/vb && head -c 67108864 /dev/urandom > /tmp/vb/data'

run() { # run TAG MOVE
	lab_exec n1 sh -c "rm -f /tmp/vb/in /tmp/vb/$1; mkfifo /tmp/vb/in
		{ ssirun python3 $LAB_FILES/vfs_bench.py /tmp/vb < /tmp/vb/in > /tmp/vb/$1 2>&1; } &
		exec 3>/tmp/vb/in; sleep 1
		if [ $2 = move ]; then ssictl migrate \$(ssictl ps | awk '/vfs_bench/ {print \$2}') n2 >&2; fi
		echo go >&3; exec 3>&-; wait"
}
run home stay
run away move
echo "figure                      home      away"
lab_exec n1 sh -c 'join /tmp/vb/home /tmp/vb/away' | awk '{ printf "%-24s %9s %9s\n", $1, $2, $3 }'
chan=${SSI_TESTDIR:-$lab_top/build/tests}/chan_bench
if [ -x "$chan" ]; then
	# The call link's path: the deputy's side in n1, the body's in n2.
	lab_exec n1 sh -c "$chan serve $LAB_SUBNET.1 0 > /tmp/vb/serve 2>&1 & echo \$! > /tmp/vb/serve.pid"
	wait_until 5 lab_exec n1 grep -q listening /tmp/vb/serve
	port=$(lab_exec n1 awk '/listening/ {print $2}' /tmp/vb/serve)
	lab_exec n2 "$chan" path "$LAB_SUBNET.1" "$port" 256 > "$LAB_FILES/path"
	lab_exec n1 sh -c 'kill $(cat /tmp/vb/serve.pid)'
	# The same with the server waiting in ppoll before each read, as the
	# deputy does: what that wakeup adds to a round trip.
	lab_exec n1 sh -c "CHAN_BENCH_POLL=1 $chan serve $LAB_SUBNET.1 0 > /tmp/vb/serve 2>&1 & echo \$! > /tmp/vb/serve.pid"
	wait_until 5 lab_exec n1 grep -q listening /tmp/vb/serve
	port=$(lab_exec n1 awk '/listening/ {print $2}' /tmp/vb/serve)
	lab_exec n2 "$chan" path "$LAB_SUBNET.1" "$port" 16 | sed -n 's/^path_rtt/polled_rtt/p' >> "$LAB_FILES/path"
	lab_exec n1 sh -c 'kill $(cat /tmp/vb/serve.pid)'
	echo "ssi_chan on the call link's path (n2 -> n1, chan_bench path, same run):"
	sed 's/^/  /' "$LAB_FILES/path"
	lab_exec n1 sh -c 'sed s/^/home_/ /tmp/vb/home; cat /tmp/vb/away' | cat - "$LAB_FILES/path" | awk '
		/^home_/ { h[substr($1, 6)] = $2; next }
		{ v[$1] = $2 }
		END {
			printf "ratios (away / path, same run; python figures are means, so are these round trips):\n"
			printf "  stat_us / path_rtt64_mean_us                  %.2f\n", v["stat_us"] / v["path_rtt64_mean_us"]
			printf "  (stat_us - home stat_us) / path_rtt64_mean_us %.2f\n", (v["stat_us"] - h["stat_us"]) / v["path_rtt64_mean_us"]
			printf "  pread4k_us / path_rtt4k_mean_us               %.2f\n", v["pread4k_us"] / v["path_rtt4k_mean_us"]
			printf "  (pread4k_us - home) / path_rtt4k_mean_us      %.2f\n", (v["pread4k_us"] - h["pread4k_us"]) / v["path_rtt4k_mean_us"]
			printf "  seq_read / path_from_server                   %.2f\n", v["seq_read_MBps"] / v["path_from_server_MBps"]
			printf "  seq_read_8k / path_from_server                %.2f\n", v["seq_read_8k_MBps"] / v["path_from_server_MBps"]
			printf "  seq_read_64k / path_from_server               %.2f\n", v["seq_read_64k_MBps"] / v["path_from_server_MBps"]
			printf "  seq_write / path_to_server                    %.2f\n", v["seq_write_MBps"] / v["path_to_server_MBps"]
		}'
	echo "ssi_chan on loopback, for reference (chan_bench 1 64):"
	"$chan" 1 64 | grep -i "round\|rtt\|GiB\|MB/s" | sed 's/^/  /'
else
	echo "no $chan: make build/tests/chan_bench for the channel figures"
fi
lab_passed=1
finish
