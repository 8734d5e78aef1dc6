"""One reporting currency (README, "Currencies and exchange rates"), on the
real broker and Redis: a customer buying in EUR, GBP and JPY with
money.currency = EUR and rates imported with `loyaltyctl fx import` has
spent exactly the sum of the amounts converted at the rates of their days
(and of one in CHF at its own `fx_rate`), and another reaches silver only
once converted, and a third is refunded at its order's own rate;
an order in a currency without a rate is dead-lettered with reason no_rate,
touches nothing, and applies once the rate is imported (read by the running
daemon within a second) and the order redriven; the same input replayed into
a new prefix after rates of other days were imported gives the same state."""
import json
import os
import time
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

from conftest import LOYALTYCTL, REDIS_PORT, customer_hash, drain, feed, log, need_ctl, run

DAY = 86400 * 1000
CID = "fx-buyer"
TIER = "fx-silver"
REFUND = "fx-refund"


def day_of(ms):
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).date()


def order(n, amount, currency, ts, cid=CID, **extra):
    ev = {"event_id": "e-fx-%d" % n, "customer_id": cid, "type": "order.placed", "ts": ts,
          "order_id": "o-fx-%d" % n, "amount": amount, "currency": currency}
    ev.update(extra)
    return (cid, json.dumps(ev).encode())


def write(tmp_path, name, rows):
    path = os.path.join(str(tmp_path), name)
    with open(path, "w") as f:
        f.write("date,currency,rate\n")
        for d, cur, rate in rows:
            f.write("%s,%s,%s\n" % (d.isoformat(), cur, rate))
    return path


def fx_import(prefix, path):
    args = [LOYALTYCTL, "--redis", "127.0.0.1:%d" % REDIS_PORT, "--prefix", prefix, "fx",
            "import", path]
    out = run(args, timeout=60)
    log("fx import %s: %s" % (os.path.basename(path), out.stdout.decode().strip()))


def cents(amount, rate):
    """EUR hundredths of amount (a decimal string) at rate (units per EUR)."""
    return int((Decimal(amount) / Decimal(rate) * 100).quantize(Decimal(1), ROUND_HALF_UP))


def summary(env, prefix, cid=CID):
    f = customer_hash(env.r, prefix, cid)
    return {k: f.get(k) for k in ("orders", "spend_cents", "net_spend", "currency",
                                  "spend_365d", "tier")}


