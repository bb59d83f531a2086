#!/bin/bash
# Away, errors are home's: an ordinary user's program (nobody) that runs on
# n2 gets EACCES for a file that home's permissions forbid, although n2 has
# a readable file of that name, and ENOENT for one that only n2 has; a file
# home lets it read reads home's bytes.
. "$(dirname "$0")/lib.sh"
lab_require_root
[ -x /usr/bin/python3 ] || skip "Debian's python3 is not installed (pyenv's lives under /root)"
lab_up 2
mkdir -p "$LAB_FILES"
lab_exec n1 sh -c 'echo home-secret > /tmp/secret && chmod 600 /tmp/secret && echo home-open > /tmp/open && chmod 644 /tmp/open'
lab_exec n2 sh -c 'echo decoy > /tmp/secret && chmod 644 /tmp/secret && echo decoy > /tmp/open && echo decoy > /tmp/only-n2 && chmod 644 /tmp/only-n2'
cat >"$LAB_FILES/errs.py" <<'PY'
import os
def attempt(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError as e:
        return os.strerror(e.errno)
print(os.readlink("/proc/self/ns/net"))
for p in ("/tmp/secret", "/tmp/only-n2", "/tmp/open"):
    print(p, attempt(p))
PY
n1net=$(lab_exec n1 readlink /proc/self/ns/net)
n2net=$(lab_exec n2 readlink /proc/self/ns/net)
out=$(lab_exec n1 sh -c "setpriv --reuid=nobody --regid=nogroup --clear-groups ssirun --node n2 /usr/bin/python3 $LAB_FILES/errs.py 2>&1 | cat")
first=$(echo "$out" | head -1)
# Away, its network namespace is its sandbox's: neither n1's nor n2's.
[ "${first#net:}" != "$first" ] && [ "$first" != "$n1net" ] && [ "$first" != "$n2net" ] &&
	ok "nobody's python3 ran away (in its sandbox's network namespace)" || fail "where it ran: $out"
echo "$out" | grep -qx "/tmp/secret Permission denied" && ok "a file home forbids: EACCES (n2's copy is readable)" ||
	fail "a file home forbids: $out"
echo "$out" | grep -qx "/tmp/only-n2 No such file or directory" && ok "a file only n2 has: ENOENT" ||
	fail "a file only n2 has: $out"
echo "$out" | grep -qx "/tmp/open home-open" && ok "a file home allows: home's bytes" ||
	fail "a file home allows: $out"
finish
