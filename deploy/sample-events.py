#!/usr/bin/env python3
"""Turn the CDNOW purchase histories into loyaltyd input events.

Every CDNOW transaction becomes an `order.placed` event; around them the script
generates, from a fixed seed, what a shop would also see: shipments and
deliveries (some late), returns, reviews, and customer-service messages
(pre-sale inquiries, replies, complaints, payment reminders, marketing), plus a
handful of malformed messages that must end up in the dead-letter topic.

Output: one file per input topic in OUTDIR (orders.txt, reviews.txt,
messages.txt), each line "customer_id<TAB>json", ready for tests/tools/kfeed.
"""
import argparse
import datetime as dt
import json
import os
import random

BRANDS = ["Sony", "EMI", "Warner", "Universal", "BMG", "Virgin", "Decca", "Blue Note"]
CATEGORIES = ["rock", "jazz", "classical", "pop"]


def read_transactions(path, until, limit):
    """{customer: [(date, cds, value)]} for the first `limit` customers."""
    out = {}
    with open(path, encoding="ascii") as f:
        for line in f:
            parts = line.split()
            if len(parts) != 5:
                continue
            cust = "cdnow-" + parts[1]
            day = dt.datetime.strptime(parts[2], "%Y%m%d").date()
            if until and day > until:
                continue
            if cust not in out and len(out) >= limit:
                continue
            out.setdefault(cust, []).append((day, int(parts[3]), float(parts[4])))
    return out


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class Gen:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.seq = 0
        self.orders, self.reviews, self.messages = [], [], []

    def eid(self, kind):
        self.seq += 1
        return "%s-%07d" % (kind, self.seq)

    def emit(self, topic, cust, ev):
        ev.setdefault("event_id", self.eid(ev["type"].split(".")[0]))
        ev["customer_id"] = cust
        topic.append((ev["ts"], cust, json.dumps(ev, separators=(",", ":"))))

    def customer(self, cust, txs):
        rng = self.rng
        profile = rng.choice(["loyal", "switcher", "split", "bargain", "grumpy", "plain"])
        cat = rng.choice(CATEGORIES)
        brands = rng.sample(BRANDS, 3)
        for n, (day, cds, value) in enumerate(txs):
            t = dt.datetime.combine(day, dt.time(12, 0)) + dt.timedelta(minutes=n)
            self.order(cust, profile, cat, brands, n, len(txs), t, cds, value)

    def brand_for(self, profile, brands, n, total):
        if profile == "loyal":
            return brands[0]
        if profile == "switcher":
            return brands[0] if n < total // 2 else brands[1]
        if profile == "split":
            return brands[n % 2]
        return self.rng.choice(BRANDS)

    def order(self, cust, profile, cat, brands, n, total, t, cds, value):
        rng = self.rng
        oid = "o-%s-%d" % (cust, n)
        conv = None
        if rng.random() < 0.3:
            conv = "cv-%s-%d" % (cust, n)
            self.emit(self.messages, cust, {"type": "message.sent", "ts": iso(t - dt.timedelta(hours=rng.randint(1, 48))),
                                            "conversation_id": conv, "direction": "inbound", "kind": "inquiry",
                                            "mentions_competitor": rng.random() < 0.1})
            if rng.random() < 0.8:
                self.emit(self.messages, cust, {"type": "message.sent", "ts": iso(t - dt.timedelta(minutes=30)),
                                                "conversation_id": conv, "direction": "outbound", "kind": "reply"})
        discount = round(value * rng.uniform(0.1, 0.3), 2) if (profile == "bargain" or rng.random() < 0.15) and value > 0 else 0
        brand = self.brand_for(profile, brands, n, total)
        qty = max(cds, 1)
        order = {"type": "order.placed", "ts": iso(t), "order_id": oid, "amount": value, "currency": "USD",
                 "discount": discount, "shipping": rng.choice(["standard", "standard", "expedited", "fulfilled_by_platform"]),
                 "items": [{"sku": "sku-%s-%d" % (brand.lower().replace(" ", ""), rng.randint(1, 50)), "brand": brand,
                            "category": cat, "qty": qty, "unit_price": round(value / qty, 2),
                            "list_price": round((value + discount) / qty, 2)}],
                 "promised_ship_by": iso(t + dt.timedelta(days=2)), "promised_delivery_by": iso(t + dt.timedelta(days=6))}
        if conv:
            order["conversation_id"] = conv
        self.emit(self.orders, cust, order)
        late = profile == "grumpy" or rng.random() < 0.05
        ship = t + dt.timedelta(days=3 if late else 1)
        self.emit(self.orders, cust, {"type": "order.shipped", "ts": iso(ship), "order_id": oid})
        self.emit(self.orders, cust, {"type": "order.delivered", "ts": iso(ship + dt.timedelta(days=5 if late else 2)), "order_id": oid})
        self.after(cust, profile, oid, brand, order, ship + dt.timedelta(days=3))

    def after(self, cust, profile, oid, brand, order, t):
        rng = self.rng
        if rng.random() < 0.35:
            low = profile == "grumpy" or rng.random() < 0.15
            rating = rng.randint(1, 2) if low else rng.randint(4, 5)
            self.emit(self.reviews, cust, {"type": "review.posted", "ts": iso(t), "order_id": oid,
                                           "sku": order["items"][0]["sku"], "brand": brand, "rating": rating,
                                           "text": "generated review", "shared": rng.random() < 0.4})
        if profile == "grumpy" and rng.random() < 0.5:
            self.emit(self.messages, cust, {"type": "message.sent", "ts": iso(t + dt.timedelta(hours=2)),
                                            "conversation_id": "cx-" + oid, "direction": "inbound", "kind": "complaint"})
        if rng.random() < 0.04 and order["amount"] > 0:
            self.emit(self.orders, cust, {"type": "order.returned", "ts": iso(t + dt.timedelta(days=2)), "order_id": oid,
                                          "amount": order["amount"], "reason": rng.choice(["quality", "not_as_described", "changed_mind"])})
        if rng.random() < 0.2:
            self.emit(self.messages, cust, {"type": "message.sent", "ts": iso(t + dt.timedelta(days=1)),
                                            "conversation_id": "mk-" + oid, "direction": "outbound", "kind": "marketing"})

    def malformed(self):
        bad = [
            ("orders", "cdnow-bad1", '{"event_id":"bad-1","customer_id":"cdnow-bad1","type":"order.placed"'),
            ("orders", "cdnow-bad2", json.dumps({"event_id": "bad-2", "customer_id": "cdnow-bad2", "type": "order.placed",
                                                  "ts": "1997-03-01T12:00:00Z", "order_id": "x", "amount": -5, "currency": "USD"})),
            ("reviews", "cdnow-bad3", json.dumps({"event_id": "bad-3", "customer_id": "cdnow-bad3", "type": "review.posted",
                                                   "ts": "1997-03-01T12:00:00Z", "rating": 9})),
            ("messages", "cdnow-bad4", json.dumps({"event_id": "bad-4", "customer_id": "cdnow-bad4", "type": "order.shipped",
                                                    "ts": "1997-03-01T12:00:00Z", "order_id": "x"})),
        ]
        return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cdnow", required=True, help="CDNOW_sample.txt")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--customers", type=int, default=300)
    ap.add_argument("--until", help="last transaction date YYYY-MM-DD (default: all)")
    ap.add_argument("--seed", type=int, default=1997)
    ap.add_argument("--orders-only", action="store_true", help="only the CDNOW order.placed events")
    ap.add_argument("--no-malformed", action="store_true")
    a = ap.parse_args()
    until = dt.date.fromisoformat(a.until) if a.until else None
    txs = read_transactions(a.cdnow, until, a.customers)
    g = Gen(a.seed)
    for cust in sorted(txs):
        if a.orders_only:
            for n, (day, cds, value) in enumerate(txs[cust]):
                t = dt.datetime.combine(day, dt.time(12, 0)) + dt.timedelta(minutes=n)
                g.emit(g.orders, cust, {"type": "order.placed", "ts": iso(t), "order_id": "o-%s-%d" % (cust, n),
                                        "amount": value, "currency": "USD"})
        else:
            g.customer(cust, txs[cust])
    os.makedirs(a.out, exist_ok=True)
    extra = {"orders": [], "reviews": [], "messages": []}
    if not a.no_malformed and not a.orders_only:
        for topic, cust, raw in g.malformed():
            extra[topic].append((cust, raw))
    for name, events in (("orders", g.orders), ("reviews", g.reviews), ("messages", g.messages)):
        events.sort(key=lambda e: (e[1], e[0]))  # per customer in time order
        with open(os.path.join(a.out, name + ".txt"), "w", encoding="utf-8") as f:
            for _, cust, js in events:
                f.write("%s\t%s\n" % (cust, js))
            for cust, raw in extra[name]:
                f.write("%s\t%s\n" % (cust, raw))
    print("%d customers: %d orders, %d reviews, %d messages, %d malformed" % (
        len(txs), len(g.orders), len(g.reviews), len(g.messages), sum(len(v) for v in extra.values())))


if __name__ == "__main__":
    main()
