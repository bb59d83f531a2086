#!/bin/bash
# SIGHUP reloads the cluster file (issue #15): a node added to the file or
# removed from it is taken in or dropped by n1's ssid without restarting
# anything; a file that does not parse changes nothing and ssid runs on.
#   a. n1's ssid restarted with a file without n3: it knows two nodes;
#   b. the full file, SIGHUP: n3 is added, seen up, and a process moves there;
#   c. the file without n3, SIGHUP: n3 is gone from `ssictl nodes`, a move
#      there is refused as to an unknown node; the process there runs on;
#   d. a broken file, SIGHUP: refused with the file's error in the log,
#      ssid runs on with the cluster as it was.
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_python
lab_up 3

conf=$SSILAB_DIR/cluster.conf
cp "$conf" "$SSILAB_DIR/cluster.full"
trap 'cp "$SSILAB_DIR/cluster.full" "$conf" 2>/dev/null; lab_rc=$?; lab_down; exit $lab_rc' EXIT
# The file without n3's entry (its node line and the indented lines under it).
awk '/^node = / { skip = ($3 == "n3") } !skip' "$SSILAB_DIR/cluster.full" >"$SSILAB_DIR/cluster.no3"
grep -q "n3" "$SSILAB_DIR/cluster.no3" && { fail "could not write a file without n3"; finish; }

restart_ssid() {
	lab_exec "$1" kill -KILL "$(lab_ssid_pid "$1")"
	lab_exec "$1" sh -c 'while kill -0 '"$(lab_ssid_pid "$1")"' 2>/dev/null; do sleep 0.05; done'
	lab_exec "$1" sh -c "ssid --cluster $conf --name $1 --keys $SSILAB_DIR/$1/keys \
		</dev/null >>$SSILAB_DIR/$1/ssid.log 2>&1 & echo \$! > $SSILAB_DIR/$1/ssid.pid"
}
nnodes() { lab_exec n1 ssictl nodes --json | tr '}' '\n' | grep -c '"name"'; }
hup() { lab_exec n1 kill -HUP "$(lab_ssid_pid n1)"; }
logged() { grep -q "$1" "$(lab_log n1)"; }

# a.
cp "$SSILAB_DIR/cluster.no3" "$conf"
restart_ssid n1
wait_until 5 lab_all_up n1 2 && [ "$(nnodes)" = 2 ] && ok "n1 restarted with a file of two nodes knows two" ||
	fail "n1 with two nodes: $(lab_exec n1 ssictl nodes)"

# b.
cp "$SSILAB_DIR/cluster.full" "$conf"
hup
n3_up() { [ "$(lab_node_state n1 n3)" = up ]; }
if wait_until 5 n3_up && [ "$(nnodes)" = 3 ]; then
	ok "SIGHUP with n3 in the file: n1 sees n3 up"
else
	fail "after SIGHUP: $(lab_exec n1 ssictl nodes)"
fi
wait_until 10 logged "reloaded $conf: 1 added, 0 changed, 0 removed" && ok "n1 logged the reload" ||
	fail "n1's log: $(tail -3 "$(lab_log n1)")"
lab_exec n1 sh -c "{ ssirun $PY -c 'import time
for i in range(100): print(i, flush=True); time.sleep(0.1)' > /tmp/p.out; echo \$? > /tmp/p.rc; } &"
wait_until 10 lab_exec n1 test -s /tmp/p.out
pid=$(lab_pid_of "import time")
out=$(lab_exec n1 ssictl migrate "$pid" n3 2>&1)
[ $? = 0 ] && ok "a process moves to the added node: $out" || fail "move to n3: $out"

# c.
cp "$SSILAB_DIR/cluster.no3" "$conf"
hup
gone3() { [ "$(nnodes)" = 2 ]; }
wait_until 10 gone3 && ok "SIGHUP without n3: ssictl nodes on n1 lists two nodes" ||
	fail "after removing n3: $(lab_exec n1 ssictl nodes)"
out=$(lab_exec n1 ssictl migrate "$pid" n3 2>&1)
[ $? != 0 ] && echo "$out" | grep -q "unknown node 'n3'" && ok "a move to n3 is refused: $out" ||
	fail "move to a removed node: $out"
lab_exec n1 kill -0 "$(lab_ssid_pid n1)" && ok "ssid runs on after SIGHUP" || fail "ssid stopped on SIGHUP"

# d.
printf 'node = n1\n    endpoint = nonsense\n' >"$conf"
hup
wait_until 10 logged "SIGHUP: .*bad endpoint" && ok "a broken file is refused with its error" ||
	fail "broken file: $(tail -3 "$(lab_log n1)")"
[ "$(nnodes)" = 2 ] && lab_exec n1 kill -0 "$(lab_ssid_pid n1)" && ok "and the cluster stays as it was" ||
	fail "after a broken file: $(lab_exec n1 ssictl nodes)"
cp "$SSILAB_DIR/cluster.full" "$conf"

wait_until 20 lab_exec n1 test -s /tmp/p.rc && [ "$(lab_exec n1 cat /tmp/p.rc)" = 0 ] &&
	[ "$(lab_exec n1 sh -c 'wc -l < /tmp/p.out')" = 100 ] &&
	ok "the process on n3 ran to its end, output complete" || fail "process on n3: rc '$(lab_exec n1 cat /tmp/p.rc)'"

finish
