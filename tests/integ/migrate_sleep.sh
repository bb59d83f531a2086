#!/bin/bash
# A freeze is invisible to a sleep (#17): tests/progs/sleeper makes one
# nanosleep (relative, with rem) or one absolute clock_nanosleep of 10 s and
# does not retry; moved n1 -> n2 -> home during it, the call still returns
# 0 after at least 10 s (the frozen time counts, as across SIGSTOP/SIGCONT;
# the upper bound is generous). coreutils' sleep 10 likewise. (10 s, not 5:
# two moves and the waits between them must fit in the sleep on a loaded
# machine.)
. "$(dirname "$0")/lib.sh"
lab_require_root
sleeper=${SSI_TESTDIR:-$lab_top/build/tests}/sleeper
[ -x "$sleeper" ] || { echo "not ok - $sleeper is missing (make check builds it)"; exit 1; }
lab_up 2

# moved TAG CMD...: runs CMD under ssirun on n1, moves it to n2 1 s after it
# registered and home 1 s later; n1's /tmp/TAG.out gets its output and elapsed_ms.
moved() {
	local tag=$1
	shift
	lab_exec n1 sh -c "{ s=\$(date +%s%3N); ssirun $* 2>&1; echo status=\$? wall_ms=\$((\$(date +%s%3N) - s)); } >/tmp/$tag.out &"
	local pid= prog=$1
	registered() { pid=$(lab_pid_of "$prog"); [ -n "$pid" ]; }
	wait_until 10 registered || fail "$tag: $prog is not in ssictl ps"
	sleep 1
	out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1) || fail "$tag: moved to n2: $out"
	sleep 1
	out=$(lab_exec n1 ssictl migrate "$pid" home 2>&1) || fail "$tag: came home: $out"
	wait_until 25 lab_exec n1 grep -q '^status=' /tmp/$tag.out
}

for mode in rel abs; do
	moved $mode "$sleeper" 10 $mode
	res=$(lab_exec n1 cat /tmp/$mode.out)
	ms=$(echo "$res" | sed -n 's/.*elapsed_ms=\([0-9]*\).*/\1/p')
	if echo "$res" | grep -q 'sleeper rc=0 errno=0' && echo "$res" | grep -q '^status=0' &&
		[ -n "$ms" ] && [ "$ms" -ge 10000 ] && [ "$ms" -lt 20000 ]; then
		ok "one $mode sleep of 10 s, moved twice, returned 0 after $ms ms"
	else
		fail "one $mode sleep of 10 s, moved twice: $(echo $res)"
	fi
done

moved coreutils sleep 10
res=$(lab_exec n1 cat /tmp/coreutils.out)
ms=$(echo "$res" | sed -n 's/.*wall_ms=\([0-9]*\).*/\1/p')
[ -n "$ms" ] && [ "$ms" -ge 10000 ] && [ "$ms" -lt 20000 ] && echo "$res" | grep -q '^status=0' &&
	ok "coreutils sleep 10, moved twice, ended after $ms ms" || fail "coreutils sleep 10, moved twice: $(echo $res)"
finish
