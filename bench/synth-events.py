#!/usr/bin/env python3
"""A larger synthetic population for the throughput benchmark.

Replicates the CDNOW customers COPIES times: copy 0 is exactly what
`deploy/sample-events.py --customers 100000` writes (same seed, same ids, with
its malformed messages); copy k > 0 renames every customer to
"cdnow-NNNN-sK" (their order and conversation ids follow) and draws the
generated shipments, reviews and messages with another seed, so the copies
share the CDNOW purchase histories but not their profiles or the events around
the orders.  Event ids carry the copy number, so they stay unique.

Output is in the format of sample-events.py: OUTDIR/{orders,reviews,
messages}.txt, "customer_id<TAB>json" per line, per customer in time order.
"""
import argparse
import importlib.util
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def load_sample_events():
    path = os.path.join(HERE, "..", "deploy", "sample-events.py")
    spec = importlib.util.spec_from_file_location("sample_events", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cdnow", required=True, help="CDNOW_sample.txt")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--copies", type=int, default=4, help="population = COPIES x 2357 customers")
    ap.add_argument("--seed", type=int, default=1997)
    a = ap.parse_args()
    se = load_sample_events()

    class CopyGen(se.Gen):
        """sample-events' generator with event ids unique across copies."""

        def __init__(self, seed, copy):
            super().__init__(seed)
            self.copy = copy

        def eid(self, kind):
            base = super().eid(kind)
            return base if self.copy == 0 else "%s-s%d" % (base, self.copy)

    txs = se.read_transactions(a.cdnow, None, 10**9)
    topics = {"orders": [], "reviews": [], "messages": []}
    customers = 0
    for copy in range(a.copies):
        g = CopyGen(a.seed + copy, copy)
        for cust in sorted(txs):
            g.customer(cust if copy == 0 else "%s-s%d" % (cust, copy), txs[cust])
            customers += 1
        topics["orders"] += g.orders
        topics["reviews"] += g.reviews
        topics["messages"] += g.messages
        if copy == 0:
            malformed = g.malformed()
    os.makedirs(a.out, exist_ok=True)
    for name, events in topics.items():
        events.sort(key=lambda e: (e[1], e[0]))  # per customer in time order
        with open(os.path.join(a.out, name + ".txt"), "w", encoding="utf-8") as f:
            for _, cust, js in events:
                f.write("%s\t%s\n" % (cust, js))
            for topic, cust, raw in malformed:
                if topic == name:
                    f.write("%s\t%s\n" % (cust, raw))
    print("%d customers (%d copies): %d orders, %d reviews, %d messages, %d malformed" % (
        customers, a.copies, len(topics["orders"]), len(topics["reviews"]),
        len(topics["messages"]), len(malformed)))


if __name__ == "__main__":
    main()
