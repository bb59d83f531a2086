#!/bin/bash
# System calls per forwarded call, at the body (n2) and at the deputy (n1):
# a python3 loop of N os.stat (or 4 KiB os.pread) of a home file, moved to
# n2, with strace -c -f attached to both sides for the loop. Prints both
# tables; divide by N for the calls per forwarded call.
# Usage: tests/bench/vfs_syscalls.sh [stat|pread] [N]   (root; strace)
. "$(dirname "$0")/../integ/lib.sh"
lab_require_root
command -v strace >/dev/null || skip "strace is not installed"
what=${1:-stat}
N=${2:-5000}
lab_up 2
mkdir -p "$LAB_FILES"
lab_exec n1 sh -c 'mkdir -p /tmp/vb && head -c 1048576 /dev/urandom > /tmp/vb/data'
cat >"$LAB_FILES/prof.py" <<'PY'
import os, sys
what, n = sys.argv[1], int(sys.argv[2])
p = "/tmp/vb/data"
fd = os.open(p, os.O_RDONLY)
sys.stdin.readline()
os.stat(p)
sys.stdin.readline()
if what == "stat":
    for _ in range(n):
        os.stat(p)
else:
    for _ in range(n):
        os.pread(fd, 4096, 8192)
print("done", flush=True)
PY
lab_exec n1 sh -c "rm -f /tmp/vb/in /tmp/vb/go; mkfifo /tmp/vb/in /tmp/vb/go
	{ ssirun python3 $LAB_FILES/prof.py $what $N < /tmp/vb/in > /tmp/vb/out 2>&1; } &
	exec 3>/tmp/vb/in; sleep 1
	ssictl migrate \$(ssictl ps | awk '/prof.py/ {print \$2}') n2 >&2
	echo >&3; sleep 1; cat /tmp/vb/go >&3" &
sleep 3
n1net=$(readlink /proc/"$(lab_holder_pid n1)"/ns/net)
dep= body=
for p in $(pgrep -f "prof.py $what"); do
	case $(tr '\0' ' ' </proc/$p/cmdline) in *ssirun*|*sh\ -c*) continue ;; esac
	if [ "$(readlink /proc/$p/ns/net)" = "$n1net" ]; then dep=$p; else body=$p; fi
done
[ -n "$dep" ] && [ -n "$body" ] || { fail "no deputy ($dep) or body ($body)"; finish; }
strace -c -f -p "$body" -o "$LAB_FILES/body.strace" & sb=$!
strace -c -f -p "$dep" -o "$LAB_FILES/dep.strace" & sd=$!
sleep 1
lab_exec n1 sh -c 'echo > /tmp/vb/go'
wait_until 120 lab_exec n1 grep -q done /tmp/vb/out
sleep 0.5
kill -INT $sb $sd 2>/dev/null # strace ends with its tracee
wait $sb $sd 2>/dev/null
echo "body (n2), $N x $what:"; cat "$LAB_FILES/body.strace"
echo "deputy (n1), $N x $what:"; cat "$LAB_FILES/dep.strace"
lab_passed=1
finish
