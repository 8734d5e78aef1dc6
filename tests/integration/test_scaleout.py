"""Scale-out: two daemons in one consumer group share the partitions; every
event is applied once, and each quiet customer is found by the sweeper of the
instance that owns the customer's partition and gets one churn-risk event."""
import datetime as dt
import json
import zlib

from conftest import drain, feed, log, wait_for

PARTITIONS = 4  # deploy/kafka.sh's default for the test topics
DAY_MS = 86400000


def partition_of(key):
    """librdkafka's default partitioner for keyed messages: CRC-32 of the key
    modulo the partition count (kfeed uses it)."""
    return zlib.crc32(key.encode()) % PARTITIONS


def key_on(partition, stem):
    return next(k for k in ("%s-%d" % (stem, i) for i in range(1000))
                if partition_of(k) == partition)


def order(cid, oid, day, amount=20):
    ts = dt.datetime(1970, 1, 1, 10, tzinfo=dt.timezone.utc) + dt.timedelta(days=day)
    return (cid, json.dumps({"event_id": "ev-" + oid, "customer_id": cid, "type": "order.placed",
                             "ts": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), "order_id": oid,
                             "amount": amount, "currency": "USD"}).encode())


def test_two_instances_share_the_work(env):
    env.create_topics()
    group = "it-%s-pair" % env.tag
    conf = {"clock": "stream", "sweep.interval_s": "1"}
    a = env.daemon("a", group=group, **conf).start()
    b = env.daemon("b", group=group, **conf).start()

    def owned(d):
        """The orders partitions an instance reports a consumer lag for (the
        statistics list the assigned partitions that have data)."""
        return {p for (t, p) in d.metrics().lags(env.topic_prefix) if t == env.topic("orders")}

    # A quiet repeat buyer on every partition (orders on day D0 and D0+7: one
    # milestone each), then a one-time buyer per partition 200 days later,
    # which moves that partition's stream time past the quiet buyers'
    # crossing day (154 days after the first purchase with the default
    # parameters: tests/integration/test_journeys.py derives it).
    d0 = (dt.date(2023, 1, 2) - dt.date(1970, 1, 1)).days
    quiet = [key_on(p, "quiet") for p in range(PARTITIONS)]
    clocks = [key_on(p, "clock") for p in range(PARTITIONS)]
    feed(env.topic("orders"), [order(q, q + "-1", d0) for q in quiet] +
         [order(q, q + "-2", d0 + 7) for q in quiet])

    def applied():
        return sum(d.metrics().get("loyaltyd_applied_total") for d in (a, b))

    wait_for("the first orders applied", lambda: applied() == 2 * PARTITIONS, 60)
    # Both members have their share of the orders partitions, disjoint.
    wait_for("the orders partitions split between the two instances",
             lambda: len(owned(a)) == 2 and len(owned(b)) == 2 and not owned(a) & owned(b), 60)
    feed(env.topic("orders"), [order(c, c + "-1", d0 + 200) for c in clocks])
    wait_for("the clock orders applied", lambda: applied() == 3 * PARTITIONS, 60)

    def churn():
        return [json.loads(m["value"]) for m in drain(env.topic("loyalty.churn-risk"), idle_ms=500)]

    events = wait_for("one churn-risk event per quiet customer",
                      lambda: (lambda ev: ev if len(ev) >= PARTITIONS else None)(churn()), 60)
    # Several more sweeps on both instances: nothing new may appear.
    runs = [d.metrics().get("loyaltyd_sweeper_runs_total") for d in (a, b)]
    wait_for("two more sweeps on each instance",
             lambda: all(d.metrics().get("loyaltyd_sweeper_runs_total") >= r + 2
                         for d, r in zip((a, b), runs)), 30)
    events = churn()
    assert sorted(e["customer_id"] for e in events) == sorted(quiet), events
    assert len({e["event_id"] for e in events}) == PARTITIONS
    assert all(e["reason_codes"] == ["palive_low"] for e in events), events
    rewards = [json.loads(m["value"]) for m in drain(env.topic("loyalty.rewards"), idle_ms=500)]
    assert sorted(r["customer_id"] for r in rewards) == sorted(quiet)
    assert all(r["reward"]["type"] == "milestone" for r in rewards)
    # Each instance swept (its own partitions' due sets).
    swept = [d.metrics().get("loyaltyd_sweeper_customers_total") for d in (a, b)]
    assert all(s > 0 for s in swept), swept
    log("scale-out: partitions %s / %s, swept %s" % (sorted(owned(a)), sorted(owned(b)), swept))
    a.stop()
    b.stop()
