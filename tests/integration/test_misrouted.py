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


def orders(keyed):
    """ORDERS orders of each customer, sorted by time: (ms, key, body), the
    key from keyed(cid, k)."""
    lines = []
    for c in range(CUSTOMERS):
        cid = "mis-%03d" % c
        for k in range(ORDERS):
            ms = BASE_MS + (k * 7 + c % 5) * DAY_MS + c * 1000
            ev = {"type": "order.placed", "ts": iso(ms), "order_id": "o-%s-%d" % (cid, k),
                  "amount": (100 + 37 * k + c) / 100, "currency": "USD",
                  "event_id": "e-%s-%d" % (cid, k), "customer_id": cid}
            lines.append((ms, keyed(cid, k), json.dumps(ev).encode()))
    lines.sort(key=lambda x: x[0])
    return lines


def half_keyed(cid, k):
    """Half keyed by the customer, a quarter otherwise, a quarter not."""
    return cid if k % 2 == 0 else None if k % 4 == 3 else "other-%s-%d" % (cid, k)


def test_badly_keyed_dead_lettered(env):
    """By default (input.bad_key = dlq) an event without a key or keyed by
    another than its customer_id goes to the DLQ with reason bad_key, and
    its key is not echoed in the detail; the well-keyed ones are applied."""
    env.create_topics()
    lines = orders(half_keyed)
    feed(env.topic("orders"), [(k, v) for _, k, v in lines])
    d = env.daemon().start()
    m = d.wait_caught_up(expected=len(lines), partitions=4)
    good = [v for _, k, v in lines if k == json.loads(v)["customer_id"]]
    assert m.get("loyaltyd_applied_total") == len(good) == len(lines) // 2
    assert m.dead_by_reason() == {"bad_key": len(lines) - len(good)}
    assert m.get("loyaltyd_unkeyed_total") == sum(1 for _, k, _ in lines if k is None) > 0
    dlq = drain(env.topic("loyalty.dlq"))
    assert len(dlq) == len(lines) - len(good)
    for rec in dlq:
        h = rec["headers"]
        assert h["reason"] == "bad_key", h
        assert h["detail"] in ("no message key (it must be the customer_id)",
                               "message key (%d bytes) is not the customer_id" % len(rec["key"])), h
        assert "other-" not in h["detail"]
    for c in range(CUSTOMERS):
        h = customer_hash(env.r, env.redis_prefix, "mis-%03d" % c)
        assert int(h["orders"]) == ORDERS // 2, h
    d.stop()


def test_misrouted_applied_once_and_counted(env):
    """With input.bad_key = apply, every other order of each customer is
    keyed by something else or not at all, so it may land on another
    partition than the customer's others (and is counted as unkeyed or keyed
    otherwise): each is still
    applied exactly once (the batches of two tasks never hold one customer at
    the same time), the customer keeps the partition it was first committed
    from, and every event that came on another one is counted in
    loyaltyd_misrouted_total."""
    env.create_topics()
    lines = orders(half_keyed)
    feed(env.topic("orders"), [(k, v) for _, k, v in lines])

    d = env.daemon(**{"input.bad_key": "apply"}).start()
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
