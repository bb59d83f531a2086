#!/bin/bash
# A program whose terminal is a pty at home keeps answering isatty() and
# the window size as at home after it moves (python3's os.isatty and
# os.get_terminal_size, which call isatty() and ioctl(TIOCGWINSZ)).
. "$(dirname "$0")/lib.sh"
lab_require_root
command -v script >/dev/null || skip "script (util-linux) is not installed"
command -v python3 >/dev/null || skip "python3 is not installed"
lab_up 2
mkdir -p "$LAB_FILES"
cat >"$LAB_FILES/tty.py" <<'PY'
import os, time
open("/tmp/tty.pid", "w").write(str(os.getpid()))
for i in range(60):
    size = os.get_terminal_size(1)
    print(i, os.isatty(0), os.isatty(1), size.columns, size.lines, flush=True)
    time.sleep(0.1)
PY
# script(1) gives the program a pty of 97 columns and 31 lines at home.
lab_exec n1 sh -c "script -qfec 'stty cols 97 rows 31; ssirun python3 $LAB_FILES/tty.py' /dev/null > /tmp/tty.out 2>&1 &"
wait_until 10 lab_exec n1 test -s /tmp/tty.pid || { fail "the program did not start"; finish; }
sleep 1
out=$(lab_exec n1 ssictl migrate "$(lab_exec n1 cat /tmp/tty.pid)" n2 2>&1)
[ $? = 0 ] && ok "moved with a terminal: $out" || fail "moved with a terminal: $out"
wait_until 15 sh -c "ssilab exec n1 -- grep -q '^59 ' /tmp/tty.out"
summary=$(lab_exec n1 sh -c "tr -d '\r' < /tmp/tty.out" | awk '$1 ~ /^[0-9]+$/ { print $2, $3, $4, $5 }' | sort | uniq -c)
lines=$(lab_exec n1 sh -c "tr -d '\r' < /tmp/tty.out" | grep -c '^[0-9]')
if [ "$lines" = 60 ] && [ "$(echo "$summary" | wc -l)" = 1 ] && echo "$summary" | grep -q "60 True True 97 31"; then
	ok "all 60 lines, before and after the move, say: a tty, 97x31"
else
	fail "isatty and window size across the move ($lines lines): $summary"
fi
finish
