#!/bin/bash
# Capabilities move with the process (#12): its body is restored by a root
# agent, which must neither hand a root process back the capabilities it
# dropped nor strip a user's process of the ones it holds. python3 prints
# its own Cap* and NoNewPrivs lines of /proc/self/status (away, the kernel's
# view of the body itself) every 100 ms; started three ways with setpriv:
# (r) root with net_raw, sys_ptrace and sys_admin out of its bounding set
# (so out of its permitted and effective sets), (a) nobody holding
# net_bind_service as an ambient capability, (n) root with no_new_privs. Each
# moves to n2 and comes home; every line it printed, at home, away and home
# again, has the same capabilities, and home again no_new_privs is its own
# (away, ssi's filter needs it set). Without the CAPS record, (r) gets every
# capability back away, (a) loses its own, and (n) loses no_new_privs.
. "$(dirname "$0")/lib.sh"
lab_require_root
lab_require_python
command -v setpriv >/dev/null || skip "setpriv (util-linux) is not installed"
lab_up 2
mkdir -p "$LAB_FILES"
cat >"$LAB_FILES/caps.py" <<'EOF'
import os, sys, time
while not os.path.exists(sys.argv[1]):
    lines = [l.split() for l in open("/proc/self/status")]
    print(" ".join(w[0] + w[1] for w in lines if w[0].startswith("Cap") or w[0] == "NoNewPrivs:"),
          flush=True)
    time.sleep(0.1)
print("done", flush=True)
EOF
chmod 755 "$LAB_FILES" "$LAB_FILES/caps.py"

# run TAG SETPRIV-OPTIONS: starts caps.py under setpriv and ssirun on n1, moves
# it to n2 and home again, and compares every line it printed.
run() {
	tag=$1
	shift
	lab_exec n1 sh -c "{ setpriv $* ssirun $PY $LAB_FILES/caps.py /tmp/$tag.stop > /tmp/$tag.out 2>&1; echo \$? > /tmp/$tag.rc; } &"
	wait_until 10 lab_exec n1 test -s "/tmp/$tag.out" || { fail "$tag: caps.py did not start"; return; }
	pid=$(lab_exec n1 pgrep -f "^$PY $LAB_FILES/caps.py /tmp/$tag.stop")
	first=$(lab_exec n1 head -n 1 "/tmp/$tag.out")
	note "$tag at home: $first"
	for to in n2 home; do
		# A freeze that catches it reading /proc/self/status (a descriptor
		# opened on n2) cannot come home: that refusal is right, try again.
		for try in 1 2 3 4 5; do
			out=$(lab_exec n1 ssictl migrate "$pid" "$to" 2>&1) && break
			printf '%s' "$out" | grep -q "/status) was opened on this node" || break
			sleep 0.2
		done
		[ -z "${out##*moved*}" ] || [ -z "${out##*came home*}" ] || { fail "$tag: move to $to: $out"; return; }
		n=$(lab_exec n1 sh -c "wc -l < /tmp/$tag.out")
		wait_until 5 sh -c "[ \$(ssilab exec n1 -- sh -c 'wc -l < /tmp/$tag.out') -gt $((n + 2)) ]"
	done
	lab_exec n1 touch "/tmp/$tag.stop"
	wait_until 10 lab_exec n1 test -s "/tmp/$tag.rc"
	# Away, ssi's own filter needs no_new_privs (set on the body, not
	# recorded in its image): every other field is the same everywhere, and
	# all of them are the same at home again.
	caps=${first% NoNewPrivs:*}
	other=$(lab_exec n1 sh -c "grep -v -e done /tmp/$tag.out | sed 's/ NoNewPrivs:.*//' | sort -u | grep -v -x -e '$caps'")
	last=$(lab_exec n1 sh -c "grep -v done /tmp/$tag.out | tail -n 1")
	rc=$(lab_exec n1 cat "/tmp/$tag.rc" 2>/dev/null)
	if [ "$rc" = 0 ] && [ -z "$other" ]; then
		ok "$tag: the same capabilities at home, on n2 and home again ($(lab_exec n1 sh -c "grep -c Cap /tmp/$tag.out") lines)"
	else
		fail "$tag: status '$rc'; other capabilities: $other"
	fi
	[ "$last" = "$first" ] && ok "$tag: home again, its no_new_privs is its own (${first##* })" ||
		fail "$tag: home again: $last"
}
run r --bounding-set=-net_raw,-sys_ptrace,-sys_admin
run a --reuid=nobody --regid=nogroup --clear-groups --inh-caps=+net_bind_service --ambient-caps=+net_bind_service
run n --no-new-privs
finish