def test_currency_journey(env, tmp_path):
    need_ctl()
    env.create_topics()
    now = int(time.time() * 1000)
    t0 = now - 300 * DAY
    d0 = day_of(t0)
    # Rates against EUR (the ECB's way): GBP and JPY from before the first
    # order, GBP again from day 60 (the order of day 90 takes it), USD not
    # yet.
    first = write(tmp_path, "rates1.csv", [
        (d0 - timedelta(days=3), "GBP", "0.85"), (d0 - timedelta(days=3), "JPY", "160"),
        (d0 + timedelta(days=60), "GBP", "0.9")])
    fx_import(env.redis_prefix, first)

    buys = [("100.00", "EUR", t0, None), ("85.00", "GBP", t0 + 30 * DAY, "0.85"),
            ("16001", "JPY", t0 + 45 * DAY, "160"), ("42.37", "GBP", t0 + 90 * DAY, "0.9"),
            ("1999.99", "EUR", t0 + 100 * DAY, None)]
    lines = [order(i + 1, float(a) if "." in a else int(a), cur, ts)
             for i, (a, cur, ts, _) in enumerate(buys)]
    # Settled at its own rate (EUR per CHF): no CHF rate in the table.
    lines.append(order(8, 50.01, "CHF", t0 + 110 * DAY, fx_rate=1.05))
    usd = order(9, 110.55, "USD", t0 + 120 * DAY)
    lines.append(usd)
    # Silver takes 200 spent in two orders: 192.50 as given, 200.00 EUR
    # once the GBP is converted.
    lines += [order(20, 150, "EUR", t0 + 10 * DAY, cid=TIER),
              order(21, 42.5, "GBP", t0 + 20 * DAY, cid=TIER)]
    # An order settled at 1.2 EUR per GBP, refunded after GBP's rate moved
    # (0.9 from day 60): the return names its order's rate, and the refund
    # is exactly what the order added.
    lines += [order(30, 100, "GBP", t0 + 50 * DAY, cid=REFUND, fx_rate=1.2),
              (REFUND, json.dumps({"event_id": "e-fx-31", "customer_id": REFUND,
                                   "type": "order.returned", "ts": t0 + 150 * DAY,
                                   "order_id": "o-fx-30", "amount": 100, "currency": "GBP",
                                   "fx_rate": 1.2, "reason": "quality"}).encode())]
    # Dead-lettered at the parse, whatever the rates: decimals JPY has not.
    lines.append(order(10, 1500.5, "JPY", t0 + 121 * DAY))
    feed(env.topic("orders"), lines)

    # A rate older than 40 days converts, counted: the JPY order's (48 days).
    money = {"money.currency": "EUR", "money.max_rate_age_days": "40"}
    d = env.daemon(**money).start()
    m = d.wait_caught_up(len(lines), partitions=1)
    assert m.dead_by_reason() == {"no_rate": 1, "bad_amount": 1}, m.dead_by_reason()
    assert m.get("loyaltyd_fx_stale_rate_total") == 1
    dlq = {r["headers"]["reason"]: r for r in drain(env.topic("loyalty.dlq"))}
    assert dlq["no_rate"]["headers"]["detail"] == (
        "no USD to EUR rate on or before %s" % day_of(t0 + 120 * DAY).isoformat()), dlq
    assert "more decimal places than the currency has" in dlq["bad_amount"]["headers"]["detail"]

    want = sum(int(Decimal(a) * 100) if r is None else cents(a, r) for a, _, _, r in buys)
    want += cents("50.01", Decimal(1) / Decimal("1.05"))  # 52.5105
    applied = len(buys) + 1  # and the two of TIER
    s = summary(env, env.redis_prefix)
    log("after the first rates: %s (want spend_cents %d)" % (s, want))
    assert (s["orders"], s["spend_cents"], s["currency"]) == (str(applied), str(want), "EUR"), s
    t = summary(env, env.redis_prefix, TIER)
    assert (t["spend_cents"], t["tier"]) == ("20000", "silver"), t
    u = summary(env, env.redis_prefix, REFUND)
    assert u["spend_cents"] == "12000" and u["net_spend"] in (None, "0"), u  # 0: not written

    # USD imported: the running daemon reads it (P {fx}:version moved), and
    # the order redriven applies at the rate of its day.
    second = write(tmp_path, "rates2.csv", [(d0 - timedelta(days=3), "USD", "1.1")])
    fx_import(env.redis_prefix, second)
    time.sleep(2.5)
    out = run([LOYALTYCTL, "-c", d.config_path, "redrive", "--reason", "no_rate"])
    log("redrive: " + out.stdout.decode().strip())
    m = d.wait_caught_up(len(lines) + 1, partitions=1)
    assert m.get("loyaltyd_applied_total") == applied + 2 + 2 + 1
    assert m.get("loyaltyd_fx_stale_rate_total") == 2  # the USD rate is 123 days old
    want += cents("110.55", "1.1")  # 100.5 EUR
    s = summary(env, env.redis_prefix)
    assert (s["orders"], s["spend_cents"]) == (str(applied + 1), str(want)), s
    d.stop()

    # Rates of later days only (none of them in force on an order's day
    # before it) change nothing on a replay into a new prefix.
    replay = env.redis_prefix + "replay:"
    for path in (first, second, write(tmp_path, "rates3.csv", [
            (day_of(now) - timedelta(days=1), "GBP", "0.5"),
            (day_of(now) - timedelta(days=1), "USD", "2"),
            (day_of(now) - timedelta(days=1), "JPY", "100")])):
        fx_import(replay, path)
    r = env.daemon("replay", redis_prefix=replay, **money).start()
    m = r.wait_caught_up(len(lines) + 1, partitions=1)
    assert m.dead_by_reason() == {"bad_amount": 1}, m.dead_by_reason()
    assert summary(env, replay) == s, (summary(env, replay), s)
    assert summary(env, replay, TIER) == t, (summary(env, replay, TIER), t)
    assert summary(env, replay, REFUND) == u, (summary(env, replay, REFUND), u)
    r.stop()


