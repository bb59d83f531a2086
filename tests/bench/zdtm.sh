#!/bin/bash
# CRIU's zdtm static tests as the yardstick of what moves with a process (#17), in a 2-host lab
# (needs root; a few seconds per test).
#
#   tests/bench/zdtm.sh CRIU_CHECKOUT [TEST...]     (default: every static test that can run here)
#
# CRIU_CHECKOUT is a clone of CRIU's public source whose zdtm static tests are built
# (make -C test/zdtm/lib && make -C test/zdtm/static); nothing of it is copied into this project.
# Without it the benchmark is skipped with the reason. SSILAB_INSTANCE=K runs its lab beside
# others. ZDTM_RESULTS=FILE keeps the per-test lines (default: a file under /tmp, named at the end).
#
# Each test is started with ssirun on n1 with the arguments zdtm's Makefile gives it, waits in its
# steady state for SIGTERM, then checks what it set up and writes PASS or FAIL into its .out.
#   unmoved   started, SIGTERM after SETTLE seconds, its .out read;
#   moved     (only for tests that pass unmoved) started, `ssictl migrate PID n2`, then
#             `ssictl migrate PID home`, then SIGTERM; classified as
#     passes moved   both moves succeeded and the test printed PASS
#     refused        the first move was refused up front (the reason is listed), the test passed
#     stays away     the homecoming was refused or failed; the test, signalled away, passed
#     fails to move  the first move failed (not a refusal), the test passed
#     moves, fails   the moves happened (or the homecoming failed) and the test failed
#     broken         a refused or failed first move and then the test failed: must never happen
# Skipped, as zdtm itself would skip them here: tests marked noauto, tests for another
# architecture, tests that run only in a namespace zdtm makes (no 'h' flavour). Tests with
# several threads (at their steady state) and tests under seccomp are counted apart (issues of
# their own), with the same classes.
. "$(dirname "$0")/../integ/lib.sh"

criu=${1:-}
[ -n "$criu" ] || skip "give the path of a CRIU checkout with built zdtm static tests"
shift
zs=$(cd "$criu/test/zdtm/static" 2>/dev/null && pwd) ||
	skip "$criu/test/zdtm/static not found: not a CRIU checkout"
[ -f "$zs/../lib/libzdtmtst.a" ] && [ -x "$zs/busyloop00" ] ||
	skip "zdtm static tests not built (make -C $criu/test/zdtm/lib && make -C $criu/test/zdtm/static)"
command -v python3 >/dev/null || skip "python3 is not installed"
command -v make >/dev/null || skip "make is not installed"
lab_require_root

SETTLE=${SETTLE:-0.5}
results=${ZDTM_RESULTS:-$(mktemp /tmp/zdtm-results.XXXXXX)}
: >"$results"

# The list: name, then its command line as zdtm's Makefile runs it, or "-" and a reason to skip.
zdtm_list() {
	python3 - "$zs" "$@" <<'EOF'
import ast, os, platform, subprocess, sys
zs, only = sys.argv[1], sys.argv[2:]
def var(v):
    out = subprocess.run(["make", "-s", "--no-print-directory", "-C", zs, "--eval",
                          "print-%: ; @echo $($*)", "print-" + v],
                         capture_output=True, text=True).stdout
    return out.split()
names = only or var("TST_NOFILE") + var("TST_FILE") + var("TST_DIR") + var("TST_DIR_FILE")
# Every command line at once (one make, not one per test).
lines = subprocess.run(["make", "-s", "-n", "-k", "--no-print-directory", "-C", zs]
                       + [t + ".pid" for t in names],
                       capture_output=True, text=True).stdout.splitlines()
for t in names:
    desc = {}
    try:
        with open(os.path.join(zs, t + ".desc")) as f:
            desc = ast.literal_eval(f.read().strip() or "{}")
    except FileNotFoundError:
        pass
    except (ValueError, SyntaxError):
        print(t, "-", "its .desc cannot be read"); continue
    flags = str(desc.get("flags", "")).split()
    flavor = str(desc.get("flavor", "h ns uns")).split()
    arch = str(desc.get("arch", platform.machine())).split()
    if "noauto" in flags:
        print(t, "-", "noauto"); continue
    if platform.machine() not in arch:
        print(t, "-", "for", " ".join(arch)); continue
    if "h" not in flavor:
        print(t, "-", "runs only in a namespace zdtm makes (flavor", " ".join(flavor) + ")"); continue
    if not os.access(os.path.join(zs, t), os.X_OK):
        print(t, "-", "not built"); continue
    cmd = [c for c in lines if c.startswith("./" + t + " ")]
    if len(cmd) != 1:
        print(t, "-", "no single command line in its Makefile"); continue
    print(t, cmd[0])
EOF
}

# Inside n1, from the tests' directory.
n1() {
	lab_exec n1 sh -c "cd '$zs' && $1"
}

# zdtm_clean T: removes what a run of T leaves in the tests' directory.
zdtm_clean() {
	rm -rf "$zs/$1.out" "$zs/$1".out.* "$zs/$1.pid" "$zs/$1.test" "$zs/$1.dir.test" \
		"$zs/$1.start"
}

# zdtm_start T CMD: starts T on n1 and prints its pid there once it is ready, or nothing.
zdtm_start() {
	zdtm_clean "$1"
	n1 "timeout -k 3 20 ssirun $2 </dev/null >$1.start 2>&1"
	[ -s "$zs/$1.pid" ] && cat "$zs/$1.pid"
}

# zdtm_gone PID: succeeds when PID no longer runs on n1 (gone or a zombie).
zdtm_gone() {
	st=$(lab_exec n1 sh -c "cat /proc/$1/stat 2>/dev/null" | sed 's/.*) //' | cut -c1)
	[ -z "$st" ] || [ "$st" = Z ]
}

