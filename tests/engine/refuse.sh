#!/bin/bash
# ssi-restore refuses bad images cleanly (message, non-zero exit, nothing
# resumed): another CPU vendor, a truncated stream, garbage; and a busy
# target pid. The intact image then restores, so the refusals were real.
. "$(dirname "$0")/lib.sh"

out=$WORK/out.txt
start_body "$out" 8 20 50
wait_line "$out" 'iter=3 ' || notok "body started"
"$BIN/ssi-freeze" -x -q -o "$WORK/img" "$BODY" || notok "freeze"
wait "$BODY_WRAP"

# refuse NAME IMAGE REGEX: restore must fail with a matching message.
refuse() {
	local err=$WORK/$1.err
	: >"$WORK/$1.out"
	unshare --pid --fork --mount-proc "$BIN/ssi-restore" "$2" >"$WORK/$1.out" 2>"$err"
	local rc=$?
	if [ $rc != 0 ] && grep -Eq "$3" "$err" && ! grep -q iter= "$WORK/$1.out"; then
		ok "refuses $1: $(head -c 120 "$err" | tr '\n' ' ')"
	else
		notok "refuses $1 (rc $rc): $(cat "$err")"
	fi
}

cp "$WORK/img" "$WORK/vendor"
printf 'XenuineXntel' | dd of="$WORK/vendor" bs=1 seek=120 conv=notrunc status=none
refuse cpu-vendor "$WORK/vendor" 'CPU'

head -c $(($(stat -c %s "$WORK/img") / 2)) "$WORK/img" >"$WORK/trunc"
refuse truncated "$WORK/trunc" 'truncated'

head -c 4096 /dev/urandom >"$WORK/garbage"
refuse garbage "$WORK/garbage" 'not an ssi image'

# Target pid busy: in a namespace where pid 2 is already taken.
unshare --pid --fork --mount-proc sh -c 'sleep 5 & "$1" "$2"' sh "$BIN/ssi-restore" "$WORK/img" \
	>"$WORK/busy.out" 2>"$WORK/busy.err"
if [ $? != 0 ] && grep -q 'taken' "$WORK/busy.err"; then
	ok "refuses a busy pid: $(cat "$WORK/busy.err")"
else
	notok "refuses a busy pid: $(cat "$WORK/busy.err")"
fi

: >"$WORK/good.out"
unshare --pid --fork --mount-proc "$BIN/ssi-restore" "$WORK/img" >"$WORK/good.out" 2>&1
check "the intact image restores and completes" grep -q '^memhog done iters=20' "$WORK/good.out"
exit $((nfail != 0))
