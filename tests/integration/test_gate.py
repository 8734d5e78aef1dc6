"""The refit gate of `loyaltyctl fit --save` (docs/validate.md, "The refit
gate"): with fit.gate = validate (or --gate), the model fitted up to 273 days
before the data's last purchase must forecast those days before a fit is
saved.  The CDNOW sample with its published fit (calibration to 1997-09-30)
passes and is saved; crafted histories are refused by each check: exit 3,
one line on stderr saying why, `gate` in the JSON saying why, and Redis
keeps the model it had, or none; a history shorter than the holdout cannot
be judged and is refused too.  From the daemon's state (what
loyaltyd-refit.service runs) the CDNOW orders replayed pass."""
import json
from collections import defaultdict
from datetime import date

import pytest

from conftest import cdnow_file, cdnow_order_lines, ctl_run, feed, log, need_ctl

CAL_END = date(1997, 9, 30)  # 273 days before the sample's last purchase, 1998-06-30
EXIT_GATE = 3


def transactions(path=None):
    """The file's lines, split: (customer, YYYYMMDD, count, value)."""
    with open(path or cdnow_file()) as f:
        return [l.split()[1:] for l in f if l.split()]


def write(tmp_path, name, rows):
    p = tmp_path / name
    p.write_text("".join("%s %s %s %s %s\n" % (c, c, d, n, v) for c, d, n, v in rows))
    return str(p)


def day(s):
    return date(int(s[:4]), int(s[4:6]), int(s[6:]))


def holdout_figures(rows):
    """The cohort's repeat purchase days after CAL_END, and each customer's
    label (a purchase after it) and recency (days from its last purchase
    up to CAL_END to CAL_END), computed from the rows themselves."""
    days = defaultdict(set)
    for c, d, _n, _v in rows:
        days[c].add(day(d))
    actual, labels, recency = 0, [], []
    for c in sorted(days):
        ds = sorted(days[c])
        if ds[0] > CAL_END:
            continue
        hold = [d for d in ds if d > CAL_END]
        actual += len(hold)
        labels.append(bool(hold))
        recency.append(-(CAL_END - max(d for d in ds if d <= CAL_END)).days)
    return actual, labels, recency


def auc(scores, labels):
    """Every (buyer, non-buyer) pair: 1 when the buyer ranks higher, 1/2 on a tie."""
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    return sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))


def conf(tmp_path, **keys):
    """A configuration file with the gate on and the given fit.* keys."""
    p = tmp_path / "gate.conf"
    p.write_text("fit.gate = validate\n" + "".join("fit.%s = %s\n" % kv for kv in keys.items()))
    return str(p)


def fit(env, path, *args, config=None, cal_end="1997-09-30"):
    """loyaltyctl [-c config] fit on a transaction file --json: (exit, JSON or
    None, stderr)."""
    need_ctl()
    pre = ["-c", config] if config else []
    rc, out, err = ctl_run(env, *pre, "fit", "--input", path, "--format", "cdnow-transactions",
                           "--calibration-end", cal_end, "--json", *args)
    return rc, json.loads(out) if out.strip() else None, err


def stored(env):
    """The model hash under the test's prefix ({} when nothing was saved)."""
    return {k.decode(): v.decode() for k, v in env.r.hgetall(env.redis_prefix + "model").items()}


def assert_refused(rc, doc, err, check):
    """Exit 3, the reason on one line of stderr, the same in the JSON."""
    assert rc == EXIT_GATE, (rc, err)
    lines = [l for l in err.splitlines() if "refit gate refuses" in l]
    assert len(lines) == 1, err
    assert lines[0].startswith("loyaltyctl: the refit gate refuses the fit: %s: " % check), lines
    assert lines[0].endswith("nothing saved (fit.gate, docs/validate.md)"), lines
    assert "saved as model version" not in err, err
    g = doc["gate"]
    assert g["passed"] is False and g["failed"] == check, g
    assert g["reason"].startswith(check + ": ") and g["reason"] in lines[0], (g, lines)
    return g


