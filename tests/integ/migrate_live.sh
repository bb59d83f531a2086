#!/bin/bash
# Pre-copy (live) moves (issue #14). A livehog of 256 MiB that rewrites 16 MiB
# of it at 10 MB/s, each page with a pattern of its generation that it checks
# itself, moves live n1 -> n2 (ssictl says how many pre-copy rounds, and that
# they converged), back home, and n1 -> n3; after each move every page is right
# (a page delivered stale, sent in a round before a later write, fails its
# check). One that rewrites 256 MiB as fast as it can (faster than the link)
# moves too: the rounds are cut short and ssictl says so, and every page is
# right. A move whose destination is killed during the rounds leaves the
# process running at home, its memory no longer tracked (no userfaultfd left in
# it) and every page right, and it moves again afterwards.
. "$(dirname "$0")/lib.sh"
lab_require_root
livehog=${SSI_TESTDIR:-$lab_top/build/tests}/livehog
[ -x "$livehog" ] || { echo "not ok - $livehog is missing (make check builds it)"; exit 1; }
lab_up 3

started() { lab_exec n1 grep -q '^livehog ready' "/tmp/$1.out" 2>/dev/null; }
# hog TAG MIB HOT RATE: a livehog under ssirun on n1 (output in /tmp/TAG.out);
# prints its home pid once its memory is written.
hog() {
	lab_exec n1 sh -c "ssirun $livehog $2 $3 $4 > /tmp/$1.out 2>&1 &"
	wait_until 60 started "$1" || return 1
	lab_exec n1 sed -n 's/^livehog ready \([0-9]*\).*/\1/p' "/tmp/$1.out"
}
nverified() { lab_exec n1 grep -c '^livehog verify ok' "/tmp/$1.out"; }
# verified TAG PID WHAT: asks the process to check every page (SIGUSR1 to its
# home pid reaches the body wherever it runs) and waits for its answer.
verified() {
	local before
	before=$(nverified "$1")
	lab_exec n1 kill -USR1 "$2"
	if wait_until 30 sh -c "[ \$(ssilab exec n1 -- grep -c '^livehog verify ok' /tmp/$1.out) -gt $before ]"; then
		ok "$3: every page right ($(lab_exec n1 grep '^livehog verify ok' "/tmp/$1.out" | tail -1))"
	else
		fail "$3: pages checked: $(lab_exec n1 grep '^livehog verify' "/tmp/$1.out" | tail -2)"
	fi
}
where() { lab_exec n1 ssictl ps --json | grep -o "\"pid\":$1,\"node\":\"[a-z0-9]*\""; }

# 1. A steady writer, n1 -> n2 -> home -> n3, live.
pid=$(hog a 256 16 10)
[ -n "$pid" ] && ok "livehog 256 MiB (16 MiB rewritten at 10 MB/s) runs on n1 (pid $pid)" ||
	{ fail "livehog did not start: $(lab_exec n1 cat /tmp/a.out)"; finish; }
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1)
rc=$?
re="^process $pid moved from n1 to n2: .* frozen [0-9.]+ s, ([0-9]+) pre-copy rounds?\$"
if [ "$rc" = 0 ] && [[ $out =~ $re ]] && [ "${BASH_REMATCH[1]}" -ge 2 ]; then
	ok "moved live to n2, the rounds converged: $out"
else
	fail "live move to n2 (exit $rc): $out"
fi
[ "$(where "$pid")" = "\"pid\":$pid,\"node\":\"n2\"" ] && ok "it runs on n2" || fail "where: $(where "$pid")"
# Home gives the memory back: the deputy keeps none of the program's 256 MiB (a 1 GiB
# livehog's deputy measured 2.3 MB resident, its anonymous memory 272 KiB).
rss=$(lab_exec n1 awk '/^RssAnon:/ { print $2 }' "/proc/$pid/status")
[ -n "$rss" ] && [ "$rss" -lt 16384 ] && ok "its deputy at home keeps none of its memory (RssAnon $rss KiB)" ||
	fail "its deputy at home holds RssAnon ${rss:-?} KiB of the program's 256 MiB"
