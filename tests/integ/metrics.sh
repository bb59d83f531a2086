#!/bin/bash
# ssictl metrics: its output passes a strict parser of the Prometheus text
# exposition format (0.0.4; below, in python: metric and label name grammar,
# label value escapes, HELP/TYPE at most once and TYPE before the family's
# samples, a family's samples together, no duplicate series, counters ending in
# _total, histograms with cumulative buckets ending in le="+Inf" equal to
# _count, and a _sum), on every node; and its counters count what happened:
# three moves (out, home, out again) add exactly 3 to n1's ok migrations and
# 2 to its freeze-time count, and bytes; a refused move (301 threads) adds 1
# to refused, an unknown node 1 to node. A stopped node is reported as not
# answering, and the exit status is 3 unless --partial-ok. A process away
# that makes 1000 forwarded calls raises its home's forwarded-call counter by
# at least 1000 and at most 200 more.
. "$(dirname "$0")/lib.sh"
lab_require_root
[ -x /usr/bin/python3 ] || skip "/usr/bin/python3 is not installed"
lab_up 3

mkdir -p "$LAB_FILES"
parser=$LAB_FILES/promparse.py
cat >"$parser" <<'PY'
# promparse.py [SERIES...]: strictly parses the Prometheus text format on
# stdin; exits 1 with the reason on any fault; prints the value of each
# SERIES asked (e.g. 'ssi_migrations_total{node="n1",outcome="ok"}'), one per line.
import math, re, sys
NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}
def die(n, why, line):
    sys.exit("line %d: %s: %r" % (n, why, line))
def value(s, n, line):
    if s in ("+Inf", "-Inf", "NaN"):
        return float(s.replace("Inf", "inf").replace("NaN", "nan"))
    if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", s):
        die(n, "bad value", line)
    return float(s)
def labels(s, n, line):
    out, i = [], 0
    while i < len(s):
        m = re.match(r"(%s)=\"" % LABEL, s[i:])
        if not m:
            die(n, "bad label name", line)
        name, i, v = m.group(1), i + m.end(), ""
        while True:
            if i >= len(s):
                die(n, "unterminated label value", line)
            c = s[i]
            if c == "\\":
                if i + 1 >= len(s) or s[i + 1] not in '\\"n':
                    die(n, "bad escape in a label value", line)
                v += {"\\": "\\", '"': '"', "n": "\n"}[s[i + 1]]
                i += 2
            elif c == '"':
                i += 1
                break
            elif c == "\n":
                die(n, "raw newline in a label value", line)
            else:
                v += c
                i += 1
        if name in [k for k, _ in out]:
            die(n, "label given twice", line)
        out.append((name, v))
        if i < len(s):
            if s[i] != ",":
                die(n, "labels not separated by ','", line)
            i += 1
    return tuple(out)
text = sys.stdin.buffer.read().decode("utf-8")
if text and not text.endswith("\n"):
    sys.exit("the last line has no newline")
types, helps, seen_family, done, series = {}, set(), None, set(), {}
samples = []
for n, line in enumerate(text.split("\n")[:-1], 1):
    if line == "":
        continue
    if line.startswith("#"):
        m = re.fullmatch(r"# (HELP|TYPE) (%s) (.*)" % NAME, line)
        if not m:
            if line.startswith("# HELP") or line.startswith("# TYPE"):
                die(n, "bad HELP/TYPE line", line)
            continue
        kind, name, rest = m.groups()
        if kind == "HELP":
            if name in helps:
                die(n, "second HELP", line)
            helps.add(name)
        else:
            if name in types:
                die(n, "second TYPE", line)
            if rest not in TYPES:
                die(n, "unknown type", line)
            if name in done or seen_family == name:
                die(n, "TYPE after the family's samples", line)
            types[name] = rest
        continue
    m = re.fullmatch(r"(%s)(?:\{(.*)\})? ([^ ]+)(?: (-?\d+))?" % NAME, line)
    if not m:
        die(n, "not a sample", line)
    name, lab, val = m.group(1), labels(m.group(2) or "", n, line), value(m.group(3), n, line)
    family = name
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and types.get(name[: -len(suffix)]) == "histogram":
            family = name[: -len(suffix)]
    if family not in types:
        die(n, "a sample before (or without) its TYPE", line)
    if types[family] == "histogram" and family == name:
        die(n, "a histogram sample without _bucket/_sum/_count", line)
    if types[family] == "counter" and (not name.endswith("_total") or val < 0):
        die(n, "a counter not named *_total or negative", line)
    if family != seen_family:
        if family in done:
            die(n, "the family's samples are not together", line)
        if seen_family:
            done.add(seen_family)
        seen_family = family
    key = name + "{" + ",".join('%s="%s"' % kv for kv in lab) + "}"
    if key in series:
        die(n, "duplicate series", line)
    series[key] = val
    samples.append((family, name, lab, val, n, line))
