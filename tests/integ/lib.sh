# tests/integ/lib.sh: helpers for the integration tests, sourced (POSIX sh; bash works too).
#
# Every test has one shape: set up the virtual cluster, start a real program, act, verify,
# tear down.
#
#   . "$(dirname "$0")/lib.sh"
#   lab_require_root            # SKIP (exit 77) unless root with working namespaces
#   lab_up 3                    # ssilab up 3; 'ssilab down' runs at exit, whatever happens
#                               # (balancer off unless LAB_BALANCE=on[,KNOB=VALUE...])
#   lab_exec n1 CMD...          # run CMD inside host n1
#   wait_until 5 CMD...         # poll CMD every 100 ms for at most 5 s
#   ok "..." / fail "..."       # print "ok - ..." / "not ok - ..." and count
#   finish                      # "N passed, N failed"; exit 1 if any failed
#
# Output follows TAP's words ("ok - ", "not ok - ", "# " for notes), which tests/run-all counts.
# Environment: SSI_BINDIR (ssid, ssictl, ssirun; default build/bin of this tree), SSILAB_DIR
# (the lab's state: keys, cluster.conf, nI/ssid.log; default /var/lib/ssilab). Both are exported,
# and PATH starts with SSI_BINDIR, so 'ssilab', 'ssictl' and 'ssid' work in 'sh -c' strings.

lab_top=$(cd "$(dirname "$0")/../.." && pwd)
SSI_BINDIR=${SSI_BINDIR:-$lab_top/build/bin}
# SSILAB_INSTANCE=K runs this test's lab beside others (namespaces ssilabK-*, 198.18.K.0/24).
SSILAB_INSTANCE=${SSILAB_INSTANCE:-0}
lab_tag=
[ "$SSILAB_INSTANCE" = 0 ] || lab_tag=$SSILAB_INSTANCE
SSILAB_DIR=${SSILAB_DIR:-/var/lib/ssilab$lab_tag}
LAB_SUBNET=198.18.$SSILAB_INSTANCE
# ssilab from the bin dir (make copies it there), else straight from the source tree.
PATH=$SSI_BINDIR:$lab_top/launcher:$PATH
export SSI_BINDIR SSILAB_DIR SSILAB_INSTANCE LAB_SUBNET PATH
lab_passed=0
lab_failed=0
lab_is_up=0

# Prints a note that tests/run-all shows but does not count.
note() {
    printf '# %s\n' "$*"
}

ok() {
    lab_passed=$((lab_passed + 1))
    printf 'ok - %s\n' "$*"
}

fail() {
    lab_failed=$((lab_failed + 1))
    printf 'not ok - %s\n' "$*"
}

# lab_pid_of WORD: the home pid of the first ssi process of n1 whose command line contains WORD
# (not a pyenv-style bash wrapper that execs the real program), or nothing.
lab_pid_of() {
	lab_exec n1 ssictl ps --json 2>/dev/null | python3 -c '
import json, sys
for p in json.load(sys.stdin)["data"]:
    if p["home"] == "n1" and sys.argv[1] in p["cmd"] and not p["cmd"].startswith("bash"):
        print(p["pid"]); break' "$1"
}

# check DESCRIPTION CMD...: ok if CMD succeeds, else fail.
check() {
    lab_d=$1
    shift
    if "$@"; then ok "$lab_d"; else fail "$lab_d"; fi
}

# expect DESCRIPTION LINE: ok if $res (a test's collected output) has LINE as a whole line.
expect() {
	if printf '%s\n' "$res" | grep -qx -- "$2"; then ok "$1"; else fail "$1: want '$2'"; fi
}

# lab_await_rc SECONDS PREFIX WHAT: waits for n1's PREFIX.rc (a background program's exit
# status); ok "WHAT finished with status 0", else fail with PREFIX.rc and PREFIX.log.
lab_await_rc() {
	if wait_until "$1" lab_exec n1 test -s "$2.rc" && [ "$(lab_exec n1 cat "$2.rc")" = 0 ]; then
		ok "$3 finished with status 0"
	else
		fail "$3: $(lab_exec n1 sh -c "cat '$2.rc' '$2.log'" 2>&1)"
	fi
}

