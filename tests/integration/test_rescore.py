"""A saved refit reaches every customer: each customer's state records the
model version it was scored with, and after a new version the daemon
rescores its customers in the background at rescore.per_s, as of each
customer's own as_of time.

Checked against two independent runs of the same input: a daemon that had
the new model from the start (the model-dependent scores and the indices
must equal the rescored ones) and a second rescoring at another rate (the
crossings it emits must be the same events: the same ids and payloads)."""
import json
import time

from checks import read_outputs
from conftest import LOYALTYCTL, REDIS_PORT, customer_ids, feed_workload, full_state, indices, \
    log, need_ctl, run, wait_for
from workload import Workload

# A population that drops out far more readily than the default (CDNOW)
# parameters say: most quiet customers' churn risk rises past the threshold.
REFIT = {"r": 0.242593, "alpha": 4.413532, "a": 4.5, "b": 0.9,
         "p": 6.248802, "q": 3.744588, "gamma": 15.447748}
MODEL_FIELDS = ("p_alive", "churn_risk", "clv", "exp_purchases", "exp_value")
CUSTOMERS = 2500
RATE = 1500


def save_model(r, prefix, params):
    """What `loyaltyctl fit --save` stores: the parameters and one more version."""
    args = []
    for k, v in params.items():
        args += [k, repr(v)]
    return r.eval("redis.call('HSET', KEYS[1], unpack(ARGV)) "
                  "return redis.call('HINCRBY', KEYS[1], 'version', 1)", 1,
                  prefix + "model", *args, "unit", "weeks")


def churn_since(env, ends):
    """Churn-risk events past the given per-partition offsets, as
    {event_id: payload without emitted_at}."""
    _rewards, churn = read_outputs(env)
    out = {}
    for m, p in churn:
        if m["offset"] >= ends.get(m["partition"], 0):
            q = dict(p)
            q.pop("emitted_at", None)
            assert out.get(p["event_id"], q) == q, p  # a redelivery is the same event
            out[p["event_id"]] = q
    return out


def output_ends(env):
    _rewards, churn = read_outputs(env)
    ends = {}
    for m, _ in churn:
        ends[m["partition"]] = max(ends.get(m["partition"], 0), m["offset"] + 1)
    return ends


def rescore_run(env, w, name, rate, prefix):
    """Apply w under the default model, save REFIT, wait for the rescoring.
    Returns (state before the refit, after, seconds it took, the churn-risk
    events it emitted)."""
    d = env.daemon(name, redis_prefix=prefix,
                   **{"rescore.per_s": rate, "model.refresh_s": 1})
    d.start()
    d.wait_caught_up(w.total())
    wait_for("the outputs delivered", lambda: d.metrics().get("loyaltyd_derived_in_flight") == 0, 30)
    ends = output_ends(env)
    before = full_state(env.r, prefix)
    assert all("model_version" not in h for h, _ in before.values())  # version 0
    t0 = time.monotonic()
    assert save_model(env.r, prefix, REFIT) == 1

    def reached():
        m = d.metrics()
        return (m.get("loyaltyd_model_version") == 1 and m.get("loyaltyd_rescore_listing") == 0
                and m.get("loyaltyd_rescore_pending") == 0
                and m.get("loyaltyd_rescored_total") >= len(before) and m)
    m = wait_for("every customer rescored", reached, 120, interval=0.2)
    took = time.monotonic() - t0
    after = full_state(env.r, prefix)
    assert m.get("loyaltyd_rescored_total") == len(before)  # no one twice
    wait_for("the crossings delivered", lambda: d.metrics().get("loyaltyd_derived_in_flight") == 0,
             30)
    crossings = churn_since(env, ends)
    d.stop()
    log("%s: %d customers rescored in %.1f s at rescore.per_s = %d, %d crossings"
        % (name, len(before), took, rate, len(crossings)))
    return before, after, took, crossings


