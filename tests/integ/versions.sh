#!/bin/sh
# Versions across a cluster (issue #16): every tool answers --version with the same string,
# each node's version travels in its heartbeat to 'ssictl nodes' (and --json), and a node
# that speaks another protocol version is shown as incompatible, refused with a clear
# message in the log, and never read: it gets no migration. n2's ssid is restarted with
# --test-protocol 2 (ssid(8), TESTING), which stamps protocol 2 on everything it sends to
# peers and expects 2 from them; nothing else of its frames changes.
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_up 2

# The versions of the tools, and the one every node must report.
want=$(ssid --version | sed -n 's/^ssid (ssi) \([^,]*\),.*/\1/p')
[ -n "$want" ] && ok "ssid --version: $(ssid --version)" || fail "ssid --version: '$(ssid --version)'"
bad=""
for t in ssictl ssirun ssilab; do
	got=$($t --version) || bad="$bad $t(exit $?)"
	[ "$got" = "$t (ssi) $want" ] || bad="$bad $t('$got')"
done
[ -z "$bad" ] && ok "ssictl, ssirun and ssilab --version say ssi $want" || fail "--version disagrees:$bad"

# nodes_field HOST NODE FIELD: FIELD of NODE in HOST's 'ssictl nodes --json' ("" if absent).
# The node list is found wherever it is in the document (a bare array or inside an object).
nodes_field() {
	lab_exec "$1" ssictl nodes --json 2>/dev/null | python3 -c '
import json, sys
def nodes(d):
    if isinstance(d, list) and d and all(isinstance(x, dict) and "name" in x for x in d):
        return d
    for v in (d.values() if isinstance(d, dict) else d if isinstance(d, list) else []):
        r = nodes(v)
        if r:
            return r
    return []
for n in nodes(json.load(sys.stdin)):
    if n["name"] == sys.argv[1]:
        print(n.get(sys.argv[2], ""))' "$2" "$3"
}
state_is() { [ "$(nodes_field "$1" "$2" state)" = "$3" ]; }
version_is() { [ "$(nodes_field "$1" "$2" version)" = "$3" ]; }

if wait_until 5 version_is n1 n2 "$want" && version_is n1 n1 "$want" &&
	[ "$(nodes_field n1 n2 protocol)" = 1 ]; then
	ok "n1's nodes --json: n1 and n2 run ssi $want, protocol 1"
else
	fail "n1's nodes --json: $(lab_exec n1 ssictl nodes --json)"
fi
res=$(lab_exec n2 ssictl nodes)
if printf '%s\n' "$res" | grep -q "^NODE .* VERSION$" &&
	printf '%s\n' "$res" | grep -q "^n1 .* up .* $want$"; then
	ok "ssictl nodes shows a VERSION column"
else
	fail "ssictl nodes: $res"
fi

# Local tools of another protocol: ssictl facing an ssid of protocol 2 says so, and ssid
# facing a client of protocol 2 closes it with a reason in its log; neither reads the frame.
mkdir -p "$LAB_FILES"
cat >"$LAB_FILES/proto2.py" <<'PY'
import os, socket, sys, time
if sys.argv[1] == "server":
    # An "ssid" of protocol 2: answers one request with a NODES_REP stamped 2.
    s = socket.socket(socket.AF_UNIX)
    s.bind(sys.argv[2])
    s.listen(1)
    c, _ = s.accept()
    c.recv(64)
    c.sendall(b"SI\x02\x07\x00\x00\x00\x00")
    c.close()
else:
    # A client of protocol 2: a NODES request stamped 2; ssid must hang up.
    c = socket.socket(socket.AF_UNIX)
    c.connect(sys.argv[2])
    c.sendall(b"SI\x02\x06\x00\x00\x00\x00")
    c.settimeout(5)
    print("closed" if c.recv(64) == b"" else "answered")
PY
res=$(lab_exec n1 sh -c "python3 $LAB_FILES/proto2.py server /tmp/p2.sock &
    for i in \$(seq 100); do [ -S /tmp/p2.sock ] && break; sleep 0.1; done
    ssictl --socket /tmp/p2.sock nodes 2>&1; echo rc=\$?")
case "$res" in
*"ssid at /tmp/p2.sock speaks protocol 2 and this ssictl (ssi $want) protocol 1"*"rc=1")
	ok "ssictl facing an ssid of protocol 2 says so and exits 1" ;;