def test_cdnow_passes_and_is_saved(env, tmp_path):
    """The published fit, judged on the paper's holdout (the file's last 273
    days, 1997-10-01 to 1998-06-30): 12 % under the actual repeat purchases,
    AUC 0.014 below recency; saved.  The gate's figures are validate's."""
    config = conf(tmp_path)
    assert stored(env) == {}
    rc, doc, err = fit(env, cdnow_file(), "--save", config=config)
    assert rc == 0, err
    g = doc["gate"]
    log("gate: %s" % json.dumps(g))
    assert g["passed"] is True and g["failed"] is None and g["reason"] is None, g
    assert (g["calibration_end"], g["holdout_end"], g["holdout_days"]) == ("1997-09-30", "1998-06-30", 273)
    assert g["customers"] == 2357 and g["left_out"] == 0 and g["stored_version"] == 0
    assert (g["max_error"], g["margin"]) == (0.2, 0.05)
    actual, labels, recency = holdout_figures(transactions())
    assert g["level"]["actual"] == actual == 1882
    assert abs(g["level"]["error"] - 0.1215) < 1e-3 and g["level"]["result"] == "passed"
    assert abs(g["ranking"]["auc_recency"] - auc(recency, labels)) < 1e-9
    assert g["ranking"]["result"] == "passed" and g["stored"] == {"result": "not judged"}
    # The backtest is the published fit, and validate's figures on the same split.
    for k, v in {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}.items():
        assert abs(g["backtest"][k] - v) < 1e-3 and abs(doc["bgnbd"][k] - v) < 1e-3, (k, g, doc)
    rc, out, verr = ctl_run(env, "validate", "--input", cdnow_file(), "--format", "cdnow-transactions",
                            "--calibration-end", "1997-09-30", "--json")
    assert rc == 0, verr
    val = json.loads(out)
    assert abs(g["level"]["expected"] - val["aggregate"]["holdout_expected"]) < 1e-6
    assert abs(g["ranking"]["auc_p_purchase"] - val["discrimination"]["auc_p_purchase"]) < 1e-12
    assert abs(g["ranking"]["auc_recency"] - val["discrimination"]["auc_recency"]) < 1e-12
    assert "loyaltyctl: refit gate passed" in err and "saved as model version 1" in err, err
    m = stored(env)
    assert m["version"] == "1" and abs(float(m["alpha"]) - 4.4136) < 1e-3, m

    # Again, with a model saved: the same fit is no worse than it.
    rc, doc, err = fit(env, cdnow_file(), "--save", config=config)
    assert rc == 0, err
    s = doc["gate"]["stored"]
    assert doc["gate"]["stored_version"] == 1 and s["result"] == "passed", s
    assert abs(s["fit_error"] - s["stored_error"]) < 1e-4, s
    assert stored(env)["version"] == "2"


def test_level_refused_nothing_saved(env, tmp_path):
    """Half of the customers (those with an even id) buy nothing after the
    calibration: the holdout has about half of CDNOW's repeat purchases, the
    model fitted before it expects CDNOW's.  Refused, with no model in Redis
    and then with one, which stays; --no-gate saves all the same."""
    rows = [r for r in transactions() if not (day(r[1]) > CAL_END and int(r[0]) % 2 == 0)]
    assert max(r[1] for r in rows) == "19980630"  # the data still end there
    half = write(tmp_path, "half.txt", rows)
    actual, _labels, _recency = holdout_figures(rows)
    config = conf(tmp_path)

    rc, doc, err = fit(env, half, "--save", config=config)
    g = assert_refused(rc, doc, err, "level")
    assert g["level"]["actual"] == actual and actual < 1882 * 0.6, (g, actual)
    assert g["level"]["error"] > 0.2 and g["level"]["result"] == "failed"
    assert "%d happened" % actual in g["reason"] and "fit.gate_max_error 0.2" in g["reason"]
    assert stored(env) == {}  # none before, none after

    assert fit(env, cdnow_file(), "--save", config=config)[0] == 0
    before = stored(env)
    assert before["version"] == "1"
    rc, doc, err = fit(env, half, "--save", config=config)
    assert_refused(rc, doc, err, "level")
    assert stored(env) == before

    # A looser bound lets it through; so does --no-gate, which skips the gate.
    rc, doc, err = fit(env, half, "--save", config=conf(tmp_path, gate_max_error=0.8))
    assert rc == 0 and doc["gate"]["passed"] is True, err
    assert stored(env)["version"] == "2"
    rc, doc, err = fit(env, half, "--save", "--no-gate", config=config)
    assert rc == 0 and "gate" not in doc and "refit gate" not in err, err
    assert stored(env)["version"] == "3"


