#!/bin/sh
# Installing ssi as a Debian package build would (issue #16): a copy of the tree is configured
# with the options and flags debhelper passes, built, installed with DESTDIR into a staging
# root, and the staged tree must be exactly the expected list of files. Then a 2-host lab runs
# ON THE INSTALLED COPY (ssid from sbin, its helpers and libssi.so from lib/<triplet>/ssi): a
# program moves n1 -> n2 -> home; every installed tool's --version agrees; nodes --json shows
# the versions; the installed completion completes a pid. Last, 'make uninstall DESTDIR=...'
# leaves nothing behind. The tree's own build/ is never touched.
top=$(cd "$(dirname "$0")/../.." && pwd)
# Under /var/tmp: the lab's hosts have a private /tmp, and must see the installed copy.
work=$(mktemp -d /var/tmp/ssi-install.XXXXXX) || {
	echo "not ok - mktemp -d /var/tmp/ssi-install.XXXXXX failed"
	exit 1
}
root=$work/root
triplet=x86_64-linux-gnu
SSI_BINDIR=$root/usr/bin
PATH=$root/usr/sbin:$PATH
export SSI_BINDIR PATH
. "$top/tests/integ/lib.sh"
trap 'rm -rf "$work"' EXIT
# lab_up replaces the EXIT trap and calls finish when it fails: finish removes the copy too.
finish() {
	rm -rf "$work"
	printf '%d passed, %d failed\n' "$lab_passed" "$lab_failed"
	[ "$lab_failed" = 0 ] && exit 0
	exit 1
}
[ "$(uname -m)" = x86_64 ] || skip "the restorer is x86-64 only"

# A copy of the sources (not build/, not the configured Makefile).
mkdir -p "$work/src"
(cd "$top" && tar --exclude=./build --exclude=./Makefile --exclude=./.git -cf - .) |
	tar -C "$work/src" -xf - || { fail "cannot copy the tree"; finish; }

# What dh_auto_configure passes (Debian 12), with dpkg-buildflags' hardening flags, an option
# ssi does not know, and a variable it does not use.
cd "$work/src" || exit 1
./configure --build=$triplet --prefix=/usr --includedir=\${prefix}/include \
	--mandir=\${prefix}/share/man --infodir=\${prefix}/share/info --sysconfdir=/etc \
	--localstatedir=/var --disable-option-checking --disable-silent-rules \
	--libdir=\${prefix}/lib/$triplet --runstatedir=/run --disable-maintainer-mode \
	--disable-dependency-tracking --libexecdir=\${prefix}/lib/$triplet --enable-frobnicate \
	--no-install-deps FOO=bar \
	CFLAGS="-g -O2 -ffile-prefix-map=$work/src=. -fstack-protector-strong -Wformat -Werror=format-security" \
	CPPFLAGS="-Wdate-time -D_FORTIFY_SOURCE=2" LDFLAGS="-Wl,-z,relro -Wl,-z,now" \
	>"$work/configure.log" 2>&1
rc=$?
if [ "$rc" = 0 ] && grep -q "note: unrecognized option --enable-frobnicate ignored" "$work/configure.log" &&
	grep -q "note: variable FOO is not used" "$work/configure.log"; then
	ok "configure takes Debian's options (unknown ones noted: $(grep -c 'note:' "$work/configure.log"))"
else
	fail "configure (exit $rc): $(cat "$work/configure.log")"
	finish
fi
make -j2 >"$work/make.log" 2>&1 || { fail "make: $(tail -n 20 "$work/make.log")"; finish; }
# The user's flags reach every compile and link, after ours; CPPFLAGS is not replaced.
line=$(grep -E '^cc .* -c -o build/obj/ssid/ssid\.o' "$work/make.log")
link=$(grep -E '^cc .* -o build/bin/ssid ' "$work/make.log")
case "$line" in
*"-D_GNU_SOURCE"*"-Wdate-time -D_FORTIFY_SOURCE=2"*"-std=gnu11"*"-fstack-protector-strong"*)
	ok "the Makefile puts CPPFLAGS and CFLAGS after its own flags" ;;
