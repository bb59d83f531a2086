#!/bin/bash
# A statically linked program never loads libssi.so, so ssi cannot enter it. ssirun says so:
# run plainly at home with a warning, and refused (exit 125, not run at all) with --node.
# A dynamically linked program and a script whose interpreter is dynamic are not misjudged.
. "$(dirname "$0")/lib.sh"
lab_require_root
command -v gcc >/dev/null || skip "gcc is not installed"
lab_up 2
# has TEXT REGEX: TEXT holds a line matching REGEX.
has() { printf '%s\n' "$1" | grep -q -- "$2"; }
mkdir -p "$LAB_FILES"
cat >"$LAB_FILES/st.c" <<'C'
#include <fcntl.h>
int main(int argc, char **argv)
{
    if (argc > 1)
        open(argv[1], O_WRONLY | O_CREAT, 0644);
    return 3;
}
C
gcc -static -O1 -o "$LAB_FILES/st" "$LAB_FILES/st.c" 2>/dev/null || skip "no static libc (libc6-dev)"

out=$(lab_exec n1 ssirun --node n2 "$LAB_FILES/st" /tmp/ran1 2>&1)
rc=$?
check "--node on a static program exits 125" test "$rc" = 125
check "--node names the reason" has "$out" "statically linked.*not run"
check "--node on a static program does not run it" lab_exec n1 test ! -e /tmp/ran1
check "nor on n2" lab_exec n2 test ! -e /tmp/ran1

out=$(lab_exec n1 ssirun "$LAB_FILES/st" /tmp/ran2 2>&1)
rc=$?
check "without --node it runs with its own status (3)" test "$rc" = 3
check "it ran" lab_exec n1 test -e /tmp/ran2
check "with a warning that it is not an ssi process" has "$out" "warning: .*statically linked.*never moved"

# Found through PATH as execvp finds it.
out=$(lab_exec n1 env PATH="$LAB_FILES:/usr/bin:/bin" "$SSI_BINDIR/ssirun" --node n2 st 2>&1)
check "a static program found in PATH is judged too" test $? = 125

# Dynamic programs are not misjudged: they move and run.
out=$(lab_exec n1 ssirun --node n2 /bin/sh -c 'exit 4' 2>&1)
rc=$?
check "a dynamic program still runs with --node" test "$rc" = 4
printf '#!/bin/sh\nexit 5\n' >"$LAB_FILES/dyn.sh"
chmod +x "$LAB_FILES/dyn.sh"
out=$(lab_exec n1 ssirun --node n2 "$LAB_FILES/dyn.sh" 2>&1)
rc=$?
check "a script with a dynamic interpreter runs with --node" test "$rc" = 5
check "no warning for it" test -z "$(printf '%s\n' "$out" | grep statically)"
finish
