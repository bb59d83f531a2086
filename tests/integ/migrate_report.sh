#!/bin/bash
# ssictl migrate says what a move did (issue #14): on one line the image
# bytes, the total time and the freeze time of a memhog of 64 MiB moved
# n1 -> n2 (the bytes at most 7% under its resident memory, which also
# counts shared library pages that are not in the image); a homecoming's line
# (no byte count: ssi-freeze --home does not count them, so none is shown);
# with --json, asked from n2 for n1's process (HOME:PID, relayed), the
# envelope with pid, outcome, from, to, mode (pre-copy by default), rounds, converged, bytes, freeze_ms and
# total_ms, parsed by python and consistent (freeze_ms <= total_ms); a
# chained move's (n2 -> home -> n3) total time only, no leg's figures; a
# refused move's --json has its outcome and no figures. Without a terminal
# there is no progress line; under `script` (a pty) a 512 MiB move shows
# "moving process ...: N.N s" on stderr and clears it before the report.
. "$(dirname "$0")/lib.sh"
lab_require_root
[ -x /usr/bin/python3 ] || skip "/usr/bin/python3 is not installed"
command -v script >/dev/null || skip "script (util-linux) is not installed"
memhog=${SSI_TESTDIR:-$lab_top/build/tests}/memhog
[ -x "$memhog" ] || { echo "not ok - $memhog is missing (make check builds it)"; exit 1; }
lab_up 3
mkdir -p "$LAB_FILES"

started() { lab_exec n1 grep -q '^memhog pid=' "/tmp/$1.out" 2>/dev/null; }
# hog TAG MIB: a memhog of MIB MiB under ssirun on n1 (output in
# /tmp/TAG.out); prints its home pid once it holds its memory.
hog() {
	lab_exec n1 sh -c "ssirun $memhog $2 100000 200 > /tmp/$1.out 2>&1 &"
	wait_until 30 started "$1" || return 1
	lab_exec n1 sed -n 's/^memhog start pid=\([0-9]*\).*/\1/p' "/tmp/$1.out"
}
rss_kib() { lab_exec n1 awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

pid=$(hog a 64)
[ -n "$pid" ] && ok "memhog of 64 MiB runs on n1 (pid $pid)" || { fail "memhog did not start"; finish; }
rss=$(rss_kib "$pid")

# The line, from a stop-and-copy move n1 -> n2 (memhog rewrites every page
# each iteration: pre-copy would send it more than once).
out=$(lab_exec n1 ssictl migrate --stop-copy "$pid" n2 2>"$LAB_FILES/err")
rc=$?
err=$(cat "$LAB_FILES/err")
re="^process $pid moved from n1 to n2: ([0-9.]+) MiB in ([0-9.]+) s, frozen ([0-9.]+) s, stop-and-copy\$"
if [ "$rc" = 0 ] && [[ $out =~ $re ]]; then
	mib=${BASH_REMATCH[1]} total=${BASH_REMATCH[2]} frozen=${BASH_REMATCH[3]}
	ok "the report line: $out"
	/usr/bin/python3 -c "import sys; b, r = float(sys.argv[1]) * 1024, float(sys.argv[2])
sys.exit(not 0.93 * r <= b <= r + 128)" "$mib" "$rss" &&
		ok "its bytes ($mib MiB) are within 7% under the resident memory ($rss KiB)" ||
		fail "its bytes ($mib MiB) are not within 7% under the resident memory ($rss KiB)"
	/usr/bin/python3 -c "import sys; t, f = map(float, sys.argv[1:]); sys.exit(not 0 < f <= t)" \
		"$total" "$frozen" && ok "frozen ($frozen s) is within the total ($total s)" ||
		fail "frozen $frozen s, total $total s"
else
	fail "migrate to n2: exit $rc, line '$out', stderr '$err'"
fi
case $err in
*$'\r'*) fail "a progress line without a terminal: $(printf %q "$err")" ;;
*) ok "no progress line without a terminal" ;;
esac

# A homecoming: where from and to, the time; no byte count.
out=$(lab_exec n1 ssictl migrate "$pid" home 2>&1)
rc=$?
re="^process $pid came home from n2 to n1 in [0-9.]+ s\$"
[ "$rc" = 0 ] && [[ $out =~ $re ]] && ok "the homecoming's line: $out" ||
	fail "homecoming: exit $rc: $out"

# --json, asked from n2 (relayed to the home n1), n1 -> n3.
cat >"$LAB_FILES/check.py" <<'PY'
# check.py PID RSS_KIB KIND: checks ssictl migrate --json on stdin.
import json, sys
pid, rss, kind = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
doc = json.load(sys.stdin)
def need(c, why):
    if not c:
        sys.exit("%s: %s" % (why, json.dumps(doc)))
need(doc.get("format") == 1 and doc.get("missing") == [], "envelope")
d = doc["data"]
need(d.get("pid") == pid, "pid")
figs = {"bytes", "freeze_ms", "total_ms", "mode", "rounds", "converged", "from", "to"}
if kind == "refused":
    need(d.get("outcome") == "refused", "outcome")
    need(not figs & set(d), "figures in a refusal")
    sys.exit(0)
