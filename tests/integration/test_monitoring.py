"""deploy/monitoring against a real daemon: every loyaltyd_* and process_*
name the Grafana dashboard, the alert rules and their tests use is on its
/metrics (X_bucket of a histogram, X_sum and X_count of a histogram or a
summary), and the labels the dashboard groups by and names in its legends
are on the series it queries.  tests/deploy/monitoring.sh checks the same names
against base/metrics.c without a daemon."""
import json
import os
import re
import time

from conftest import ROOT, feed_workload, wait_for
from workload import Workload

MON = os.path.join(ROOT, "deploy", "monitoring")
FILES = ("loyaltyd-dashboard.json", "loyaltyd-alerts.yml", "loyaltyd-alerts.test.yml")
NAME_RX = re.compile(r"\b(?:loyaltyd|process)_[a-z0-9_]*[a-z0-9]")
SUFFIXES = {"_bucket": ("histogram",), "_sum": ("histogram", "summary"),
            "_count": ("histogram", "summary")}
# Labels Prometheus adds to every series of the target.
TARGET_LABELS = {"instance", "job"}
_sample_rx = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+\S+$')
_label_rx = re.compile(r'(\w+)="(?:[^"\\]|\\.)*"')


def used_names():
    """{name: files that use it}."""
    used = {}
    for f in FILES:
        with open(os.path.join(MON, f)) as fh:
            for n in NAME_RX.findall(fh.read()):
                used.setdefault(n, set()).add(f)
    return used


def scrape(d):
    """({sample name: label names seen}, {family: type}) of one /metrics."""
    st, body = d.get("/metrics")
    assert st == 200, (st, body[:200])
    labels, types = {}, {}
    for line in body.splitlines():
        m = re.match(r"# TYPE (\S+) (\S+)$", line)
        if m:
            types[m.group(1)] = m.group(2)
            continue
        m = _sample_rx.match(line)
        if m:
            labels.setdefault(m.group(1), set()).update(_label_rx.findall(m.group(2) or ""))
    return labels, types


def exported(name, labels, types):
    if name in labels or name in types:  # a sample, or a family (descriptions name them)
        return True
    for suf, kinds in SUFFIXES.items():
        if name.endswith(suf) and name[:-len(suf)] in types:
            return types[name[:-len(suf)]] in kinds and name in labels
    return False


def dashboard_targets():
    with open(os.path.join(MON, "loyaltyd-dashboard.json")) as f:
        dash = json.load(f)
    for p in dash["panels"]:
        for q in [p] + p.get("panels", []):
            for t in q.get("targets", []):
                yield q["title"], t["expr"], t.get("legendFormat", "")


def test_monitoring_names(env):
    """After a small run with the sweeper on (so that every family has its
    series: lags, tasks, the last sweep), the scrape has every name the
    monitoring files use, and the dashboard's labels."""
    w = Workload(seed=83, customers=40)
    env.create_topics()
    feed_workload(env, w)
    d = env.daemon(**{"sweep.interval_s": "1"}).start()
    d.wait_caught_up(w.total())
    wait_for("a sweeper pass", lambda: d.metrics().get("loyaltyd_last_sweep_timestamp_seconds") > 0,
             30)
    labels, types = scrape(d)

    used = used_names()
    assert len(used) > 30, "few names found in %s: %s" % (MON, sorted(used))
    missing = {n: sorted(f) for n, f in sorted(used.items()) if not exported(n, labels, types)}
    assert not missing, "used in deploy/monitoring, not on /metrics: %s" % missing

    # Every label a dashboard query groups by or names in its legend is on
    # one of the series that query reads.
    wrong = []
    for title, expr, legend in dashboard_targets():
        have = set(TARGET_LABELS)
        for n in NAME_RX.findall(expr):
            have |= labels.get(n, set())
        want = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", legend))
        for by in re.findall(r"\bby\s*\(([^)]*)\)", expr):
            want |= {x.strip() for x in by.split(",") if x.strip()}
        if want - have:
            wrong.append((title, expr, sorted(want - have)))
    assert not wrong, "labels not on the series queried: %s" % wrong

    # What the sweeper and lag rules read, on a caught-up daemon.
    m = d.metrics()
    assert time.time() - 60 < m.get("loyaltyd_last_sweep_timestamp_seconds") <= time.time() + 1
    assert m.get("loyaltyd_sweeper_runs_total") >= 1
    lag_topics = {l["topic"] for l, _ in m.all("loyaltyd_consumer_lag")}
    assert {l["topic"] for l, _ in m.all("loyaltyd_consumed_total")} == lag_topics
    assert {l["partition"] for l, _ in m.all("loyaltyd_event_time_lag_seconds")} == \
        {l["partition"] for l, _ in m.all("loyaltyd_consumer_lag")}
    d.stop()
