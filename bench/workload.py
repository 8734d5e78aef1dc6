#!/usr/bin/env python3
"""Synthetic loyaltyd workload: a shop's year of order, review and message events.

Deterministic from --seed (same arguments, same bytes).  A population of
--customers customers, each with a purchase rate drawn from a lognormal
distribution (so a minority makes most purchases: the script prints the share
of the top 20 %), a first purchase somewhere in the year and further ones at
random times after it, in proportion to rate x remaining time.  Around each
`order.placed` (1-4 items with brand, category, list and unit price, discount,
shipping method, promised dates) it draws what a shop also sees: cancellation
or shipment and delivery (some late), returns with a reason, reviews after
delivery, customer-service conversations (pre-sale inquiry and reply,
complaints after late deliveries or returns and their replies, praise,
payment reminders) and marketing, some of it per order and some per customer.
Orders are added until at least --events events exist; a small share of
malformed messages (--malformed) tests the dead-letter path.

--history picks the shape of the customer histories:
  short (the default)  purchase rates lognormal with sigma 1.7 and the first
                       purchase anywhere in the year: two thirds of 100,000
                       customers order once, the heaviest a few hundred times;
  long                 every customer a long history over the whole year: sigma
                       0.6 and the first purchase within the first 30 days
                       (--first-days), so with 30,000 customers and 1,000,000
                       events each has ~34 events (~11 orders with their
                       shipments, deliveries, cancellations, returns, reviews
                       and conversations) spread over the year.
--sigma and --first-days override the profile's values.

Output: OUTDIR/orders.txt, reviews.txt, messages.txt, one line per message,
"customer_id<TAB>json" (the format tests/tools/kfeed reads; the key is the
customer id, so kfeed's default partitioner co-partitions the three topics),
each file sorted by event time, so feeding them in order keeps every
partition in event-time order and bench/kpace can merge them by time.
OUTDIR/workload.json records the arguments and the counts.
"""
import argparse
import bisect
import collections
import datetime as dt
import itertools
import json
import os
import random
import sys
import time

BRANDS = ["Acme", "Borealis", "Cobalt", "Dune", "Ember", "Fjord", "Granite", "Halo",
          "Iris", "Juniper", "Kestrel", "Lumen", "Maple", "Nimbus", "Onyx", "Pioneer"]
CATEGORIES = ["books", "music", "electronics", "home", "garden", "toys", "fashion", "sports"]
SHIPPING = ["standard", "standard", "standard", "expedited", "fulfilled_by_platform"]
RETURN_REASONS = ["not_as_described", "quality", "late", "changed_mind", "other"]
PROFILES = ["loyal", "loyal", "switcher", "split", "random", "random"]

HOUR = 3600 * 1000
DAY = 24 * HOUR