def test_ranking_refused(env, tmp_path):
    """Only customers with one or two purchase days, the last since July
    1997, buy again after the calibration: recency ranks them well, the
    model's P(a purchase), which favours frequent buyers, does not (the
    level's bound is lifted so that the ranking is the check that fails)."""
    rows = transactions()
    days, last = defaultdict(set), {}
    for c, d, _n, _v in rows:
        if day(d) <= CAL_END:
            days[c].add(d)
            last[c] = max(last.get(c, d), d)
    rows = [r for r in rows if day(r[1]) <= CAL_END or (last[r[0]] >= "19970701" and len(days[r[0]]) <= 2)]
    # The data end on 1998-06-30 still: a newcomer, outside the cohort, buys then.
    rows.append(("99999", "19980630", "1", "10.00"))
    crafted = write(tmp_path, "recent.txt", rows)
    _actual, labels, recency = holdout_figures(rows)

    rc, doc, err = fit(env, crafted, "--save", config=conf(tmp_path, gate_max_error=100))
    g = assert_refused(rc, doc, err, "ranking")
    r = g["ranking"]
    log("ranking: %s" % r)
    assert abs(r["auc_recency"] - auc(recency, labels)) < 1e-9
    assert r["auc_p_purchase"] < r["auc_recency"] - 0.05 and r["result"] == "failed", r
    assert g["level"]["result"] == "passed"
    assert stored(env) == {}
    # A margin wide enough: saved.
    rc, doc, err = fit(env, crafted, "--save", config=conf(tmp_path, gate_max_error=100, gate_margin=0.2))
    assert rc == 0 and doc["gate"]["passed"] is True, err
    assert stored(env)["version"] == "1"


def test_stored_refused(env, tmp_path):
    """With the published fit saved, a fit on the purchases up to
    1997-05-31 only forecasts the last 273 days worse than it (25 % off
    against 12 %, more than the margin): refused by --gate without any
    configuration; without --save, --gate says it would refuse."""
    rc, doc, err = fit(env, cdnow_file(), "--save", "--gate")
    assert rc == 0 and doc["gate"]["passed"] is True, err
    before = stored(env)
    rc, doc, err = fit(env, cdnow_file(), "--save", "--gate", cal_end="1997-05-31")
    g = assert_refused(rc, doc, err, "stored")
    s = g["stored"]
    log("stored: %s" % s)
    assert g["level"]["result"] == g["ranking"]["result"] == "passed"
    assert s["result"] == "failed" and s["fit_error"] > s["stored_error"] + 0.05, s
    assert abs(s["stored_error"] - g["level"]["error"]) < 1e-4  # the saved model is the backtest's
    assert stored(env) == before

    rc, doc, err = fit(env, cdnow_file(), "--gate", cal_end="1997-05-31")
    assert rc == EXIT_GATE and doc["gate"]["failed"] == "stored", err
    assert "the refit gate would refuse the fit: stored: " in err, err
    assert stored(env) == before
    # Without the gate (neither --gate nor fit.gate), no check of the kind.
    rc, doc, err = fit(env, cdnow_file(), cal_end="1997-05-31")
    assert rc == 0 and "gate" not in doc, err