# Histograms: per label set (without le), buckets rising and cumulative, +Inf last == _count, _sum.
hist = {}
for family, name, lab, val, n, line in samples:
    if types[family] != "histogram":
        continue
    rest = tuple(kv for kv in lab if kv[0] != "le")
    h = hist.setdefault((family, rest), {"b": [], "sum": None, "count": None})
    if name.endswith("_bucket"):
        le = dict(lab).get("le")
        if le is None:
            die(n, "a bucket without le", line)
        h["b"].append((value(le, n, line), val, n, line))
    elif name.endswith("_sum"):
        h["sum"] = val
    else:
        h["count"] = val
for (family, rest), h in hist.items():
    b = h["b"]
    if not b or not math.isinf(b[-1][0]):
        sys.exit("%s%s: buckets do not end with le=\"+Inf\"" % (family, rest))
    for (le0, v0, _, _), (le1, v1, n, line) in zip(b, b[1:]):
        if le1 <= le0:
            die(n, "bucket bounds not rising", line)
        if v1 < v0:
            die(n, "buckets not cumulative", line)
    if h["count"] is None or h["sum"] is None:
        sys.exit("%s%s: no _count or _sum" % (family, rest))
    if h["count"] != b[-1][1]:
        sys.exit("%s%s: _count %g differs from the +Inf bucket %g" % (family, rest, h["count"], b[-1][1]))
for want in sys.argv[1:]:
    if want not in series:
        sys.exit("no series " + want)
    print("%.15g" % series[want])
PY

# metric HOST SERIES...: the values of SERIES in HOST's ssictl metrics (strictly parsed).
metric() {
	h=$1
	shift
	lab_exec "$h" ssictl metrics | /usr/bin/python3 "$parser" "$@"
}
S_OK='ssi_migrations_total{node="n1",outcome="ok"}'
S_REF='ssi_migrations_total{node="n1",outcome="refused"}'
S_NODE='ssi_migrations_total{node="n1",outcome="node"}'
S_FRZ='ssi_freeze_seconds_count{node="n1"}'
S_BYTES='ssi_moved_bytes_total{node="n1"}'

for h in n1 n2 n3; do
	if err=$(metric "$h" 'ssi_node_up{node="n1"}' 2>&1) && [ "$err" = 1 ]; then
		ok "ssictl metrics on $h passes the strict parser"
	else
		fail "ssictl metrics on $h: $err"
	fi
done
# A parser that accepts anything would prove nothing: it refuses broken samples.
bad=0
for b in 'ssi_x{node="n1"} 1' '# TYPE ssi_x gauge\nssi_x{node=n1} 1' '# TYPE ssi_x gauge\nssi_x{node="a\q"} 1' \
	'# TYPE ssi_x counter\nssi_x 1' '# TYPE ssi_h histogram\nssi_h_bucket{le="1"} 2\nssi_h_bucket{le="+Inf"} 1\nssi_h_sum 1\nssi_h_count 1' \
	'# TYPE ssi_h histogram\nssi_h_bucket{le="1"} 1\nssi_h_sum 1\nssi_h_count 1' '# TYPE 1x gauge\n1x 1'; do
	printf "$b\n" | /usr/bin/python3 "$parser" >/dev/null 2>&1 && bad=$((bad + 1))
done
[ $bad = 0 ] && ok "the parser refuses 7 kinds of broken input" || fail "the parser accepted $bad broken inputs"

cat >"$LAB_FILES/sleeper.py" <<'PY'
import sys, threading, time
if len(sys.argv) > 2:
    for _ in range(300):
        threading.Thread(target=lambda: time.sleep(3600), daemon=True).start()
time.sleep(120)
PY
has_pid() { [ -n "$(lab_pid_of "$1")" ]; }
start() {
	lab_exec n1 sh -c "ssirun /usr/bin/python3 $LAB_FILES/sleeper.py $* >/dev/null 2>&1 &"
	wait_until 10 has_pid "sleeper.py $1"
	lab_pid_of "sleeper.py $1"
}
pid=$(start a)
tpid=$(start t threads)

before=$(metric n2 "$S_OK" "$S_REF" "$S_NODE" "$S_FRZ" "$S_BYTES" | tr '\n' ' ')
moves=0
for to in n2 home n3; do
	lab_exec n1 ssictl migrate "$pid" "$to" >/dev/null && moves=$((moves + 1))
done
lab_exec n1 ssictl migrate "$tpid" n2 >/dev/null 2>&1
lab_exec n1 ssictl migrate "$pid" n9 >/dev/null 2>&1
after=$(metric n2 "$S_OK" "$S_REF" "$S_NODE" "$S_FRZ" "$S_BYTES" | tr '\n' ' ')
set -- $before
b_ok=$1 b_ref=$2 b_node=$3 b_frz=$4 b_bytes=$5
set -- $after
[ "$moves" = 3 ] && [ "$(($1 - b_ok))" = 3 ] && ok "3 moves: n1's ok migrations went up by exactly 3 ($b_ok -> $1)" ||
	fail "$moves moves: n1's ok migrations $b_ok -> $1"
