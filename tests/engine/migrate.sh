#!/bin/bash
# Migration on one machine: memhog runs under libssi.so in a fresh PID
# namespace, is frozen into an image (the original exits), restored by
# ssi-restore into a new PID namespace, frozen again and restored again.
# It must keep pid 2 / ppid 1, pass its own state checks every iteration
# (handler, mask, umask, rlimit, cwd, brk, TLS, itimer), lose and repeat no
# iteration, and end with the checksum of an unmigrated run.
. "$(dirname "$0")/lib.sh"

MIB=48 ITERS=40 INTERVAL=50
ref=$(reference_sum $MIB $ITERS)
out=$WORK/out.txt

start_body "$out" $MIB $ITERS $INTERVAL
check "body starts in a fresh pid namespace as pid 2" wait_line "$out" 'pid=2 ppid=1 iter=5 '

"$BIN/ssi-freeze" -x -o "$WORK/img1" "$BODY" 2>"$WORK/freeze1.err"
check "first freeze succeeds" [ $? = 0 ]
wait "$BODY_WRAP"
check "original exits after the EXIT verdict" [ $? = 0 ]
n1=$(last_iter "$out")
check "first freeze happened mid-run (iter $n1)" [ "$n1" -lt $ITERS ]
"$BIN/ssi-restore" --info "$WORK/img1" >"$WORK/info1"
check "image is complete and records pid 2" grep -qx 'pid 2' "$WORK/info1"
check "image records the fd table (stdout)" grep -q "^fd 1 kind 1 .*out.txt" "$WORK/info1"

restore_body "$WORK/img1" "$out"
check "first restore resumes the body" wait_line "$out" "iter=$((n1 + 5)) "

"$BIN/ssi-freeze" -x -o "$WORK/img2" "$BODY" 2>"$WORK/freeze2.err"
check "second freeze (of a restored body) succeeds" [ $? = 0 ]
wait "$BODY_WRAP"
check "first restorer exits with the body's status 0" [ $? = 0 ]

restore_body "$WORK/img2" "$out"
wait "$BODY_WRAP"
rc=$?
check "second restore runs the body to completion (exit $rc)" [ $rc = 0 ]
check "no state mismatch after restore" not grep -q 'MISMATCH' "$out"
check "iterations 1..$ITERS each once, all pid=2 ppid=1" iters_consecutive "$out" $ITERS
check "final checksum equals the unmigrated run" [ "$(grep '^memhog done' "$out")" = "$ref" ]
if [ $nfail != 0 ]; then
	echo "# output:"; sed 's/^/# /' "$out"; sed 's/^/# restore: /' "$WORK/restore.err"
fi
cat "$WORK"/freeze*.err | sed 's/^/# /'
exit $((nfail != 0))
