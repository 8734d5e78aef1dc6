"""The folders are layers and includes go downwards only (README, "How it
works"): daemon -> consumers -> state/engine -> state/store and state/model
-> base; state/fit (offline) may use the model and the store.  Every
`#include "..."` of the tree is checked:

- it goes to the same layer or one its layer may use, never up;
- outside the model, only the model's facade (state/model/model.h) is
  included; the model's own unit tests may include its inner headers;
- no cycle between modules (a module is x.c with x.h, and x_int.h if it is
  split behind a private header), so none between the files of one folder
  and none between folders;
- hiredis is included by the store only, librdkafka by consumers/ only.

Every finding names the include as file:line."""
import os
import re
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# Each layer and the layers it may include (itself included).
MAY_USE = {
    "base": {"base"},
    "state/model": {"base", "state/model"},
    "state/store": {"base", "state/model", "state/store"},
    "state/engine": {"base", "state/model", "state/store", "state/engine"},
    "state/fit": {"base", "state/model", "state/store", "state/fit"},
    "consumers": {"base", "state/model", "state/store", "state/engine", "consumers"},
    "daemon": {"base", "state/model", "state/store", "state/engine", "state/fit",
               "consumers", "daemon"},
}
# Folders of C outside the layers: they may include any layer.
OUTSIDE = ("tests/", "bench/")
# Their files that may include the model's inner headers.
MODEL_TESTS = "tests/unit/"
MODEL = "state/model"
FACADE = "state/model/model.h"
# Made by the build, found on its include path (Makefile).
GENERATED = {"store_lib.inc"}
# Library headers (<dir/...>) and the layers allowed to include them.
LIBRARIES = {"hiredis": {"state/store"}, "librdkafka": {"consumers"}}

QUOTED = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
ANGLED = re.compile(r'^\s*#\s*include\s+<([^>/]+)/')


def layer_of(path):
    """The layer a file belongs to: the longest layer folder it is in."""
    best = None
    for name in MAY_USE:
        if path.startswith(name + "/") and (best is None or len(name) > len(best)):
            best = name
    return best


def module_of(path):
    """x for x.c, x.h and x_int.h, the private header of a module split
    into several files."""
    stem = os.path.splitext(path)[0]
    return stem[:-len("_int")] if stem.endswith("_int") else stem


def includes(files):
    """(file, line number, included path or None, the text) of every quoted
    include; the path as the compiler finds it (beside the file, then from
    the root), None if it is no file of the tree."""
    for path in sorted(files):
        for n, line in enumerate(files[path].splitlines(), 1):
            m = QUOTED.match(line)
            if not m:
                continue
            name = m.group(1)
            beside = os.path.normpath(os.path.join(os.path.dirname(path), name))
            target = beside if beside in files else name if name in files else None
            yield path, n, target, name


def layer_findings(files):
    out = []
    for path in sorted(files):
        if layer_of(path) is None and not path.startswith(OUTSIDE):
            out.append("%s: in no layer (README lists the folders)" % path)
    for path, n, target, name in includes(files):
        src = layer_of(path)
        if target is None:
            if os.path.basename(name) not in GENERATED:
                out.append('%s:%d: #include "%s" names no file of the tree' % (path, n, name))
            continue
        dst = layer_of(target)
        if src is not None and dst not in MAY_USE[src]:
            out.append('%s:%d: #include "%s" goes up or across: %s may include %s only'
                       % (path, n, name, src, ", ".join(sorted(MAY_USE[src]))))
        if (dst == MODEL and src != MODEL and target != FACADE
                and not path.startswith(MODEL_TESTS)):
            out.append('%s:%d: #include "%s": outside the model include %s only'
                       % (path, n, name, FACADE))
    return out


def library_findings(files):
    out = []
    for path in sorted(files):
        src = layer_of(path)
        if src is None:
            continue
        for n, line in enumerate(files[path].splitlines(), 1):
            m = ANGLED.match(line)
            if m and m.group(1) in LIBRARIES and src not in LIBRARIES[m.group(1)]:
                out.append("%s:%d: %s includes %s; only %s may" % (
                    path, n, src, m.group(1), ", ".join(sorted(LIBRARIES[m.group(1)]))))
    return out


def cycles(files):
    """The include cycles between modules, each as the includes that close it."""
    edges = {}
    for path, n, target, name in includes(files):
        if target is None or module_of(target) == module_of(path):
            continue
        edges.setdefault(module_of(path), {}).setdefault(
            module_of(target), "%s:%d: #include \"%s\"" % (path, n, name))
    # Tarjan's strongly connected components, without recursion.
    index, low, stack, on, comps = {}, {}, [], set(), []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, {}))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges.get(w, {})))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    comps.append(sorted(comp))
    out = []
    for comp in comps:
        members = set(comp)
        links = [edges[a][b] for a in comp for b in sorted(edges.get(a, {})) if b in members]
        out.append("cycle between %s (shortest: %s):\n    %s" % (
            ", ".join(comp), " -> ".join(shortest_cycle(edges, comp)),
            "\n    ".join(links)))
    return out


