#!/bin/bash
# The cost of the first fork away (#11) against a fork at home, measured in one run on a
# 2-host lab (needs root; about a minute).
#
#   tests/bench/fork.sh [N]          N rounds (default 5)
#
# Each round starts a python3 program with ssirun on n1 (a resident size of about 10 MiB),
# which forks once at home; then it is moved to n2 with `ssictl migrate` and forks again: that
# fork comes home first (the body asks its deputy, ssid brings it home as `ssictl migrate PID
# home` does, the call runs natively at home). Per fork: from just before os.fork() in the
# parent to the child's first line of Python (CLOCK_REALTIME in both: the hosts share the
# machine's clock), in ms. Prints min/median/max of each and the ratio of the medians.
. "$(dirname "$0")/../integ/lib.sh"
lab_require_root
lab_require_python
N=${1:-5}
lab_up 2
mkdir -p "$LAB_FILES"
cat >"$LAB_FILES/forkb.py" <<'EOF'
import os, sys, time
ballast = bytearray(8 << 20)  # some resident memory to carry home
def fork_once(where):
    while not os.path.exists("/tmp/fb.go." + where):
        time.sleep(0.01)
    t0 = time.time()
    pid = os.fork()
    if pid == 0:
        t1 = time.time()
        with open("/tmp/fb.t1", "w") as f:
            f.write(repr(t1))
        os._exit(0)
    os.waitpid(pid, 0)
    with open("/tmp/fb.t1") as f:
        t1 = float(f.read())
    print(where, "%.3f" % ((t1 - t0) * 1000), flush=True)
print("ready", os.getpid(), flush=True)
fork_once("home")
fork_once("away")
EOF
W=$(mktemp -d)
trap 'rm -rf "$W"; lab_down' EXIT
echo "# load: $(cut -d' ' -f1-3 /proc/loadavg); $N rounds"
for i in $(seq "$N"); do
	lab_exec n1 rm -f /tmp/fb.out /tmp/fb.go.home /tmp/fb.go.away /tmp/fb.t1
	lab_exec n1 sh -c "ssirun $PY $LAB_FILES/forkb.py >/tmp/fb.out 2>&1 &"
	wait_until 10 lab_exec n1 grep -q '^ready' /tmp/fb.out || { echo "round $i: did not start"; continue; }
	pid=$(lab_exec n1 awk '/^ready/ { print $2 }' /tmp/fb.out)
	lab_exec n1 touch /tmp/fb.go.home
	wait_until 10 lab_exec n1 grep -q '^home' /tmp/fb.out
	out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1) || { echo "round $i: move failed: $out"; continue; }
	lab_exec n1 touch /tmp/fb.go.away
	wait_until 30 lab_exec n1 grep -q '^away' /tmp/fb.out || { echo "round $i: $(lab_exec n1 cat /tmp/fb.out)"; continue; }
	lab_exec n1 grep -E '^(home|away) ' /tmp/fb.out >>"$W/res"
done
stats() { sort -n | awk '{v[NR]=$1} END {printf "%s %s %s", v[1], v[int((NR+1)/2)], v[NR]}'; }
printf '%-30s %s\n' "fork" "ms min / median / max"
set -- $(awk '$1 == "home" {print $2}' "$W/res" | stats)
h=$2
printf '%-30s %s / %s / %s\n' "at home" "$1" "$2" "$3"
set -- $(awk '$1 == "away" {print $2}' "$W/res" | stats)
printf '%-30s %s / %s / %s\n' "first fork away (comes home)" "$1" "$2" "$3"
awk -v a="$2" -v h="$h" 'BEGIN { printf "ratio of the medians: %.0fx\n", a / h }'
