"""One customer's stored state damaged in Redis (its packed state
overwritten while the daemon was stopped): the daemon sets that customer
aside instead of stalling.  Its events go to the DLQ with reason
`quarantined`, `loyaltyctl quarantine` lists it, a metric counts it, the log
names it once, and every other customer ends exact (sweeper on).  Once the
state is restored, released and its events redriven from the DLQ, it is
exact too."""
import json
import subprocess

from checks import check_derived_records, check_dlq, check_milestones, check_state, read_outputs
from conftest import LOYALTYCTL, drain, feed_parallel, wait_for
from workload import TOPICS, Workload

CONF = {"clock": "stream", "sweep.interval_s": 1, "merge.max_idle_ms": 15000,
        "merge.grace_ms": 3000}


def ctl(d, *args):
    p = subprocess.run([LOYALTYCTL, "-c", d.config_path, *args], capture_output=True,
                       timeout=120)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def test_damaged_customer_quarantined_then_redriven(env):
    w = Workload(seed=131, customers=150)
    first, second, newest = w.halves()
    env.create_topics()
    feed_parallel({env.topic(t): first[t] for t in TOPICS})
    d = env.daemon(**CONF).start()
    d.wait_caught_up(sum(len(v) for v in first.values()))
    d.stop()

    # A customer with valid events in both halves; its packed state damaged.
    valid = w.customers()
    later = {k for t in TOPICS for k, _ in second[t]}
    victim = sorted(c for c in valid if c in later and any(k == c for t in TOPICS
                                                            for k, _ in first[t]))[0]
    key = "%sc:{%s}:state" % (env.redis_prefix, victim)
    good = env.r.get(key)
    assert good, "no packed state at %s" % key
    env.r.set(key, b"\x00not a state")

    d = env.daemon(name="d2", group=d.group, **CONF).start()
    feed_parallel({env.topic(t): second[t] for t in TOPICS})
    m = d.wait_caught_up(None)
    d.wait_timers_fired()
    assert m.get("loyaltyd_customers_quarantined_total") == 1
    held = m.get("loyaltyd_dead_lettered_total", reason="quarantined")
    assert held >= 1
    assert d.stderr_tail(400).count("customer %s quarantined" % victim) == 1, d.stderr_tail()
    rc, out, err = ctl(d, "quarantine")
    assert rc == 0 and out.startswith(victim + "  since ") and (
        "does not decode" in out or "not a packed state" in out), (rc, out, err)
    rc, out, _ = ctl(d, "--json", "quarantine")
    assert [q["customer_id"] for q in json.loads(out)] == [victim]

    # The others are exact; the victim's state is untouched.
    check_state(env.r, env.redis_prefix, w, check_rev=False, timers_until=newest,
                except_customers=(victim,))
    assert env.r.get(key) == b"\x00not a state"
    dlq = [x for x in drain(env.topic("loyalty.dlq")) if x["headers"].get("reason") == "quarantined"]
    assert len(dlq) == held and {x["key"] for x in dlq} == {victim}, dlq[:3]
    assert all(x["headers"]["source_topic"].startswith(env.topic_prefix) for x in dlq)

    # Repaired (restored from a backup), released, its events redriven.
    env.r.set(key, good)
    rc, out, err = ctl(d, "quarantine", "release", victim)
    assert rc == 0 and "released" in out, (rc, out, err)
    rc, out, err = ctl(d, "quarantine", "release", victim)
    assert rc == 1 and "not quarantined" in err, (rc, out, err)
    rc, out, err = ctl(d, "redrive", "--reason", "quarantined", "--customer", victim)
    assert rc == 0, (rc, out, err)
    wait_for("the redriven events applied",
             lambda: d.metrics().processed() >= m.processed() + held, 60)
    d.wait_caught_up(None)
    d.wait_timers_fired()
    check_state(env.r, env.redis_prefix, w, check_rev=False, timers_until=newest)
    check_dlq(env, w, other_reasons=("quarantined",))
    rewards, churn = read_outputs(env)
    check_derived_records(rewards, churn)
    check_milestones(w, rewards)
    assert d.metrics().get("loyaltyd_customers_quarantined_total") == 1
    d.stop()
