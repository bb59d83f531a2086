#!/bin/bash
# netproxy: a web server started at home keeps serving from its home port
# after it moves. python3's http.server (single-threaded HTTPServer: a
# thread-per-request server cannot move while it has threads) is started
# with ssirun on n1, listening on n1's 127.0.0.1 only; curl on n1 fetches
# a 30 MB file before the move, after it, and many small ones, each
# complete and correct. The listener stays at home (the deputy accepts);
# each connection reaches the body as a descriptor its accept() returns.
. "$(dirname "$0")/lib.sh"
lab_require_root
command -v python3 >/dev/null || skip "python3 is not installed"
command -v curl >/dev/null || skip "curl is not installed"
lab_up 3
port=8431

lab_exec n1 sh -c 'mkdir -p /tmp/www && head -c 30000000 /dev/urandom > /tmp/www/big &&
	for i in $(seq 1 20); do echo "page $i" > /tmp/www/p$i.txt; done'
ref=$(lab_exec n1 sha256sum /tmp/www/big | cut -d" " -f1)
lab_exec n1 sh -c "cd /tmp/www && { ssirun python3 -c 'import http.server as h, sys
h.test(HandlerClass=h.SimpleHTTPRequestHandler, ServerClass=h.HTTPServer, port=$port, bind=\"127.0.0.1\")' \
	> /tmp/www.log 2>&1; echo \$? > /tmp/www.rc; } &"
wait_until 20 lab_exec n1 curl -sf -o /dev/null "http://127.0.0.1:$port/p1.txt" || fail "http.server did not start"
get_pid() { pid=$(lab_pid_of 'http.server'); [ -n "$pid" ]; }
wait_until 20 get_pid || fail "http.server is not in 'ssictl ps'"

# fetch TAG: the big file and every small one; all must be right.
fetch() {
	local got i bad=0
	got=$(lab_exec n1 sh -c "curl -sf --max-time 60 http://127.0.0.1:$port/big | sha256sum | cut -d' ' -f1")
	if [ "$got" = "$ref" ]; then ok "$1: 30 MB file complete and correct"; else fail "$1: big file sha $got"; fi
	for i in $(seq 1 20); do
		[ "$(lab_exec n1 curl -sf --max-time 10 "http://127.0.0.1:$port/p$i.txt")" = "page $i" ] || bad=$((bad + 1))
	done
	if [ "$bad" = 0 ]; then ok "$1: 20 small pages right"; else fail "$1: $bad of 20 small pages wrong"; fi
}

fetch "at home"
# It moves in the middle of a rate-limited download: the connection open at
# the freeze goes on as a tunnel.
lab_exec n1 sh -c "curl -sf --max-time 60 --limit-rate 5M http://127.0.0.1:$port/big | sha256sum | cut -d' ' -f1 > /tmp/inflight1" &
cpid=$!
sleep 2
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1)
check "http.server moved to n2 with its listener, mid-download: $out" sh -c "echo '$out' | grep -q 'moved from n1 to n2'"
wait $cpid
check "the download in flight during the move n1 -> n2 completes correctly" \
	sh -c "[ \"\$(ssilab exec n1 -- cat /tmp/inflight1)\" = $ref ]"
check "its body runs on n2" sh -c "ssilab exec n2 -- pgrep -f http.server >/dev/null"
check "nothing listens on n2's port" sh -c "! ssilab exec n2 -- curl -s -o /dev/null http://127.0.0.1:$port/p1.txt"
fetch "away on n2"
# A fetch in flight while it moves: the connection open at the freeze is
# a tunnel like any other.
lab_exec n1 sh -c "curl -sf --max-time 60 --limit-rate 5M http://127.0.0.1:$port/big | sha256sum | cut -d' ' -f1 > /tmp/inflight" &
cpid=$!
sleep 2
out=$(lab_exec n2 ssictl migrate "n1:$pid" n3 2>&1)
check "moved on to n3 (through home), mid-download: $out" sh -c "echo '$out' | grep -q 'moved from n1 to n3'"
wait $cpid
check "the download in flight during the move n2 -> n3 completes correctly" \
	sh -c "[ \"\$(ssilab exec n1 -- cat /tmp/inflight)\" = $ref ]"
check "its body runs on n3" sh -c "ssilab exec n3 -- pgrep -f http.server >/dev/null"
fetch "away on n3"
lab_exec n1 sh -c "curl -sf --max-time 60 --limit-rate 5M http://127.0.0.1:$port/big | sha256sum | cut -d' ' -f1 > /tmp/inflight3" &
cpid=$!
sleep 2
out=$(lab_exec n1 ssictl migrate "$pid" home 2>&1)
check "brought home, mid-download: $out" sh -c "echo '$out' | grep -q 'came home'"
wait $cpid
check "the download in flight during the move home completes correctly" \
	sh -c "[ \"\$(ssilab exec n1 -- cat /tmp/inflight3)\" = $ref ]"
check "nothing of it is left on n2 or n3" sh -c "! ssilab exec n2 -- pgrep -f http.server && ! ssilab exec n3 -- pgrep -f http.server"
fetch "at home again"
# (SIGINT is ignored by a background job of sh: SIGTERM.)
lab_exec n1 kill -TERM "$pid"
if wait_until 10 lab_exec n1 test -s /tmp/www.rc && [ "$(lab_exec n1 cat /tmp/www.rc)" = 143 ]; then
	ok "SIGTERM at home ends the server away; the home shell sees 143"
else
	fail "the server did not end on SIGTERM ($(lab_exec n1 cat /tmp/www.rc))"
fi
check "its log at home has the requests made away" sh -c "[ \$(ssilab exec n1 -- grep -c 'GET /p' /tmp/www.log) -ge 40 ]"
finish