verified a "$pid" "after the live move to n2"
out=$(lab_exec n1 ssictl migrate "$pid" home 2>&1) && ok "home again: $out" || fail "home: $out"
verified a "$pid" "back at home"
out=$(lab_exec n1 ssictl migrate --json "$pid" n3 2>&1)
rc=$?
if [ "$rc" = 0 ] && printf '%s' "$out" | grep -q '"mode":"pre-copy"' &&
	printf '%s' "$out" | grep -q '"converged":1'; then
	ok "moved live to n3 (--json): $out"
else
	fail "live move to n3 (exit $rc): $out"
fi
verified a "$pid" "after the live move to n3"
lab_exec n1 ssictl migrate "$pid" home >/dev/null 2>&1
lab_exec n1 kill -USR2 "$pid"
no_fail() {
	if lab_exec n1 grep -q 'verify FAIL' "/tmp/$1.out"; then
		fail "$2: a check after a freeze found a wrong page: $(lab_exec n1 grep 'verify FAIL' "/tmp/$1.out" | head -1)"
	elif lab_exec n1 grep -q 'after a gap' "/tmp/$1.out"; then
		ok "$2: its own checks after each freeze found every page right"
	else
		fail "$2: it never checked itself after a freeze"
	fi
}
no_fail a "the steady writer"

# 2. A writer faster than the link: the rounds are cut short, the move works.
pid=$(hog b 256 256 -1)
[ -n "$pid" ] && ok "livehog rewriting 256 MiB as fast as it can runs on n1 (pid $pid)" ||
	{ fail "livehog b did not start"; finish; }
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1)
rc=$?
if [ "$rc" = 0 ] && [[ $out == *"pre-copy round"*"(cut short: it writes faster than the link carries)" ]]; then
	ok "moved to n2, the rounds cut short and said so: $out"
else
	fail "fast writer's move (exit $rc): $out"
fi
verified b "$pid" "the fast writer on n2"
lab_exec n1 ssictl migrate "$pid" home >/dev/null 2>&1
lab_exec n1 kill -USR2 "$pid"
no_fail b "the fast writer"

# 3. The destination killed during the rounds: its ssi-xfer is stopped as soon
# as it receives (so the rounds stall, the process tracked), then killed.
pid=$(hog c 256 16 10)
[ -n "$pid" ] && ok "livehog c runs on n1 (pid $pid)" || { fail "livehog c did not start"; finish; }
lab_exec n1 sh -c "ssictl migrate $pid n2 > /tmp/c.mig 2>&1; echo \$? > /tmp/c.migrc" &
xfer=
stop_xfer() {
	xfer=$(lab_exec n2 pgrep -f 'ssi-xfer recv' | head -1)
	[ -n "$xfer" ] && lab_exec n2 kill -STOP "$xfer"
}
tracked() { lab_exec n1 sh -c "ls -l /proc/$pid/fd | grep -q userfaultfd"; }
if wait_until 20 stop_xfer && wait_until 10 tracked; then
	ok "the destination's ssi-xfer stopped during the rounds, the process tracks its writes"
else
	fail "could not stop the destination during the rounds (xfer '$xfer')"
fi
lab_exec n2 pkill -KILL -f 'ssi-agent'
[ -n "$xfer" ] && lab_exec n2 kill -KILL "$xfer"
if wait_until 60 lab_exec n1 test -s /tmp/c.migrc && [ "$(lab_exec n1 cat /tmp/c.migrc)" != 0 ]; then
	ok "the move failed: $(lab_exec n1 cat /tmp/c.mig)"
else
	fail "the move did not fail: $(lab_exec n1 cat /tmp/c.mig 2>&1)"
fi
[ "$(where "$pid")" = "\"pid\":$pid,\"node\":\"n1\"" ] && ok "it runs at home on n1" || fail "where: $(where "$pid")"
if wait_until 10 sh -c "! ssilab exec n1 -- sh -c 'ls -l /proc/$pid/fd | grep -q userfaultfd'"; then
	ok "its memory is no longer tracked (no userfaultfd in it)"
else
	fail "it still holds a userfaultfd: $(lab_exec n1 ls -l /proc/"$pid"/fd)"
fi
verified c "$pid" "after the failed move"
out=$(lab_exec n1 ssictl migrate "$pid" n3 2>&1) && ok "it moves again afterwards: $out" ||
	fail "moving again: $out"
verified c "$pid" "after moving again"
lab_exec n1 ssictl migrate "$pid" home >/dev/null 2>&1
lab_exec n1 kill -USR2 "$pid"
no_fail c "the process whose move failed"
finish
