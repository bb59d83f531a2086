#!/bin/sh
# The virtual cluster keeps its hosts apart: each has its own /tmp, its own loopback, its own
# PID namespace and no route out of the lab; 'ssilab down' leaves nothing behind.
. "$(dirname "$0")/lib.sh"
lab_require_root

port=18765
tag=isolation-$$
lab_up 3

# ssilab up returns once every node sees all three up; check it from each side.
for h in n1 n2 n3; do
    if wait_until 5 lab_all_up "$h" 3; then
        ok "$h sees 3 nodes up"
    else
        fail "$h sees 3 nodes up: $(lab_exec "$h" ssictl nodes --json 2>&1)"
    fi
done

# Network: own address, no route out, nothing of the real host's network.
check "n2 has address $LAB_SUBNET.2 and its hostname is n2" \
    sh -c 'ssilab exec n2 -- ip -o -4 addr show dev eth0 | grep -q "inet $LAB_SUBNET.2/24" &&
           [ "$(ssilab exec n2 -- hostname)" = n2 ]'
# 'ip route get' only asks the routing table; nothing is sent.
if lab_exec n1 ip route get 192.0.2.1 >/dev/null 2>&1; then
    fail "n1 has no route out of the lab: $(lab_exec n1 ip route)"
else
    ok "n1 has no route out of the lab"
fi
if [ "$(lab_exec n1 ip -o link show | grep -cv ' lo: \| eth0@')" = 0 ]; then
    ok "n1 has only lo and its lab veth"
else
    fail "n1 has only lo and its lab veth: $(lab_exec n1 ip -o link show)"
fi

# /tmp: a file written in n1's /tmp is n1's alone.
lab_exec n1 sh -c "echo only-on-n1 > /tmp/$tag"
check "a file written in n1's /tmp is there" lab_exec n1 grep -q only-on-n1 "/tmp/$tag"
check "it is absent from n2's /tmp" sh -c "! ssilab exec n2 -- test -e /tmp/$tag"
check "it is absent from the real host's /tmp" test ! -e "/tmp/$tag"
check "/run is private too: n1 sees no /run/netns of the real host, but its own /run/ssi" \
    sh -c '! ssilab exec n1 -- test -e /run/netns && ssilab exec n1 -- test -d /run/ssi'

# Loopback: a server on n1's 127.0.0.1 (serving n1's /tmp) answers on n1 only.
if ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
    port=18766
fi
python=$(command -v python3 || echo /usr/bin/python3)
lab_exec n1 sh -c "cd /tmp && exec $python -m http.server --bind 127.0.0.1 $port >/dev/null 2>&1 &"
# get HOST ADDR: fetches /$tag from ADDR:$port inside HOST with bash's /dev/tcp.
get() {
    lab_exec "$1" timeout 2 bash -c "exec 3<>/dev/tcp/$2/$port && printf 'GET /$tag HTTP/1.0\r\n\r\n' >&3 && cat <&3" 2>/dev/null
}
if wait_until 5 sh -c "ssilab exec n1 -- ss -Hltn 'sport = :$port' | grep -q 127.0.0.1"; then
    ok "a server listens on n1's 127.0.0.1:$port"
else
    fail "a server listens on n1's 127.0.0.1:$port"
fi
if get n1 127.0.0.1 | grep -q only-on-n1; then
    ok "n1 reaches it on 127.0.0.1 and gets the file from n1's /tmp"
else
    fail "n1 reaches it on 127.0.0.1: $(get n1 127.0.0.1)"
fi
check "n2 does not reach it on 127.0.0.1" sh -c "! ssilab exec n2 -- timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$port' 2>/dev/null"
check "n2 does not reach it on $LAB_SUBNET.1 (bound to n1's loopback)" \
    sh -c "! ssilab exec n2 -- timeout 2 bash -c 'exec 3<>/dev/tcp/$LAB_SUBNET.1/$port' 2>/dev/null"
check "the real host does not reach it on 127.0.0.1" \
    sh -c "! timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$port' 2>/dev/null"

# PID namespaces: small pids, the holder is pid 1, n2 cannot see n1's processes.
p=$(lab_exec n1 sh -c 'echo $$')
if [ -n "$p" ] && [ "$p" -lt 1000 ]; then ok "a shell in n1 has a small pid ($p)"; else fail "a shell in n1 has a small pid: '$p'"; fi
nspid=$(grep NSpid "/proc/$(lab_holder_pid n1)/status" | awk '{ print $NF }')
check "n1's holder is pid 1 in its own PID namespace (NSpid ends in '$nspid')" test "$nspid" = 1
check "pid 1 of n2 is its holder" sh -c 'ssilab exec n2 -- cat /proc/1/cmdline | tr "\0" " " | grep -q holder'
check "n1 sees its http server in ps" sh -c 'ssilab exec n1 -- ps -eo args | grep -q "[h]ttp.server"'
check "n2 does not see n1's http server in ps" sh -c '! ssilab exec n2 -- ps -eo args | grep -q "[h]ttp.server"'
outer=$(pgrep -f "http.server --bind 127.0.0.1 $port" | head -n 1)
check "n2's /proc has no entry for the server's real pid ($outer)" \
    sh -c "[ -n '$outer' ] && ! ssilab exec n2 -- sh -c 'grep -qs http.server /proc/$outer/cmdline'"
n2count=$(lab_exec n2 ps -e --no-headers | wc -l)
if [ "$n2count" -lt 10 ]; then ok "n2's ps lists only its own few processes ($n2count)"; else fail "n2's ps lists $n2count processes"; fi

# ssilab down leaves nothing: no namespace, process, cgroup, mount or state.
pids="$(lab_holder_pid n1) $(lab_holder_pid n2) $(lab_holder_pid n3) $outer"
for h in n1 n2 n3; do pids="$pids $(cat "$SSILAB_DIR/$h/unshare.pid")"; done
lab_down
check "no ssilab network namespace is left" sh -c "! ip netns list | grep -q '^ssilab$lab_tag-'"
alive=""
for p in $pids; do
    # a zombie is not a live process: it holds no namespace, only waits for its parent
    st=$(awk '{ print $3 }' "/proc/$p/stat" 2>/dev/null)
    [ -n "$st" ] && [ "$st" != Z ] && alive="$alive $p"
done
check "no lab process is left (holders, unshare, the server:$pids)" test -z "$alive"
check "no ssid is left in a lab namespace" sh -c '! pgrep -f "ssid --cluster $SSILAB_DIR/cluster.conf" >/dev/null'
check "no ssilab cgroup is left" sh -c "! ls -d /sys/fs/cgroup/cpu/ssilab$lab_tag /sys/fs/cgroup/ssilab$lab_tag 2>/dev/null | grep -q ."
check "no ssilab mount is left" sh -c "! grep -q 'ssilab$lab_tag-' /proc/self/mountinfo"
check "the state directory is gone" test ! -e "$SSILAB_DIR/cluster.conf"
check "ssilab down again says nothing is up and exits 0" sh -c 'ssilab down | grep -q "no lab is up"'

finish
