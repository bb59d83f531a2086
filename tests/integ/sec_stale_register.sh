#!/bin/bash
# A registration is bound to the process that made it (its pidfd and start
# time): a stale record left by one user never lets ssid touch another
# user's process that later gets the same pid, and a registration sent on
# a connection whose process has ended is refused.
. "$(dirname "$0")/lib.sh"
lab_require_root
command -v python3 >/dev/null || skip "python3 is not installed"
command -v setpriv >/dev/null || skip "setpriv is not installed (util-linux)"
id nobody >/dev/null 2>&1 || skip "no user 'nobody'"
lab_up 2
rogue=$lab_top/tests/progs/ssi_rogue.py
asnobody() { lab_exec n1 setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups "$@"; }
# A python3 that nobody may run (root's own may be under /root).
py=
for p in /usr/bin/python3 "$(python3 -c 'import sys; print(sys.executable)')"; do
	asnobody "$p" -c pass 2>/dev/null && { py=$p; break; }
done
[ -n "$py" ] || skip "no python3 that user nobody may run"

# 1. nobody registers, then its process exits while a child keeps the
#    connection open: a stale record of a dead pid.
out=$(asnobody "$py" "$rogue" stale /tmp/stale.pid 2>&1)
case "$out" in *"register: OK"*) ok "nobody registered ($out)" ;; *) fail "register: $out" ;; esac
dead=$(lab_exec n1 cat /tmp/stale.pid)
wait_until 5 sh -c "! ssilab exec n1 -- test -e /proc/$dead" || fail "process $dead did not end"

# 2. root's process gets the same pid (ns_last_pid in n1's PID namespace).
lab_exec n1 python3 - "$dead" <<'PY' >/dev/null 2>&1 &
import os, sys, time
want = int(sys.argv[1])
for attempt in range(200):
    with open("/proc/sys/kernel/ns_last_pid", "w") as f:
        f.write(str(want - 1))
    pid = os.fork()
    if pid == 0:
        if os.getpid() == want:
            with open("/tmp/victim.ok", "w") as f:
                f.write(str(want))
            os.execvp("sleep", ["sleep", "120"])
        os._exit(0)
    if pid == want:
        os.waitpid(pid, 0)
        break
    os.waitpid(pid, 0)
    time.sleep(0.01)
PY
if wait_until 10 lab_exec n1 test -s /tmp/victim.ok; then
	ok "root's sleep got pid $dead, the stale record's"
else
	fail "could not make a process with pid $dead"
	finish
fi
before=$(lab_exec n1 sh -c "cut -d' ' -f3,22 /proc/$dead/stat")

# 3. nobody asks to move "its" process: refused, the victim untouched.
out=$(asnobody ssictl migrate "$dead" n2 2>&1)
rc=$?
if [ "$rc" != 0 ]; then ok "ssictl migrate $dead as nobody is refused: $out"; else fail "migrate succeeded: $out"; fi
out2=$(lab_exec n1 ssictl migrate "$dead" n2 2>&1)
[ $? != 0 ] && ok "as root too: $out2" || fail "migrate as root succeeded: $out2"
sleep 1
after=$(lab_exec n1 sh -c "cut -d' ' -f3,22 /proc/$dead/stat 2>&1")
if [ "$before" = "$after" ] && lab_exec n1 grep -q '^sleep' /proc/"$dead"/comm; then
	ok "the victim still runs, untouched (state and start time: $after)"
else
	fail "the victim: before '$before', after '$after'"
fi
if lab_exec n1 ssictl ps --json | /usr/bin/python3 -c 'import json,sys; sys.exit(any(p["pid"] == int(sys.argv[1]) for p in json.load(sys.stdin)["data"]))' "$dead"; then
	ok "ssictl ps does not list the stale record's pid"
else
	fail "ssictl ps lists pid $dead: $(lab_exec n1 ssictl ps)"
fi

# 4. A REGISTER sent on a connection whose process has ended: refused.
out=$(asnobody "$py" "$rogue" forge /tmp/forge.pid 2>&1)
case "$out" in
*"register: ERROR"*"has ended"*) ok "a REGISTER from the child of a dead process is refused: $out" ;;
*) fail "the REGISTER on a dead process's connection: $out" ;;
esac
finish
