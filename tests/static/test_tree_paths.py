"""Nothing in the repository may read a path outside its own tree: a clone in
an empty folder has nothing beside it.  Every tracked text file is scanned for
relative paths that climb out of the tree and for absolute paths under a home
or work folder, and for citations of a design document the tree does not
have (the project cites its README and docs/)."""
import os
import re
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# Bases a path may be written against: the repository root, or the file's own folder.
ROOT_NAMES = {"$ROOT", "${ROOT}", "ROOT", "$top", "${top}"}
HERE_NAMES = {"HERE", "os.path.dirname(__file__)", '$(dirname "$0")', '$(dirname "${BASH_SOURCE[0]}")'}

SLASH_PATH = re.compile(r'(?:(\$\{?\w+\}?|[\w-][\w.-]*)/)?(?<![\w.])(\.\.(?=/|["\'\s)]|$)(?:/[\w.${}-]*)*)')
PY_JOIN = re.compile(r'os\.path\.join\(\s*([^,]+?)\s*,((?:\s*"\.\."\s*,?)+)')
ABSOLUTE = re.compile(r'(?<![\w.~-])/(?:home|root|work|Users)/[\w.-]+')
DESIGN = re.compile(r'\bDESIGN(?:\.md)?\b')


def escapes(base, rel):
    """True when the path rel, read from the folder base, leaves ROOT."""
    path = os.path.normpath(os.path.join(base, rel))
    return os.path.relpath(path, ROOT).startswith("..")


def findings(relpath, text):
    """(line number, reason) for every path in text that leaves the tree."""
    here = os.path.dirname(os.path.join(ROOT, relpath))
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        for m in PY_JOIN.finditer(line):
            base = m.group(1).strip()
            ups = m.group(2).count('".."')
            start = ROOT if base in ROOT_NAMES else here
            if escapes(start, "/".join([".."] * ups)):
                out.append((n, "os.path.join climbs out of the tree: " + m.group(0)))
        for m in SLASH_PATH.finditer(line):
            prefix, rel = m.group(1) or "", m.group(2)
            if not prefix and "/" not in rel:
                continue
            # A bare relative path is read from the repository root, where the
            # scripts and tests run; so a leading "../" always leaves the tree.
            if prefix in ROOT_NAMES or prefix == "":
                start = ROOT
            elif prefix in HERE_NAMES or prefix.startswith("$"):
                start = here
            else:
                start = os.path.join(here, prefix)
            if escapes(start, rel):
                out.append((n, "relative path leaves the tree: " + m.group(0)))
        for m in ABSOLUTE.finditer(line):
            out.append((n, "absolute path of one machine: " + m.group(0)))
        if DESIGN.search(line) and not os.path.exists(os.path.join(ROOT, "DESIGN.md")):
            out.append((n, "cites DESIGN, which is not in the tree: " + line.strip()))
    return out


def tracked_text_files():
    """(name, text) of each tracked text file but this one, whose examples
    above are meant to be found."""
    me = os.path.relpath(os.path.abspath(__file__), ROOT)
    names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True,
                           capture_output=True).stdout.decode().split("\0")
    for name in filter(None, names):
        path = os.path.join(ROOT, name)
        if name == me or not os.path.isfile(path):
            continue
        with open(path, "rb") as f:
            data = f.read()
        if b"\0" in data:
            continue
        yield name, data.decode("utf-8", "replace")


@pytest.mark.parametrize("text", [
    'CDNOW="$ROOT/../shared/data/cdnow/CDNOW_sample.txt"',
    'snprintf(path, n, "%s", "../shared/data/cdnow");',
    'os.path.join(ROOT, "..", "shared", "data")',
    'os.path.join(HERE, "..", "..", "..", "x")',
    'open("/work/shared/data/cdnow/CDNOW_sample.txt")',
    'cp /home/alice/cdnow.txt .',
    ' * event.h - the typed form of one input event (DESIGN §2).',
    '# the event types (DESIGN.md section 2)',
])
def test_detects_paths_outside(text):
    assert findings("tests/integration/x.py", text), text


@pytest.mark.parametrize("text", [
    'ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))',
    'path = os.path.join(HERE, "..", "deploy", "sample-events.py")',
    'CDNOW="${CDNOW:-$ROOT/data/cdnow/CDNOW_sample.txt}"',
    'see docs/model.md ... and state/model/model.h',
    '{"key":"..","value":".."}',
    'ExecStart=/usr/bin/loyaltyd -c /etc/loyaltyd/loyaltyd.conf',
])
def test_accepts_paths_inside(text):
    assert findings("tests/integration/x.py", text) == []


def test_no_tracked_file_refers_outside_the_tree():
    bad = []
    for name, text in tracked_text_files():
        bad += ["%s:%d: %s" % (name, n, why) for n, why in findings(name, text)]
    assert not bad, "\n".join(bad)
