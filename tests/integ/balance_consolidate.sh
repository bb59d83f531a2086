#!/bin/sh
# Consolidation (issue #13): with 'consolidate = on', light jobs spread over four hosts are
# packed onto fewer (the first nodes of the cluster file with room), the hosts left empty show
# it in 'ssictl nodes', and the cluster file's empty_command runs on each after empty_after.
# Four light python jobs start on n1; three are moved by hand to n2, n3, n4. Then nobody asks.
. "$(dirname "$0")/lib.sh"
lab_require_root
command -v python3 >/dev/null 2>&1 || skip "python3 is not installed"
py=python3
[ -x /usr/bin/python3 ] && py=/usr/bin/python3

files=$SSILAB_DIR/files
mkdir -p "$files"
cat >"$files/empty.sh" <<EOF2
#!/bin/sh
echo "\$SSI_NODE" >>$files/empty.log
EOF2
chmod +x "$files/empty.sh"
LAB_BALANCE="on,consolidate=on,empty_after=2000,empty_command=$files/empty.sh" lab_up 4
check "the cluster file has the consolidation knobs" grep -q "empty_command = $files/empty.sh" "$SSILAB_DIR/cluster.conf"

# Light jobs that run until n1's /tmp/stop exists (however slow the machine), then print how
# many ticks they made.
cat >"$files/light.py" <<'EOF2'
import os, time
n = 0
while not os.path.exists("/tmp/stop"):
    time.sleep(0.1)
    n += 1
print("ticks", n)
EOF2
for i in 1 2 3 4; do
    lab_exec n1 sh -c "ssirun $py $files/light.py >/tmp/j$i.out 2>&1 & echo \$! >/tmp/j$i.pid"
done
running() { [ "$(lab_exec n1 ssictl ps | grep -c light.py)" = 4 ]; }
check "the four jobs run" wait_until 20 running
for i in 2 3 4; do
    check "job $i moves to n$i by hand" lab_exec n1 ssictl migrate "$(lab_exec n1 cat /tmp/j$i.pid)" n$i
done

on_n1() { [ "$(lab_exec n1 ssictl ps | awk '$1 == "n1" && $3 == "n1" && /light.py/' | wc -l)" = 4 ]; }
check "the four jobs are packed onto n1 (the first node with room)" wait_until 25 on_n1
# From here on n1 runs the jobs, and n2..n4 empty within empty_after (2 s).
: >"$files/empty.log"
log=$SSILAB_DIR/n1/ssid.log
check "n1's balancer says why: consolidate" \
    grep -q 'balance: bringing home: consolidate: process [0-9]* n[234] -> n1 (room there: load' "$log"
for h in n2 n3 n4; do
    check "empty_command ran on $h once it was empty" wait_until 15 grep -qx "$h" "$files/empty.log"
done
check "... and not on n1, which runs the jobs" sh -c "! grep -qx n1 '$files/empty.log'"
# n1 learns a node is empty from that node's next load report: wait for it.
empties() { lab_exec n1 ssictl nodes | awk '$1 ~ /^n[234]$/ && $8 ~ /s$/' | wc -l; }
three_empty() { [ "$(empties)" = 3 ]; }
wait_until 10 three_empty
check "ssictl nodes shows n2, n3, n4 empty since a while ($(empties))" three_empty
check "... and n1 not" sh -c "ssilab exec n1 -- ssictl nodes | awk '\$1 == \"n1\" { exit \$8 != \"-\" }'"
lab_exec n1 touch /tmp/stop
check "the jobs end well" wait_until 40 sh -c "for i in 1 2 3 4; do
    ssilab exec n1 -- grep -qx 'ticks [0-9]*' /tmp/j\$i.out || exit 1; done"

finish
