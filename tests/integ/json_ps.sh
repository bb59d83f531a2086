#!/bin/bash
# ssictl's --json answers are one object {"format":1,"data":...,"missing":[...]}
# of valid JSON whatever bytes a command line holds: a process whose argument
# holds invalid UTF-8 (0xff, 0xfe, a lone continuation byte), control bytes
# (0x01, ESC, DEL), a tab, quotes, a backslash and valid UTF-8 (é, €) is read
# back by /usr/bin/python3's strict json parser with each invalid byte as
# U+FFFD and everything else as it was. A node that does not answer (n3's ssid
# stopped) is named in "missing", and ps exits 3 unless --partial-ok.
. "$(dirname "$0")/lib.sh"
lab_require_root
[ -x /usr/bin/python3 ] || skip "/usr/bin/python3 is not installed"
lab_up 3

mkdir -p "$LAB_FILES"
# The argument, as bytes, and what JSON must give back for it.
arg=$(printf 'a\377b\376c\200d\001e\033f\177g\th"i\\j\303\251k\342\202\254l')
want='a\ufffdb\ufffdc\ufffdd\u0001e\u001bf\u007fg\th\"i\\j\u00e9k\u20acl'
printf '%s' "$want" >"$LAB_FILES/want"

cat >"$LAB_FILES/wait.py" <<'PY'
import time
time.sleep(60)
PY
lab_exec n1 sh -c "ssirun /usr/bin/python3 $LAB_FILES/wait.py '$arg' >/dev/null 2>&1 &"
check() {
	# check JSON-ON-STDIN MISSING: strict parse; the envelope; our process in data.
	/usr/bin/python3 -c '
import json, sys
raw = sys.stdin.buffer.read()
text = raw.decode("utf-8")                   # strict: invalid UTF-8 raises
doc = json.loads(text, strict=True)          # strict: raw control characters raise
assert isinstance(doc, dict) and sorted(doc) == ["data", "format", "missing"], doc
assert doc["format"] == 1, doc["format"]
assert doc["missing"] == [m for m in sys.argv[1].split(",") if m], doc["missing"]
want = sys.argv[3] + " " + json.loads("\"" + open(sys.argv[2]).read() + "\"")
hits = [p for p in doc["data"] if p["home"] == "n1" and p["cmd"].startswith(sys.argv[3] + " ")]
assert hits, "no wait.py in " + text
assert hits[0]["cmd"] == want, (hits[0]["cmd"], want)
assert all(ord(c) >= 0x20 for c in text), "a raw control character in the output"
' "$1" "$LAB_FILES/want" "/usr/bin/python3 $LAB_FILES/wait.py"
}
has_wait() { lab_exec n1 ssictl ps --json 2>/dev/null | grep -q "wait.py "; }
wait_until 10 has_wait || { fail "ssirun wait.py did not register"; finish; }

for h in n1 n2; do
	if out=$(lab_exec "$h" ssictl ps --json) && err=$(printf '%s' "$out" | check "" 2>&1); then
		ok "ssictl ps --json on $h: strict JSON, invalid bytes as U+FFFD, controls as \\u00XX"
	else
		fail "ssictl ps --json on $h: $err: $out"
	fi
done
out=$(lab_exec n1 ssictl nodes --json)
if printf '%s' "$out" | /usr/bin/python3 -c '
import json, sys
d = json.loads(sys.stdin.buffer.read().decode("utf-8"), strict=True)
assert d["format"] == 1 and d["missing"] == [] and len(d["data"]) == 3, d'; then
	ok "ssictl nodes --json: the envelope, 3 nodes"
else
	fail "ssictl nodes --json: $out"
fi

# n3 stops answering: ps asks it (still up for 1.8 s), waits 1 s, names it missing.
partial() {
	lab_kill_ssid n3 STOP
	out=$(lab_exec n1 ssictl ps --json 2>/dev/null)
	rc=$?
	out2=$(lab_exec n1 ssictl ps --partial-ok 2>/dev/null)
	rc2=$?
	lab_kill_ssid n3 CONT
	[ "$rc" = 3 ] || return 1
}
tries=0
until partial; do
	tries=$((tries + 1))
	[ $tries -lt 3 ] || break
	wait_until 10 lab_all_up n1 3
done
if [ "$rc" = 3 ] && err=$(printf '%s' "$out" | check n3 2>&1); then
	ok "n3 stopped: ps --json exits 3, names n3 in missing, still lists n1's process"
else
	fail "n3 stopped: ps --json exit $rc ($err): $out"
fi
# --partial-ok: exit 0 (unless n3 went down between the two calls: then nothing was missing either).
[ "$rc2" = 0 ] && ok "with --partial-ok, ps exits 0" || fail "with --partial-ok, ps exits $rc2"
finish
