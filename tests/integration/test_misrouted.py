"""Customers whose events come on two partitions (producers that key by
something else than customer_id)."""
import json

from conftest import customer_hash, drain, feed, log

CUSTOMERS = 80
ORDERS = 8
DAY_MS = 86400000
BASE_MS = 1704067200000  # 2024-01-01


def iso(ms):
    import datetime
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)


def test_misrouted_applied_once_and_counted(env):
    """Every other order of each customer is keyed by something else or not
    at all, so it may land on another partition than the customer's others
    (and is counted as unkeyed or keyed otherwise): each is still
    applied exactly once (the batches of two tasks never hold one customer at
    the same time), the customer keeps the partition it was first committed
    from, and every event that came on another one is counted in
    loyaltyd_misrouted_total."""
    env.create_topics()
    lines = []
    for c in range(CUSTOMERS):
        cid = "mis-%03d" % c
        for k in range(ORDERS):
            ms = BASE_MS + (k * 7 + c % 5) * DAY_MS + c * 1000
            ev = {"type": "order.placed", "ts": iso(ms), "order_id": "o-%s-%d" % (cid, k),
                  "amount": (100 + 37 * k + c) / 100, "currency": "USD",
                  "event_id": "e-%s-%d" % (cid, k), "customer_id": cid}
            # Half keyed by the customer, a quarter otherwise, a quarter not.
            key = cid if k % 2 == 0 else None if k % 4 == 3 else "other-%s-%d" % (cid, k)
            lines.append((ms, key, json.dumps(ev).encode()))
    lines.sort(key=lambda x: x[0])
    feed(env.topic("orders"), [(k, v) for _, k, v in lines])

    d = env.daemon().start()
    m = d.wait_caught_up(expected=len(lines), partitions=4)  # orders only
    assert m.get("loyaltyd_applied_total") == len(lines)
    assert m.get("loyaltyd_duplicates_skipped_total") == 0

    by_customer = {}
    for msg in drain(env.topic("orders")):
        ev = json.loads(msg["value"])
        by_customer.setdefault(ev["customer_id"], []).append((msg["partition"], ev))
    assert len(by_customer) == CUSTOMERS

    misrouted = 0
    for cid, msgs in sorted(by_customer.items()):
        h = customer_hash(env.r, env.redis_prefix, cid)
        assert int(h["orders"]) == ORDERS, "%s: %s orders" % (cid, h.get("orders"))
        want_cents = sum(round(ev["amount"] * 100) for _, ev in msgs)
        assert int(h["spend_cents"]) == want_cents, "%s: spend %s, want %d" % (
            cid, h.get("spend_cents"), want_cents)
        home = int(h["partition"])
        assert home in {p for p, _ in msgs}, "%s: home %d is none of its partitions" % (cid, home)
        misrouted += sum(1 for p, _ in msgs if p != home)
    log("%d of %d events came on another partition than their customer's" % (misrouted, len(lines)))
    assert misrouted > CUSTOMERS, "too few events landed elsewhere: nothing tested"
    assert m.get("loyaltyd_misrouted_total") == misrouted
    # Every event not keyed by its customer is counted, by kind.
    assert m.get("loyaltyd_unkeyed_total") == sum(1 for _, k, _ in lines if k is None)
    assert m.get("loyaltyd_key_mismatch_total") == sum(
        1 for _, k, v in lines if k is not None and k != json.loads(v)["customer_id"])
    assert m.get("loyaltyd_unkeyed_total") > 0 and m.get("loyaltyd_key_mismatch_total") > 0
    d.stop()
