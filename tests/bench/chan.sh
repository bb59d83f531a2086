#!/bin/bash
# ssi_chan against raw loopback TCP, measured in the same run (see
# tests/bench/chan_bench.c): 1 GiB one way into a fresh and into a reused
# buffer, and 64 B round trips pinned on one CPU and across two.
# Usage: tests/bench/chan.sh [REPS] [MIB]   (defaults 2 and 1024; ~50 s)
. "$(dirname "$0")/lib.sh"
prog=${SSI_TESTDIR:-$top/build/tests}/chan_bench
if [ ! -x "$prog" ]; then
	echo "chan.sh: $prog not built: run 'make build/tests/chan_bench'" >&2
	exit 1
fi
exec "$prog" "${1:-2}" "${2:-1024}"
