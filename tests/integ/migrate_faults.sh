#!/bin/bash
# A migration that fails half-way loses nothing: a process holding 512 MiB
# of patterned memory (memhog, with a running checksum) is being moved when
# the destination's ssid is killed, or when the destination's link is cut;
# each time the migration reports the failure, and the process runs on at
# home to the same final checksum as a run that never moved. Then the same
# process moves for real and still ends with that checksum.
. "$(dirname "$0")/lib.sh"
lab_require_root
memhog=${SSI_TESTDIR:-$lab_top/build/tests}/memhog
[ -x "$memhog" ] || { echo "not ok - $memhog is missing (make check builds it)"; exit 1; }
lab_up 3

MIB=512 ITERS=60 INTERVAL=100

# The reference: the same run, never moved.
lab_exec n1 sh -c "$memhog $MIB $ITERS $INTERVAL | cat > /tmp/ref.out"
ref=$(lab_exec n1 grep '^memhog done' /tmp/ref.out)
[ -n "$ref" ] && ok "reference run: $ref" || { fail "reference run: $(lab_exec n1 tail -3 /tmp/ref.out)"; finish; }

# start TAG: memhog under ssirun on n1, output through a pipe into /tmp/TAG.out.
start() {
	lab_exec n1 sh -c "ssirun $memhog $MIB $ITERS $INTERVAL 2>&1 | cat > /tmp/$1.out &"
	wait_until 10 lab_exec n1 grep -q '^memhog pid=' "/tmp/$1.out" || { echo 0; return; }
	lab_exec n1 sed -n 's/^memhog start pid=\([0-9]*\).*/\1/p' "/tmp/$1.out"
}

# finished TAG: the run ended at home with the reference checksum, and no
# iteration is missing or repeated.
finished() {
	wait_until 60 lab_exec n1 grep -q '^memhog done' "/tmp/$1.out" &&
		[ "$(lab_exec n1 grep '^memhog done' "/tmp/$1.out")" = "$ref" ] &&
		[ "$(lab_exec n1 grep -c '^memhog pid=' "/tmp/$1.out")" = "$ITERS" ]
}

# 1. The destination's ssid dies while the image is on its way.
pid=$(start a)
lab_exec n1 sh -c "ssictl migrate $pid n2 > /tmp/a.mig 2>&1; echo \$? >> /tmp/a.mig" &
mig=$!
if wait_until 10 grep -q "receiving process $pid of n1" "$(lab_log n2)"; then
	lab_kill_ssid n2 KILL
	wait "$mig"
	out=$(lab_exec n1 cat /tmp/a.mig)
	if [ "$(echo "$out" | tail -1)" != 0 ] && echo "$out" | grep -q "keeps running on n1"; then
		ok "n2's ssid killed mid-transfer: the migration fails: $(echo "$out" | head -1)"
	else
		fail "n2's ssid killed mid-transfer: $out"
	fi
else
	wait "$mig"
	fail "the transfer to n2 never started: $(lab_exec n1 cat /tmp/a.mig)"
fi
finished a && ok "the process ran on at home to the reference checksum" ||
	fail "after the failed move: $(lab_exec n1 tail -2 /tmp/a.out)"
wait_until 5 sh -c "! ssilab exec n2 -- pgrep -f 'memhog $MIB' >/dev/null" && ok "nothing is left on n2" ||
	fail "nothing is left on n2: $(lab_exec n2 pgrep -af memhog)"

# 2. The destination's link goes down while the image is on its way.
pid=$(start b)
lab_exec n1 sh -c "ssictl migrate $pid n3 > /tmp/b.mig 2>&1; echo \$? >> /tmp/b.mig" &
mig=$!
if wait_until 10 grep -q "receiving process $pid of n1" "$(lab_log n3)"; then
	ip -n "ssilab$lab_tag-br" link set vn3 down
	wait "$mig"
	out=$(lab_exec n1 cat /tmp/b.mig)
	if [ "$(echo "$out" | tail -1)" != 0 ] && echo "$out" | grep -q "keeps running on n1"; then
		ok "n3's link cut mid-transfer: the migration fails: $(echo "$out" | head -1)"
	else
		fail "n3's link cut mid-transfer: $out"
	fi
	ip -n "ssilab$lab_tag-br" link set vn3 up
	# Back: both directions of the control plane carry messages again.
	both_up() { [ "$(lab_node_state n3 n1)" = up ] && [ "$(lab_node_state n1 n3)" = up ]; }
	wait_until 10 both_up && ok "n1 and n3 see each other again within 10 s of the link coming back" ||
		fail "n1 and n3 see each other again within 10 s of the link coming back"
else
	wait "$mig"
	fail "the transfer to n3 never started: $(lab_exec n1 cat /tmp/b.mig)"
fi
finished b && ok "the process ran on at home to the reference checksum" ||
	fail "after the cut link: $(lab_exec n1 tail -2 /tmp/b.out)"

# 3. And a move that goes through: same checksum, same pid throughout.
# Stop-and-copy: memhog rewrites all of its 512 MiB every 100 ms and lives
# 6 s, so pre-copy rounds (each the whole memory again) could outlast it.
pid=$(start c)
out=$(lab_exec n1 ssictl migrate --stop-copy "$pid" n3 2>&1)
[ $? = 0 ] && ok "512 MiB process moved: $out" || fail "512 MiB process moved: $out"
finished c && ok "the moved process ends with the reference checksum, no iteration lost or repeated" ||
	fail "the moved process: $(lab_exec n1 tail -2 /tmp/c.out)"
[ "$(lab_exec n1 sed -n 's/^memhog pid=\([0-9]*\) .*/\1/p' /tmp/c.out | sort -u)" = "$pid" ] &&
	ok "its pid was $pid before and after" || fail "its pid changed: $(lab_exec n1 grep -o 'pid=[0-9]*' /tmp/c.out | sort | uniq -c)"

finish
