#!/bin/sh
# tests/layout.sh - keeps the layout honest (docs/ARCHITECTURE.md, "Folders
# and their rules"). Three checks, each printed as one "ok - ..." or
# "not ok - ..." line; exits 1 if any fails:
#
#   calls     no circle of calls between modules (a module is one .c file).
#             Read from the compiled objects (build/obj, build/pic) with nm:
#             each undefined symbol of an object is tied to the object that
#             defines it in the same program or library (the link lines of
#             the Makefile, read with `make -pq`), which gives a graph
#             file -> file; every strongly connected component with more
#             than one file is a circle and is printed with the symbols
#             that tie each edge.
#   includes  every #include "..." of a source file resolves, as cc would
#             resolve it (the file's own folder, then its part's -I path),
#             to a header in a folder its part may see: the table below,
#             which Makefile.in's INC_* variables must match.
#   size      no source file above 1,200 lines, unless its first line is a
#             comment saying it is "one table".
#
# Needs a build (make); /usr/bin/python3 and nm (binutils). Run from
# `make layout-check` or tests/run-all. SSI_BUILDDIR overrides build/.

top=$(cd "$(dirname "$0")/.." && pwd)
build=${SSI_BUILDDIR:-$top/build}
# The program -> objects table from make's database (no recipe runs); a
# make that calls us must not pass its flags (-j, jobserver) down.
programs=$(mktemp)
trap 'rm -f "$programs"' EXIT
if [ -f "$top/Makefile" ]; then
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$top" -pqrR 2>/dev/null >"$programs"
fi
/usr/bin/python3 - "$top" "$build" "$programs" <<'EOF'
import os, re, subprocess, sys
from collections import defaultdict, deque

top, build, programs_db = sys.argv[1], sys.argv[2], sys.argv[3]
MAX_LINES = 1200
failed = 0

def ok(msg):
    print("ok - layout: " + msg)

def notok(msg, details=()):
    global failed
    failed += 1
    print("not ok - layout: " + msg)
    for d in details:
        print("#   " + d)

def rel(p):
    return os.path.relpath(p, top)

# ---- (a) circles of calls --------------------------------------------------

def source_of(obj):
    """build/obj/wire/ssi_msg.o and build/pic/wire/ssi_msg.o -> wire/ssi_msg.c"""
    r = os.path.relpath(obj, build)
    parts = r.split(os.sep, 1)
    return parts[1][:-2] + ".c" if len(parts) == 2 else r

def read_programs():
    """{program: [objects]} from make -p: every target in the build folder
    linked from objects; an archive stands for its members."""
    rules = {}
    try:
        text = open(programs_db).read()
    except OSError:
        text = ""
    for line in text.splitlines():
        if not line or line[0] in "#\t " or "%" in line:
            continue
        m = re.match(r"^([^:=\s]+):(?!=)\s*(.*)$", line)
        if not m or "=" in m.group(2):
            continue
        rules[m.group(1)] = m.group(2).split()
    def members(t, seen=()):
        out = []
        for p in rules.get(t, []):
            if p.endswith(".o"):
                out.append(os.path.join(top, p))
            elif p.endswith(".a") and p not in seen:
                out += members(p, seen + (p,))
        return out
    progs = {}
    bdir = rel(build)
    for t, pre in rules.items():
        if t.endswith((".o", ".a", ".d")) or not t.startswith(bdir + "/"):
            continue
        objs = members(t)
        if objs:
            progs[t] = sorted(set(objs))
    return progs

def nm_table(objs):
    """{obj: (defined globals, undefined)}"""
    out = {o: (set(), set()) for o in objs}
    if not objs:
        return out
    res = subprocess.run(["nm", "-P", "-A"] + objs, capture_output=True, text=True)
    if res.returncode != 0:
        sys.stderr.write(res.stderr)
    for line in res.stdout.splitlines():
        m = re.match(r"^(.*?\.o): (\S+) (\S)", line)
        if not m or m.group(1) not in out:
            continue
        o, sym, t = m.group(1), m.group(2), m.group(3)
        if t in "Uw":
            out[o][1].add(sym)
        elif t.isupper() or t in "vV":
            out[o][0].add(sym)
    return out

