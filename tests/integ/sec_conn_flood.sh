#!/bin/bash
# Local clients are limited per uid: 5,000 idle connections to ssid's local
# socket by nobody do not lock root (or another user) out of ssictl; the
# flooder is refused beyond its share; a user's burst of requests is cut
# to its rate while root's are all served.
. "$(dirname "$0")/lib.sh"
lab_require_root
command -v python3 >/dev/null || skip "python3 is not installed"
command -v setpriv >/dev/null || skip "setpriv is not installed (util-linux)"
id nobody >/dev/null 2>&1 || skip "no user 'nobody'"
id daemon >/dev/null 2>&1 || skip "no user 'daemon'"
lab_up 1
rogue=$lab_top/tests/progs/ssi_rogue.py
as() {
	u=$1
	shift
	lab_exec n1 setpriv --reuid="$u" --regid="$(id -g "$u")" --clear-groups "$@"
}
py=
for p in /usr/bin/python3 "$(python3 -c 'import sys; print(sys.executable)')"; do
	as nobody "$p" -c pass 2>/dev/null && { py=$p; break; }
done
[ -n "$py" ] || skip "no python3 that user nobody may run"
lab_exec n1 sh -c "ulimit -n 6000; setpriv --reuid=nobody --regid=$(id -g nobody) --clear-groups \
	$py $rogue flood 5000 /tmp/flood.out > /tmp/flood.log 2>&1 &"
if wait_until 90 lab_exec n1 test -s /tmp/flood.out; then
	read -r opened kept < <(lab_exec n1 cat /tmp/flood.out)
	ok "nobody opened $opened connections, ssid kept $kept"
else
	fail "the flood did not finish: $(lab_exec n1 cat /tmp/flood.log)"
	finish
fi
[ "$opened" -ge 4500 ] && [ "$kept" -ge 1 ] && [ "$kept" -le 1024 ] &&
	ok "the flooder is refused beyond its share (kept $kept of $opened, at most 1024)" ||
	fail "the flooder kept $kept of $opened connections"
t0=$(date +%s%N)
out=$(lab_exec n1 timeout 5 ssictl nodes 2>&1)
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
# (timeout 5 bounds it: a locked-out root waits for ever or is refused; the time is printed.)
[ "$rc" = 0 ] && ok "root's ssictl nodes answers during the flood (${ms} ms)" ||
	fail "root's ssictl nodes during the flood: exit $rc after ${ms} ms: $out"
out=$(lab_exec n1 timeout 5 ssictl ps 2>&1)
[ $? = 0 ] && ok "root's ssictl ps answers too" || fail "root's ssictl ps: $out"
out=$(as daemon timeout 5 ssictl nodes 2>&1)
[ $? = 0 ] && ok "another user's ssictl nodes answers too" || fail "daemon's ssictl nodes: $out"
grep -q "uid $(id -u nobody) .*connections" "$SSILAB_DIR/n1/ssid.log" &&
	ok "ssid logs the refusal with the uid" || fail "no refusal in ssid.log: $(tail -3 "$SSILAB_DIR/n1/ssid.log")"

# Requests: a burst of 150 on one connection is cut to the user's rate (a burst of 100, then 50
# a second); root's burst is served whole. 150 answers fit in the socket's send buffer (ssid
# drops a client that does not read its answers rather than stall: with 300 a slow reader on a
# loaded machine lost its connection after about 278).
out=$(as daemon "$py" "$rogue" spam 150 2>&1)
set -- $out
[ "$2" -ge 1 ] && [ "$4" -ge 1 ] && ok "daemon's burst of 150 requests: $out" ||
	fail "daemon's burst of 150 requests: $out"
out=$(lab_exec n1 "$py" "$rogue" spam 150 2>&1)
[ "$out" = "answered 150 refused 0" ] && ok "root's burst of 150 requests: all answered" ||
	fail "root's burst: $out"
finish
