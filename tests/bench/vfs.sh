#!/bin/bash
# vfs-proxy costs, at home and away in the same run: forwarded stat and 4 KiB
# pread latency, sequential read and write throughput (1 MiB calls, a 64 MiB
# home file), the cost of a trapped call on a local fd (pipe write+read,
# re-issued by the SIGSYS handler), and the raw ssi_chan 64 B round trip
# (tests/bench/chan_bench on loopback) for reference.
# Usage: tests/bench/vfs.sh   (root; SSILAB_INSTANCE as for the tests; ~40 s)
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
	echo "ssi_chan (chan_bench 1 64, loopback):"
	"$chan" 1 64 | grep -i "round\|rtt\|GiB\|MB/s" | sed 's/^/  /'
fi
lab_passed=1
finish
