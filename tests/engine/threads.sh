#!/bin/bash
# Threads move: tests/progs/threads (eight threads besides main: producers
# and consumers on condition variables, a counter on a robust mutex, a
# sleeper in nanosleep) runs under libssi.so in a fresh PID namespace, is
# frozen into an image (the original exits), restored by ssi-restore into a
# new PID namespace, frozen and restored again. Every thread checks on
# every round its tid, name, signal mask and the pid (the sleeper its
# altstack and that no sleep came back early); the program checks at the
# end that every item produced was consumed once and the counter's total.
. "$(dirname "$0")/lib.sh"

PROG=$TDIR/threads
ITERS=40 INTERVAL=100
out=$WORK/out.txt
[ -x "$PROG" ] || { echo "not ok - missing $PROG (run: make build/tests/threads)"; exit 1; }

unshare --pid --fork --mount-proc sh -c '"$@" & wait $!' sh \
	env GLIBC_TUNABLES=glibc.pthread.rseq=0 LD_PRELOAD="$LIB/libssi.so" \
	"$PROG" $ITERS $INTERVAL >"$out" 2>&1 &
BODY_WRAP=$!
BODY=$(find_leaf "$BODY_WRAP" 2)
check "body starts as pid 2 with its threads" wait_line "$out" 'pid=2 ppid=1 iter=3 '
tids=$(ls /proc/"$BODY"/task | sort -n | tr '\n' ' ')
check "body has nine threads (main and eight)" [ "$(echo $tids | wc -w)" = 9 ]
ntid() { sed -n 's/.* tids=\([0-9.]*\) .*/\1/p' "$out" | sort -u; }

"$BIN/ssi-freeze" -x -o "$WORK/img1" "$BODY" 2>"$WORK/freeze1.err"
check "first freeze succeeds" [ $? = 0 ]
wait "$BODY_WRAP"
check "original exits after the EXIT verdict" [ $? = 0 ]
n1=$(last_iter "$out")
check "first freeze happened mid-run (iter $n1)" [ "$n1" -lt $ITERS ]
"$BIN/ssi-restore" --info "$WORK/img1" >"$WORK/info1"
check "image records nine threads" grep -qx 'threads 9' "$WORK/info1"

restore_body "$WORK/img1" "$out"
check "first restore resumes the body" wait_line "$out" "iter=$((n1 + 4)) "
rtids=$(ls /proc/"$BODY"/task 2>/dev/null | sort -n | tr '\n' ' ')
check "restored body has nine threads" [ "$(echo $rtids | wc -w)" = 9 ]

"$BIN/ssi-freeze" -x -o "$WORK/img2" "$BODY" 2>"$WORK/freeze2.err"
check "second freeze (of a restored body) succeeds" [ $? = 0 ]
wait "$BODY_WRAP"
check "first restorer exits with the body's status 0" [ $? = 0 ]

restore_body "$WORK/img2" "$out"
wait "$BODY_WRAP"
rc=$?
check "second restore runs the body to completion (exit $rc)" [ $rc = 0 ]
check "no thread saw a change (tid, name, mask, altstack, early sleep)" not grep -q 'MISMATCH' "$out"
check "the program's own checks pass" grep -qx 'threads done ok' "$out"
check "the threads' tids were the same in every round" [ "$(ntid | wc -l)" = 1 ]
got=$(sed -n 's/^threads pid=\([0-9]*\) ppid=\([0-9]*\) iter=\([0-9]*\) .*/\1 \2 \3/p' "$out")
check "iterations 1..$ITERS each once, all pid=2 ppid=1" [ "$got" = "$(seq $ITERS | sed 's/^/2 1 /')" ]
if [ $nfail != 0 ]; then
	echo "# output:"; sed 's/^/# /' "$out" | tail -n 30; sed 's/^/# restore: /' "$WORK/restore.err"
fi
cat "$WORK"/freeze*.err | sed 's/^/# /'
exit $((nfail != 0))
