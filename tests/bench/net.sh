#!/bin/bash
# netproxy: a migrated server against the same server at home, one run on a
# 2-host lab (needs root; about a minute).
#
#   tests/bench/net.sh [REQUESTS] [MIB]     (defaults 2000 and 200)
#
# SSILAB_INSTANCE=K (see ssilab(1)) runs its lab beside others.
#
# The server (tests/bench/net.py, single-threaded python3) is started with
# ssirun on n1 and listens on n1's 127.0.0.1; the client is always on n1.
#   request  mean time of one 64-byte request/response on one connection
#   stream   MiB/s of MIB MiB sent by the server
# each measured REPS (3) times at home, then the server is moved to n2 and
# measured REPS times away (medians). The path figure is the same request
# loop between the two hosts over raw TCP (n1 client, a server on n2's lab
# address): one round trip of the data connection's path, which every
# request of the away server crosses once (client -> deputy -> agent ->
# body and back). "channel" is the data connection alone on the same path
# (chan_bench path on n1 against chan_bench serve on n2: ssi_chan): the mean
# round trip of a 64-byte record (a small DATA frame), and a stream in records the size of the
# tunnel's largest DATA frame for a socket and of ssi_chan's largest record.
. "$(dirname "$0")/../integ/lib.sh"
lab_require_root
command -v python3 >/dev/null || skip "python3 is not installed"
cprog=${SSI_TESTDIR:-$lab_top/build/tests}/chan_bench
[ -x "$cprog" ] || { echo "net.sh: $cprog not built: run 'make bench' or 'make build/tests/chan_bench'" >&2; exit 1; }
# The tunnel's largest DATA frame, with its header ("#define X (A * B)").
frame=$(awk '/define SSI_TUNNEL_DATA_MAX/ { v = 1; for (i = 3; i <= NF && $i != "/*"; i++) {
	gsub(/[()*]/, "", $i); if ($i != "") v *= $i }; print v + 8 }' "$lab_top/wire/ssi_tunnel.h")
reqs=${1:-2000}
mib=${2:-200}
REPS=${REPS:-3}
lab_up 2 >/dev/null
mkdir -p "$LAB_FILES"
cp "$lab_top/tests/bench/net.py" "$LAB_FILES/"
prog=$LAB_FILES/net.py
port=7711

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
measure() { # HOST PORT -> "request_us stream_mibs"
	local rr st i
	rr=$(for i in $(seq "$REPS"); do lab_exec n1 python3 "$prog" rr "$1" "$2" "$reqs"; done | median)
	st=$(for i in $(seq "$REPS"); do lab_exec n1 python3 "$prog" stream "$1" "$2" "$mib"; done | median)
	echo "$rr $st"
}

lab_exec n2 sh -c "(python3 $prog server 0.0.0.0 $((port + 1)) > /dev/null 2>&1 &)"
lab_exec n2 sh -c "($cprog serve 0.0.0.0 $((port + 2)) > /dev/null 2>&1 &)"
lab_exec n1 sh -c "(ssirun python3 $prog server 127.0.0.1 $port > /dev/null 2>&1 &)"
wait_until 10 sh -c "ssilab exec n1 -- python3 $prog rr 127.0.0.1 $port 1 >/dev/null 2>&1" ||
	{ echo "server did not start" >&2; exit 1; }
sleep 0.5
path=$(for i in $(seq "$REPS"); do lab_exec n1 python3 "$prog" rr "$LAB_SUBNET.2" $((port + 1)) "$reqs"; done | median)
home=$(measure 127.0.0.1 $port)
pid=$(lab_exec n1 ssictl ps --json | python3 -c '
import json, sys
for p in json.load(sys.stdin)["data"]:
    if "net.py server" in p["cmd"]:
        print(p["pid"]); break')
lab_exec n1 ssictl migrate "$pid" n2 >/dev/null || { echo "migration failed" >&2; exit 1; }
away=$(measure 127.0.0.1 $port)
path2=$(for i in $(seq "$REPS"); do lab_exec n1 python3 "$prog" rr "$LAB_SUBNET.2" $((port + 1)) "$reqs"; done | median)
path=$(printf '%s\n%s\n' "$path" "$path2" | sort -n | head -1)
chan() { # RECORD -> per run "rtt64_mean_us from_server_MiBps"
	local i
	for i in $(seq "$REPS"); do
		lab_exec n1 "$cprog" path "$LAB_SUBNET.2" $((port + 2)) "$mib" "$1" |
			awk '$1 == "path_rtt64_mean_us" { r = $2 } $1 == "path_from_server_MiBps" { s = $2 }
				END { print r, s }'
	done
}
runs=$(chan "$frame")
crr=$(echo "$runs" | awk '{ print $1 }' | median)
cst=$(echo "$runs" | awk '{ print $2 }' | median)
cmax=$(chan 262144 | awk '{ print $2 }' | median)
set -- $home $away
printf 'netproxy bench: %d requests of 64 B, %d MiB stream, medians of %d\n' "$reqs" "$mib" "$REPS"
printf '%-28s %12s %14s\n' "" "request (us)" "stream (MiB/s)"
printf '%-28s %12s %14s\n' "server at home (n1)" "$1" "$2"
printf '%-28s %12s %14s\n' "same server moved to n2" "$3" "$4"
printf '%-28s %12s\n' "raw TCP round trip n1<->n2" "$path"
printf '%-28s %12s %14s\n' "channel n1<->n2 ($frame B)" "$crr" "$cst"
printf '%-28s %12s %14s\n' "channel n1<->n2 (256 KiB)" "" "$cmax"
awk -v h="$1" -v a="$3" -v p="$path" -v c="$crr" -v hs="$2" -v as="$4" -v cs="$cst" -v cm="$cmax" 'BEGIN {
	printf "added per request: %.1f us = %.2f x the path round trip = %.2f x the channel round trip\n",
		a - h, (a - h) / p, (a - h) / c
	printf "stream away/home: %.2f; away/channel: %.2f (%d B records), %.2f (256 KiB records); channel/home: %.2f\n",
		as / hs, as / cs, '"$frame"', as / cm, cm / hs }'