need(d.get("outcome") == "ok", "outcome")
need(isinstance(d.get("total_ms"), int) and d["total_ms"] > 0, "total_ms")
if kind == "chained":
    need(not figs - {"total_ms"} & set(d), "figures of one leg for a chained move")
    need("then: process %d moved from n1 to n3" % pid in d.get("text", ""), "text")
    sys.exit(0)
if kind == "home":
    need(d.get("from") == "n3" and d.get("to") == "n1", "from/to")
    need("bytes" not in d and "freeze_ms" not in d, "bytes for a homecoming")
    sys.exit(0)
need(d.get("from") == "n1" and d.get("to") == "n3", "from/to")
# Pre-copy by default: at least round 0, and every round at most the whole
# memory again.
need(d.get("mode") == "pre-copy" and d.get("rounds", 0) >= 1 and d.get("converged") in (0, 1),
     "mode/rounds/converged")
need(isinstance(d.get("bytes"), int) and
     0.93 * rss <= d["bytes"] / 1024 <= (d["rounds"] + 1) * (rss + 128),
     "bytes not at least 93%% of the RSS of %d KiB, at most once per round and the image" % rss)
need(0 < d.get("freeze_ms", 0) <= d["total_ms"], "freeze_ms within total_ms")
need(d.get("text", "").startswith("process %d moved from n1 to n3" % pid), "text")
PY
out=$(lab_exec n2 ssictl migrate --json "n1:$pid" n3 2>&1)
rc=$?
why=$(printf '%s' "$out" | /usr/bin/python3 "$LAB_FILES/check.py" "$pid" "$rss" moved 2>&1) &&
	[ "$rc" = 0 ] && ok "--json of a relayed move n1 -> n3: $out" || fail "--json (exit $rc): $why"
out=$(lab_exec n1 ssictl migrate --json "$pid" home 2>&1)
rc=$?
why=$(printf '%s' "$out" | /usr/bin/python3 "$LAB_FILES/check.py" "$pid" "$rss" home 2>&1) &&
	[ "$rc" = 0 ] && ok "--json of a homecoming: $out" || fail "--json homecoming (exit $rc): $why"

# A chained move (n2 -> n3 through home): its total time only, not one leg's figures.
lab_exec n1 ssictl migrate "$pid" n2 >/dev/null 2>&1 || fail "moved to n2 again"
out=$(lab_exec n1 ssictl migrate --json "$pid" n3 2>&1)
rc=$?
why=$(printf '%s' "$out" | /usr/bin/python3 "$LAB_FILES/check.py" "$pid" "$rss" chained 2>&1) &&
	[ "$rc" = 0 ] && ok "--json of a chained move: $out" || fail "--json chained (exit $rc): $why"
lab_exec n1 ssictl migrate "$pid" home >/dev/null 2>&1 || fail "home again"

# A refused move (301 threads, more than an image holds): its outcome, no figures, exit 4.
cat >"$LAB_FILES/threads.py" <<'PY'
import threading, time
for _ in range(300):
    threading.Thread(target=lambda: time.sleep(3600), daemon=True).start()
time.sleep(120)
PY
lab_exec n1 sh -c "ssirun /usr/bin/python3 $LAB_FILES/threads.py >/dev/null 2>&1 &"
has_pid() { [ -n "$(lab_pid_of threads.py)" ]; }
wait_until 10 has_pid
tpid=$(lab_pid_of threads.py)
out=$(lab_exec n1 ssictl migrate --json "$tpid" n2 2>/dev/null)
rc=$?
why=$(printf '%s' "$out" | /usr/bin/python3 "$LAB_FILES/check.py" "$tpid" 0 refused 2>&1) &&
	[ "$rc" = 4 ] && ok "--json of a refused move: exit 4, $out" || fail "refused --json (exit $rc): $why"

# Progress on a terminal: a 512 MiB move takes over a second here (stop-and-copy:
# memhog rewrites every page, so pre-copy would resend it round after round).
big=$(hog b 512)
[ -n "$big" ] || { fail "memhog of 512 MiB did not start"; finish; }
# What the pty showed: script's own output (the typescript file has trailers).
lab_exec n1 script -qec "ssictl migrate --stop-copy $big n2" /dev/null >"$LAB_FILES/tty" 2>&1 </dev/null
rc=$?
tty=$(tr -d '\n' <"$LAB_FILES/tty")
[ "$rc" = 0 ] || fail "migrate under script: exit $rc: $(cat "$LAB_FILES/tty")"
if printf '%s' "$tty" | grep -q "moving process $big to n2: [1-9][0-9]*\.[0-9] s"; then
	ok "a progress line with the elapsed time on the terminal"
else
	fail "no progress line on the terminal: $(printf %q "$tty")"
fi
# Cleared (\r, ESC[K) before the report, which is the last thing written.
last=${tty##*$'\e[K'}
re="^process $big moved from n1 to n2: [0-9.]+ MiB in [0-9.]+ s, frozen [0-9.]+ s, stop-and-copy"$'\r?$'
[[ $last =~ $re ]] && ok "the progress line is cleared before the report" ||
	fail "not cleared before the report: $(printf %q "$(printf %s "$tty" | tail -c 300)")"
finish