# Prints the tally and exits: 0 if nothing failed, 1 otherwise (the EXIT trap takes the lab down).
finish() {
    printf '%d passed, %d failed\n' "$lab_passed" "$lab_failed"
    [ "$lab_failed" = 0 ] && exit 0
    exit 1
}

skip() {
    printf 'SKIP: %s\n' "$*"
    exit 77
}

# Skips the test unless we are root and can make network, mount and PID namespaces; fails it
# if the binaries are missing (a build problem, not a reason to skip).
lab_require_root() {
    [ "$(id -u)" = 0 ] || skip "needs root (network, mount and PID namespaces)"
    for lab_t in ip unshare nsenter; do
        command -v "$lab_t" >/dev/null 2>&1 || skip "'$lab_t' is not installed"
    done
    lab_probe=ssiprobe-$$
    if ! ip netns add "$lab_probe" 2>/dev/null; then
        skip "cannot create network namespaces ('ip netns add' failed)"
    fi
    if ! ip netns exec "$lab_probe" unshare --pid --mount --fork --mount-proc \
        --propagation private true >/dev/null 2>&1; then
        ip netns delete "$lab_probe"
        skip "cannot create PID and mount namespaces inside a network namespace"
    fi
    ip netns delete "$lab_probe"
    for lab_t in ssid ssictl ssilab; do
        if ! command -v "$lab_t" >/dev/null 2>&1; then
            echo "not ok - $lab_t not found in $SSI_BINDIR (run 'make')"
            exit 1
        fi
    done
}

# lab_require_python: PY is Debian's python3 (the first python3 on PATH may be a
# wrapper, e.g. pyenv's, that runs a shell first); skips the test without it.
lab_require_python() {
    PY=/usr/bin/python3
    [ -x "$PY" ] || skip "$PY is not installed"
}

# lab_up N [--cpu F]: brings a lab up and arranges for it to go down when the test exits.
# A lab that is already up is not ours to remove: the test stops with a clear message.
lab_up() {
    if ssilab status >/dev/null 2>&1; then
        echo "not ok - a lab is already up ('ssilab status'); run 'ssilab down' first"
        exit 1
    fi
    trap 'lab_rc=$?; lab_down; exit $lab_rc' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
    trap 'exit 141' PIPE
    lab_is_up=1
    # Files a test shares with its hosts (scripts, inputs): visible inside
    # them, removed with the lab.
    LAB_FILES=$SSILAB_DIR/files
    # ssilab up leaves no process holding its output, so capturing it cannot hang.
    # The balancer is off unless a test asks for it (LAB_BALANCE, e.g. "on,residence=2000"):
    # the others move processes by hand and check where they are.
    lab_out=$(ssilab up "$@" --balance "${LAB_BALANCE:-off}" 2>&1)
    lab_rc=$?
    printf '%s\n' "$lab_out" | sed 's/^/# /'
    if [ "$lab_rc" != 0 ]; then
        # A failed up removes what it built itself; a lab that is up now is
        # someone else's (another test raced us to it): not ours to take down.
        lab_is_up=0
        fail "ssilab up $* (exit $lab_rc)"
        finish
    fi
}

# Takes the lab down (safe to call twice). When something failed, first shows the end of
# each host's ssid log as notes.
lab_down() {
    [ "$lab_is_up" = 1 ] || return 0
    lab_is_up=0
    if [ "$lab_failed" != 0 ]; then
        for lab_log in "$SSILAB_DIR"/n*/ssid.log; do
            [ -f "$lab_log" ] || continue
            note "--- tail of $lab_log"
            tail -n 15 "$lab_log" | sed 's/^/# /'
            # LAB_KEEP=DIR: the whole logs of a failed test, for a post-mortem.
            if [ -n "$LAB_KEEP" ]; then
                lab_k=$LAB_KEEP/$(basename "$0" .sh).$$
                mkdir -p "$lab_k" && cp "$lab_log" "$lab_k/$(basename "$(dirname "$lab_log")").log"
            fi
        done
    fi
    rm -rf "$SSILAB_DIR/files"
    ssilab down >/dev/null || echo "# ssilab down failed" >&2
}

