"""loyaltyctl redrive: dead-lettered orders produced again to their source
topic once their cause is fixed (a limit raised), on the real broker and
Redis.  Orders above limits.max_amount are dead-lettered with reason
bad_amount; after a restart with the limit raised, redrive replays them
(--dry-run produces nothing, --customer limits it to one customer), a
truncated record and one of another reason stay out, and a second redrive
applies nothing new: the daemon skips the event_ids it has applied."""
import json
import subprocess
import time

from conftest import LOYALTYCTL, customer_hash, drain, feed, log, need_ctl

DAY = 86400 * 1000
GOOD = {"r1": [20, 30], "r2": [40, 10], "r3": [25], "r4": [15]}
BAD = {"r1": 150, "r2": 220, "r3": 180}  # above the limit of 100: bad_amount
BIG = ("r4", 500)  # bad_amount too, but bigger than dlq.max_payload_bytes: truncated
OTHER = "r1"  # an amount as a string: wrong_type, another reason


def order(cid, n, amount, ts, **extra):
    ev = {"event_id": "e-%s-%d" % (cid, n), "customer_id": cid, "type": "order.placed",
          "ts": ts, "order_id": "o-%s-%d" % (cid, n), "amount": amount, "currency": "USD"}
    ev.update(extra)
    return (cid, json.dumps(ev).encode())


def orders_lines():
    t0 = int(time.time() * 1000) - 20 * DAY
    lines, n = [], 0
    for cid in sorted(GOOD):
        for amount in GOOD[cid]:
            n += 1
            lines.append(order(cid, n, amount, t0 + n * DAY))
        if cid in BAD:
            n += 1
            lines.append(order(cid, n, BAD[cid], t0 + n * DAY))
    n += 1
    lines.append(order(BIG[0], n, BIG[1], t0 + n * DAY, note="x" * 400))
    n += 1
    lines.append(order(OTHER, n, "12.50", t0 + n * DAY))
    return lines


def ctl(conf, *args, timeout=120):
    p = subprocess.run([LOYALTYCTL, "-c", conf, *args], capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def redrive(conf, *args):
    rc, out, err = ctl(conf, "--json", "redrive", "--reason", "bad_amount", *args)
    assert rc == 0, (rc, out, err)
    return json.loads(out)


def caught_up(d, expected):
    """Only the partitions that got records have a committed offset, hence a lag."""
    return d.wait_caught_up(expected, timeout=60, partitions=1)


def state(env, cid):
    f = customer_hash(env.r, env.redis_prefix, cid)
    return int(f.get("orders", 0)), int(f.get("spend_cents", 0))


def test_redrive(env, tmp_path):
    need_ctl()
    env.create_topics()
    lines = orders_lines()
    feed(env.topic("orders"), lines)
    d = env.daemon(**{"limits.max_amount": "100", "dlq.max_payload_bytes": "256"}).start()
    m = caught_up(d, len(lines))
    assert m.dead_by_reason() == {"bad_amount": 4, "wrong_type": 1}, m.dead_by_reason()
    dlq = drain(env.topic("loyalty.dlq"))
    by_key = {}
    for r in dlq:
        by_key.setdefault(r["key"], []).append(r["headers"])
    assert sorted((k, h["reason"], h["truncated"]) for k, hs in by_key.items() for h in hs) == [
        ("r1", "bad_amount", "false"), ("r1", "wrong_type", "false"),
        ("r2", "bad_amount", "false"), ("r3", "bad_amount", "false"),
        ("r4", "bad_amount", "true")], dlq
    before = {cid: state(env, cid) for cid in GOOD}
    assert before == {cid: (len(v), sum(v) * 100) for cid, v in GOOD.items()}, before

    d.stop()
    d.conf["limits.max_amount"] = "1000"
    d.start()
    conf = d.config_path

    # Bad arguments: the usage and exit 2.
    for args in ([], ["--reason"], ["--reason", ""], ["--dry-run"], ["--reason", "x", "--bogus"],
                 ["--reason", "x", "--customer"], ["--reason", "x", "extra"]):
        rc, out, err = ctl(conf, "redrive", *args)
        assert rc == 2 and "usage: loyaltyctl" in err, (args, rc, out, err)

    # --dry-run: listed, nothing produced.
    n_orders = len(drain(env.topic("orders")))
    s = redrive(conf, "--dry-run")
    assert (s["dry_run"], s["read"], s["matched"], s["to_redrive"], s["redriven"],
            s["skipped_truncated"], s["skipped_unknown_topic"]) == (True, 5, 4, 3, 0, 1, 0), s
    assert sorted(r["key"] for r in s["records"]) == ["r1", "r2", "r3"], s
    assert len(s["truncated_sources"]) == 1 and s["truncated_sources"][0].startswith(
        env.topic("orders") + "["), s
    rc, out, err = ctl(conf, "redrive", "--reason", "bad_amount", "--dry-run")
    assert rc == 0, err
    log("redrive --dry-run:\n" + out)
    assert "would redrive 3" in out and "skipped 1 truncated" in out, out
    assert out.count("would redrive %s[" % env.topic("orders")) == 3, out
    time.sleep(1)
    assert len(drain(env.topic("orders"))) == n_orders
    assert d.metrics().consumed() == 0

    # --customer: one customer's record only.
    s = redrive(conf, "--customer", "r1")
    assert (s["matched"], s["redriven"], s["skipped_truncated"]) == (1, 1, 0), s
    m = caught_up(d, 1)
    assert m.get("loyaltyd_applied_total") == 1
    assert state(env, "r1") == (3, 20000) and state(env, "r2") == before["r2"]

    # Every one: r1's again (a duplicate), r2's and r3's applied.
    s = redrive(conf)
    assert (s["read"], s["matched"], s["redriven"], s["skipped_truncated"]) == (5, 4, 3, 1), s
    m = caught_up(d, 4)
    assert m.get("loyaltyd_applied_total") == 3
    assert m.get("loyaltyd_duplicates_skipped_total", why="event_id") == 1
    after = {cid: state(env, cid) for cid in GOOD}
    assert after == {"r1": (3, 20000), "r2": (3, 27000), "r3": (2, 20500),
                     "r4": before["r4"]}, after

    # Once more: nothing new applied, every one skipped as a duplicate.
    s = redrive(conf)
    assert s["redriven"] == 3, s
    m = caught_up(d, 7)
    assert m.get("loyaltyd_applied_total") == 3
    assert m.get("loyaltyd_duplicates_skipped_total", why="event_id") == 4
    assert {cid: state(env, cid) for cid in GOOD} == after

    # The wrong_type order never went back to the orders topic; the
    # bad_amount ones three times each (r1 four times).
    sent = [json.loads(r["value"]) for r in drain(env.topic("orders"))]
    assert sum(1 for e in sent if e["amount"] == "12.50") == 1
    assert sum(1 for e in sent if e["customer_id"] == "r1" and e["amount"] == 150) == 4

    # A source topic that is no configured input topic is skipped.
    other = tmp_path / "other.conf"
    other.write_text(open(conf).read().replace(
        "topic.orders = %s\n" % env.topic("orders"), "topic.orders = elsewhere\n"))
    s = redrive(str(other), "--dry-run")
    assert (s["matched"], s["to_redrive"], s["skipped_truncated"], s["skipped_unknown_topic"]) == (
        4, 0, 1, 3), s
    d.stop()
    log("redrive: 3 bad_amount orders replayed, a truncated one and a wrong_type one left, "
        "duplicates skipped")
