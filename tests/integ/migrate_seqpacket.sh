#!/bin/bash
# Unix seqpacket sockets move with the process (#17; zdtm's *-seqpacket
# tests): tests/progs/seqpk holds a socketpair(AF_UNIX, SOCK_SEQPACKET)
# (both ends) and one end of another whose other end a child at home holds.
# Checked at home, on n2 and at home again (n1 -> n2 -> home): messages of
# 1 to 3000 bytes arrive whole both ways, a message read short is
# truncated (MSG_TRUNC) and the rest gone, messages left queued before a
# move are read after it, the child's answers come whole, and its end
# (closed while the process is away) reads as the end.
. "$(dirname "$0")/lib.sh"
lab_require_root
seqpk=${SSI_TESTDIR:-$lab_top/build/tests}/seqpk
[ -x "$seqpk" ] || { echo "not ok - $seqpk is missing (make check builds it)"; exit 1; }
lab_up 2

lab_exec n1 sh -c "{ ssirun $seqpk 3 2>/tmp/s.err; echo status=\$?; } >/tmp/s.out &"
wait_until 10 lab_exec n1 grep -q '^seqpk ready' /tmp/s.out
pid=$(lab_pid_of seqpk)

# check K WHERE: asks for check K (SIGUSR2 at home reaches the body) and
# waits for its line.
check() { lab_probe_check "$pid" /tmp/s.out /tmp/s.err "$1" "$2: every message whole, the end seen"; }

check 0 "at home, before moving"
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1) && ok "moved with seqpacket sockets: $out" ||
	fail "moved with seqpacket sockets: $out"
check 1 "away on n2"
out=$(lab_exec n1 ssictl migrate "$pid" home 2>&1) && ok "came home: $out" || fail "came home: $out"
check 2 "at home again"
lab_probe_end /tmp/s.out /tmp/s.err
finish
