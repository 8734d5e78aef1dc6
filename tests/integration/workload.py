"""Deterministic input workloads for the integration tests, and an independent
model of the exact aggregates loyaltyd must keep for them.

The generator writes what a shop would send (README, "Events in"): orders with
amounts, discounts and items, shipments, deliveries, cancellations (of known
and of unknown orders), returns, reviews and messages of every kind, several
orders on one day for some customers, timestamps in all three accepted forms
and unknown extra fields.  Malformed messages of many kinds are spread in;
each has a unique key ("bad-NN") and the DLQ reason the daemon must give it.

`Expected` recomputes, in plain Python and without looking at the daemon's
code paths, every aggregate whose final value does not depend on how the
three input topics interleave (they are consumed in parallel, so only
per-topic order is guaranteed).
"""
import datetime as dt
import hashlib
import json
import math
import random

DAY_MS = 86400000
# A Monday, comfortably in the past: the parser refuses times more than a day
# in the future, and every event stays well inside the 365-day window.
BASE_MS = int(dt.datetime(2024, 1, 8, tzinfo=dt.timezone.utc).timestamp() * 1000)
SPAN_DAYS = 240

MILESTONES = (2, 5, 10, 20, 50, 100)  # the model's default `model.milestones`
MSG_KINDS = ("inquiry", "complaint", "praise", "reply", "payment_reminder", "marketing", "other",
             "resolution")
OUTBOUND_KINDS = ("reply", "payment_reminder", "marketing", "resolution")
COMPLAINT_CATEGORIES = ("logistics", "quality", "duties", "payment", "other")
RETURN_REASONS = ("not_as_described", "quality", "late", "changed_mind", "other")
SHIPPING = ("standard", "expedited", "fulfilled_by_platform")
BRANDS = ("Acme", "Borealis", "Cobalt", "Dune", "Ember")
CATEGORIES = ("shoes", "audio", "books")
TOPICS = ("orders", "reviews", "messages")


# ---- the deterministic ids of derived events (state/model/derived.c) -------------

def derived_id(customer_id, kind, cause):
    """The first 128 bits of SHA-256 of customer NUL kind NUL cause, in hex."""
    data = b"\0".join(x.encode() for x in (customer_id, kind, cause))
    return hashlib.sha256(data).hexdigest()[:32]


def milestone_event_id(customer_id, m):
    return derived_id(customer_id, "reward-trigger", "milestone:%d" % m)


# ---- time formats -----------------------------------------------------------

def fmt_ts(ms, rng):
    """One of the accepted forms: RFC 3339 UTC, RFC 3339 with an offset, or
    integer epoch milliseconds."""
    r = rng.random()
    t = dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc)
    if r < 0.15:
        return ms
    if r < 0.30:
        off = dt.timezone(dt.timedelta(hours=rng.choice((-5, 2, 9)), minutes=rng.choice((0, 30))))
        return t.astimezone(off).isoformat(timespec="milliseconds")
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)


def _round_half_away(x):
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


def msg_field(kind):
    """The hash field counting messages of a kind (docs/state.md)."""
    return "msg_reminder" if kind == "payment_reminder" else "msg_" + kind


# ---- the independent model --------------------------------------------------

