#!/bin/bash
# Away, a process keeps its home identity: uname() names its home node, its
# parent is its home parent now (a parent that dies at home while the body
# is away is seen), and its signals reach home processes (and itself).
. "$(dirname "$0")/lib.sh"
lab_require_root
command -v python3 >/dev/null || skip "python3 is not installed"
lab_up 2
mkdir -p "$LAB_FILES"
py=$(python3 -c 'import sys; print(sys.executable)')

# A home process that waits for SIGUSR1 and notes it.
lab_exec n1 sh -c "$py -c '
import os, signal, time
signal.signal(signal.SIGUSR1, lambda s, f: open(\"/tmp/got\", \"w\").write(\"usr1\"))
open(\"/tmp/target.pid\", \"w\").write(str(os.getpid()))
time.sleep(30)' > /dev/null 2>&1 &"
wait_until 10 lab_exec n1 test -s /tmp/target.pid || { fail "the home target did not start"; finish; }

cat >"$LAB_FILES/who.py" <<'PY'
import os, signal, sys, time
# Each tick: tick, host, parent, net namespace (local: where it runs).
got = []
signal.signal(signal.SIGUSR2, lambda s, f: got.append(1))
open("/tmp/who.pid", "w").write(str(os.getpid()))
# Once the test says it has moved (home's /tmp/moved), away then: signals to a home process
# and to itself, once.
sent = False
for i in range(100):
    if not sent and os.path.exists("/tmp/moved"):
        os.kill(int(open("/tmp/target.pid").read()), signal.SIGUSR1)
        os.kill(os.getpid(), signal.SIGUSR2)
        sent = True
    print(i, os.uname().nodename, os.getppid(), os.readlink("/proc/self/ns/net"), len(got), flush=True)
    time.sleep(0.1)
PY
# Its parent is a shell that exits once the body is away (home's /tmp/moved).
lab_exec n1 sh -c "sh -c 'ssirun $py $LAB_FILES/who.py > /tmp/who.out 2>&1 & echo \$\$ > /tmp/parent.pid
    while [ ! -e /tmp/moved ]; do sleep 0.1; done' &"
wait_until 10 lab_exec n1 test -s /tmp/who.pid || { fail "the program did not start"; finish; }
pid=$(lab_exec n1 cat /tmp/who.pid)
parent=$(lab_exec n1 cat /tmp/parent.pid)
sleep 0.5
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1)
[ $? = 0 ] && ok "moved to n2: $out" || fail "moved to n2: $out"
lab_exec n1 touch /tmp/moved
wait_until 20 sh -c "ssilab exec n1 -- grep -q '^99 ' /tmp/who.out"
n1net=$(lab_exec n1 readlink /proc/self/ns/net)
n2net=$(lab_exec n2 readlink /proc/self/ns/net)
table=$(lab_exec n1 cat /tmp/who.out)
last=$(echo "$table" | tail -1)
# Away, the body's network namespace is its sandbox's: neither n1's nor n2's.
if echo "$table" | awk -v a="$n1net" -v b="$n2net" '$4 != a && $4 != b && $4 ~ /^net:/ { away++ } $4 == a { home++ } END { exit !(away > 10 && home > 0) }'; then
	ok "it ran at home, then away (its net namespace says where: n1's, then its sandbox's)"
else
	fail "where it ran: $(echo "$table" | awk '{ print $4 }' | uniq -c | tr '\n' ' ')"
fi
if [ "$(echo "$table" | awk '{ print $2 }' | sort -u)" = n1 ]; then
	ok "uname() says n1 all along, away too"
else
	fail "uname() away: $(echo "$table" | awk '{ print $2 }' | uniq -c | tr '\n' ' ')"
fi
if echo "$table" | head -3 | awk -v p="$parent" '$3 != p { bad = 1 } END { exit bad }' &&
	[ "$(echo "$last" | awk '{ print $3 }')" != "$parent" ] && [ "$(echo "$last" | awk '{ print $3 }')" -ge 1 ]; then
	ok "getppid(): the home parent $parent, then, after it died at home, its new parent $(echo "$last" | awk '{ print $3 }')"
else
	fail "getppid() (home parent $parent): $(echo "$table" | awk '{ print $3 }' | uniq -c | tr '\n' ' ')"
fi
if wait_until 5 lab_exec n1 test -s /tmp/got; then
	ok "kill() away reaches a home process"
else
	fail "kill() away did not reach the home process"
fi
[ "$(echo "$last" | awk '{ print $5 }')" = 1 ] && ok "kill() of itself away reaches itself" ||
	fail "kill() of itself: $last"
finish