# lab_exec HOST CMD...: runs CMD inside HOST; its exit status is CMD's.
lab_exec() {
    lab_h=$1
    shift
    ssilab exec "$lab_h" -- "$@"
}

# wait_until TIMEOUT CMD...: runs CMD every 100 ms until it succeeds (return 0) or TIMEOUT
# seconds (may be fractional) have passed (return 1). CMD may be a shell function.
# TIMEOUT is what a quiet machine needs; it is stretched by SSI_TEST_PATIENCE (default 2):
# CI runs on two shared, loaded vCPUs, where a wait is a bound on failure, never a measure.
wait_until() {
    lab_deadline=$(($(date +%s%N) / 1000000 + $(awk -v t="$1" -v p="${SSI_TEST_PATIENCE:-2}" \
        'BEGIN { printf "%d", t * p * 1000 }')))
    shift
    while :; do
        "$@" && return 0
        [ "$(($(date +%s%N) / 1000000))" -lt "$lab_deadline" ] || return 1
        sleep 0.1
    done
}

# A test program of tests/progs that answers SIGUSR2 with a line "check K ok" (or "check K
# WHAT WENT WRONG") in its output file OUT, its stderr in ERR, all on n1:
# lab_probe_check PID OUT ERR K WHAT asks it for check K and passes WHAT if the line says ok.
lab_probe_check() {
	lab_exec n1 kill -USR2 "$1"
	if wait_until 15 lab_exec n1 grep -q "^check $4 " "$2"; then
		lab_probe_line=$(lab_exec n1 grep "^check $4 " "$2")
		case "$lab_probe_line" in
		"check $4 ok") ok "$5" ;;
		"check $4 ok "*) ok "$5: $lab_probe_line" ;;
		*) fail "$5: $lab_probe_line" ;;
		esac
	else
		fail "$5: no answer to check $4: $(lab_exec n1 cat "$2" "$3")"
	fi
}

# lab_probe_end OUT [ERR]: the program wrote "status=0" at its end into OUT (its shell
# does), and nothing into ERR if given.
lab_probe_end() {
	wait_until 10 lab_exec n1 grep -q '^status=' "$1"
	[ "$(lab_exec n1 grep '^status=' "$1")" = status=0 ] && ok "it ended with status 0" ||
		fail "it ended: $(lab_exec n1 cat "$1" ${2:+"$2"})"
	[ -z "${2:-}" ] || { [ -z "$(lab_exec n1 cat "$2")" ] && ok "nothing on its stderr" ||
		fail "its stderr: $(lab_exec n1 cat "$2")"; }
}

# lab_node_state HOST NODE: prints NODE's state ("up", "down", ...) as HOST's ssid sees it.
lab_node_state() {
    lab_exec "$1" ssictl nodes --json 2>/dev/null | tr '}' '\n' |
        grep "\"name\"[[:space:]]*:[[:space:]]*\"$2\"" |
        sed -n 's/.*"state"[[:space:]]*:[[:space:]]*"\([a-z]*\)".*/\1/p'
}

# lab_nodes_up HOST: prints how many nodes HOST's ssid sees up.
lab_nodes_up() {
    lab_exec "$1" ssictl nodes --json 2>/dev/null | tr '}' '\n' |
        grep -c '"state"[[:space:]]*:[[:space:]]*"up"'
}

# lab_all_up HOST N: succeeds when HOST sees N nodes up.
lab_all_up() {
    [ "$(lab_nodes_up "$1")" = "$2" ]
}

# lab_ssid_pid HOST: prints the pid, inside HOST, of the ssid that 'ssilab up' started there.
lab_ssid_pid() {
    cat "$SSILAB_DIR/$1/ssid.pid"
}

# lab_kill_ssid HOST [SIGNAL]: signals (default TERM) the ssid that 'ssilab up' started on HOST.
lab_kill_ssid() {
    lab_exec "$1" kill -s "${2:-TERM}" "$(lab_ssid_pid "$1")"
}

# lab_holder_pid HOST: prints the pid, outside, of HOST's pid 1.
lab_holder_pid() {
    cat "$SSILAB_DIR/$1/holder.pid"
}

# lab_log HOST: prints the path of HOST's ssid log (readable from outside the lab).
lab_log() {
    echo "$SSILAB_DIR/$1/ssid.log"
}
