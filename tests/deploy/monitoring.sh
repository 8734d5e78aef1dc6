#!/usr/bin/env bash
# Check the monitoring files in deploy/monitoring: the alert rules pass
# `promtool check rules` and their unit tests (`promtool test rules`); every
# alert has the fields the README promises and a firing and a non-firing
# test; the Grafana dashboard is valid JSON with unique panel ids, a place on
# the grid and a PromQL query in every panel, and those queries parse; and
# every loyaltyd_* and process_* name in the dashboard, the rules and their
# tests is one the daemon exports.
#
# The daemon's names come from the string literals of base/metrics.c (its
# renderer), their types from its head() and render_hist() calls: X_bucket
# needs X to be a histogram, X_sum and X_count a histogram or a summary.  With
# LOYALTYD_METRICS_URL set (e.g. http://127.0.0.1:9464/metrics) they come
# from a scrape of that daemon instead; tests/integration/test_monitoring.py
# checks against a scrape of a real daemon in the integration suite.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
MON="$ROOT/deploy/monitoring"
PROMTOOL="${PROMTOOL:-promtool}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

command -v "$PROMTOOL" >/dev/null 2>&1 ||
    { echo "monitoring: $PROMTOOL not found (Debian package prometheus)" >&2; exit 1; }

cat >"$tmp/check.py" <<'PY'
"""The checks of tests/deploy/monitoring.sh that need more than promtool."""
import json
import os
import re
import sys

MON, TMP = os.environ["MON"], os.environ["TMP"]
DASH = os.path.join(MON, "loyaltyd-dashboard.json")
RULES = os.path.join(MON, "loyaltyd-alerts.yml")
TESTS = os.path.join(MON, "loyaltyd-alerts.test.yml")
NAME_RX = re.compile(r"\b(?:loyaltyd|process)_[a-z0-9_]*[a-z0-9]")
SUFFIXES = {"_bucket": ("histogram",), "_sum": ("histogram", "summary"),
            "_count": ("histogram", "summary")}
errors = []


def fail(msg):
    errors.append(msg)


def panels(dash):
    """Every panel, those inside collapsed rows too."""
    for p in dash.get("panels", []):
        yield p
        for q in p.get("panels", []) or []:
            yield q


def exprs(dash):
    """(where, expr) of every PromQL query: panels, variables, annotations."""
    for p in panels(dash):
        for t in p.get("targets", []) or []:
            yield "panel %s %r" % (p.get("id"), p.get("title")), t.get("expr", "")
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            q = v.get("query")
            yield "variable %s" % v.get("name"), q.get("query") if isinstance(q, dict) else q
    for a in dash.get("annotations", {}).get("list", []):
        if a.get("expr"):
            yield "annotation %r" % a.get("name"), a["expr"]


def check_dashboard():
    with open(DASH) as f:
        dash = json.load(f)
    if not 27 <= dash.get("schemaVersion", 0) <= 39:
        fail("schemaVersion %s: 36 or so expected" % dash.get("schemaVersion"))
    for k in ("title", "uid"):
        if not dash.get(k):
            fail("dashboard without %s" % k)
    if dash.get("id") is not None:
        fail("dashboard id must be null (Grafana assigns it on import)")
    var = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
    ds = var.get("DS_PROMETHEUS")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        fail("no DS_PROMETHEUS data source variable of type prometheus")
    inst = var.get("instance")
    q = inst and inst.get("query")
    q = q.get("query") if isinstance(q, dict) else q
    if not inst or inst.get("type") != "query" or \
            re.sub(r"\s", "", q or "") != "label_values(loyaltyd_build_info,instance)":
        fail("no instance variable from label_values(loyaltyd_build_info, instance)")
    ids, cells = set(), {}
    for p in panels(dash):
        where = "panel %s %r" % (p.get("id"), p.get("title"))
        if not isinstance(p.get("id"), int) or p["id"] in ids:
            fail("%s: missing or duplicate id" % where)
        ids.add(p.get("id"))
        if not p.get("title"):
            fail("%s: no title" % where)
        g = p.get("gridPos") or {}
        if not all(isinstance(g.get(k), int) for k in ("h", "w", "x", "y")):
            fail("%s: no complete gridPos" % where)
            continue
        if g["x"] < 0 or g["w"] < 1 or g["h"] < 1 or g["x"] + g["w"] > 24:
            fail("%s: gridPos %s off the 24-column grid" % (where, g))
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                if (x, y) in cells:
                    fail("%s overlaps %s at (%d, %d)" % (where, cells[(x, y)], x, y))
                    break
                cells[(x, y)] = where
            else:
                continue
            break
        if p.get("type") == "row":
            continue
        if (p.get("datasource") or {}).get("uid") != "${DS_PROMETHEUS}":
            fail("%s: data source is not ${DS_PROMETHEUS}" % where)
        ts = p.get("targets") or []
        if not ts:
            fail("%s: no targets" % where)
        refs = [t.get("refId") for t in ts]
        if len(set(refs)) != len(refs) or None in refs:
            fail("%s: refIds missing or not unique: %s" % (where, refs))
        for t in ts:
            e = t.get("expr", "")
            if not e.strip():
                fail("%s: target %s without expr" % (where, t.get("refId")))
            if (t.get("datasource") or {}).get("uid") != "${DS_PROMETHEUS}":
                fail("%s: target %s: data source is not ${DS_PROMETHEUS}" % (where, t.get("refId")))
            # Each selector of a daemon series is narrowed to $instance.
            for m in re.finditer(r"\b((?:loyaltyd|process)_\w+|up)\b(\{[^}]*\})?", e):
                if 'instance=~"$instance"' not in (m.group(2) or ""):
                    fail("%s: %s without instance=~\"$instance\"" % (where, m.group(1)))
    # Every query, as a recording rule for `promtool check rules` to parse.
    with open(os.path.join(TMP, "dashboard-exprs.yml"), "w") as f:
        f.write("groups:\n  - name: dashboard\n    rules:\n")
        for i, (where, e) in enumerate(exprs(dash)):
            e = e.replace("$__rate_interval", "5m").replace("$__interval", "1m")
            e = e.replace("$__range", "1h").replace("$instance", ".*")
            if e.startswith("label_values("):
                e = re.match(r"label_values\(\s*([^,]+),", e).group(1)
            f.write("      - record: dashboard_expr_%d\n        expr: %s\n" % (i, json.dumps(e)))