class Workload:
    def __init__(self, a):
        self.a = a
        self.rng = random.Random(a.seed)
        self.t0 = int(dt.datetime.combine(dt.date.fromisoformat(a.start), dt.time(0),
                                          tzinfo=dt.timezone.utc).timestamp() * 1000)
        self.span = a.days * DAY
        self.t_end = self.t0 + self.span
        self.dump = json.JSONEncoder(separators=(",", ":")).encode
        self.seq = 0
        self.days = {}
        self.out = {"orders": [], "reviews": [], "messages": []}
        self.n_events = 0
        self.n_orders = [0] * a.customers
        self.n_cust_events = [0] * a.customers
        self.types = collections.Counter()

    # ---- helpers ----
    def iso(self, ms):
        """RFC 3339 UTC with milliseconds, e.g. 2025-03-04T12:34:56.789Z."""
        d, r = divmod(ms, DAY)
        day = self.days.get(d)
        if day is None:
            day = self.days[d] = (dt.date(1970, 1, 1) + dt.timedelta(days=d)).isoformat() + "T"
        s, m = divmod(r, 1000)
        h, s = divmod(s, 3600)
        return "%s%02d:%02d:%02d.%03dZ" % (day, h, s // 60, s % 60, m)

    def emit(self, topic, cust, ts, ev):
        """ev: dict without event_id/customer_id/ts; appended to the topic's list."""
        self.seq += 1
        ev["event_id"] = "w%d-%08d" % (self.a.seed, self.seq)
        ev["customer_id"] = cust["id"]
        ev["ts"] = self.iso(ts)
        self.out[topic].append((ts, self.seq, cust["id"] + "\t" + self.dump(ev)))
        self.n_events += 1
        self.n_cust_events[cust["n"]] += 1
        self.types[ev["type"] if ev["type"] != "message.sent" else "message." + ev["kind"]] += 1

    # ---- the population ----
    def customers(self):
        rng, a = self.rng, self.a
        self.pop = []
        first_days = getattr(a, "first_days", None)  # absent: a caller of the short shape
        first_span = first_days * DAY if first_days is not None else None
        for i in range(a.customers):
            if first_span is None:
                first = self.t0 + int(rng.random() * 0.97 * self.span)
            else:
                first = self.t0 + int(rng.random() * first_span)
            brands = rng.sample(BRANDS, 3)
            self.pop.append({
                "id": "cust-%07d" % i,
                "n": i,
                "rate": rng.lognormvariate(0.0, a.sigma),
                "first": first,
                "level": rng.lognormvariate(3.6, 0.6),        # typical order value, ~$37
                "category": rng.choice(CATEGORIES),
                "brands": brands,
                "profile": rng.choice(PROFILES),
                "switch_at": first + int(rng.random() * (self.t_end - first)),
                "bargain": rng.random() < 0.2,               # mostly buys on discount
                "grumpy": rng.random() < 0.08,               # complains, rates low
                "reviewer": rng.random() * 0.6,              # chance of a review per order
                "asker": rng.random() * 0.5,                 # chance of a pre-sale inquiry
                "competitor": rng.random() < 0.1,            # mentions competitors
            })

    def customer_messages(self, c):
        """Marketing and the occasional praise or question, not tied to an order."""
        rng = self.rng
        span = self.t_end - c["first"]
        n = int(rng.expovariate(1.0) * 2.0 * span / self.span + 0.5)
        for k in range(n):
            ts = c["first"] + int(rng.random() * span)
            self.emit("messages", c, ts, {"type": "message.sent", "conversation_id": "mk-%d-%d" % (c["n"], k),
                                          "direction": "outbound", "kind": "marketing"})
        if rng.random() < 0.05:
            ts = c["first"] + int(rng.random() * span)
            conv = "q-%d" % c["n"]
            self.emit("messages", c, ts, {"type": "message.sent", "conversation_id": conv, "direction": "inbound",
                                          "kind": rng.choice(["inquiry", "other", "praise"]),
                                          "mentions_competitor": c["competitor"] and rng.random() < 0.5})
            if rng.random() < 0.85:
                self.emit("messages", c, ts + int(rng.expovariate(1 / 6.0) * HOUR) + 60000,
                          {"type": "message.sent", "conversation_id": conv, "direction": "outbound", "kind": "reply"})

    # ---- one order and what follows it ----
    def order(self, c, t):
        rng, emit = self.rng, self.emit
        k = self.n_orders[c["n"]]
        self.n_orders[c["n"]] = k + 1
        oid = "o-%d-%d" % (c["n"], k)
        msg = {"type": "message.sent", "direction": "inbound"}
        conv = None
        if rng.random() < c["asker"]:
            conv = "cv-%d-%d" % (c["n"], k)
            ask = t - int(rng.random() * 48 * HOUR) - 60000
            emit("messages", c, ask, dict(msg, conversation_id=conv, kind="inquiry",
                                          mentions_competitor=c["competitor"] and rng.random() < 0.3))
            if rng.random() < 0.8:  # some inquiries stay unanswered
                emit("messages", c, ask + int(rng.random() * (t - ask)),
                     {"type": "message.sent", "conversation_id": conv, "direction": "outbound", "kind": "reply"})
        prof = c["profile"]
        if prof == "loyal":
            brand = c["brands"][0] if rng.random() < 0.9 else rng.choice(BRANDS)
        elif prof == "switcher":
            brand = c["brands"][0] if t < c["switch_at"] else c["brands"][1]
        elif prof == "split":
            brand = c["brands"][rng.random() < 0.5]
        else:
            brand = rng.choice(BRANDS)
        discounted = rng.random() < (0.7 if c["bargain"] else 0.15)
        items, amount, listed = [], 0.0, 0.0
        for _ in range(1 + int(rng.expovariate(1.5))):
            if len(items) == 4:
                break
            b = brand if rng.random() < 0.8 else rng.choice(BRANDS)
            cat = c["category"] if rng.random() < 0.75 else rng.choice(CATEGORIES)
            qty = 1 if rng.random() < 0.8 else rng.randint(2, 4)
            lp = round(c["level"] * rng.lognormvariate(0.0, 0.5) / 1.5 + 0.99, 2)
            up = round(lp * (1 - rng.uniform(0.05, 0.4)), 2) if discounted else lp
            items.append({"sku": "%s-%s-%d" % (b.lower(), cat, rng.randint(1, 400)), "brand": b,
                          "category": cat, "qty": qty, "unit_price": up, "list_price": lp})
            amount += up * qty
            listed += lp * qty
        amount = round(amount, 2)
        ship_method = rng.choice(SHIPPING)
        ev = {"type": "order.placed", "order_id": oid, "amount": amount, "currency": "USD",
              "discount": round(listed - amount, 2), "items": items, "shipping": ship_method,
              "promised_ship_by": self.iso(t + 2 * DAY), "promised_delivery_by": self.iso(t + 6 * DAY)}
        if conv:
            ev["conversation_id"] = conv
        emit("orders", c, t, ev)
        if rng.random() < 0.03:
            emit("orders", c, t + int(rng.random() * 20 * HOUR) + 60000, {"type": "order.cancelled", "order_id": oid})
            return
        if rng.random() < 0.03:
            emit("messages", c, t + int(rng.uniform(3, 10) * DAY), {"type": "message.sent", "conversation_id": "pay-" + oid,
                                                                     "direction": "outbound", "kind": "payment_reminder"})
        late = rng.random() < (0.3 if c["grumpy"] else 0.06)
        shipped = t + int(rng.uniform(50, 70 if late else 40) * HOUR)
        emit("orders", c, shipped, {"type": "order.shipped", "order_id": oid})
        delivered = shipped + int(rng.uniform(4, 8) * DAY if late else rng.uniform(1, 4) * DAY)
        emit("orders", c, delivered, {"type": "order.delivered", "order_id": oid})
        after = delivered + int(rng.uniform(2, 120) * HOUR)
        bad = late or rng.random() < 0.05
        if late and rng.random() < (0.6 if c["grumpy"] else 0.2):
            cx = "cx-" + oid
            emit("messages", c, delivered - int(rng.uniform(1, 48) * HOUR),
                 dict(msg, conversation_id=cx, kind="complaint"))
            if rng.random() < 0.7:
                emit("messages", c, delivered + int(rng.uniform(1, 30) * HOUR),
                     {"type": "message.sent", "conversation_id": cx, "direction": "outbound", "kind": "reply"})
        if rng.random() < (0.15 if bad else 0.03):
            reason = "late" if late and rng.random() < 0.5 else rng.choice(RETURN_REASONS)
            emit("orders", c, after + int(rng.uniform(1, 10) * DAY),
                 {"type": "order.returned", "order_id": oid, "amount": amount, "reason": reason})
        if rng.random() < c["reviewer"]:
            low = c["grumpy"] or bad and rng.random() < 0.5
            rating = rng.randint(1, 2) if low and rng.random() < 0.8 else rng.choice([3, 4, 4, 5, 5, 5])
            it = items[0]
            emit("reviews", c, after, {"type": "review.posted", "order_id": oid, "sku": it["sku"], "brand": it["brand"],
                                       "rating": rating, "text": "review of %s" % it["sku"],
                                       "shared": rng.random() < 0.3})
            if rating >= 5 and rng.random() < 0.1:
                emit("messages", c, after + HOUR, dict(msg, conversation_id="pr-" + oid, kind="praise"))
        if rng.random() < 0.1:
            emit("messages", c, after + int(rng.uniform(1, 14) * DAY),
                 {"type": "message.sent", "conversation_id": "mk-" + oid, "direction": "outbound",
                  "kind": "marketing"})

    def malformed(self):
        """Replace a few messages by ones the daemon must dead-letter."""
        rng = self.rng
        n = int(self.n_events * self.a.malformed)
        topics = ["orders", "reviews", "messages"]
        for i in range(n):
            lst = self.out[topics[i % 3]]
            if not lst:
                continue
            j = rng.randrange(len(lst))
            ts, seq, line = lst[j]
            key, js = line.split("\t", 1)
            kind = i % 4
            if kind == 0:
                js = js[: len(js) // 2]  # truncated JSON
            elif kind == 1:
                js = js.replace('"type":"', '"type":"x.', 1)  # unknown type
            elif kind == 2:
                js = js.replace('"ts":"', '"ts":"yesterday ', 1)  # bad timestamp
            else:
                js = "[" + js + "]"  # not an object
            lst[j] = (ts, seq, key + "\t" + js)
        return n

    def run(self):
        a, rng = self.a, self.rng
        self.customers()
        for c in self.pop:
            self.customer_messages(c)
            self.order(c, c["first"])
        # Further purchases: customer drawn by rate x remaining time, time uniform after the first.
        cum = list(itertools.accumulate(c["rate"] * (self.t_end - c["first"]) for c in self.pop))
        total_w = cum[-1]
        pop, random_, order = self.pop, rng.random, self.order
        while self.n_events < a.events:
            for _ in range(1000):
                c = pop[bisect.bisect_left(cum, random_() * total_w)]
                order(c, c["first"] + int(random_() * (self.t_end - c["first"])))
        bad = self.malformed()
        return bad


def write(w, outdir):
    os.makedirs(outdir, exist_ok=True)
    counts = {}
    for topic, lst in w.out.items():
        lst.sort()
        with open(os.path.join(outdir, topic + ".txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(line for _, _, line in lst))
            if lst:
                f.write("\n")
        counts[topic] = len(lst)
    return counts


def skew(n_orders):
    s = sorted(n_orders, reverse=True)
    total = sum(s) or 1
    top = s[: max(1, len(s) // 5)]
    return {"orders": total, "top20_share": round(sum(top) / total, 3), "max": s[0],
            "p50": s[len(s) // 2], "one_order_share": round(sum(1 for x in s if x == 1) / len(s), 3)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--seed", type=int, default=2025)
    ap.add_argument("--customers", type=int, default=100000)
    ap.add_argument("--events", type=int, default=1000000, help="at least this many events")
    ap.add_argument("--small", action="store_true", help="quick mode: 2,000 customers, 20,000 events")
    ap.add_argument("--start", default="2025-01-01", help="first day of the event time (UTC)")
    ap.add_argument("--days", type=int, default=365, help="length of the purchase period")
    ap.add_argument("--history", choices=("short", "long"), default="short",
                    help="profile of the customer histories (see above)")
    ap.add_argument("--sigma", type=float, help="sigma of the lognormal purchase rates "
                    "(profile short: 1.7, long: 0.6)")
    ap.add_argument("--first-days", type=float, help="first purchases fall within this many days "
                    "from --start (profile short: anywhere in the period, long: 30)")
    ap.add_argument("--malformed", type=float, default=0.0001, help="share of malformed messages")
    a = ap.parse_args()
    if a.small:
        a.customers, a.events = 2000, 20000
    if a.sigma is None:
        a.sigma = 1.7 if a.history == "short" else 0.6
    if a.first_days is None and a.history == "long":
        a.first_days = 30
    if a.first_days is not None and not 0 < a.first_days <= a.days:
        sys.exit("workload: need 0 < first-days <= days")
    if a.customers < 1 or a.events < a.customers:
        sys.exit("workload: need 1 <= customers <= events")
    t = time.monotonic()
    w = Workload(a)
    bad = w.run()
    counts = write(w, a.out)
    sk = skew(w.n_orders)
    ev = sorted(w.n_cust_events)
    per = {"events_mean": round(w.n_events / a.customers, 1), "events_p10": ev[len(ev) // 10],
           "events_p50": ev[len(ev) // 2], "events_p90": ev[len(ev) * 9 // 10], "events_max": ev[-1],
           "orders_mean": round(sk["orders"] / a.customers, 1)}
    meta = {"seed": a.seed, "customers": a.customers, "events": w.n_events, "malformed": bad,
            "start": a.start, "days": a.days, "history": a.history, "sigma": a.sigma,
            "first_days": a.first_days, "topics": counts, "skew": sk, "per_customer": per,
            "types": dict(sorted(w.types.items()))}
    with open(os.path.join(a.out, "workload.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=1)
    print("workload: %d events (orders %d, reviews %d, messages %d; %d malformed) for %d customers, "
          "%s + %d days, seed %d, in %.1f s"
          % (w.n_events, counts["orders"], counts["reviews"], counts["messages"], bad, a.customers,
             a.start, a.days, a.seed, time.monotonic() - t))
    print("workload: %d orders; top 20%% of customers place %.0f%% of them; %.0f%% of customers order once; "
          "max %d orders per customer"
          % (sk["orders"], 100 * sk["top20_share"], 100 * sk["one_order_share"], sk["max"]))
    print("workload: per customer %.1f events (p10 %d, p50 %d, p90 %d, max %d), %.1f orders; %s"
          % (per["events_mean"], per["events_p10"], per["events_p50"], per["events_p90"], per["events_max"],
             per["orders_mean"], ", ".join("%s %d" % kv for kv in sorted(w.types.items()))))


if __name__ == "__main__":
    main()
