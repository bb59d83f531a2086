#!/bin/sh
# Node administration (issue #13), each command obeyed for root and refused for anyone else
# (nobody): 'ssictl block NODE' (offers to it are refused, 'ssictl nodes' shows it), 'unblock',
# 'expel' (the guests go home), 'drain' (blocked, guests home, its own processes moved away),
# and 'ssictl stay/nostay HOME:PID' (owner or root; 'ssictl ps' marks it). Balancing is off:
# every move here is asked for.
. "$(dirname "$0")/lib.sh"
lab_require_root
memhog=${SSI_TESTDIR:-$lab_top/build/tests}/memhog
[ -x "$memhog" ] || { echo "not ok - $memhog is missing (make check builds it)"; exit 1; }
command -v setpriv >/dev/null 2>&1 || skip "setpriv (util-linux) is not installed"
# Words put before a command run in a host (ssilab exec runs programs, not shell functions).
as_nobody="setpriv --reuid 65534 --regid 65534 --clear-groups"
as_other="setpriv --reuid 65533 --regid 65533 --clear-groups"

lab_up 3

# start HOST NAME [AS]: an ssi memhog on HOST (for 100 s), run by AS's words; prints its pid.
start() {
    # shellcheck disable=SC2086 # AS is words
    lab_exec "$1" ${3:-} sh -c "ssirun $memhog 4 2000 50 >/tmp/$2.out 2>&1 & echo \$! >/tmp/$2.pid"
    lab_exec "$1" cat "/tmp/$2.pid"
}
# where HOME PID: the node ps shows HOME:PID on.
where() { lab_exec n3 ssictl ps | awk -v h="$1" -v p="$2" '$1 == h && $2 == p { print $3 }'; }
is_on() { [ "$(where "$1" "$2")" = "$3" ]; }
state_of() { lab_exec "$1" ssictl nodes | awk -v n="$2" '$1 == n { print $2 }'; }
has_state() { [ "$(state_of "$1" "$2")" = "$3" ]; }

a=$(start n1 a)
wait_until 5 is_on n1 "$a" n1 || fail "process a did not show on n1"

# block / unblock
out=$(lab_exec n1 $as_nobody ssictl block n2 2>&1)
rc=$?
check "block n2 as nobody is refused (exit 1: '$out')" [ "$rc" = 1 ]
check "... saying only root may" sh -c "echo '$out' | grep -q 'only root may block a node (n2)'"
out=$(lab_exec n1 ssictl block n2 2>&1)
check "block n2 as root from n1: '$out'" [ "$out" = "n2 is blocked: it takes no new guests" ]
check "ssictl nodes on n3 shows n2 blocked (gossip)" wait_until 5 has_state n3 n2 blocked
out=$(lab_exec n1 ssictl migrate "$a" n2 2>&1)
check "a move to blocked n2 is refused: '$out'" sh -c "echo '$out' | grep -q 'n2 is blocked: it takes no guests'"
check "... and the process runs on at home" is_on n1 "$a" n1
out=$(lab_exec n2 $as_nobody ssictl unblock 2>&1)
check "unblock as nobody is refused: '$out'" sh -c "echo '$out' | grep -q 'only root may unblock'"
check "... and n2 is still blocked" has_state n2 n2 blocked
check "unblock as root on n2" lab_exec n2 ssictl unblock
check "ssictl nodes on n1 shows n2 up again" wait_until 5 has_state n1 n2 up
check "a move to n2 now works" lab_exec n1 ssictl migrate "$a" n2

# expel
out=$(lab_exec n2 $as_nobody ssictl expel 2>&1)
check "expel as nobody is refused: '$out'" sh -c "echo '$out' | grep -q 'only root may expel'"
sleep 1
check "... and the guest stays on n2" is_on n1 "$a" n2
out=$(lab_exec n2 ssictl expel 2>&1)
check "expel as root on n2: '$out'" [ "$out" = "n2: asked the homes of 1 guest to take them back" ]
check "the guest came home to n1" wait_until 15 is_on n1 "$a" n1

# drain: n1 runs its own a, and b of n2 as a guest
b=$(start n2 b)
wait_until 5 is_on n2 "$b" n2 || fail "process b did not show on n2"
check "b moves from n2 to n1" lab_exec n2 ssictl migrate "$b" n1
out=$(lab_exec n3 $as_nobody ssictl drain n1 2>&1)
check "drain n1 as nobody is refused: '$out'" sh -c "echo '$out' | grep -q 'only root may drain'"
check "... and n1 is not blocked" has_state n3 n1 up
out=$(lab_exec n3 ssictl drain n1 2>&1)
check "drain n1 as root from n3: '$out'" sh -c "echo '$out' | grep -q '^n1 is blocked and drains: asked the homes of 1 guest to take them back; 1 process of n1 moving to other nodes'"
check "the guest b went home to n2" wait_until 15 is_on n2 "$b" n2
check "n1's own a moved away (to n2 or n3)" wait_until 15 sh -c "ssilab exec n3 -- ssictl ps | grep -Eq '^n1 +$a n[23] '"
check "ssictl nodes shows n1 draining" wait_until 5 has_state n2 n1 draining
out=$(lab_exec n2 ssictl migrate "$b" n1 2>&1)
check "a move to draining n1 is refused: '$out'" sh -c "echo '$out' | grep -q 'n1 is draining'"
lab_exec n1 ssictl unblock n1 >/dev/null

# stay / nostay: owner or root
c=$(start n2 c "$as_nobody")
wait_until 5 is_on n2 "$c" n2 || fail "process c (nobody's) did not show on n2"
out=$(lab_exec n1 $as_other ssictl stay "n2:$c" 2>&1)
check "stay of nobody's process by uid 65533 is refused: '$out'" sh -c "echo '$out' | grep -q 'only its owner or root may use stay on it'"
check "stay by its owner (nobody), from n1" lab_exec n1 $as_nobody ssictl stay "n2:$c"
check "ssictl ps marks it [stay]" sh -c "ssilab exec n3 -- ssictl ps | grep -Eq '^n2 +$c .*\[stay\]'"
out=$(lab_exec n2 $as_other ssictl nostay "$c" 2>&1)
check "nostay by uid 65533 is refused: '$out'" sh -c "echo '$out' | grep -q 'only its owner or root may use nostay on it'"
check "nostay by root" lab_exec n2 ssictl nostay "$c"
check "ssictl ps no longer marks it" sh -c "! ssilab exec n3 -- ssictl ps | grep -Eq '^n2 +$c .*\[stay\]'"
out=$(lab_exec n2 ssictl stay 99999 2>&1)
check "stay of an unknown pid says so: '$out'" sh -c "echo '$out' | grep -q 'is not an ssi process whose home is n2'"

finish