*) fail "ssid.o compiled as: $line" ;;
esac
case "$link" in
*"-Wl,-z,relro -Wl,-z,now"*) ok "LDFLAGS reach the link" ;;
*) fail "ssid linked as: $link" ;;
esac
make install DESTDIR="$root" >"$work/install.log" 2>&1 ||
	{ fail "make install: $(tail -n 20 "$work/install.log")"; finish; }

# The exact tree.
lib=usr/lib/$triplet
want="usr/bin/ssictl
usr/bin/ssilab
usr/bin/ssirun
$lib/ssi/libssi.so
$lib/ssi/ssi-agent
$lib/ssi/ssi-ckpt
$lib/ssi/ssi-freeze
$lib/ssi/ssi-restore
$lib/ssi/ssi-xfer
usr/lib/systemd/system/ssid.service
usr/sbin/ssid
usr/share/bash-completion/completions/ssictl
usr/share/man/man1/ssictl.1
usr/share/man/man1/ssilab.1
usr/share/man/man1/ssirun.1
usr/share/man/man5/ssi-cluster.5
usr/share/man/man8/ssi-helpers.8
usr/share/man/man8/ssid.8"
got=$(cd "$root" && find . ! -type d | sed 's|^\./||' | LC_ALL=C sort)
want=$(printf '%s\n' "$want" | LC_ALL=C sort)
if [ "$got" = "$want" ]; then
	ok "make install DESTDIR: the expected $(printf '%s\n' "$got" | wc -l) files, nothing else"
else
	fail "installed tree differs (< expected, > installed): $(printf '%s\n' "$want" >"$work/want"
		printf '%s\n' "$got" | diff "$work/want" - | grep '^[<>]' | tr '\n' ' ')"
fi
unit=$root/usr/lib/systemd/system/ssid.service
grep -qx "KillMode=process" "$unit" && grep -q "^ExecStart=.*exec /usr/sbin/ssid --cluster /etc/ssi/cluster.conf" "$unit" &&
	! grep -q @ "$unit" && ok "ssid.service runs /usr/sbin/ssid with /etc/ssi, KillMode=process" ||
	fail "ssid.service: $(grep -E '^(ExecStart|KillMode)' "$unit")"

# systemd's own check of the unit, when there is one (any complaint fails it; it reads the
# installed man pages its Documentation= names).
if command -v systemd-analyze >/dev/null 2>&1; then
	v=$(MANPATH=$root/usr/share/man timeout 30 systemd-analyze verify "$unit" 2>&1)
	rc=$?
	[ "$rc" = 0 ] && [ -z "$v" ] && ok "systemd-analyze verify: the unit is clean" ||
		fail "systemd-analyze verify (exit $rc): $v"
else
	note "systemd-analyze not installed: the unit's syntax is not checked"
fi

# Every tool and helper, installed, says the same version.
want_v=$(sed -n 1p "$top/VERSION")
bad=""
for t in usr/bin/ssictl usr/bin/ssirun usr/bin/ssilab usr/sbin/ssid $lib/ssi/ssi-agent \
	$lib/ssi/ssi-freeze $lib/ssi/ssi-xfer $lib/ssi/ssi-restore $lib/ssi/ssi-ckpt; do
	v=$("$root/$t" --version 2>&1)
	case "$v" in
	"${t##*/} (ssi) $want_v" | "${t##*/} (ssi) $want_v, protocol "*) ;;
	*) bad="$bad ${t##*/}('$v')" ;;
	esac
done
[ -z "$bad" ] && ok "the 8 installed programs' --version all say $want_v" || fail "--version:$bad"
h=$("$root/$lib/ssi/ssi-agent" --help)
case "$h" in
*"not run by users"*) ok "a helper's --help: $h" ;;
*) fail "ssi-agent --help: $h" ;;
esac

# A lab on the installed copy.
lab_require_root
command -v python3 >/dev/null || skip "python3 is not installed"
[ "$(command -v ssilab)" = "$root/usr/bin/ssilab" ] && [ "$(command -v ssid)" = "$root/usr/sbin/ssid" ] ||
	fail "not the installed tools: $(command -v ssilab) $(command -v ssid)"
