#!/bin/bash
# A body holds no capability over the node it runs on (#12): ssid starts
# the agent, and so the body, in a user namespace of its own (identity uid
# and gid maps: its files are home's, with home's owners). A python3
# started with ssirun --node n2 prints its user namespace, its uid, and
# what setting its nice value to -5 gives (setpriority runs locally away,
# and needs CAP_SYS_NICE over the node; the lab's hosts have it, not
# CAP_SYS_RESOURCE). As root: at home it works; on n2 the user namespace
# is neither n1's nor n2's and it is refused (EACCES). As
# nobody: its uid is still 65534 on n2. With 'sandbox = off' the body runs
# in n2's own user namespace.
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_python
lab_up 2
mkdir -p "$LAB_FILES"
chmod 755 "$LAB_FILES"
prog=$LAB_FILES/caps.py
cat >"$prog" <<'PY'
import errno, os
def attempt(f):
    try:
        f()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
nice = attempt(lambda: os.setpriority(os.PRIO_PROCESS, 0, -5))
print(os.readlink("/proc/self/ns/user"), os.getuid(), "nice=" + nice)
PY
chmod 644 "$prog"
n1user=$(lab_exec n1 readlink /proc/self/ns/user)
n2user=$(lab_exec n2 readlink /proc/self/ns/user)
# run [--node n2] [nobody]: the line the program printed.
run() {
	node= as=
	[ "$1" = --node ] && { node="--node $2"; shift 2; }
	[ "${1:-}" = nobody ] && as="setpriv --reuid=nobody --regid=nogroup --clear-groups"
	lab_exec n1 sh -c "$as ssirun $node $PY $prog 2>&1 | cat"
}
got=$(run)
[ "$got" = "$n1user 0 nice=ok" ] && ok "root at home: it may raise its priority ($got)" || fail "root at home: $got"
got=$(run --node n2)
set -- $got
if [ "$1" != "$n1user" ] && [ "$1" != "$n2user" ] && [ "${1#user:}" != "$1" ]; then
	ok "root on n2: a user namespace of its own ($1; n1 $n1user, n2 $n2user)"
else
	fail "root on n2: user namespace $1 (n1 $n1user, n2 $n2user): $got"
fi
[ "$2 $3" = "0 nice=EACCES" ] && ok "root on n2: uid 0, and no capability over n2: $2 $3" ||
	fail "root on n2: $got"
got=$(run --node n2 nobody)
set -- $got
[ "$1" != "$n2user" ] && [ "${1#user:}" != "$1" ] && [ "$2" = 65534 ] &&
	ok "nobody on n2: its own user namespace, uid 65534 ($got)" || fail "nobody on n2: $got"

conf=$SSILAB_DIR/cluster.conf
n=$(grep -c "reloaded " "$SSILAB_DIR/n2/ssid.log")
sed -i 's/^cluster = \(.*\)$/cluster = \1\nsandbox = off/' "$conf"
lab_exec n2 sh -c 'kill -HUP $(pgrep -x ssid)'
wait_until 10 sh -c "[ \$(grep -c 'reloaded ' '$SSILAB_DIR/n2/ssid.log') -gt $n ]" ||
	fail "n2's ssid did not reload its cluster file"
got=$(run --node n2)
set -- $got
[ "$1" = "$n2user" ] && ok "sandbox = off: n2's own user namespace ($got)" || fail "sandbox = off: $got (n2 $n2user)"
finish