def check_calls():
    progs = read_programs()
    found = []
    for sub in ("obj", "pic"):
        for d, _, files in os.walk(os.path.join(build, sub)):
            found += [os.path.join(d, f) for f in files if f.endswith(".o")]
    if not found:
        notok("no objects under %s: build first (make)" % rel(build))
        return
    if not progs:
        # No Makefile: each tree is taken as one program.
        progs = {"obj": [o for o in found if "/obj/" in o],
                 "pic": [o for o in found if "/pic/" in o]}
    table = nm_table(sorted({o for objs in progs.values() for o in objs if os.path.exists(o)}))
    edges = defaultdict(set)  # (from file, to file) -> symbols
    nodes = set()
    for prog, objs in progs.items():
        definer = defaultdict(list)
        for o in objs:
            if o in table:
                nodes.add(source_of(o))
                for s in table[o][0]:
                    definer[s].append(o)
        for o in objs:
            if o not in table:
                continue
            a = source_of(o)
            for s in table[o][1]:
                for d in definer.get(s, []):
                    b = source_of(d)
                    if b != a:
                        edges[(a, b)].add(s)
    succ = defaultdict(set)
    for a, b in edges:
        succ[a].add(b)
    sccs = tarjan(sorted(nodes), succ)
    circles = [c for c in sccs if len(c) > 1]
    if not circles:
        ok("no circle of calls between modules (%d modules, %d edges)" % (len(nodes), len(edges)))
        return
    for comp in circles:
        members = set(comp)
        lines = []
        seen = set()
        # One shortest circle through each edge of the component not yet
        # shown: together they show every tie that has to be cut.
        for a, b in sorted(e for e in edges if e[0] in members and e[1] in members):
            if (a, b) in seen:
                continue
            path = shortest(b, a, succ, members)
            cyc = [a] + path
            steps = list(zip(cyc, cyc[1:]))
            seen.update(steps)
            lines.append("; ".join("%s -> %s: %s" % (x, y, ", ".join(sorted(edges[(x, y)])))
                                   for x, y in steps))
        notok("circle of calls between %d modules: %s" % (len(comp), lines[0]),
              ["modules: " + " ".join(sorted(comp))] + lines[1:])

