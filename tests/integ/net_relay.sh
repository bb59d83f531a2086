#!/bin/bash
# netproxy: 200 MiB streamed through a relay (socat, single process) that is
# moved while the stream runs; the sink's checksum and byte count equal
# the source's. The relay listens on n1's 127.0.0.1 and connects to a sink
# there: both connections are open at the freeze and go on as tunnels, and
# the end of stream (socat's shutdown) reaches the sink at home. socat also
# holds a Unix datagram socket, which stays at home (every call forwarded).
# It moves twice during the stream: n1 -> n2, then n2 -> n3 (through home).
. "$(dirname "$0")/lib.sh"
lab_require_root
command -v python3 >/dev/null || skip "python3 is not installed"
command -v socat >/dev/null || skip "socat is not installed"
lab_up 3
mkdir -p "$LAB_FILES"
cp "$lab_top/tests/progs/net_probe.py" "$LAB_FILES/"
probe=$LAB_FILES/net_probe.py
in=7531
out=7532

lab_exec n1 sh -c "(python3 $probe sink $out /tmp/sink.sum > /tmp/sink.log 2>&1 &)"
sleep 0.5
lab_exec n1 sh -c "{ ssirun socat TCP-LISTEN:$in,bind=127.0.0.1,reuseaddr TCP:127.0.0.1:$out > /tmp/relay.log 2>&1; echo \$? > /tmp/relay.rc; } &"
wait_until 10 sh -c "ssilab exec n1 -- ss -ltn | grep -q :$in" || fail "relay did not listen"
get_pid() { pid=$(lab_pid_of 'socat'); [ -n "$pid" ]; }
wait_until 20 get_pid || fail "socat is not in 'ssictl ps'"
# 200 MiB at about 25 MiB/s: about 8 s, moved after 1.5 s and 4 s.
lab_exec n1 sh -c "(python3 $probe source $in 200 25 /tmp/source.sum > /tmp/source.log 2>&1 &)"
sleep 1.5
mig=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1)
check "socat moved to n2 mid-stream: $mig" sh -c "echo '$mig' | grep -q 'moved from n1 to n2'"
check "the stream was still running when it moved" sh -c "! ssilab exec n1 -- test -s /tmp/source.sum"
check "its body runs on n2" sh -c "ssilab exec n2 -- pgrep -x socat >/dev/null"
sleep 2.5
mig=$(lab_exec n2 ssictl migrate "n1:$pid" n3 2>&1)
check "socat moved on to n3 mid-stream: $mig" sh -c "echo '$mig' | grep -q 'moved from n1 to n3'"
check "the stream was still running when it moved again" sh -c "! ssilab exec n1 -- test -s /tmp/source.sum"
check "its body runs on n3, none on n2" sh -c "ssilab exec n3 -- pgrep -x socat >/dev/null && ! ssilab exec n2 -- pgrep -x socat"
if wait_until 120 lab_exec n1 test -s /tmp/sink.sum && wait_until 20 lab_exec n1 test -s /tmp/source.sum; then
	src=$(lab_exec n1 cat /tmp/source.sum)
	dst=$(lab_exec n1 cat /tmp/sink.sum)
	note "source: $src"
	note "sink:   $dst"
	if [ "$src" = "$dst" ] && [ "${src#* }" = 209715200 ]; then
		ok "200 MiB through the moved relay: same sha256 and byte count at both ends"
	else
		fail "checksums differ: source '$src' sink '$dst'"
	fi
else
	fail "stream did not finish: $(lab_exec n1 sh -c 'cat /tmp/sink.log /tmp/source.log /tmp/relay.log')"
fi
if wait_until 20 lab_exec n1 test -s /tmp/relay.rc && [ "$(lab_exec n1 cat /tmp/relay.rc)" = 0 ]; then
	ok "socat ended by itself after the stream, status 0 at home"
else
	fail "socat status '$(lab_exec n1 cat /tmp/relay.rc)': $(lab_exec n1 cat /tmp/relay.log)"
fi
finish