def test_too_short_to_judge(env, tmp_path):
    """The purchases up to 1997-09-30 span 272 days, not more than the
    holdout: refused, nothing saved; a summary has no purchase days to split
    (exit 2)."""
    short = write(tmp_path, "short.txt", [r for r in transactions() if day(r[1]) <= CAL_END])
    rc, doc, err = fit(env, short, "--save", config=conf(tmp_path))
    g = assert_refused(rc, doc, err, "data")
    assert "fit.gate_holdout_days (273)" in g["reason"] and "1997-01-01 to 1997-09-30" in g["reason"], g
    assert "level" not in g and stored(env) == {}
    # A holdout of 91 days fits in: judged (whatever the verdict).
    rc, doc, err = fit(env, short, "--gate", config=conf(tmp_path, gate_holdout_days=91),
                       cal_end="1997-07-01")
    assert rc in (0, EXIT_GATE) and doc["gate"]["failed"] != "data", (rc, err)
    assert doc["gate"]["calibration_end"] == "1997-07-01" and doc["gate"]["level"]["actual"] > 0, doc
    # fit.gate alone gates saving only: a plain fit is not judged.
    rc, doc, err = fit(env, short, config=conf(tmp_path))
    assert rc == 0 and "gate" not in doc, err

    from conftest import ROOT
    import os
    summary = os.path.join(ROOT, "data", "cdnow", "cdnow_customers_summary.csv")
    rc, out, err = ctl_run(env, "-c", conf(tmp_path), "fit", "--input", summary, "--format", "cdnow-summary",
                           "--save")
    assert rc == 2 and "the refit gate needs purchase days" in err, (rc, err)
    rc, out, err = ctl_run(env, "-c", conf(tmp_path), "fit", "--input", summary, "--format", "cdnow-summary",
                           "--save", "--no-gate")
    assert rc == 0 and stored(env)["version"] == "1", err


@pytest.mark.parametrize("args", [["--gate", "--gate-holdout-days", "91"], ["--no-gate=1"]])
def test_bad_arguments(env, args):
    rc, doc, err = fit(env, cdnow_file(), *args)
    assert rc == 2 and "fit: unexpected argument" in err, (rc, err)


def test_from_redis(env, tmp_path):
    """What loyaltyd-refit.service runs, with the gate on: the CDNOW orders
    through 1998-06-30 replayed into the daemon's state, the backtest split
    at 1997-09-30; the customers whose state no longer tells the split are
    left out (docs/validate.md, "With --from-redis") and the rest pass."""
    need_ctl()
    lines = cdnow_order_lines(tmp_path, "1998-06-30")
    env.create_topics()
    feed(env.topic("orders"), lines)
    d = env.daemon(clock="stream").start()
    d.wait_caught_up(len(lines), partitions=4)
    d.stop()

    rc, out, err = ctl_run(env, "-c", conf(tmp_path), "fit", "--from-redis", "--as-of", "1998-06-30",
                           "--save", "--json")
    assert rc == 0, err
    g = json.loads(out)["gate"]
    log("gate from redis: %s" % json.dumps(g))
    assert g["passed"] is True, g
    assert (g["calibration_end"], g["holdout_end"]) == ("1997-09-30", "1998-06-30")
    assert g["customers"] + g["left_out"] == 2357 and g["left_out"] > 0, g
    assert "%d left out" % g["left_out"] in err, err
    rc, out, verr = ctl_run(env, "validate", "--from-redis", "--calibration-end", "1997-09-30", "--json")
    assert rc == 0, verr
    val = json.loads(out)
    assert g["level"]["actual"] == val["aggregate"]["holdout_actual"]
    assert abs(g["level"]["expected"] - val["aggregate"]["holdout_expected"]) < 1e-6
    assert stored(env)["version"] == "1"