lab_up 2
trap 'lab_rc=$?; lab_down; rm -rf "$work"; exit $lab_rc' EXIT
grep -q "helpers in $root/$lib/ssi$" "$(lab_log n1)" &&
	ok "ssid found its helpers in the installed copy: $root/$lib/ssi" ||
	fail "ssid's helpers: $(grep 'helpers in' "$(lab_log n1)")"
json=$(lab_exec n1 ssictl nodes --json)
n=$(printf '%s' "$json" | grep -o "\"version\":\"$want_v\"" | wc -l)
[ "$n" = 2 ] && ok "nodes --json shows version $want_v for both nodes" || fail "nodes --json: $json"

mkdir -p "$LAB_FILES"
prog=$LAB_FILES/count.py
cat >"$prog" <<'PY'
import os, sys, time
with open("/tmp/count.pid", "w") as f:
    f.write("%d\n" % os.getpid())
for i in range(int(sys.argv[1])):
    print(i, flush=True)
    time.sleep(0.05)
sys.exit(3)
PY
lab_exec n1 sh -c "{ ssirun python3 $prog 140 2>&1; echo \$? >/tmp/count.rc; } | cat >/tmp/count.out &"
wait_until 10 lab_exec n1 test -s /tmp/count.pid || { fail "the program did not start"; finish; }
pid=$(lab_exec n1 cat /tmp/count.pid)
maps=$(lab_exec n1 grep -o "/[^ ]*libssi.so" "/proc/$pid/maps" | sort -u)
[ "$maps" = "$root/$lib/ssi/libssi.so" ] && ok "ssirun preloaded the installed libssi.so" ||
	fail "libssi.so mapped from '$maps'"
# Completion of 'ssictl migrate <TAB>', from the installed file, inside n1.
comp=$(lab_exec n1 bash -c ". $root/usr/share/bash-completion/completions/ssictl
	COMP_WORDS=(ssictl migrate ''); COMP_CWORD=2; _ssictl; echo \${COMPREPLY[*]}")
case " $comp " in
*" $pid "*"n1:$pid "*) ok "the installed completion offers $pid and n1:$pid" ;;
*) fail "completion of 'ssictl migrate ': '$comp'" ;;
esac
# After an option and its value, the pid is still the first argument, the node the second.
comp=$(lab_exec n1 bash -c ". $root/usr/share/bash-completion/completions/ssictl
	COMP_WORDS=(ssictl migrate --timeout 30 ''); COMP_CWORD=4; _ssictl; echo \${COMPREPLY[*]}
	COMP_WORDS=(ssictl migrate --json $pid ''); COMP_CWORD=4; _ssictl; echo \${COMPREPLY[*]}")
comp=$(echo $comp)
case " $comp " in
*" $pid "*n1:$pid*home*n2*) ok "completion skips migrate's options: '$comp'" ;;
*) fail "completion after options: '$comp'" ;;
esac
out=$(lab_exec n1 ssictl migrate "$pid" n2 2>&1) && ok "installed copy: migrate to n2: $out" ||
	fail "migrate to n2: $out"
sleep 0.5
out=$(lab_exec n1 ssictl migrate "$pid" home 2>&1) && ok "installed copy: migrate home: $out" ||
	fail "migrate home: $out"
if wait_until 20 lab_exec n1 test -s /tmp/count.rc && [ "$(lab_exec n1 cat /tmp/count.rc)" = 3 ] &&
	[ "$(lab_exec n1 cat /tmp/count.out | tr '\n' ' ')" = "$(seq 0 139 | tr '\n' ' ')" ]; then
	ok "the program printed every line once, in order, through both moves and exited 3"
else
	fail "program: rc '$(lab_exec n1 cat /tmp/count.rc)', output $(lab_exec n1 cat /tmp/count.out | tr '\n' ' ')"
fi
lab_down

# Uninstall leaves nothing, not even the directories install made.
make uninstall DESTDIR="$root" >"$work/uninstall.log" 2>&1 ||
	fail "make uninstall: $(tail -n 5 "$work/uninstall.log")"
left=$(cd "$root" 2>/dev/null && find . -mindepth 1 | head -n 10)
[ -d "$root" ] && [ -z "$left" ] && ok "make uninstall DESTDIR: nothing left under it" ||
	fail "left after uninstall: $left"
finish
