"""Events re-sent upstream: the same event at another offset (an at-least-once
producer, an outbox relay) is applied once, recognised by its event_id among
the customer's recent ids; an order.placed re-sent under a new event_id (an
order system that regenerates ids on retry) by its order_id."""
import json
import random

from checks import check_all
from conftest import feed, log
from workload import TOPICS, Workload


def with_duplicates(w, seed):
    """The workload's lines with a twentieth of its valid events produced
    again: some right after the original (the same batch), some at the end of
    their topic (much later), among them every repeat customer's second order
    (the first-repeat milestone) re-sent later; plus a few orders re-sent under
    a new event_id.  Returns (lines by topic, by event_id, by order_id)."""
    rng = random.Random(seed)
    bad = {key for _, key, _, _ in w.bad}
    out = {t: [] for t in TOPICS}
    late = {t: [] for t in TOPICS}
    n_id = n_order = 0
    second = {}
    for key, raw in w.lines["orders"]:
        if key not in bad and json.loads(raw).get("type") == "order.placed":
            second.setdefault(key, []).append(raw)
    milestone_orders = {v[1] for v in second.values() if len(v) >= 2}
    for t in TOPICS:
        for i, (key, raw) in enumerate(w.lines[t]):
            out[t].append((key, raw))
            if key in bad:
                continue
            if raw in milestone_orders or i % 20 == 7:
                if rng.random() < 0.5 and raw not in milestone_orders:
                    out[t].append((key, raw))
                else:
                    late[t].append((key, raw))
                n_id += 1
            elif t == "orders" and i % 97 == 3 and json.loads(raw).get("type") == "order.placed":
                ev = json.loads(raw)
                ev["event_id"] = ev["event_id"] + "-retry"
                late[t].append((key, json.dumps(ev).encode()))
                n_order += 1
    for t in TOPICS:
        out[t].extend(late[t])
    return out, n_id, n_order


def test_duplicates_upstream(env):
    """State equals the model of the de-duplicated input, every milestone
    reward once (none twice for an order re-sent across the milestone), and
    the metric says how each duplicate was recognised."""
    w = Workload(seed=47, customers=200)
    lines, n_id, n_order = with_duplicates(w, 47)
    assert n_id >= w.valid_count() // 20 and n_order > 0
    env.create_topics()
    for t in TOPICS:
        feed(env.topic(t), lines[t])
    total = sum(len(v) for v in lines.values())
    d = env.daemon().start()
    m = d.wait_caught_up(total)
    assert m.get("loyaltyd_applied_total") == w.valid_count()
    assert m.get("loyaltyd_duplicates_skipped_total", why="event_id") == n_id
    assert m.get("loyaltyd_duplicates_skipped_total", why="order_id") == n_order
    assert m.get("loyaltyd_duplicates_skipped_total", why="offset") == 0
    check_all(env, env.r, w)
    d.stop()
    log("duplicates: %d re-sent by id, %d orders under a new id, all skipped" % (n_id, n_order))
