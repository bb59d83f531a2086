#!/bin/bash
# A freeze that fails must lose nothing: the program thaws and runs on.
# Cases: a plain kill() of the freeze signal (not sigqueue), an image sink
# that fills up (ENOSPC), a requester that dies mid-image, and a
# checkpoint (verdict CONTINUE) whose image is then also restored.
. "$(dirname "$0")/lib.sh"

MIB=64 ITERS=100 INTERVAL=50 # 5 s: the body must outlive three freezes on a loaded machine
ref=$(reference_sum $MIB $ITERS)
out=$WORK/out.txt

start_body "$out" $MIB $ITERS $INTERVAL
wait_line "$out" 'iter=3 ' || notok "body started"

kill -63 "$BODY"
check "plain kill of the freeze signal is ignored" kill -0 "$BODY"

# The image goes to a 1 MiB tmpfs (in a private mount namespace): ENOSPC.
mkdir -p "$WORK/small"
unshare --mount sh -c 'mount -t tmpfs -o size=1m none "$1" && "$2" -o "$1/img" "$3"' sh \
	"$WORK/small" "$BIN/ssi-freeze" "$BODY" 2>"$WORK/f1.err"
check "freeze onto a full file system fails" [ $? != 0 ]
sleep 0.2
check "program survives the failed write" kill -0 "$BODY"

n=$(last_iter "$out")
# The requester dies of SIGPIPE after 1 MB: the shim sees EPIPE mid-image.
bash -c '"$1" -o /dev/stdout "$2" | head -c 1000000 >/dev/null' sh "$BIN/ssi-freeze" "$BODY" \
	2>"$WORK/f2.err"
wait_line "$out" "iter=$((n + 2)) " 5
check "program runs on after the requester died mid-image" kill -0 "$BODY"
# The requester hears why; the program's own output holds nothing from ssi (#17).
check "nothing from ssi in the program's output" sh -c "! grep -q 'ssi' '$out'"

"$BIN/ssi-freeze" -o "$WORK/ckpt" "$BODY" 2>"$WORK/f3.err"
check "checkpoint (verdict CONTINUE) succeeds" [ $? = 0 ]

wait "$BODY_WRAP"
check "program completes with exit 0" [ $? = 0 ]
check "iterations 1..$ITERS each once" iters_consecutive "$out" $ITERS
check "final checksum equals the unmigrated run" [ "$(grep '^memhog done' "$out")" = "$ref" ]

# The checkpoint restores too, and reaches the same result.
: >"$WORK/out2.txt"
restore_body "$WORK/ckpt" "$WORK/out2.txt"
wait "$BODY_WRAP"
check "restored checkpoint completes with exit 0" [ $? = 0 ]
check "restored checkpoint ends with the same checksum" \
	[ "$(grep '^memhog done' "$WORK/out2.txt")" = "$ref" ]
if [ $nfail != 0 ]; then
	echo "# output:"; sed 's/^/# /' "$out" "$WORK/out2.txt"
	sed 's/^/# /' "$WORK"/f*.err "$WORK/restore.err"
fi
exit $((nfail != 0))