class CustomerModel:
    """Exact aggregates of one customer, folded in the per-topic order."""

    def __init__(self, cid):
        self.cid = cid
        self.valid = 0
        self.ts = []
        self.currency = ""
        self.open = []  # [order_id, day, amount, disc, depth, fast, markdown, margin]
        self.day_orders = {}  # day -> orders placed minus cancelled
        self.day_spend = {}  # day -> their amounts
        self.day_refund = {}
        self.max_days = 0
        self.f = dict(orders=0, orders_cancelled=0, cancelled_unknown=0, orders_returned=0,
                      orders_shipped=0, orders_delivered=0, spend_cents=0, refund_cents=0,
                      discount_cents=0, discounted_orders=0, depth_ppm_sum=0,
                      markdown_cents=0, margin_cents=0, costed_orders=0, redeemed_unknown=0,
                      fast_ship_orders=0, ratings=0, rating_sum=0, ratings_low=0,
                      ratings_high=0, rating_last=0, reviews_shared=0, competitor_mentions=0)
        for k in MSG_KINDS:
            self.f[msg_field(k)] = 0
        self.inquiry = {}  # conversation -> first inbound inquiry time
        self.conv_order = {}  # conversation -> first order time naming it

    def purchase_days(self):
        return sorted(d for d, n in self.day_orders.items() if n > 0)

    def apply(self, ev, ms):
        f = self.f
        self.valid += 1
        self.ts.append(ms)
        t = ev["type"]
        if t == "order.placed":
            day = ms // DAY_MS
            amt = ev["_cents"]
            disc = ev.get("_disc", 0)
            items = ev.get("items", [])
            # markdown: (list - unit price) x qty of the lines priced below list
            mark = sum(it["qty"] * (round(it["list_price"] * 100) - round(it["unit_price"] * 100))
                       for it in items if 0 < it.get("unit_price", 0) < it.get("list_price", 0))
            cut = disc + mark
            depth = _round_half_away(1e6 * cut / (amt + cut)) if cut > 0 else 0
            margin = None
            if items and all("unit_cost" in it for it in items):
                margin = amt - sum(it["qty"] * round(it["unit_cost"] * 100) for it in items)
                f["margin_cents"] += margin
                f["costed_orders"] += 1
            fast = ev.get("shipping") in ("expedited", "fulfilled_by_platform")
            if len(self.open) == 12:
                self.open.pop(0)
            self.open.append([ev["order_id"], day, amt, disc, depth, fast, mark, margin])
            f["orders"] += 1
            f["spend_cents"] += amt
            f["discount_cents"] += disc
            f["markdown_cents"] += mark
            f["discounted_orders"] += cut > 0
            f["depth_ppm_sum"] += depth
            f["redeemed_unknown"] += "reward_event_id" in ev
            f["fast_ship_orders"] += fast
            if not self.currency:
                self.currency = ev["currency"]
            self.day_orders[day] = self.day_orders.get(day, 0) + 1
            self.day_spend[day] = self.day_spend.get(day, 0) + amt
            self.max_days = max(self.max_days, len(self.purchase_days()))
            if ev.get("conversation_id"):
                self.conv_order.setdefault(ev["conversation_id"], ms)
        elif t == "order.cancelled":
            f["orders_cancelled"] += 1
            hit = [o for o in self.open if o[0] == ev["order_id"]]
            if not hit:
                f["cancelled_unknown"] += 1
                return
            o = hit[0]
            self.open.remove(o)
            f["spend_cents"] -= o[2]
            f["discount_cents"] -= o[3]
            f["markdown_cents"] -= o[6]
            f["discounted_orders"] -= o[3] + o[6] > 0
            f["depth_ppm_sum"] -= o[4]
            if o[7] is not None:
                f["margin_cents"] -= o[7]
                f["costed_orders"] -= 1
            f["fast_ship_orders"] -= o[5]
            self.day_orders[o[1]] -= 1
            self.day_spend[o[1]] -= o[2]
        elif t == "order.shipped":
            f["orders_shipped"] += 1
        elif t == "order.delivered":
            f["orders_delivered"] += 1
            self.open = [o for o in self.open if o[0] != ev["order_id"]]
        elif t == "order.returned":
            f["orders_returned"] += 1
            f["refund_cents"] += ev["_cents"]
            day = ms // DAY_MS
            self.day_refund[day] = self.day_refund.get(day, 0) + ev["_cents"]
        elif t == "review.posted":
            r = ev["rating"]
            f["ratings"] += 1
            f["rating_sum"] += r
            f["rating_last"] = r
            f["reviews_shared"] += bool(ev.get("shared"))
            f["ratings_low"] += r <= 2
            f["ratings_high"] += r >= 4
        elif t == "message.sent":
            f[msg_field(ev["kind"])] += 1
            f["competitor_mentions"] += ev["direction"] == "inbound" and \
                bool(ev.get("mentions_competitor"))
            if ev["direction"] == "inbound" and ev["kind"] == "inquiry":
                c = ev["conversation_id"]
                self.inquiry[c] = min(self.inquiry.get(c, ms), ms)

    def milestones(self):
        return [m for m in MILESTONES if m <= self.max_days]

    def expected_fields(self, as_of=None):
        """field -> exact expected value (int, float or str) of the customer
        hash; the windows as of the last event, or as of `as_of` (a time at or
        after it, where a timer evaluated the customer last)."""
        f = dict(self.f)
        days = self.purchase_days()
        f["purchase_days"] = len(days)
        f["first_day"] = days[0] if days else -1
        f["last_day"] = days[-1] if days else -1
        f["prev_day"] = days[-2] if len(days) >= 2 else -1
        f["first_day_cents"] = self.day_spend[days[0]] if days else 0
        f["currency"] = self.currency
        f["as_of"] = max(self.ts) if as_of is None else as_of
        f["net_spend"] = (f["spend_cents"] - f["refund_cents"]) / 100.0
        now_day = f["as_of"] // DAY_MS
        for n in (30, 90, 365):
            f["orders_%dd" % n] = sum(k for d, k in self.day_orders.items() if now_day - n < d <= now_day)
        spend = sum(v for d, v in self.day_spend.items() if now_day - 365 < d <= now_day)
        refund = sum(v for d, v in self.day_refund.items() if now_day - 365 < d <= now_day)
        f["spend_365d"] = (spend - refund) / 100.0
        net_orders = max(f["orders"] - (f["orders_cancelled"] - f["cancelled_unknown"]), 0)
        f["aov"] = _round_half_away(f["spend_cents"] / net_orders) / 100.0 if net_orders else 0.0
        chosen = [(self.conv_order[c] - self.inquiry[c]) // 60000 for c in self.inquiry
                  if c in self.conv_order and self.conv_order[c] >= self.inquiry[c]]
        f["choose_n"] = len(chosen)
        f["choose_sum_min"] = sum(chosen)
        ms = self.milestones()
        f["milestone"] = ms[-1] if ms else 0
        f["codec"] = "1"
        return f