def test_refit_rescores_every_customer(env):
    need_ctl()
    w = Workload(seed=83, customers=CUSTOMERS, malformed=False)
    env.create_topics()
    feed_workload(env, w)
    prefix = env.redis_prefix
    before, after, took, got = rescore_run(env, w, "a", RATE, prefix)

    # Every customer on the new version, within the budget's time (the
    # listing, the rate, the refresh interval and a margin).
    assert set(after) == set(before)
    behind = [c for c, (h, _) in after.items() if h.get("model_version") != "1"]
    assert not behind, behind[:10]
    assert took < len(before) / RATE + 1 + 10, took
    # Scored as of each customer's own time, which a rescore does not move.
    assert all(after[c][0]["as_of"] == before[c][0]["as_of"] for c in before)
    changed = sum(after[c][0].get("churn_risk") != before[c][0].get("churn_risk")
                  for c in before)
    assert changed > len(before) // 2, changed  # the refit mattered

    # loyaltyctl agrees: nobody behind, and show no longer warns.
    ctl = [LOYALTYCTL, "--redis", "127.0.0.1:%d" % REDIS_PORT, "--prefix", prefix, "--json"]
    stats = json.loads(run(ctl + ["stats"]).stdout)
    assert stats == {"customers": len(before), "model_version": 1, "behind": 0}, stats

    # A fresh computation: a daemon that had the refit from the start.
    fresh = env.redis_prefix + "fresh:"
    assert save_model(env.r, fresh, REFIT) == 1
    d = env.daemon("fresh", redis_prefix=fresh)
    d.start()
    d.wait_caught_up(w.total())
    d.stop()
    replay = full_state(env.r, fresh)
    assert set(replay) == set(after)
    diff = [(c, f, after[c][0].get(f), replay[c][0].get(f)) for c in after for f in MODEL_FIELDS
            if after[c][0].get(f) != replay[c][0].get(f)]
    assert not diff, diff[:10]
    ia, ib = indices(env.r, prefix), indices(env.r, fresh)
    assert set(ia) == set(ib) == {"risk", "value"}  # redis.indices' default
    for name in ia:
        assert ia[name] == ib[name], name

    # The crossings the refit implies, and no others: customers armed
    # before whose new risk reaches the threshold, as of their own time.
    want = {c for c in before if before[c][0].get("risk_armed", "1") == "1"
            and float(after[c][0].get("churn_risk", "0")) >= 0.7}
    assert {p["customer_id"] for p in got.values()} == want
    assert len(got) == len(want) > 0
    for p in got.values():
        c = p["customer_id"]
        assert p["crossing"] == int(after[c][0].get("churn_seq", "0"))
        assert p["churn_risk"] == float(after[c][0]["churn_risk"])

    # The same input rescored at another rate, on a prefix of its own,
    # emits the same crossings: the same ids and payloads.
    _, _, _, got_b = rescore_run(env, w, "b", RATE // 3, env.redis_prefix + "b:")
    assert got_b == got


def test_show_says_the_scores_are_older(env):
    """loyaltyctl show names the model version the stored values come from
    when a newer one is saved, and stats counts the customers behind."""
    need_ctl()
    w = Workload(seed=84, customers=30, malformed=False)
    env.create_topics()
    feed_workload(env, w)
    d = env.daemon("old", **{"rescore.per_s": 0})  # no background rescoring
    d.start()
    d.wait_caught_up(w.total())
    assert save_model(env.r, env.redis_prefix, REFIT) == 1
    time.sleep(2)
    d.stop()
    ctl = [LOYALTYCTL, "--redis", "127.0.0.1:%d" % REDIS_PORT, "--prefix", env.redis_prefix]
    cid = sorted(customer_ids(env.r, env.redis_prefix))[0]
    out = run(ctl + ["show", cid]).stdout.decode()
    assert "stored p_alive, churn_risk and clv are from model version 0; the current model " \
           "is version 1" in out, out
    stats = json.loads(run(ctl + ["--json", "stats"]).stdout)
    assert stats["behind"] == stats["customers"] == len(customer_ids(env.r, env.redis_prefix))


def behind(env, prefix, version):
    return sorted(c for c, (h, _) in full_state(env.r, prefix).items()
                  if int(h.get("model_version", "0")) < version)


def test_rescoring_resumes_after_a_crash_and_a_second_refit(env):
    """SIGKILL in the middle of a rescoring: the restarted daemon rescores
    exactly the customers still behind (the stored version is the progress),
    none twice and none missed; a second refit in the middle of the next
    rescoring takes every customer to the newest version."""
    w = Workload(seed=85, customers=1500, malformed=False)
    env.create_topics()
    feed_workload(env, w)
    conf = {"rescore.per_s": 300, "model.refresh_s": 1}
    d = env.daemon("crash", **conf)
    d.start()
    d.wait_caught_up(w.total())
    total = len(customer_ids(env.r, env.redis_prefix))
    assert save_model(env.r, env.redis_prefix, REFIT) == 1
    wait_for("a part rescored", lambda: 300 <= d.metrics().get("loyaltyd_rescored_total"), 30)
    d.sigkill()
    left = behind(env, env.redis_prefix, 1)
    assert 0 < len(left) < total - 200, len(left)

    d.start()
    wait_for("the rest rescored", lambda: d.metrics().get("loyaltyd_rescore_pending") == 0 and
             d.metrics().get("loyaltyd_rescore_listing") == 0 and
             d.metrics().get("loyaltyd_rescored_total") >= len(left), 60)
    assert d.metrics().get("loyaltyd_rescored_total") == len(left)  # those, once each
    assert behind(env, env.redis_prefix, 1) == []

    # Another refit, then a third before the second is through.
    refit3 = dict(REFIT, a=2.0, b=1.5)
    assert save_model(env.r, env.redis_prefix, dict(REFIT, a=3.0)) == 2
    wait_for("version 2 being rescored", lambda: d.metrics().get("loyaltyd_rescored_total") >=
             len(left) + 100, 30)
    assert save_model(env.r, env.redis_prefix, refit3) == 3
    wait_for("version 3 everywhere", lambda: d.metrics().get("loyaltyd_model_version") == 3 and
             d.metrics().get("loyaltyd_rescore_pending") == 0 and
             d.metrics().get("loyaltyd_rescore_listing") == 0 and not behind(
                 env, env.redis_prefix, 3), 60)
    d.stop()


def test_refit_refuses_an_implausible_move(env):
    """fit --save (what loyaltyd-refit.service runs daily) logs the old and
    the new parameters, saves a new version, and refuses a fit whose
    parameters move by more than --max-change (3) from the stored ones:
    nothing saved, exit 1; --max-change or --force override."""
    import os
    from conftest import ROOT
    need_ctl()
    summary = os.path.join(ROOT, "data", "cdnow", "cdnow_customers_summary.csv")
    ctl = [LOYALTYCTL, "--redis", "127.0.0.1:%d" % REDIS_PORT, "--prefix", env.redis_prefix,
           "fit", "--input", summary, "--format", "cdnow-summary", "--save"]

    def version():
        v = env.r.hget(env.redis_prefix + "model", "version")
        return int(v) if v is not None else 0

    p = run(ctl)
    err = p.stderr.decode()
    assert "model version 0: r=0.242593 alpha=4.41353 a=0.792886 b=2.42575" in err, err
    assert "fitted:" in err and "saved as model version 1" in err, err
    assert version() == 1
    # A stored model far from what the data say: the fit's a (0.79) is more
    # than 3 times below it.
    assert save_model(env.r, env.redis_prefix, dict(REFIT, a=50.0)) == 2
    p = run(ctl, check=False)
    err = p.stderr.decode()
    assert p.returncode == 1, err
    assert "a moves from 50 to 0.79" in err and "nothing saved" in err, err
    assert version() == 2 and env.r.hget(env.redis_prefix + "model", "a") == b"50.0"
    assert run(ctl + ["--max-change", "100"]).returncode == 0 and version() == 3
    assert save_model(env.r, env.redis_prefix, dict(REFIT, a=50.0)) == 4
    assert run(ctl + ["--force"]).returncode == 0 and version() == 5
    assert abs(float(env.r.hget(env.redis_prefix + "model", "a")) - 0.792886) < 1e-3


def test_refit_in_days_saved_in_weeks(env):
    """fit --unit days fits alpha in days (7 times the weeks' 4.41 on CDNOW);
    --save stores the daemon's unit, weeks: the published alpha."""
    import os
    from conftest import ROOT
    need_ctl()
    summary = os.path.join(ROOT, "data", "cdnow", "cdnow_customers_summary.csv")
    ctl = [LOYALTYCTL, "--redis", "127.0.0.1:%d" % REDIS_PORT, "--prefix", env.redis_prefix,
           "fit", "--input", summary, "--format", "cdnow-summary", "--unit", "days"]
    out = run(ctl).stdout.decode()
    assert "alpha=30.89" in out, out
    run(ctl + ["--save"])
    stored = env.r.hgetall(env.redis_prefix + "model")
    assert stored[b"version"] == b"1" and stored[b"unit"] == b"weeks", stored
    assert abs(float(stored[b"alpha"]) - 4.413532) < 1e-3, stored
    assert abs(float(stored[b"r"]) - 0.242593) < 1e-4, stored
