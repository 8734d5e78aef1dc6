"""The README's map of the code (the folder table in "How it works") names
every source file of base/, daemon/, consumers/ and state/, in the row of its
own folder, and the row of such a folder names no file that is not there.  A
header counts as named when its .c file is.  The other rows (tests/, deploy/,
...) may name files of their subfolders."""
import os
import re
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CODE = ("base/", "daemon/", "consumers/", "state/")
SOURCE = (".c", ".h", ".lua")

ROW = re.compile(r"^\|\s*`([\w./-]+/)`\s*\|(.*)\|\s*$")
NAMED = re.compile(r"`([\w.-]+\.(?:c|h|lua))`")


def readme_rows(text):
    """{folder: set of file names} of the table headed "| folder |"."""
    rows, inside = {}, False
    for line in text.splitlines():
        if line.startswith("| folder |"):
            inside = True
            continue
        if inside and not line.startswith("|"):
            break
        m = ROW.match(line) if inside else None
        if m:
            rows[m.group(1)] = set(NAMED.findall(m.group(2)))
    return rows


def tree_files():
    """Paths of the tree's source files under CODE (tracked or new)."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                          "--exclude-standard", "--", *CODE],
                         cwd=ROOT, check=True, capture_output=True).stdout.decode()
    return sorted(p for p in set(out.split("\0"))
                  if p.endswith(SOURCE) and os.path.isfile(os.path.join(ROOT, p)))


def findings(rows, files):
    out = []
    by_folder = {}
    for path in files:
        by_folder.setdefault(os.path.dirname(path) + "/", set()).add(os.path.basename(path))
    for folder, names in sorted(by_folder.items()):
        if folder not in rows:
            out.append("%s: no row in the README's map" % folder)
            continue
        named = rows[folder]
        for name in sorted(names):
            stem, ext = os.path.splitext(name)
            if name not in named and not (ext == ".h" and stem + ".c" in named):
                out.append("%s%s: not named in the row of %s" % (folder, name, folder))
    for folder, named in sorted(rows.items()):
        if not folder.startswith(CODE):
            continue
        for name in sorted(named):
            if name not in by_folder.get(folder, set()):
                out.append("%s%s: named in the README's map, not in the tree" % (folder, name))
    return out


def test_the_map_names_every_file():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        rows = readme_rows(f.read())
    assert rows, "no folder table in README.md"
    bad = findings(rows, tree_files())
    assert not bad, "\n".join(bad)


MAP = """
| folder | what it owns |
|---|---|
| `base/` | logging (`log.c`), clocks (`clock.h`) |
| `state/store/` | `store.c` + `store_lib.lua` |
| `tests/` | `unit/` (`test_x.c`) |

after the table: `other.c`
"""


def test_reads_the_table():
    assert readme_rows(MAP) == {"base/": {"log.c", "clock.h"},
                                "state/store/": {"store.c", "store_lib.lua"},
                                "tests/": {"test_x.c"}}


@pytest.mark.parametrize("files, why", [
    (["base/log.c", "base/log.h", "base/clock.h", "state/store/store.c",
      "state/store/store.h", "state/store/store_lib.lua"], None),
    (["base/log.c", "base/clock.h", "base/new.c", "state/store/store.c",
      "state/store/store_lib.lua"], "base/new.c: not named"),
    (["base/log.c", "base/clock.h", "base/types.h", "state/store/store.c",
      "state/store/store_lib.lua"], "base/types.h: not named"),
    (["base/log.c", "base/clock.h", "state/store/store.c", "state/store/store_lib.lua",
      "state/engine/batch.c"], "state/engine/: no row"),
    (["base/log.c", "state/store/store.c", "state/store/store_lib.lua"],
     "base/clock.h: named in the README's map, not in the tree"),
])
def test_findings(files, why):
    found = findings(readme_rows(MAP), files)
    if why is None:
        assert found == []
    else:
        assert any(f.startswith(why) for f in found), found