def returned(n, cid, order_id, amount, currency, ts, **extra):
    ev = {"event_id": "e-fx-r%d" % n, "customer_id": cid, "type": "order.returned",
          "ts": ts, "order_id": order_id, "amount": amount, "currency": currency,
          "reason": "changed_mind"}
    ev.update(extra)
    return (cid, json.dumps(ev).encode())


def test_refund_at_its_orders_rate(env, tmp_path):
    """A return without fx_rate is refunded at the rate its order was
    converted at (kept in the customer's orders as paid), not at the rate
    of its own day, and needs no rate of its own day; one of an order the
    customer does not have, in a currency without a rate, is dead-lettered
    no_rate.  loyaltyctl show says both amounts of each order; with
    reward.currency = order a coupon is valued in the order's currency."""
    need_ctl()
    env.create_topics()
    now = int(time.time() * 1000)
    t0 = now - 200 * DAY
    d0 = day_of(t0)
    fx_import(env.redis_prefix, write(tmp_path, "rates.csv", [
        (d0 - timedelta(days=3), "GBP", "0.85"), (d0 - timedelta(days=3), "JPY", "160"),
        (d0 + timedelta(days=60), "GBP", "0.9")]))
    back, chf, yen = "fx-back", "fx-chf", "fx-yen"
    lines = [
        # 85.00 GBP at 0.85 = 100.00 EUR; returned whole on day 70, when
        # the day's rate (0.9) would give 94.44
        order(40, 85, "GBP", t0 + 30 * DAY, cid=back),
        returned(41, back, "o-fx-40", 85, "GBP", t0 + 70 * DAY),
        # CHF has no rate: the order settles at its own, the return of a
        # third of it has none and takes the order's; the return of an
        # order the customer does not have cannot be converted
        order(50, 100, "CHF", t0 + 10 * DAY, cid=chf, fx_rate=1.05),
        returned(51, chf, "o-fx-50", 33.33, "CHF", t0 + 20 * DAY),
        returned(52, chf, "o-fx-nope", 10, "CHF", t0 + 21 * DAY),
        # two orders of 100.00 EUR in yen: silver, and its first repeat
        # purchase coupon (10 EUR at silver) in yen
        order(60, 16000, "JPY", t0 + 5 * DAY, cid=yen),
        order(61, 16000, "JPY", t0 + 25 * DAY, cid=yen),
    ]
    feed(env.topic("orders"), lines)
    d = env.daemon(**{"money.currency": "EUR", "reward.currency": "order"}).start()
    m = d.wait_caught_up(len(lines), partitions=1)
    assert m.dead_by_reason() == {"no_rate": 1}, m.dead_by_reason()
    assert m.get("loyaltyd_applied_total") == len(lines) - 1
    dlq = drain(env.topic("loyalty.dlq"))
    assert [r["headers"]["reason"] for r in dlq] == ["no_rate"], dlq
    assert json.loads(dlq[0]["value"])["order_id"] == "o-fx-nope"
    assert "not among the customer's last 8" in dlq[0]["headers"]["detail"], dlq

    b = customer_hash(env.r, env.redis_prefix, back)
    assert (b["spend_cents"], b["refund_cents"]) == ("10000", "10000"), b
    c = customer_hash(env.r, env.redis_prefix, chf)
    assert (c["spend_cents"], c["refund_cents"]) == ("10500", "3500"), c  # 34.9965

    ctl = [LOYALTYCTL, "-c", d.config_path]
    text = run(ctl + ["show", back]).stdout.decode()
    assert "85.00 GBP = 100.00 EUR at 1.176470588 (rates table), refunded at its rate" \
        in text, text
    doc = json.loads(run(ctl + ["--json", "show", chf]).stdout)
    paid = doc["orders_as_paid"]
    assert [(p["currency"], p["amount"], p["converted"], p["rate"], p["own_rate"],
             p["refunded_at_its_rate"]) for p in paid] == [
        ("CHF", 100, 105, 1.05, True, True)], paid

    rewards = [json.loads(r["value"]) for r in drain(env.topic("loyalty.rewards"))]
    coupons = [w["reward"] for w in rewards
               if w["customer_id"] == yen and w["reward"]["kind"] == "coupon"]
    assert coupons == [{"type": "milestone", "milestone": 2, "kind": "coupon",
                        "value": 1600, "currency": "JPY", "graded_by": "revenue"}], rewards
    d.stop()
