#!/bin/bash
# The image leaves out private anonymous pages that hold only zeroes (the restorer maps such
# memory fresh, so their absence is the mark), and never a zero page copied over a private file
# mapping's bytes. zeropages holds 64 MiB, 60 of it present zero pages: frozen, its image is far
# smaller than its memory, and restored, every byte is right (the file mapping's zero page too).
. "$(dirname "$0")/lib.sh"
ZP=$TDIR/zeropages
[ -x "$ZP" ] || { echo "not ok - missing $ZP (run: make build/tests/zeropages)"; exit 1; }
out=$WORK/out.txt

unshare --pid --fork --mount-proc sh -c '"$@" & wait $!' sh \
	env GLIBC_TUNABLES=glibc.pthread.rseq=0 LD_PRELOAD="$LIB/libssi.so" \
	"$ZP" "$WORK/mapped" 3 >"$out" 2>&1 &
BODY_WRAP=$!
BODY=$(find_leaf "$BODY_WRAP" 2)
check "zeropages starts" wait_line "$out" '^zeropages ready'

"$BIN/ssi-freeze" -x -o "$WORK/img" "$BODY" 2>"$WORK/freeze.err"
check "freeze succeeds" [ $? = 0 ]
wait "$BODY_WRAP"
size=$(stat -c %s "$WORK/img")
# 4 MiB of pattern pages, the file mapping's copied page, stacks, libraries' data: well
# under 16 MiB; with every present page sent it is over 64 MiB.
check "the image leaves the zero pages out ($((size >> 20)) MiB for 64 MiB of memory)" \
	[ "$size" -lt $((16 << 20)) ]

restore_body "$WORK/img" "$out"
wait "$BODY_WRAP"
rc=$?
check "the restored program finds every byte right (exit $rc)" grep -qx 'zeropages ok' "$out"
check "it exits 0" [ $rc = 0 ]
[ $nfail = 0 ] || { sed 's/^/# /' "$out" "$WORK/freeze.err"; sed 's/^/# restore: /' "$WORK/restore.err"; }
exit $((nfail != 0))
