#!/bin/bash
# A program whose terminal is a pty at home keeps its terminal after it
# moves: isatty() and the window size answer as at home (python3's
# os.isatty and os.get_terminal_size, which call isatty() and
# ioctl(TIOCGWINSZ)), libc's own tcgetattr works, a resize at home is seen,
# and a tcsetattr away changes the home terminal.
. "$(dirname "$0")/lib.sh"
lab_require_root
command -v script >/dev/null || skip "script (util-linux) is not installed"
command -v python3 >/dev/null || skip "python3 is not installed"
lab_up 2
mkdir -p "$LAB_FILES"
cat >"$LAB_FILES/tty.py" <<'PY'
import os, termios, time
open("/tmp/tty.name", "w").write(os.ttyname(1))
open("/tmp/tty.pid", "w").write(str(os.getpid()))
for i in range(120):
    size = os.get_terminal_size(1)
    canon = bool(termios.tcgetattr(1)[3] & termios.ICANON)  # libc's tcgetattr: ioctl(TCGETS) inside libc
    print(i, os.isatty(0), os.isatty(1), size.columns, size.lines, canon, flush=True)
    if i == 40:
        a = termios.tcgetattr(1)
        a[3] &= ~termios.ECHO
        termios.tcsetattr(1, termios.TCSANOW, a)
    time.sleep(0.1)
time.sleep(3)  # the terminal outlives the last line for the echo check
PY
# script(1) gives the program a pty of 97 columns and 31 lines at home.
lab_exec n1 sh -c "script -qfec 'stty cols 97 rows 31; ssirun python3 $LAB_FILES/tty.py' /dev/null > /tmp/tty.out 2>&1 &"
wait_until 10 lab_exec n1 test -s /tmp/tty.pid || { fail "the program did not start"; finish; }
tty=$(lab_exec n1 cat /tmp/tty.name)
sleep 1
out=$(lab_exec n1 ssictl migrate "$(lab_exec n1 cat /tmp/tty.pid)" n2 2>&1)
[ $? = 0 ] && ok "moved with a terminal: $out" || fail "moved with a terminal: $out"
# Resized at home while it runs away: every line begun after the resize
# returned must say 120x40 (the line being printed then may not: +1).
wait_until 10 sh -c "ssilab exec n1 -- grep -q '^25 ' /tmp/tty.out"
lab_exec n1 stty -F "$tty" cols 120 rows 40
resized=$(lab_exec n1 sh -c "tr -d '\r' < /tmp/tty.out" | awk '$1 ~ /^[0-9]+$/ { n = $1 } END { print n + 1 }')
wait_until 25 sh -c "ssilab exec n1 -- grep -q '^119 ' /tmp/tty.out"
table=$(lab_exec n1 sh -c "tr -d '\r' < /tmp/tty.out" | awk '$1 ~ /^[0-9]+$/')
lines=$(echo "$table" | wc -l)
before=$(echo "$table" | awk '$1 < 25 { print $2, $3, $4, $5, $6 }' | sort | uniq -c)
after=$(echo "$table" | awk -v r="$resized" '$1 > r { print $2, $3, $4, $5 }' | sort | uniq -c)
if [ "$lines" = 120 ] && [ "$(echo "$before" | wc -l)" = 1 ] && echo "$before" | grep -q "25 True True 97 31 True"; then
	ok "120 lines; before the resize, moved or not: a tty, 97x31, canonical (tcgetattr works away)"
else
	fail "isatty, size and tcgetattr across the move ($lines lines): $before"
fi
nafter=$((119 - resized))
if [ "$nafter" -ge 10 ] && [ "$(echo "$after" | wc -l)" = 1 ] &&
	echo "$after" | grep -q " $nafter True True 120 40\$"; then
	ok "a resize of the home terminal is seen away: 120x40 on the $nafter lines after line $resized"
else
	fail "after the resize at home (line $resized): $after"
fi
if lab_exec n1 stty -F "$tty" -a | grep -q -- '-echo '; then
	ok "tcsetattr away turned echo off on the home terminal"
else
	fail "tcsetattr away did not reach the home terminal: $(lab_exec n1 stty -F "$tty" -a | head -4 | tail -1)"
fi
finish