# zdtm_stop T PID: SIGTERM, waits for the end, prints PASS or why not.
zdtm_stop() {
	lab_exec n1 kill -TERM "$2" 2>/dev/null
	if ! wait_until 15 zdtm_gone "$2"; then
		lab_exec n1 kill -KILL "$2" -- "-$2" 2>/dev/null
		echo "hung after SIGTERM"
		return
	fi
	# What it forked (it leads its own session and group) goes too.
	lab_exec n1 kill -KILL -- "-$2" 2>/dev/null
	if [ -f "$zs/$1.out" ] && grep -qw PASS "$zs/$1.out"; then
		echo PASS
	elif [ -f "$zs/$1.out" ]; then
		echo "FAIL: $(grep -v -e '^$' "$zs/$1.out" | tail -n 2 | tr '\n' ' ' | cut -c1-200)"
	else
		echo "no .out"
	fi
}

# zdtm_move PID NODE: prints the outcome (ok, refused, failed, ...) and ssid's text on one line.
zdtm_move() {
	lab_exec n1 ssictl migrate --json --timeout 60 "$1" "$2" 2>/dev/null | python3 -c '
import json, sys
try:
    j = json.load(sys.stdin)
    d = j.get("data", j)
    print(d.get("outcome", "other"), " ".join(str(d.get("text", "")).split())[:300])
except Exception as e:
    print("other", "no answer from ssictl")'
}

# zdtm_kind PID: "threads" with several threads, "seccomp" under a filter, else "plain".
zdtm_kind() {
	s=$(lab_exec n1 cat "/proc/$1/status" 2>/dev/null)
	th=$(printf '%s\n' "$s" | awk '/^Threads:/ { print $2 }')
	sc=$(printf '%s\n' "$s" | awk '/^Seccomp:/ { print $2 }')
	if [ "${th:-1}" -gt 1 ]; then
		echo threads
	elif [ "${sc:-0}" != 0 ]; then
		echo seccomp
	else
		echo plain
	fi
}

# record T KIND CLASS DETAIL
record() {
	printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$results"
	printf '# %-28s %-8s %-14s %s\n' "$1" "$2" "$3" "$4"
}

lab_up 2
list=$(zdtm_list "$@")
note "$(printf '%s\n' "$list" | wc -l) tests listed, $(printf '%s\n' "$list" | awk '$2 == "-"' | wc -l) skipped"

while read -r t cmd; do
	[ -n "$t" ] || continue
	if [ "${cmd%% *}" = - ]; then
		record "$t" - skipped "${cmd#- }"
		continue
	fi
	# Unmoved.
	pid=$(zdtm_start "$t" "$cmd")
	if [ -z "$pid" ]; then
		record "$t" - "fails unmoved" "did not start: $(tail -c 200 "$zs/$t.start" 2>/dev/null | tr '\n' ' ')"
		zdtm_clean "$t"
		continue
	fi
	kind=$(zdtm_kind "$pid")
	sleep "$SETTLE"
	res=$(zdtm_stop "$t" "$pid")
	if [ "$res" != PASS ]; then
		record "$t" "$kind" "fails unmoved" "$res"
		zdtm_clean "$t"
		continue
	fi
	# Moved n1 -> n2 -> home.
	pid=$(zdtm_start "$t" "$cmd")
	if [ -z "$pid" ]; then
		record "$t" "$kind" "fails unmoved" "did not start the second time"
		zdtm_clean "$t"
		continue
	fi
	sleep "$SETTLE"
	m1=$(zdtm_move "$pid" n2)
	m2=
	if [ "${m1%% *}" = ok ]; then
		m2=$(zdtm_move "$pid" home)
	fi
	res=$(zdtm_stop "$t" "$pid")
	case "${m1%% *}/${m2%% *}/$res" in
	ok/ok/PASS) class="passes moved" detail= ;;
	ok/*/PASS) class="stays away" detail=$m2 ;;
	ok/*) class="moves, fails" detail="$res${m2:+ (homecoming ${m2%% *})}" ;;
	refused//PASS) class=refused detail=${m1#* } ;;
	*//PASS) class="fails to move" detail=$m1 ;;
	*) class=broken detail="$m1; then $res" ;;
	esac
	record "$t" "$kind" "$class" "$detail"
	zdtm_clean "$t"
done <<EOF
$list
EOF

# The tally: plain tests, then threaded and seccomp ones apart.
python3 - "$results" <<'EOF'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
classes = ["passes moved", "refused", "stays away", "fails to move", "moves, fails", "broken"]
skipped = [r for r in rows if r[2] == "skipped"]
unmoved = [r for r in rows if r[2] == "fails unmoved"]
print("%d tests: %d skipped (zdtm would not run them here), %d fail unmoved"
      % (len(rows), len(skipped), len(unmoved)))
for kind in ("plain", "threads", "seccomp"):
    rs = [r for r in rows if r[1] == kind and r[2] in classes]
    if not rs:
        continue
    n = len(rs)
    p = sum(r[2] == "passes moved" for r in rs)
    print("%s: %d pass unmoved; %d pass moved (%.0f%%)" % (kind, n, p, 100.0 * p / n)
          + "".join("; %d %s" % (sum(r[2] == c for r in rs), c) for c in classes[1:]))
for c in classes[1:]:
    rs = [r for r in rows if r[2] == c]
    if rs:
        print("== %s" % c)
        for r in rs:
            print("  %-28s %-8s %s" % (r[0], r[1], r[3]))
EOF
note "per-test lines: $results"
