#!/bin/bash
# A freeze is invisible to a sleep (#17): tests/progs/sleeper makes one
# nanosleep (relative, with rem) or one absolute clock_nanosleep of 5 s and
# does not retry; moved n1 -> n2 -> home during it, the call still returns
# 0 after at least 5 s (the frozen time counts, as across SIGSTOP/SIGCONT;
# the upper bound is generous). coreutils' sleep 5 likewise.
. "$(dirname "$0")/lib.sh"
lab_require_root
sleeper=${SSI_TESTDIR:-$lab_top/build/tests}/sleeper
[ -x "$sleeper" ] || { echo "not ok - $sleeper is missing (make check builds it)"; exit 1; }
lab_up 2

# moved TAG CMD...: runs CMD under ssirun on n1, moves it to n2 after 1.5 s
# and home after 3 s; n1's /tmp/TAG.out gets its output and elapsed_ms.
moved() {
	local tag=$1
	shift
	lab_exec n1 sh -c "{ s=\$(date +%s%3N); ssirun $* 2>&1; echo status=\$? wall_ms=\$((\$(date +%s%3N) - s)); } >/tmp/$tag.out &"
	sleep 1.5
	local pid
	pid=$(lab_pid_of "$1")
	out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1) || fail "$tag: moved to n2: $out"
	sleep 1.5
	out=$(lab_exec n1 ssictl migrate "$pid" home 2>&1) || fail "$tag: came home: $out"
	wait_until 15 lab_exec n1 grep -q '^status=' /tmp/$tag.out
}

for mode in rel abs; do
	moved $mode "$sleeper" 5 $mode
	res=$(lab_exec n1 cat /tmp/$mode.out)
	ms=$(echo "$res" | sed -n 's/.*elapsed_ms=\([0-9]*\).*/\1/p')
	if echo "$res" | grep -q 'sleeper rc=0 errno=0' && echo "$res" | grep -q '^status=0' &&
		[ -n "$ms" ] && [ "$ms" -ge 5000 ] && [ "$ms" -lt 12000 ]; then
		ok "one $mode sleep of 5 s, moved twice, returned 0 after $ms ms"
	else
		fail "one $mode sleep of 5 s, moved twice: $(echo $res)"
	fi
done

moved coreutils sleep 5
res=$(lab_exec n1 cat /tmp/coreutils.out)
ms=$(echo "$res" | sed -n 's/.*wall_ms=\([0-9]*\).*/\1/p')
[ -n "$ms" ] && [ "$ms" -ge 5000 ] && [ "$ms" -lt 12000 ] && echo "$res" | grep -q '^status=0' &&
	ok "coreutils sleep 5, moved twice, ended after $ms ms" || fail "coreutils sleep 5, moved twice: $(echo $res)"
finish