[ "$(($2 - b_ref))" = 1 ] && ok "a refused move: refused +1" || fail "refused: $b_ref -> $2"
[ "$(($3 - b_node))" = 1 ] && ok "an unknown node: node +1" || fail "node: $b_node -> $3"
[ "$(($4 - b_frz))" = 2 ] && ok "2 moves out of home: 2 more freeze times" || fail "freeze count: $b_frz -> $4"
[ "${5%%.*}" -gt "${b_bytes%%.*}" ] && ok "bytes moved went up ($b_bytes -> $5)" || fail "bytes: $b_bytes -> $5"
g=$(metric n1 'ssi_node_guests{node="n3"}')
[ "$g" = 1 ] && ok "n3 runs 1 guest" || fail "n3's guests: $g"

# Forwarded calls: a process away makes N os.stat calls on a home file when
# SIGUSR1 comes (forwarded by its deputy); its home counts them.
S_CALLS='ssi_forwarded_calls_total{node="n1"}'
N=1000
cat >"$LAB_FILES/stater.py" <<PY
import os, signal, time
def go(sig, frame):
    for i in range($N):
        os.stat("$LAB_FILES/stater.py")
    open("$LAB_FILES/stater.done", "w").close()
signal.signal(signal.SIGUSR1, go)
time.sleep(120)
PY
# rose: n1's forwarded calls went up by at least N since c0.
rose() { c1=$(metric n1 "$S_CALLS") && [ "${c1%%.*}" -ge $((${c0%%.*} + N)) ]; }
rm -f "$LAB_FILES/stater.done"
lab_exec n1 sh -c "ssirun /usr/bin/python3 $LAB_FILES/stater.py >/dev/null 2>&1 &"
wait_until 10 has_pid stater.py
spid=$(lab_pid_of stater.py)
if lab_exec n1 ssictl migrate "$spid" n2 >/dev/null; then
	c0=$(metric n1 "$S_CALLS")
	lab_exec n1 kill -USR1 "$spid"
	wait_until 20 test -e "$LAB_FILES/stater.done"
	wait_until 5 rose
	c1=$(metric n1 "$S_CALLS")
	d=$((${c1%%.*} - ${c0%%.*}))
	[ "$d" -ge $N ] && [ "$d" -le $((N + 200)) ] &&
		ok "$N os.stat calls away: n1's forwarded calls rose by $d ($c0 -> $c1)" ||
		fail "$N os.stat calls away: n1's forwarded calls $c0 -> $c1"
else
	fail "cannot move the stat loop to n2"
fi
# The same loop, then the process ends at once: the deputy's last report (at its
# end, not the once-a-second one) carries the calls.
sed 's/^    open(.*/&\n    os._exit(0)/' "$LAB_FILES/stater.py" >"$LAB_FILES/stater_end.py"
lab_exec n1 sh -c "ssirun /usr/bin/python3 $LAB_FILES/stater_end.py >/dev/null 2>&1 &"
wait_until 10 has_pid stater_end.py
spid=$(lab_pid_of stater_end.py)
if lab_exec n1 ssictl migrate "$spid" n2 >/dev/null; then
	c0=$(metric n1 "$S_CALLS")
	lab_exec n1 kill -USR1 "$spid"
	gone() { [ -z "$(lab_pid_of stater_end.py)" ]; }
	wait_until 20 gone
	# The deputy's last report may reach ssid just after the process is seen gone.
	wait_until 5 rose
	c1=$(metric n1 "$S_CALLS")
	d=$((${c1%%.*} - ${c0%%.*}))
	[ "$d" -ge $N ] && [ "$d" -le $((N + 200)) ] &&
		ok "$N calls, then the end: the deputy's last report counts them ($c0 -> $c1)" ||
		fail "$N calls, then the end: n1's forwarded calls $c0 -> $c1"
else
	fail "cannot move the second stat loop to n2"
fi

# n3 stopped: it does not answer; exit 3, and 0 with --partial-ok.
partial() {
	lab_kill_ssid n3 STOP
	out=$(lab_exec n1 ssictl metrics 2>/dev/null)
	rc=$?
	lab_exec n1 ssictl metrics --partial-ok >/dev/null 2>&1
	rc2=$?
	lab_kill_ssid n3 CONT
	[ "$rc" = 3 ]
}
tries=0
until partial; do
	tries=$((tries + 1))
	[ $tries -lt 3 ] || break
	wait_until 10 lab_all_up n1 3
done
ans=$(printf '%s\n' "$out" | /usr/bin/python3 "$parser" 'ssi_node_answered{node="n3"}' 2>&1)
[ "$rc" = 3 ] && [ "$ans" = 0 ] && ok "n3 stopped: exit 3, ssi_node_answered{node=\"n3\"} 0, still strict" ||
	fail "n3 stopped: exit $rc, $ans"
[ "$rc2" = 0 ] && ok "with --partial-ok: exit 0" || fail "with --partial-ok: exit $rc2"
finish
