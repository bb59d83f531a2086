#!/bin/bash
# ssilab log merges every host's ssid log into one timeline: each line once,
# prefixed with its host, in time order (stamps YYYY-MM-DDTHH:MM:SS.mmm never
# go back), so that a migration reads in its order across hosts: n1 offers,
# n2 receives, n1 says it moved. 'ssilab log HOST' shows only that host;
# an unknown host is a usage error (2).
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_up 3

lab_exec n1 sh -c "ssirun sleep 60 >/dev/null 2>&1 &"
has_pid() { [ -n "$(lab_pid_of sleep)" ]; }
wait_until 10 has_pid
pid=$(lab_pid_of sleep)
lab_exec n1 ssictl migrate "$pid" n2 >/dev/null && ok "moved $pid to n2" || fail "moving $pid to n2"

# The logs must hold still while they are compared: the move's last lines (the body running on
# n2) may still be on their way. Wait until no line was added for a second.
nlines() { cat "$SSILAB_DIR"/n[123]/ssid.log | wc -l; }
still() {
	a=$(nlines)
	sleep 1
	[ "$(nlines)" = "$a" ]
}
wait_until 15 still
out=$(ssilab log)
rc=$?
[ "$rc" = 0 ] && ok "ssilab log exits 0" || fail "ssilab log exits $rc"
total=$(cat "$SSILAB_DIR"/n[123]/ssid.log | wc -l)
[ "$(printf '%s\n' "$out" | wc -l)" = "$total" ] && ok "every line of the 3 logs once ($total)" ||
	fail "$(printf '%s\n' "$out" | wc -l) lines, the logs hold $total"
for h in n1 n2 n3; do
	a=$(printf '%s\n' "$out" | grep "^$h | " | sed "s/^$h | //" | sort | md5sum)
	b=$(sort "$SSILAB_DIR/$h/ssid.log" | md5sum)
	[ "$a" = "$b" ] && ok "$h's lines are its log's, prefixed '$h | '" || fail "$h's lines differ from its log"
done
stamps=$(printf '%s\n' "$out" | sed -n 's/^n[0-9]* | \([0-9-]*T[0-9:.]*\) .*/\1/p')
[ "$(printf '%s\n' "$stamps" | wc -l)" -ge 10 ] && [ "$stamps" = "$(printf '%s\n' "$stamps" | LC_ALL=C sort)" ] &&
	ok "timestamps never go back ($(printf '%s\n' "$stamps" | wc -l) stamped lines)" ||
	fail "timestamps out of order: $out"
# line PATTERN: the number of the first line of the timeline that matches.
line() { printf '%s\n' "$out" | grep -n -m1 -e "$1" | cut -d: -f1; }
o=$(line "^n1 | .*offering process $pid ")
r=$(line "^n2 | .*receiving process $pid of n1")
m=$(line "^n1 | .*process $pid moved from n1 to n2")
[ -n "$o" ] && [ -n "$r" ] && [ -n "$m" ] && [ "$o" -lt "$r" ] && [ "$r" -lt "$m" ] &&
	ok "the move reads in order: offer (n1, line $o), receive (n2, $r), moved (n1, $m)" ||
	fail "the move's lines: offer '$o', receive '$r', moved '$m'"
only=$(ssilab log n2 | cut -d' ' -f1 | sort -u)
[ "$only" = n2 ] && ok "ssilab log n2 shows n2 only" || fail "ssilab log n2 shows: $only"
ssilab log n9 >/dev/null 2>&1
rc=$?
[ "$rc" = 2 ] && ok "ssilab log n9: exit 2" || fail "ssilab log n9: exit $rc"
finish
