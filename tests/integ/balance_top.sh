#!/bin/sh
# ssictl top (issue #13): under a pseudo-terminal it shows every host and a migration as it
# happens, 'q' quits and the terminal is restored (main screen, cursor); when stdout is not a
# terminal it prints one plain frame and exits.
. "$(dirname "$0")/lib.sh"
lab_require_root
memhog=${SSI_TESTDIR:-$lab_top/build/tests}/memhog
[ -x "$memhog" ] || { echo "not ok - $memhog is missing (make check builds it)"; exit 1; }
command -v python3 >/dev/null 2>&1 || skip "python3 is not installed"

lab_up 3
lab_exec n1 sh -c "ssirun $memhog 4 400 50 >/dev/null 2>&1 & echo \$! >/tmp/m.pid"
sleep 1
pid=$(lab_exec n1 cat /tmp/m.pid)

plain=$(lab_exec n3 ssictl top)
check "plain: one frame, exit 0" [ $? = 0 ]
for h in n1 n2 n3; do
    if printf '%s\n' "$plain" | grep -q "^$h  *up  *\["; then ok "plain: a row for $h"; else fail "plain: a row for $h: $plain"; fi
done
if printf '%s' "$plain" | grep -q "$(printf '\033')"; then fail "plain: no escape sequences"; else ok "plain: no escape sequences"; fi

res=$(python3 - "$pid" <<'PY'
import os, pty, select, subprocess, sys, time
pid = sys.argv[1]
child, fd = pty.fork()
if child == 0:
    os.execvp("ssilab", ["ssilab", "exec", "n3", "--", "ssictl", "top"])
out = b""
def read_for(secs, until=None):
    global out
    end = time.time() + secs
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                out += os.read(fd, 65536)
            except OSError:
                return
        if until and until(out):
            return
read_for(3)
rows = all(("\n%s " % h).encode() in out.replace(b"\r", b"") or (b"%s " % h.encode()) in out
           for h in ("n1", "n2", "n3"))
print("rows", "yes" if rows else "no")
print("alt", "yes" if b"\x1b[?1049h" in out else "no")
subprocess.run(["ssilab", "exec", "n1", "--", "ssictl", "migrate", pid, "n2"], check=True,
               stdout=subprocess.DEVNULL)
mark = ("process %s moved from n1 to n2" % pid).encode()
read_for(10, lambda o: mark in o)
print("migration", "yes" if mark in out else "no")
os.write(fd, b"q")
read_for(5, lambda o: b"\x1b[?1049l" in o)
_, status = os.waitpid(child, 0)
print("status", os.waitstatus_to_exitcode(status))
print("restored", "yes" if out.rstrip(b"\r\n").endswith(b"\x1b[?25h\x1b[?1049l") else "no")
PY
)
note "$(echo "$res" | tr '\n' ' ')"
expect "under a pty it draws on the alternate screen" "alt yes"
expect "it shows a row for every host" "rows yes"
expect "it shows the migration as it happens" "migration yes"
expect "q quits with status 0" "status 0"
expect "the terminal is restored (cursor, main screen)" "restored yes"

finish
