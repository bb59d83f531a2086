#!/bin/bash
# The cost of the away body's seccomp filter (the allow-list, ssi/away/
# ssi_trap.c) on a system call that runs untouched: tests/progs/sysloop
# times N raw getpid and N prlimit64(0) calls at home (no filter), then
# moved to n2 of a 2-host lab, in the same run. Prints ns per call and the
# ratio away / home.
# Usage: tests/bench/filter.sh [N]   (root; needs build/tests/sysloop)
. "$(dirname "$0")/../integ/lib.sh"
lab_require_root
sysloop=${SSI_TESTDIR:-$lab_top/build/tests}/sysloop
[ -x "$sysloop" ] || skip "$sysloop is missing (make bench builds it)"
N=${1:-2000000}
lab_up 2
mkdir -p "$LAB_FILES"
cp "$sysloop" "$LAB_FILES/sysloop"
lab_exec n1 sh -c "rm -f /tmp/sl.pid /tmp/sl.go; { ssirun $LAB_FILES/sysloop /tmp/sl.pid /tmp/sl.go $N > /tmp/sl.out 2>&1; } &"
wait_until 60 lab_exec n1 test -s /tmp/sl.pid || { fail "sysloop did not start"; finish; }
out=$(lab_exec n1 ssictl migrate "$(lab_exec n1 cat /tmp/sl.pid)" n2 2>&1) || { fail "move: $out"; finish; }
lab_exec n1 touch /tmp/sl.go
wait_until 120 lab_exec n1 grep -q "away prlimit64" /tmp/sl.out || { fail "no away figures: $(lab_exec n1 cat /tmp/sl.out)"; finish; }
lab_exec n1 cat /tmp/sl.out | awk -v n="$N" '
	{ v[$1 " " $2] = $3 }
	END {
		printf "%d calls each, ns per call:\n", n
		for (c in v) split(c, k, " ")
		split("getpid prlimit64", calls, " ")
		for (i = 1; i <= 2; i++) {
			h = v["home " calls[i]]; a = v["away " calls[i]]
			printf "  %-10s home %6.1f  away %6.1f  away/home %.2f\n", calls[i], h, a, a / h
		}
	}'
lab_passed=1
finish