# ---- malformed input ----------------------------------------------------------

def malformed_messages(ts_ms):
    """[(topic, key, raw bytes, expected DLQ reason)]; every key unique."""
    t = dt.datetime.fromtimestamp(ts_ms / 1000, tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    out = []

    def add(topic, reason, body):
        key = "bad-%02d" % len(out)
        if isinstance(body, dict):
            body.setdefault("event_id", "e-" + key)
            body.setdefault("customer_id", key)
            body = json.dumps({k: v for k, v in body.items() if v is not None}).encode()
        elif isinstance(body, str):
            body = body.encode()
        out.append((topic, key, body, reason))

    def order(**kw):
        ev = {"type": "order.placed", "ts": t, "order_id": "o-bad", "amount": 10.5, "currency": "USD"}
        ev.update(kw)
        return {k: v for k, v in ev.items() if v is not None}

    def review(**kw):
        ev = {"type": "review.posted", "ts": t, "rating": 4}
        ev.update(kw)
        return {k: v for k, v in ev.items() if v is not None}

    def message(**kw):
        ev = {"type": "message.sent", "ts": t, "conversation_id": "cv-bad", "direction": "inbound",
              "kind": "inquiry"}
        ev.update(kw)
        return {k: v for k, v in ev.items() if v is not None}

    add("orders", "invalid_json", '{"event_id":"x","customer_id":"bad-00","type":"order.placed"')
    add("reviews", "invalid_json", '{"event_id":"x","rating":4} trailing')
    add("messages", "invalid_json", '{"event_id":"x\x01y","customer_id":"bad","type":"message.sent"}')
    add("orders", "not_object", "[1,2,3]")
    add("reviews", "not_object", "null")
    add("messages", "invalid_utf8", b'{"event_id":"e-bad","customer_id":"bad-\xff\xfe","type":"message.sent"}')
    add("orders", "missing_field", order(amount=None))
    add("orders", "missing_field", {"type": "order.shipped", "ts": t, "customer_id": None})
    add("messages", "missing_field", message(conversation_id=None))
    add("orders", "wrong_type", order(amount="12.50"))
    add("reviews", "wrong_type", review(shared="yes"))
    add("messages", "wrong_type", message(mentions_competitor=1))
    add("orders", "unknown_type", order(type="order.exploded"))
    add("orders", "wrong_topic", review())
    add("messages", "wrong_topic", order())
    add("orders", "bad_enum", order(shipping="teleport"))
    add("messages", "bad_enum", message(kind="gossip"))
    add("messages", "bad_enum", message(direction="sideways"))
    add("orders", "bad_enum", {"type": "order.returned", "ts": t, "order_id": "o-1", "amount": 3,
                               "reason": "boredom"})
    add("orders", "bad_id", order(customer_id=""))
    add("reviews", "bad_id", review(customer_id="x" * 200))
    add("orders", "bad_amount", order(amount=-5))
    add("orders", "bad_amount", order(amount=2e9))
    add("orders", "bad_amount", order(discount=-1))
    add("orders", "bad_currency", order(currency="usd"))
    add("orders", "bad_currency", order(currency="EURO"))
    add("orders", "bad_quantity", order(items=[{"sku": "s", "brand": "b", "category": "c", "qty": 0}]))
    add("orders", "bad_quantity", order(items=[{"sku": "s", "brand": "b", "category": "c", "qty": 1.5}]))
    add("reviews", "bad_rating", review(rating=6))
    add("reviews", "bad_rating", review(rating=3.5))
    add("orders", "bad_timestamp", order(ts="2024-02-01T10:00:00"))
    add("reviews", "bad_timestamp", review(ts="yesterday"))
    add("messages", "bad_timestamp", message(ts="1960-01-01T00:00:00Z"))
    add("orders", "future_timestamp", order(ts="2100-01-01T00:00:00Z"))
    add("messages", "too_deep", message(x_nested=json.loads("[" * 60 + "]" * 60)))
    add("orders", "too_many_items", order(items=[{"sku": "s%d" % i} for i in range(101)]))
    add("reviews", "too_large", review(text="z" * 80000))
    return out


# ---- the generator ------------------------------------------------------------

class Workload:
    """lines[topic] = [(key, raw bytes)] in production order; models[cid].
    stamps[topic] = the event time (epoch ms) of each line of lines[topic]
    (a malformed line has that of the line before it).  span_days: the
    customers' activity spans BASE_MS .. BASE_MS + span_days (default
    SPAN_DAYS).  The same arguments always give the same bytes."""

    def __init__(self, seed, customers, events_per_customer=10, malformed=True,
                 single_topic=False, id_prefix="cust", span_days=SPAN_DAYS):
        self.seed = seed
        self.span_days = span_days
        self.rng = random.Random(seed)
        self.lines = {t: [] for t in TOPICS}
        self.stamps = {t: [] for t in TOPICS}
        self.models = {}
        self.bad = malformed_messages(BASE_MS + 10 * DAY_MS) if malformed else []
        self.eseq = 0
        per_topic = {t: [] for t in TOPICS}
        for i in range(customers):
            cid = "%s-%05d" % (id_prefix, i)
            if i % 97 == 5:
                cid += "-\u00fc\u00df"  # non-ASCII ids are valid UTF-8
            topics = TOPICS
            if single_topic:
                topics = (TOPICS[0],) if i % 3 else (TOPICS[1 + (i // 3) % 2],)
            self._customer(cid, per_topic, events_per_customer, topics)
        for t in TOPICS:
            # A natural stream: time order across customers (stable sort keeps
            # each customer's own order).
            per_topic[t].sort(key=lambda e: e[0])
            self.lines[t] = [(cid, raw) for _, cid, raw, _ in per_topic[t]]
            self.stamps[t] = [ms for ms, _, _, _ in per_topic[t]]
            for _, cid, _, (ev, ms) in per_topic[t]:
                self.models[cid].apply(ev, ms)
        for topic, key, raw, _ in self.bad:
            lst = self.lines[topic]
            at = self.rng.randrange(len(lst) + 1) if lst else 0
            lst.insert(at, (key, raw))
            stamps = self.stamps[topic]
            stamps.insert(at, stamps[at - 1] if at else BASE_MS)

    # -- events --
    def _eid(self, kind):
        self.eseq += 1
        return "%s-%d-%07d" % (kind, self.seed, self.eseq)

    def _emit(self, out, topic, cid, ev, ms):
        rng = self.rng
        ev = dict(ev)
        ev["event_id"] = self._eid(ev["type"].split(".")[0])
        ev["customer_id"] = cid
        ev["ts"] = fmt_ts(ms, rng)
        if rng.random() < 0.05:
            ev["x_future_field"] = {"added": "later", "n": [1, 2]}
        wire = {k: v for k, v in ev.items() if not k.startswith("_")}
        out[topic].append((ms, cid, json.dumps(wire, ensure_ascii=rng.random() < 0.5).encode(),
                           (ev, ms)))

    def _customer(self, cid, out, per_customer, topics):
        rng = self.rng
        self.models[cid] = CustomerModel(cid)
        start = BASE_MS + rng.randrange(0, 60) * DAY_MS
        convs = []
        n_orders = 0
        if "orders" in topics:
            n_orders = rng.choice((0, 1, 1, 2, 2, 3, 4, 5, 6, 8, 11))
        day = 0
        t = start
        pending = []
        for k in range(n_orders):
            if k and rng.random() > 0.3:
                day += rng.randint(1, 25)  # else: another order the same day
            t = max(t + 60000, start + day * DAY_MS + rng.randrange(8 * 3600000, 20 * 3600000))
            if t >= BASE_MS + self.span_days * DAY_MS:
                break
            oid = "o-%s-%d" % (cid, k)
            cents = rng.choice((0, rng.randint(100, 2000), rng.randint(2000, 40000)))
            ev = {"type": "order.placed", "order_id": oid, "amount": cents / 100,
                  "currency": rng.choice(("USD", "EUR")), "_cents": cents}
            if rng.random() < 0.4:
                disc = rng.randint(1, 5000)
                ev["discount"] = disc / 100
                ev["_disc"] = disc
            if rng.random() < 0.8:
                ev["items"] = [{"sku": "sku-%d" % rng.randint(1, 30), "brand": rng.choice(BRANDS),
                                "category": rng.choice(CATEGORIES), "qty": rng.randint(1, 3),
                                "unit_price": 9.99, "list_price": 12.5}
                               for _ in range(rng.randint(1, 3))]
                if rng.random() < 0.5:
                    for it in ev["items"]:
                        it["unit_cost"] = rng.choice((4.25, 7.5, 11))
            if rng.random() < 0.1:
                ev["reward_event_id"] = "rw-%s-%d" % (cid, k)  # not a reward issued
            if rng.random() < 0.7:
                ev["shipping"] = rng.choice(SHIPPING)
            if rng.random() < 0.5:
                ev["promised_ship_by"] = fmt_ts(t + 2 * DAY_MS, rng)
                ev["promised_delivery_by"] = fmt_ts(t + 6 * DAY_MS, rng)
            if "messages" in topics and len(convs) < 4 and rng.random() < 0.25:
                conv = "pre-%s-%d" % (cid, k)
                convs.append(conv)
                ev["conversation_id"] = conv
                q = t - rng.randint(5, 3000) * 60000 - rng.randint(0, 59999)
                self._emit(out, "messages", cid, {"type": "message.sent", "conversation_id": conv,
                                                   "direction": "inbound", "kind": "inquiry",
                                                   "mentions_competitor": rng.random() < 0.2}, q)
                if rng.random() < 0.6:
                    self._emit(out, "messages", cid, {"type": "message.sent", "conversation_id": conv,
                                                       "direction": "outbound", "kind": "reply"},
                               q + rng.randint(1, 40) * 3600000)
            self._emit(out, "orders", cid, ev, t)
            pending.append((t, oid, cents))
        # What happens to the orders afterwards; same topic, so in time order.
        follow = []
        for (ot, oid, cents) in pending:
            r = rng.random()
            if r < 0.12:
                follow.append((ot + rng.randint(1, 20) * 3600000, {"type": "order.cancelled", "order_id": oid}))
                continue
            if r < 0.75:
                sh = ot + rng.randint(12, 100) * 3600000
                follow.append((sh, {"type": "order.shipped", "order_id": oid}))
                if rng.random() < 0.8:
                    dl = sh + rng.randint(24, 150) * 3600000
                    follow.append((dl, {"type": "order.delivered", "order_id": oid}))
                    if rng.random() < 0.2:
                        amt = rng.randint(0, cents)
                        follow.append((dl + rng.randint(1, 10) * DAY_MS,
                                       {"type": "order.returned", "order_id": oid, "amount": amt / 100,
                                        "_cents": amt, "reason": rng.choice(RETURN_REASONS)}))
                elif rng.random() < 0.3:
                    follow.append((sh + 3600000, {"type": "order.cancelled", "order_id": oid}))
        if "orders" in topics and rng.random() < 0.04:
            follow.append((start + rng.randint(1, 100) * DAY_MS,
                           {"type": "order.cancelled", "order_id": "ghost-" + cid}))
        # Each follow-up is later than its order; the per-topic sort by time
        # in __init__ puts everything in stream order.
        for ft, ev in follow:
            self._emit(out, "orders", cid, ev, ft)
        if "reviews" in topics:
            for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
                ev = {"type": "review.posted", "rating": rng.randint(1, 5)}
                if rng.random() < 0.6:
                    ev["order_id"] = "o-%s-0" % cid
                if rng.random() < 0.5:
                    ev["sku"] = "sku-1"
                    ev["brand"] = rng.choice(BRANDS)
                if rng.random() < 0.5:
                    ev["text"] = rng.choice(("great", "meh", "\u00e9l\u00e9gant \u2605", ""))
                if rng.random() < 0.5:
                    ev["shared"] = rng.random() < 0.5
                self._emit(out, "reviews", cid, ev,
                           start + rng.randrange(0, self.span_days - 60) * DAY_MS
                           + rng.randrange(DAY_MS))
        if "messages" in topics:
            n_msgs = rng.choice((0, 1, 2, 3, 4, 6, per_customer // 2))
            for _ in range(n_msgs):
                if len(convs) < 8 and (not convs or rng.random() < 0.4):
                    convs.append("cv-%s-%d" % (cid, len(convs)))
                kind = rng.choice(MSG_KINDS)
                direction = "outbound" if kind in OUTBOUND_KINDS else \
                    rng.choice(("inbound", "inbound", "outbound"))
                ev = {"type": "message.sent", "conversation_id": rng.choice(convs),
                      "direction": direction, "kind": kind}
                if kind == "complaint" and rng.random() < 0.5:
                    ev["complaint_category"] = rng.choice(COMPLAINT_CATEGORIES)
                if rng.random() < 0.5:
                    ev["mentions_competitor"] = rng.random() < 0.3
                self._emit(out, "messages", cid, ev,
                           start + rng.randrange(0, self.span_days - 60) * DAY_MS
                           + rng.randrange(DAY_MS))

    # -- summaries --
    def in_event_time(self, topics=TOPICS):
        """[(topic, key, raw, ms)] of every line, all topics merged in event
        time: by (ms, topic in TOPICS order, position in its topic), the order
        in which a daemon that merges the input topics by event time applies
        them."""
        rank = {t: i for i, t in enumerate(TOPICS)}
        out = [(ms, rank[t], i, t, key, raw)
               for t in topics for i, ((key, raw), ms) in enumerate(zip(self.lines[t], self.stamps[t]))]
        out.sort(key=lambda e: e[:3])
        return [(t, key, raw, ms) for ms, _, _, t, key, raw in out]

    def valid_count(self, topic=None):
        ts = (topic,) if topic else TOPICS
        return sum(len(self.lines[t]) for t in ts) - sum(1 for b in self.bad if topic in (None, b[0]))

    def halves(self):
        """The input split at the median event time: ({topic: lines before
        it}, {topic: lines from it on}, the newest event time), for runs fed
        in two halves with a fault between them."""
        stamps = sorted(ms for t in TOPICS for ms in self.stamps[t])
        cut = stamps[len(stamps) // 2]
        parts = ({}, {})
        for t in TOPICS:
            for later in (0, 1):
                parts[later][t] = [l for l, ms in zip(self.lines[t], self.stamps[t])
                                   if (ms >= cut) == bool(later)]
        return parts[0], parts[1], stamps[-1]

    def total(self, topic=None):
        ts = (topic,) if topic else TOPICS
        return sum(len(self.lines[t]) for t in ts)

    def customers(self):
        """Customers with at least one valid event (they have a hash)."""
        return {c: m for c, m in self.models.items() if m.valid}

    def expected_milestones(self):
        """{event_id: (customer, milestone)} of every milestone reward."""
        out = {}
        for cid, m in self.models.items():
            for ms in m.milestones():
                out[milestone_event_id(cid, ms)] = (cid, ms)
        return out