def shortest_cycle(edges, comp):
    """The modules of a shortest cycle through comp[0], back to it."""
    members, start = set(comp), comp[0]
    prev, queue = {}, [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(edges.get(v, {})):
            if w not in members or w in prev:
                continue
            prev[w] = v
            if w == start:
                path = [start]
                while path[-1] != start or len(path) == 1:
                    path.append(prev[path[-1]])
                return path[::-1]
            queue.append(w)
    return [start]


def tree_sources():
    """{path: text} of the tree's C files (tracked or new, not ignored)."""
    names = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                            "--exclude-standard", "--", "*.c", "*.h"],
                           cwd=ROOT, check=True, capture_output=True).stdout.decode()
    files = {}
    for name in filter(None, names.split("\0")):
        path = os.path.join(ROOT, name)
        if os.path.isfile(path):
            with open(path, encoding="utf-8", errors="replace") as f:
                files[name] = f.read()
    return files


def test_includes_go_down_only():
    bad = layer_findings(tree_sources())
    assert not bad, "\n".join(bad)


def test_libraries_stay_in_their_layer():
    bad = library_findings(tree_sources())
    assert not bad, "\n".join(bad)


def test_no_include_cycle():
    bad = cycles(tree_sources())
    assert not bad, "\n".join(bad)


# ---- the checks themselves, on small made-up trees --------------------------

OK_TREE = {
    "base/log.h": "",
    "base/log.c": '#include "base/log.h"\n',
    "state/model/model.h": '#include "state/model/risk.h"\n',
    "state/model/risk.h": '#include "base/log.h"\n',
    "state/model/risk.c": '#include "state/model/risk.h"\n#include "base/log.h"\n',
    "state/store/store.h": '#include "state/model/model.h"\n',
    "state/store/store.c": ('#include "state/store/store.h"\n#include <hiredis/hiredis.h>\n'
                            '#include "store_lib.inc"\n'),
    "state/engine/batch.h": '#include "state/store/store.h"\n#include "state/model/model.h"\n',
    "state/fit/fit.c": '#include "state/store/store.h"\n',
    "consumers/pipeline.h": '#include "state/engine/batch.h"\n',
    "consumers/pipeline.c": '#include "consumers/pipeline.h"\n#include <librdkafka/rdkafka.h>\n',
    "daemon/config.h": "",
    "daemon/main.c": ('#include "consumers/pipeline.h"\n#include "daemon/config.h"\n'
                      '#include "state/fit/fit.c"\n'),
    "tests/unit/test_risk.c": '#include "state/model/risk.h"\n',
    "tests/unit/fixture.h": "",
    "tests/unit/test_x.c": '#include "fixture.h"\n',
}


def test_accepts_a_layered_tree():
    assert layer_findings(OK_TREE) == []
    assert library_findings(OK_TREE) == []
    assert cycles(OK_TREE) == []


@pytest.mark.parametrize("path, text, why", [
    ("base/log.c", '#include "state/model/model.h"\n', "goes up"),
    ("state/model/risk.c", '#include "state/store/store.h"\n', "goes up"),
    ("state/store/store.c", '#include "state/engine/batch.h"\n', "goes up"),
    ("state/engine/batch.h", '#include "state/fit/fit.c"\n', "goes up"),
    ("state/store/store.c", '#include "consumers/pipeline.h"\n', "goes up"),
    ("consumers/pipeline.c", '#include "daemon/config.h"\n', "goes up"),
    ("state/store/store.c", '#include "state/model/risk.h"\n', "outside the model"),
    ("consumers/pipeline.c", '#include "state/model/risk.h"\n', "outside the model"),
    ("bench/b.c", '#include "state/model/risk.h"\n', "outside the model"),
    ("state/x.c", "", "in no layer"),
    ("consumers/p.c", '#include "consumers/missing.h"\n', "names no file"),
    ("state/model/risk.c", "#include <hiredis/hiredis.h>\n", "only state/store may"),
    ("daemon/main.c", "#include <librdkafka/rdkafka.h>\n", "only consumers may"),
])
def test_finds_a_wrong_include(path, text, why):
    files = dict(OK_TREE)
    files[path] = files.get(path, "") + text
    found = layer_findings(files) + library_findings(files)
    assert any(why in f and f.startswith(path) for f in found), found


def test_names_the_include_by_file_and_line():
    files = dict(OK_TREE)
    files["state/model/risk.c"] += '\n#include "state/store/store.h"\n'
    assert any(f.startswith("state/model/risk.c:4: ") for f in layer_findings(files))


def test_finds_a_cycle_between_modules():
    files = dict(OK_TREE)
    files["state/model/brand.h"] = ""
    files["state/model/brand.c"] = '#include "state/model/criteria.h"\n'
    files["state/model/criteria.h"] = '#include "state/model/model.h"\n'
    files["state/model/model.c"] = '#include "state/model/brand.h"\n'
    found = cycles(files)
    assert len(found) == 1, found
    assert "state/model/brand, state/model/criteria, state/model/model" in found[0]
    assert 'state/model/brand.c:1: #include "state/model/criteria.h"' in found[0]


def test_a_module_including_its_own_header_is_no_cycle():
    files = {"base/a.h": "", "base/a.c": '#include "base/a.h"\n'}
    assert cycles(files) == []


def test_a_private_header_belongs_to_its_module():
    files = {"consumers/p.h": "",
             "consumers/p_int.h": '#include "consumers/p.h"\n',
             "consumers/p.c": '#include "consumers/p_int.h"\n',
             "consumers/part.c": '#include "consumers/p_int.h"\n'}
    assert cycles(files) == []
    files["consumers/p_int.h"] += '#include "consumers/part.h"\n'
    files["consumers/part.h"] = ""
    assert len(cycles(files)) == 1