def check_alerts():
    with open(RULES) as f:
        rules = f.read()
    with open(TESTS) as f:
        tests = f.read()
    blocks = re.split(r"\n(?=[ \t]*- alert: )", rules)[1:]
    names = set()
    for b in blocks:
        name = re.match(r"\s*- alert: (\w+)", b).group(1)
        names.add(name)
        for field in ("expr:", "for:", "severity:", "summary:", "description:", "runbook:"):
            if not re.search(r"^\s+" + field, b, re.M):
                fail("alert %s: no %s" % (name, field[:-1]))
    for name in sorted(names):
        evals = re.findall(r"alertname: %s\n\s+exp_alerts:(.*)" % name, tests)
        if not any(e.strip() == "[]" for e in evals):
            fail("alert %s: no test where it must not fire (exp_alerts: [])" % name)
        if not any(e.strip() == "" for e in evals):
            fail("alert %s: no test where it fires" % name)
    if not re.search(r"^groups:\n\s+- name: loyaltyd$", rules, re.M):
        fail("no rule group named loyaltyd")
    print("%d alerts: %s" % (len(names), ", ".join(sorted(names))))


def daemon_names():
    """{name: type or None} the daemon exports, and where they come from."""
    scrape = os.path.join(TMP, "scrape")
    types, names = {}, set()
    if os.path.exists(scrape):
        with open(scrape) as f:
            for line in f:
                m = re.match(r"# TYPE (\S+) (\S+)", line)
                if m:
                    types[m.group(1)] = m.group(2)
                elif line.strip() and not line.startswith("#"):
                    names.add(re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0))
        return {n: types.get(n) for n in names | set(types)}, os.environ["METRICS_URL"]
    src = os.path.join(os.environ["ROOT"], "base", "metrics.c")
    with open(src) as f:
        c = f.read()
    for lit in re.findall(r'"((?:[^"\\\n]|\\.)*)"', c):
        m = re.match(r"(?:loyaltyd|process)_[a-z0-9_]*[a-z0-9]", lit)
        if m:
            names.add(m.group(0))
    # head(o, "name", "type", ...) writes the # TYPE line, render_hist(o,
    # "name", ...) a histogram's; the counters table is rendered as counters.
    for n, t in re.findall(r'head\(\s*o,\s*"([^"]+)",\s*"(\w+)"', c):
        types[n] = t
    for n in re.findall(r'render_hist\(\s*o,\s*"([^"]+)"', c):
        types[n] = "histogram"
    return {n: types.get(n, "counter" if n.endswith("_total") else None) for n in names}, \
        "base/metrics.c string literals"


def known(name, have):
    if name in have:
        return True
    for suf, kinds in SUFFIXES.items():
        base = name[:-len(suf)]
        if name.endswith(suf) and base in have:
            return have[base] is None or have[base] in kinds
    return False


def check_names():
    have, source = daemon_names()
    used = {}
    for path in (DASH, RULES, TESTS):
        with open(path) as f:
            for n in NAME_RX.findall(f.read()):
                used.setdefault(n, set()).add(os.path.basename(path))
    for n in sorted(used):
        if not known(n, have):
            fail("%s (in %s) is not a metric the daemon exports (%s)"
                 % (n, ", ".join(sorted(used[n])), source))
    print("%d names checked against %s" % (len(used), source))


{"dashboard": check_dashboard, "alerts": check_alerts, "names": check_names}[sys.argv[1]]()
for e in errors:
    print("error: " + e)
sys.exit(1 if errors else 0)
PY

export ROOT MON TMP="$tmp" METRICS_URL="${LOYALTYD_METRICS_URL:-}"
if [[ -n "$METRICS_URL" ]]; then
    curl -fsS --max-time 10 "$METRICS_URL" >"$tmp/scrape" ||
        { echo "monitoring: cannot scrape $METRICS_URL" >&2; exit 1; }
fi

# shellcheck source=tests/deploy/check.sh
. "$ROOT/tests/deploy/check.sh"

check "promtool check rules" "$PROMTOOL" check rules "$MON/loyaltyd-alerts.yml"
check "promtool test rules" "$PROMTOOL" test rules "$MON/loyaltyd-alerts.test.yml"
check "every alert: for, severity, summary, description, runbook; a firing and a quiet test" \
    python3 "$tmp/check.py" alerts
sed -n 's/^\([0-9]* alerts: \)/  \1/p' "$tmp/out"
check "dashboard JSON: variables, unique ids, grid, a query per target" \
    python3 "$tmp/check.py" dashboard
check "dashboard queries parse (promtool)" "$PROMTOOL" check rules "$tmp/dashboard-exprs.yml"
check "every metric name is one the daemon exports" python3 "$tmp/check.py" names
grep -h '^\(note:\|[0-9]* names\)' "$tmp/out" | sed 's/^/  /' || true
echo "monitoring: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
