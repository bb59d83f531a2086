#!/usr/bin/env python3
"""No circle of calls between libssi.so's files: from nm on its objects
(build/pic), object A depends on object B when A leaves undefined a symbol
that B defines. Prints every dependency (-v) and every circle (a strongly
connected set of more than one object); exits 1 if there is one.
Usage: tests/layers.py [-v] [build/pic | OBJECT.o ...]"""
import glob
import os
import subprocess
import sys

verbose = '-v' in sys.argv
args = [a for a in sys.argv[1:] if a != '-v']
if args and all(a.endswith('.o') for a in args):
    objs = sorted(args)
    root = os.path.commonpath(objs) if len(objs) > 1 else os.path.dirname(objs[0])
else:
    root = args[0] if args else 'build/pic'
    objs = sorted(glob.glob(os.path.join(root, '**', '*.o'), recursive=True))
if not objs:
    sys.exit(f'layers: no objects under {root} (build first)')
defined, undefined = {}, {}
for o in objs:
    name = os.path.relpath(o, root)
    undefined[name] = set()
    out = subprocess.run(['nm', '-g', o], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        f = line.split()
        if len(f) == 2 and f[0] == 'U':
            undefined[name].add(f[1])
        elif len(f) == 3 and f[1] in 'TDBRVWC':
            defined[f[2]] = name
deps = {o: {} for o in undefined}
for a, syms in undefined.items():
    for s in syms:
        b = defined.get(s)
        if b and b != a:
            deps[a].setdefault(b, []).append(s)
if verbose:
    for a in sorted(deps):
        for b in sorted(deps[a]):
            print(f"{a} -> {b}: {' '.join(sorted(deps[a][b]))}")

# Tarjan's strongly connected components.
index, low, stack, on, circles, counter = {}, {}, [], set(), [], [0]
def visit(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on.add(v)
    for w in deps[v]:
        if w not in index:
            visit(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop()
            on.discard(w)
            comp.append(w)
            if w == v:
                break
        if len(comp) > 1:
            circles.append(sorted(comp))
sys.setrecursionlimit(10000)
for v in sorted(deps):
    if v not in index:
        visit(v)
for c in circles:
    print('circle: ' + ' <-> '.join(c))
print(f'layers: {len(objs)} objects, {len(circles)} circle(s)')
sys.exit(1 if circles else 0)