*) fail "ssictl facing protocol 2: $res" ;;
esac
res=$(lab_exec n1 python3 "$LAB_FILES/proto2.py" client /run/ssi/ssid.sock 2>&1)
if [ "$res" = closed ] && grep -q "closing local client .*: it speaks protocol 2 and this ssid (ssi $want) protocol 1" "$(lab_log n1)"; then
	ok "ssid hangs up on a local client of protocol 2 and logs why"
else
	fail "ssid facing a client of protocol 2: $res; log: $(grep 'local client' "$(lab_log n1)")"
fi

# n2 now speaks protocol 2.
log1=$(lab_log n1)
lab_kill_ssid n2
wait_until 5 sh -c "! ssilab exec n2 -- pgrep -x ssid >/dev/null" || fail "n2's ssid did not stop"
lab_exec n2 sh -c "ssid --cluster $SSILAB_DIR/cluster.conf --name n2 --keys $SSILAB_DIR/n2/keys --test-protocol 2 >>$SSILAB_DIR/n2/ssid.log 2>&1 &"
if wait_until 6 state_is n1 n2 "incompatible (protocol 2)"; then
	ok "n1 shows n2 as 'incompatible (protocol 2)'"
else
	fail "n1 sees n2 as '$(nodes_field n1 n2 state)'"
fi
[ "$(nodes_field n1 n2 protocol)" = 2 ] && [ -z "$(nodes_field n1 n2 version)" ] &&
	ok "n1 reports n2's protocol (2) and no version: nothing n2 sent was read" ||
	fail "n2 in n1's table: protocol '$(nodes_field n1 n2 protocol)', version '$(nodes_field n1 n2 version)'"
if wait_until 10 state_is n2 n1 "incompatible (protocol 1)"; then
	ok "n2 (protocol 2) shows n1 as 'incompatible (protocol 1)'"
else
	fail "n2 sees n1 as '$(nodes_field n2 n1 state)'"
fi
res=$(lab_exec n1 ssictl nodes)
printf '%s\n' "$res" | grep -q "^n2 .*incompatible (protocol 2)" &&
	ok "ssictl nodes (text) shows it too" || fail "ssictl nodes: $res"
n=$(grep -c "node n2 speaks protocol 2 and this node (ssi $want) protocol 1: everything it sends is refused" "$log1")
[ "$n" = 1 ] && ok "n1's log says why, once: $(grep 'node n2 speaks protocol' "$log1")" ||
	fail "n1's log has $n refusal lines"
grep -q "malformed" "$log1" && fail "n1 logged n2's frames as malformed: $(grep malformed "$log1" | head -n 2)" ||
	ok "n2's frames were never read as malformed ones"

# No migration to an incompatible node; the process runs on at home.
lab_exec n1 sh -c 'ssirun sleep 30 >/dev/null 2>&1 &'
pid=""
wait_until 5 sh -c '[ -n "$(lab_pid_of sleep)" ]' 2>/dev/null
pid=$(lab_pid_of sleep)
res=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1)
rc=$?
if [ -n "$pid" ] && [ "$rc" != 0 ] && lab_exec n1 kill -0 "$pid" &&
	printf '%s\n' "$res" | grep -q "node n2 is incompatible (protocol 2)"; then
	ok "migrate to the incompatible node refused ($res); the process runs on at home"
else
	fail "migrate $pid to n2: exit $rc: $res"
fi

# Back to protocol 1: up again, with its version.
lab_exec n2 pkill -x ssid
wait_until 5 sh -c "! ssilab exec n2 -- pgrep -x ssid >/dev/null" || fail "n2's ssid did not stop"
lab_exec n2 sh -c "ssid --cluster $SSILAB_DIR/cluster.conf --name n2 --keys $SSILAB_DIR/n2/keys >>$SSILAB_DIR/n2/ssid.log 2>&1 &"
if wait_until 15 state_is n1 n2 up && wait_until 10 version_is n1 n2 "$want"; then
	ok "n2 back on protocol 1: up again, version $want"
else
	fail "after the restart n1 sees n2 as '$(nodes_field n1 n2 state)'"
fi
finish
