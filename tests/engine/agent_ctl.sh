#!/bin/bash
# A body that ssi-agent restored (ssi-restore --agent) and that finds no
# control socket where the agent puts it stops at once, before the program
# runs again: it would otherwise run with no call link and no trap while its
# deputy waits 30 s for the link and then thaws at home (two copies running:
# the many-descriptors bug of a live move, docs/ARCHITECTURE.md). Restored
# without --agent (a plain restore, as the other engine tests do) the same
# image runs on.
. "$(dirname "$0")/lib.sh"

MIB=8 ITERS=2000 INTERVAL=20
out=$WORK/out.txt

start_body "$out" $MIB $ITERS $INTERVAL
check "body starts in a fresh pid namespace as pid 2" wait_line "$out" 'pid=2 ppid=1 iter=5 '
"$BIN/ssi-freeze" -x -o "$WORK/img" "$BODY" 2>"$WORK/freeze.err"
check "freeze succeeds" [ $? = 0 ]
wait "$BODY_WRAP"
n=$(last_iter "$out")

# As ssi-agent restores it, but with no agent: no control socket at all.
unshare --pid --fork --mount-proc "$BIN/ssi-restore" --agent "$WORK/img" >>"$out" 2>>"$WORK/restore.err" &
wrap=$!
# gone: the restorer (pid 1 of the namespace, which ends with its body) has exited, within 20 s.
gone() {
	local i
	for i in $(seq 200); do
		kill -0 "$wrap" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}
check "restored with --agent and no control socket: the body ends by itself" gone
check "it says why" grep -q 'no call link to the deputy; the body stops' "$WORK/restore.err"
check "the program did not run again (last iteration $n)" [ "$(last_iter "$out")" = "$n" ]

# The same image restored plainly runs on.
restore_body "$WORK/img" "$out"
check "restored without --agent, the body runs on" wait_line "$out" "iter=$((n + 5)) "
kill -9 "$BODY" 2>/dev/null
wait "$BODY_WRAP" 2>/dev/null
if [ $nfail != 0 ]; then
	echo "# output:"; tail -5 "$out" | sed 's/^/# /'; sed 's/^/# restore: /' "$WORK/restore.err"
fi
exit $((nfail != 0))