def tarjan(nodes, succ):
    """Strongly connected components (iterative Tarjan)."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(succ[root])))]
        index[root] = low[root] = counter[0]; counter[0] += 1
        stack.append(root); on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        x = stack.pop(); on.discard(x); comp.append(x)
                        if x == v:
                            break
                    out.append(comp)
            elif w not in index:
                index[w] = low[w] = counter[0]; counter[0] += 1
                stack.append(w); on.add(w)
                work.append((w, iter(sorted(succ[w]))))
            elif w in on:
                low[v] = min(low[v], index[w])
    return out

def shortest(src, dst, succ, members):
    """Nodes of a shortest path src .. dst inside members (both included)."""
    prev = {src: None}
    q = deque([src])
    while q:
        v = q.popleft()
        if v == dst:
            break
        for w in sorted(succ[v]):
            if w in members and w not in prev:
                prev[w] = v
                q.append(w)
    path, v = [], dst
    while v is not None:
        path.append(v)
        v = prev[v]
    return path[::-1]

# ---- (b) include rules ---------------------------------------------------------

# What each part may include (docs/ARCHITECTURE.md, "Folders and their
# rules"), as folders; a file may also include from its own folder. The
# most specific prefix wins. The second column is the Makefile.in variable
# that must give the same path to the compiler.
LIBSSI = ["wire", "rpc", "ssi", "vfs-proxy", "netproxy"]
PARTS = [
    ("wire/", ["wire"], "INC_WIRE"),
    ("rpc/", ["wire", "rpc"], "INC_RPC"),
    ("ctl/", ["wire", "ctl"], "INC_CTL"),
    ("ssi/away/", LIBSSI + ["ssi/away"], "INC_AWAY"),
    ("vfs-proxy/away/", LIBSSI + ["ssi/away"], "INC_AWAY"),
    ("netproxy/away/", LIBSSI + ["ssi/away"], "INC_AWAY"),
    ("ssi/home/", LIBSSI + ["ssi/home"], "INC_HOME"),
    ("vfs-proxy/home/", LIBSSI + ["ssi/home"], "INC_HOME"),
    ("netproxy/home/", LIBSSI + ["ssi/home"], "INC_HOME"),
    # The shim's common code wires both sides together.
    ("ssi/", LIBSSI + ["ssi/away", "ssi/home"], "INC_SHIM"),
    ("vfs-proxy/", LIBSSI, "INC_LIBSSI"),
    ("netproxy/", LIBSSI, "INC_LIBSSI"),
    ("ssid/", ["wire", "rpc", "ctl", "ssid"], "INC_SSID"),
    ("helpers/", ["wire", "rpc", "helpers"], "INC_HELPERS"),
    ("restore/", ["wire", "rpc", "restore"], "INC_RESTORE"),
    ("launcher/", ["wire", "ctl"], "INC_TOOLS"),
    ("tests/bench/", ["wire", "rpc"], "INC_RPC"),
    ("tests/", ["wire", "rpc", "ctl", "ssid", "helpers"], "INC_TESTS"),
]

def part_of(path):
    best = None
    for p in PARTS:
        if path.startswith(p[0]) and (best is None or len(p[0]) > len(best[0])):
            best = p
    return best

def makefile_inc():
    """INC_* of Makefile.in as lists of folders."""
    var = {}
    try:
        text = open(os.path.join(top, "Makefile.in")).read()
    except OSError:
        return var
    for m in re.finditer(r"^(INC_\w+)\s*=\s*(.*)$", text, re.M):
        words = []
        for w in m.group(2).split():
            r = re.match(r"^\$\((INC_\w+)\)$", w)
            if r:
                words += var.get(r.group(1), [])
            elif w.startswith("-I"):
                words.append(os.path.normpath(w[2:]))
        var[m.group(1)] = words
    return var

def sources():
    out = []
    for d, dirs, files in os.walk(top):
        r = rel(d)
        dirs[:] = [x for x in dirs if not x.startswith(".") and
                   os.path.join(r, x) not in ("./build", rel(build))]
        for f in files:
            if f.endswith((".c", ".h")):
                out.append(os.path.normpath(os.path.join(r, f)))
    return sorted(out)

def check_includes(files):
    bad = []
    inc = makefile_inc()
    for prefix, allowed, var in PARTS:
        if var in inc and inc[var] != allowed:
            bad.append("Makefile.in %s is -I%s, the rule for %s is -I%s" %
                       (var, " -I".join(inc[var]), prefix, " -I".join(allowed)))
    everywhere = defaultdict(list)
    for f in files:
        everywhere[os.path.basename(f)].append(f)
    for f in files:
        part = part_of(f)
        if part is None:
            continue
        own = os.path.dirname(f)
        path = [own] + part[1]
        try:
            lines = open(os.path.join(top, f), errors="replace").read().splitlines()
        except OSError:
            continue
        for n, line in enumerate(lines, 1):
            m = re.match(r'^\s*#\s*include\s*"([^"]+)"', line)
            if not m:
                continue
            name = m.group(1)
            hit = None
            for d in path:
                cand = os.path.normpath(os.path.join(d, name))
                if os.path.isfile(os.path.join(top, cand)):
                    hit = cand
                    break
            if hit and os.path.dirname(hit) in path:
                continue
            if hit:
                why = "reaches %s, outside its path" % hit
            elif everywhere.get(os.path.basename(name)):
                why = "which is in %s" % ", ".join(everywhere[os.path.basename(name)])
            else:
                why = "found nowhere"
            bad.append('%s:%d includes "%s" (%s): %s may include only %s' %
                       (f, n, name, why, part[0], " ".join(part[1])))
    if bad:
        notok("%d include%s outside the part's path: %s" %
              (len(bad), "" if len(bad) == 1 else "s", bad[0]), bad[1:])
    else:
        ok("every #include \"...\" stays inside its part's include path (%d files)" % len(files))

# ---- (c) file size ---------------------------------------------------------------

def check_sizes(files):
    big = []
    for f in files:
        try:
            lines = open(os.path.join(top, f), errors="replace").read().splitlines()
        except OSError:
            continue
        first = lines[0].strip() if lines else ""
        table = first.startswith(("/*", "//")) and "one table" in first
        if len(lines) > MAX_LINES and not table:
            big.append((len(lines), f))
    if big:
        big.sort(reverse=True)
        notok("%d source file%s above %d lines: %s" %
              (len(big), "" if len(big) == 1 else "s", MAX_LINES,
               ", ".join("%s (%d)" % (f, n) for n, f in big)),
              ["split them by what they do, or start a file that is one table with a "
               "comment line saying \"one table\""])
    else:
        ok("no source file above %d lines" % MAX_LINES)

files = sources()
check_calls()
check_includes(files)
check_sizes(files)
sys.exit(1 if failed else 0)
EOF
