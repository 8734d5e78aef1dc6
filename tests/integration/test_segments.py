"""Scripted journeys through the real broker and the real daemon, one customer
per case, for every segment, loyalty type and brand-loyalty type of the domain
source: each customer's stored `segment`, `loyalty_type`, `brand_type` (and
`attitude` where it is computed), and exactly the segment-change events
docs/model.md prescribes ("Segment events"), no more.

Every expectation is derived by hand from docs/model.md (defaults of the
`model.*` keys) with the arithmetic written next to it, beside the
docs/domain.md definition it implements (section, quoted words); nothing
is copied from the daemon's output.  Event ids are recomputed from the
documented digest (workload.derived_id, cause `segment:<n>`).

As in test_journeys, the three input topics are consumed in parallel, so a
customer's events of different topics go in separate phases (a phase is
produced only once the daemon has applied everything before it), each later
in event time than the one before for that customer.  The sweeper is off: a
due time (the end of `new`, `lapse_days` of silence, p falling below
`palive_low`, an SLA deadline) is evaluated just before the customer's next
event after it, at the due time itself.

  segments       new (a buyer; a private review), potential (no purchase;
                 a one-time buyer), trust, benefit (discounts, markdowns,
                 fast shipping), satisfied (repeat; a one-time buyer past 60
                 days), lapsing (silent 180 days, dated at the due day),
                 inertia, at_risk (no purchase; a one-time buyer; a repeat
                 buyer fading after palive_low)
  loyalty types  true_loyalty, latent_loyalty, spurious_loyalty, no_loyalty
                 (a repeat buyer under behaviour_score; a lapsing buyer)
  brand types    complete, occasional, switching, split, none, variety
  goodwill       an attached trust customer's late first reply weighs
                 against the attitude and it stays trust; the same late
                 reply makes an unattached repeat buyer inertia
  resolution     a complaint resolved by an outbound `resolution` is lifted:
                 inertia -> satisfied, at_risk -> new
"""
import json
import math
import time

from checks import check_derived_records, read_segments
from conftest import customer_hash, log, wait_for
from test_journeys import DAY_MS, Script, at, emitted, epoch_day, palive, q6, rfc3339, run_phases
from workload import derived_id

KIND_SEG = "segment-change"
SETTLE_S = 2.5  # after the expected count: time for an unexpected extra to show up

# docs/model.md defaults of the `model.*` keys the expectations use.
HALF_LIFE_DAYS = 180     # attitude_half_life_days
ATTACHED = 0.4           # attitude_attached
BEHAVIOUR_SCORE = 35     # behaviour_score
GOODWILL = 0.5           # goodwill
LAPSE_DAYS = 180         # lapse_days
NEW_DAYS = 60            # segment_new_days
PALIVE_LOW = 0.5         # palive_low
SLA_MS = 24 * 3600000    # sla_hours
W_INQUIRY_UNANSWERED = 0.15
W_COMPLAINT = 0.25
W_LOW_RATING = 0.25
# Loyalty score weights (weight_repeat, _spend, _choose, _price, _tolerance, _brand).
WEIGHTS = (0.25, 0.20, 0.10, 0.15, 0.10, 0.20)

CLASSES = ("segment", "brand_type", "loyalty_type")
# A new customer's classes; a field at its default is not stored (docs/state.md).
START = ("new", "undetermined", "no_loyalty")


# ---- the model, from docs/model.md -------------------------------------------------

def sat(v, s):
    """sat(v, s) = 1 - exp(-v / s)."""
    return 0.0 if v <= 0 else 1.0 - math.exp(-v / s)


def decay(dt_ms):
    """Attitude evidence halves every attitude_half_life_days (180)."""
    return 0.5 ** (max(dt_ms, 0) / DAY_MS / HALF_LIFE_DAYS)


def first_day_below(x, first_day, last_day, target, days):
    """The first of `days` whose BG/NBD p (T in whole days from the first
    purchase day, weeks) is below target: a due time of the sweeper."""
    t_x = (last_day - first_day) / 7
    return next(d for d in days if palive(x, t_x, (d - first_day) / 7) < target)


def lines(*brands, price=None):
    """Order lines of category `tea`, one per brand named, qty 1; with price,
    unit_price = list_price = price (full price, no markdown)."""
    out = []
    for i, b in enumerate(brands):
        it = {"sku": "%s-%d" % (b.lower(), i), "category": "tea", "brand": b, "qty": 1}
        if price is not None:
            it.update(unit_price=price, list_price=price)
        out.append(it)
    return out


class Journeys(Script):
    """test_journeys.Script whose events go to a chosen phase (`to(k)`), so
    each case is written as one block.  It also keeps, per customer, the
    attitude evidence of docs/model.md "Attitude" and the orders the loyalty
    score needs."""

    def __init__(self):
        super().__init__()
        self.cur = 0
        self.evidence = {}   # cid -> [(kind, ts_ms)]
        self.bought = {}     # cid -> [(day, amount, cut)]
        self._convs = set()

    def to(self, k):
        while len(self.phases) <= k:
            self.phase()
        self.cur = k

    def add(self, topic, cid, typ, ts_ms, **fields):
        self._n += 1
        eid = "%s-ev%03d" % (cid, self._n)
        ev = {"event_id": eid, "customer_id": cid, "type": typ, "ts": rfc3339(ts_ms)}
        ev.update({k: v for k, v in fields.items() if v is not None})
        self.phases[self.cur][topic].append((cid, json.dumps(ev).encode()))
        self.count += 1
        return eid

    def _evidence(self, cid, kind, ts_ms):
        self.evidence.setdefault(cid, []).append((kind, ts_ms))

    def order(self, cid, oid, ts_ms, amount, discount=None, items=None, shipping=None):
        # The cut: the discount plus the markdown (list_price - unit_price) x qty
        # of the lines priced below list (docs/model.md "Price cuts").
        mark = sum((it["list_price"] - it["unit_price"]) * it.get("qty", 1) for it in items or ()
                   if it.get("unit_price") and it.get("list_price", 0) > it["unit_price"])
        self.bought.setdefault(cid, []).append((ts_ms // DAY_MS, amount, (discount or 0) + mark))
        return self.add("orders", cid, "order.placed", ts_ms, order_id=oid, amount=amount,
                        currency="USD", discount=discount, items=items, shipping=shipping)

    def review(self, cid, ts_ms, rating, shared):
        # every review; rated >= 4; shared and rated >= 4
        self._evidence(cid, "reviews", ts_ms)
        if rating >= 4:
            self._evidence(cid, "high", ts_ms)
            if shared:
                self._evidence(cid, "shared", ts_ms)
        return self.add("reviews", cid, "review.posted", ts_ms, rating=rating, shared=shared)

    def message(self, cid, conv, ts_ms, direction, kind, **kw):
        if direction == "inbound":
            if kind == "praise":
                self._evidence(cid, "praise", ts_ms)
            if kind == "inquiry" and (cid, conv) not in self._convs:
                self._convs.add((cid, conv))   # a conversation opened by an inquiry
                self._evidence(cid, "interest", ts_ms)
            if kw.get("mentions_competitor"):
                self._evidence(cid, "rivals", ts_ms)
        return self.add("messages", cid, "message.sent", ts_ms, conversation_id=conv,
                        direction=direction, kind=kind, **kw)

    def attitude(self, cid, t_ms):
        """docs/model.md "Attitude" (W = 0.35 + 0.25 + 0.20 + 0.20 = 1), the
        evidence decayed to t_ms, rounded to 6 digits."""
        n = {}
        for kind, ts in self.evidence.get(cid, ()):
            if ts <= t_ms:
                n[kind] = n.get(kind, 0.0) + decay(t_ms - ts)
        reviews, high = n.get("reviews", 0.0), n.get("high", 0.0)
        ratings = 0.35 * (high / reviews if reviews else 0.0) * sat(reviews, 2)
        shared = 0.25 * sat(n.get("shared", 0.0), 1)
        praise = 0.20 * sat(n.get("praise", 0.0), 1)
        interest = 0.20 * sat(n.get("interest", 0.0), 2)
        rivals = 0.30 * sat(n.get("rivals", 0.0), 1)
        return round(max(0.0, ratings + shared + praise + interest - rivals), 6)

    def score(self, cid, now_day):
        """docs/model.md "Loyalty score" for the customers here: no time to
        choose measured (0.5), no judged incident (0.5), no brand named
        (undetermined: 0.5), no rival mentions, no cancel or return."""
        orders = self.bought.get(cid, [])
        n = len(orders)
        x = len({d for d, _, _ in orders}) - 1
        win = [(a, cut) for d, a, cut in orders if d > now_day - 365]
        aov = round(sum(a for _, a, _ in orders) / n, 2)
        cut_share = sum(1 for _, _, cut in orders if cut > 0) / n
        depth = sum(round(1e6 * cut / (a + cut)) for _, a, cut in orders) / 1e6 / n
        norm = (0.5 * sat(x, 4) + 0.5 * sat(len(win), 4),
                0.7 * sat(sum(a for a, _ in win), 500) + 0.3 * sat(aov, 100),
                0.5,
                1 - 0.5 * cut_share - 0.5 * min(1.0, depth / 0.5),
                0.5,
                0.5)
        # each contribution rounded to hundredths of a point
        return sum(math.floor(10000 * w * v + 0.5) for w, v in zip(WEIGHTS, norm)) / 100


class Segments:
    """The expected segment-change events, each customer's in order, and the
    classes each customer holds after them."""

    def __init__(self):
        self.now = {}      # cid -> (segment, brand_type, loyalty_type)
        self.seq = {}
        self.events = {}   # event id -> expectation
        self.attitude = {}  # cid -> the stored attitude expected at the end

    def customer(self, cid):
        self.now[cid] = START
        self.seq[cid] = 0
        return cid

    def change(self, cid, as_of_ms, segment=None, brand=None, loyalty=None, attitude=None):
        """segment = (name, the rule's reason code); brand, loyalty = the new
        type.  Reason codes: the segment rule's code, brand_<type>, the loyalty
        type's name, for what changed (docs/model.md "Segment events")."""
        old = self.now[cid]
        new = (segment[0] if segment else old[0], brand or old[1], loyalty or old[2])
        changed = [k for k, a, b in zip(CLASSES, old, new) if a != b]
        assert changed == [k for k, v in zip(CLASSES, (segment, brand, loyalty)) if v], (
            "the script's expectation names a class that does not change", cid, old, new)
        reasons = ([segment[1]] if segment else []) + (["brand_" + brand] if brand else []) + (
            [loyalty] if loyalty else [])
        self.seq[cid] += 1
        n = self.seq[cid]
        self.events[derived_id(cid, KIND_SEG, "segment:%d" % n)] = dict(
            customer=cid, seq=n, as_of=as_of_ms, changed=changed, reasons=reasons,
            moves={k: (a, b) for k, a, b in zip(CLASSES, old, new)}, attitude=attitude)
        self.now[cid] = new


def stored_classes(h):
    return tuple(h.get(k, v) for k, v in zip(CLASSES, START))


def check_segment_events(env, x):
    """The segments topic holds exactly the expected events, each once."""
    recs = read_segments(env)
    by_id, _ = check_derived_records([], [], segments=recs)  # shape, ids unique
    for p in by_id.values():
        assert p["customer_id"] in x.now, "segment event of a customer outside the cases: %s" % p
    unexpected = {e: p for e, p in by_id.items() if e not in x.events}
    missing = {e: w for e, w in x.events.items() if e not in by_id}
    assert not unexpected and not missing, (
        "segment events differ from the expected ones\nunexpected:\n  %s\nmissing:\n  %s" % (
            "\n  ".join("%s #%s %s %s %s" % (p["customer_id"], p["sequence"], p["as_of"],
                                             p["changed"], p["reason_codes"])
                        for p in sorted(unexpected.values(),
                                        key=lambda p: (p["customer_id"], p["sequence"]))),
            "\n  ".join("%s #%d %s %s %s" % (w["customer"], w["seq"], rfc3339(w["as_of"]),
                                             w["changed"], w["reasons"])
                        for w in sorted(missing.values(),
                                        key=lambda w: (w["customer"], w["seq"])))))
    for eid, w in x.events.items():
        p = by_id[eid]
        what = "%s segment:%d: %s" % (w["customer"], w["seq"], p)
        assert p["customer_id"] == w["customer"] and p["sequence"] == w["seq"], what
        assert p["as_of"] == rfc3339(w["as_of"]), "as_of expected %s; %s" % (
            rfc3339(w["as_of"]), what)
        assert p["changed"] == w["changed"], what
        assert p["reason_codes"] == w["reasons"], "reasons expected %s; %s" % (w["reasons"], what)
        for k, (a, b) in w["moves"].items():
            assert (p[k]["from"], p[k]["to"]) == (a, b), "%s expected %s -> %s; %s" % (
                k, a, b, what)
            assert p["scores"][k] == b, what
        if w["attitude"] is not None:
            assert abs(p["scores"]["attitude"] - w["attitude"]) <= 2e-6, (
                "attitude expected %s; %s" % (w["attitude"], what))
    log("segments: %d segment-change events of %d customers, exactly the expected ones" % (
        len(by_id), len(x.now)))


# ---- the journeys --------------------------------------------------------------------

def test_segments(env):
    """One customer per segment, loyalty type and brand type (and the goodwill
    and resolution cases): the stored classes and the exact segment-change
    events (ids, sequence, changed, from/to, reason codes, as_of)."""
    D = epoch_day(2024, 3, 4)  # a Monday in the past (the parser refuses the future)
    # The day a one-time buyer of day D stops being new, a due time:
    # first_day + segment_new_days + 1 (docs/model.md "When segments change").
    not_new = (D + NEW_DAYS + 1) * DAY_MS
    s = Journeys()
    x = Segments()
    scores = {}  # cid -> (day of its last evaluation, loyalty score expected there)

    def two_orders(c, **kw):
        """Two orders of 50 USD a week apart, phase 0.  At the second, by
        docs/model.md "Loyalty score": repeat 25 x (0.5 sat(1,4) + 0.5 sat(2,4))
        = 25 x 0.307334 = 7.68; spend 20 x (0.7 sat(100,500) + 0.3 sat(50,100))
        = 20 x 0.244929 = 4.90; choose 10 x 0.5 = 5; price 15 x 1 = 15 (no
        cut); tolerance 10 x 0.5 = 5; brand 20 x 0.5 = 10 (undetermined):
        47.58 >= behaviour_score 35.  BG/NBD at the second order (T = t_x,
        x = 1): p = 1/(1 + a/b) = 1/(1 + 0.792886/2.425754) = 0.7537 >= 0.5."""
        s.to(0)
        s.order(c, c + "-o1", at(D), 50, **kw)
        s.order(c, c + "-o2", at(D + 7), 50, **kw)

    # ==== new ===========================================================================
    # `new` is docs/model.md's own class for a customer not yet judged (no
    # docs/domain.md concept): "no purchase (no_purchase)" or "one purchase day,
    # the first <= segment_new_days (60) ago (first_purchase)".
    c = x.customer("s-new-buyer")
    s.to(0)
    s.order(c, "nb-1", at(D), 50)
    # One purchase day, 0 days ago: new (first_purchase), as a fresh customer
    # already is; no brand named: undetermined; one purchase day is not
    # buying and attitude is 0: no_loyalty.  No class changes: no event.
    x.attitude[c] = 0

    c = x.customer("s-new-review")
    s.to(0)
    s.review(c, at(D), 5, False)
    # attitude = 0.35 x (1/1) x sat(1, 2) = 0.35 x 0.393469 = 0.137714 < 0.4:
    # docs/model.md "One private five-star review alone (0.138) is not
    # attachment"; no purchase: new (no_purchase).  No event.
    x.attitude[c] = s.attitude(c, at(D))
    assert x.attitude[c] == 0.137714

    # ==== potential =====================================================================
    # docs/domain.md "Attitudinal types": "Latent (potential) loyalty: little
    # buying, but a strong attitude to the brand, especially satisfied, with a
    # clear intention and desire to buy"; "What loyalty is": "Customers with
    # attitude but no purchases bring no profit: understand them and
    # stimulate purchase".
    c = x.customer("s-pot-lead")          # no purchase, attached
    s.to(0)
    s.message(c, "pl-p1", at(D), "inbound", "praise")          # 0.2 sat(1,1) = 0.126424
    s.message(c, "pl-p2", at(D + 1), "inbound", "praise")      # 0.2 sat(0.996156 + 1, 1) = 0.172829
    s.message(c, "pl-q", at(D + 2), "inbound", "inquiry")      # + 0.2 sat(1,2) = 0.078694: 0.25131
    s.message(c, "pl-q", at(D + 2, 10, 30), "outbound", "reply")  # in sla_hours: no signal
    assert s.attitude(c, at(D + 2, 10, 30)) < ATTACHED           # new (no_purchase) so far
    s.to(1)
    s.review(c, at(D + 3), 5, True)
    # At D+3: ratings 0.35 x 1 x sat(1,2) = 0.137714, shared 0.25 sat(1,1) =
    # 0.158030, praise 0.2 sat(1.992323, 1) = 0.172409, interest
    # 0.2 sat(0.996156, 2) = 0.078461: 0.546614 >= 0.4 (docs/model.md's 0.548
    # for "two praise messages, a pre-sale inquiry and one shared five-star
    # review", before decay).  No purchase, attached: potential
    # (attached_no_purchase); attached, not buying: latent_loyalty.
    a = s.attitude(c, at(D + 3))
    assert abs(a - 0.546614) <= 1e-6
    x.change(c, at(D + 3), segment=("potential", "attached_no_purchase"),
             loyalty="latent_loyalty", attitude=a)
    x.attitude[c] = a

    c = x.customer("s-pot-once")   # a one-time buyer attached: shared reviews, praise, inquiry
    s.to(0)
    s.order(c, "po-1", at(D), 50)
    s.to(1)
    s.review(c, at(D + 5), 5, True)       # 0.137714 + 0.158030 = 0.295744 < 0.4
    s.review(c, at(D + 6), 5, True)
    # At D+6 the counts are 1 x 0.5^(1/180) + 1 = 1.996156: ratings
    # 0.35 sat(1.996156, 2) = 0.220995, shared 0.25 sat(1.996156, 1) = 0.216036:
    # 0.437030 >= 0.4, attached.  One purchase day 6 <= 60 days ago: still new
    # (first_purchase); attached and not buying: latent_loyalty.
    assert s.attitude(c, at(D + 5)) < ATTACHED <= s.attitude(c, at(D + 6))
    x.change(c, at(D + 6), loyalty="latent_loyalty", attitude=s.attitude(c, at(D + 6)))
    s.to(2)
    s.message(c, "po-p", at(D + 7), "inbound", "praise")       # emotional attachment
    s.message(c, "po-q", at(D + 8), "inbound", "inquiry")      # pre-sale interest
    s.message(c, "po-q", at(D + 8, 11), "outbound", "reply")   # answered in an hour
    s.message(c, "po-news", at(D + 62), "outbound", "other")   # a neutral event, 62 days on
    # Before the D+62 message its due time first_day + 60 + 1 = D+61 00:00 is
    # evaluated: 61 > 60 days since the only purchase day, attitude
    # 0.194124 + 0.200414 + 0.111344 + 0.067050 = 0.572932 >= 0.4: potential
    # (attached_one_time_buyer); latent_loyalty stays.  Not lapsing: 61 < 180
    # days silent, p = 0.5^(61/365) = 0.89 >= 0.5.
    a = s.attitude(c, not_new)
    assert abs(a - 0.572932) <= 1e-6
    x.change(c, not_new, segment=("potential", "attached_one_time_buyer"), attitude=a)
    x.attitude[c] = s.attitude(c, at(D + 62))   # 0.571118, still attached: no change

    # ==== trust =========================================================================
    # docs/domain.md "Satisfaction and loyalty": "trust loyalty (fully satisfied;
    # buys again on their own, and exclusively ...; the most valuable group)";
    # true_loyalty, "What loyalty is": "those who buy again often and like to
    # share", "names the ideal as all three together".
    c = x.customer("s-trust")
    two_orders(c)
    # D+7: repeat, no signal, p 0.7537, no cut, standard shipping, attitude 0:
    # satisfied (unattached_repeat_buyer); buying (47.58 >= 35), not
    # attached: spurious_loyalty.
    x.change(c, at(D + 7), segment=("satisfied", "unattached_repeat_buyer"),
             loyalty="spurious_loyalty")
    s.to(1)
    s.review(c, at(D + 8), 5, True)       # 0.295744 < 0.4
    s.review(c, at(D + 9), 5, True)       # 0.437030 >= 0.4 (as s-pot-once at D+6)
    # Attached repeat buyer, no cut, no fast shipping: trust
    # (attached_repeat_buyer); attached and buying: true_loyalty.
    # p at D+9 (t_x 1, T 9/7 weeks) = 0.7416 >= 0.5.
    a = s.attitude(c, at(D + 9))
    x.change(c, at(D + 9), segment=("trust", "attached_repeat_buyer"), loyalty="true_loyalty",
             attitude=a)
    x.attitude[c] = a
    scores[c] = (D + 9, 47.58)

    # ==== benefit =======================================================================
    # docs/domain.md "Satisfaction and loyalty": "benefit loyalty (buys again for
    # some advantage: fast or platform-fulfilled shipping, the lowest price,
    # discounts, cashback, gifts; easily lured away by a better offer)".
    c = x.customer("s-benefit-discount")
    s.to(0)
    s.order(c, "bd-1", at(D), 100, discount=20)
    s.order(c, "bd-2", at(D + 7), 100, discount=20)
    # Discounted share 2/2 = 1 >= segment_benefit_share 0.5: benefit
    # (discount_driven).  Score: repeat 7.68; spend 20 x (0.7 sat(200,500) +
    # 0.3 sat(100,100)) = 20 x (0.230776 + 0.189636) = 8.41; choose 5; price:
    # depth 20/(100+20) = 0.166667 per order, 15 x (1 - 0.5 x 1 - 0.5 x
    # 0.166667/0.5) = 5.00; tolerance 5; brand 10: 41.09 >= 35, not attached:
    # spurious_loyalty.
    x.change(c, at(D + 7), segment=("benefit", "discount_driven"), loyalty="spurious_loyalty")
    x.attitude[c] = 0
    scores[c] = (D + 7, 41.09)

    c = x.customer("s-benefit-markdown")
    s.to(0)
    half = [{"sku": "bm-kettle", "qty": 1, "unit_price": 50, "list_price": 100}]
    s.order(c, "bm-1", at(D), 50, items=half)       # no discount field
    s.order(c, "bm-2", at(D + 7), 50, items=half)
    # Markdown (100 - 50) x 1 = 50 per order, depth 50/(50+50) = 0.5
    # (docs/model.md: "An order at half the list price with no discount field
    # is a cut of depth 0.5"): discounted share 1 >= 0.5: benefit
    # (discount_driven).  Score: repeat 7.68, spend 4.90, choose 5, price
    # 15 x (1 - 0.5 - 0.5 x min(1, 0.5/0.5)) = 0, tolerance 5, brand 10:
    # 32.58 < 35, so a repeat buyer who is not buying; not attached:
    # no_loyalty stays (docs/domain.md "Attitudinal types": "No loyal attitude:
    # unlikely to buy again, price sensitive, always after the best deal").
    x.change(c, at(D + 7), segment=("benefit", "discount_driven"))
    x.attitude[c] = 0
    scores[c] = (D + 7, 32.58)

    c = x.customer("s-benefit-fast")
    two_orders(c, shipping="expedited")
    # Expedited share 2/2 = 1 >= 0.5, discounted share 0: benefit
    # (fast_shipping_driven); 47.58 >= 35: spurious_loyalty.
    x.change(c, at(D + 7), segment=("benefit", "fast_shipping_driven"),
             loyalty="spurious_loyalty")
    x.attitude[c] = 0
    scores[c] = (D + 7, 47.58)

    # ==== satisfied =====================================================================
    # docs/domain.md "Satisfaction and loyalty": "Satisfied but not loyal:
    # satisfied customers may still buy elsewhere next time"; spurious
    # loyalty, "Attitudinal types": "Pseudo (inertia) loyalty: buys without
    # knowing or telling apart brands, suppliers or shops", and "What loyalty
    # is": "Customers with behaviour but no attachment bring real sales:
    # cultivate their attitude".
    c = x.customer("s-satisfied-repeat")
    two_orders(c)
    x.change(c, at(D + 7), segment=("satisfied", "unattached_repeat_buyer"),
             loyalty="spurious_loyalty")
    x.attitude[c] = 0
    scores[c] = (D + 7, 47.58)

    c = x.customer("s-satisfied-once")
    s.to(0)
    s.order(c, "so-1", at(D), 50)
    s.to(1)
    s.message(c, "so-news", at(D + 62), "outbound", "other")
    # Due D+61 00:00 (first_day + 60 + 1), before the D+62 message: one
    # purchase day 61 > 60 days ago, attitude 0: satisfied
    # (unattached_one_time_buyer); no_loyalty stays (docs/domain.md "What loyalty
    # is": "those who bought once and were never heard from").
    x.change(c, not_new, segment=("satisfied", "unattached_one_time_buyer"))
    x.attitude[c] = 0

    # ==== lapsing =======================================================================
    # docs/domain.md "What drives loyalty": "closeness of contact (a shop that
    # ignores its customers and only cares whether they pay loses them
    # silently)": lapse_days (180) or more since the last purchase day.
    c = x.customer("s-lapsing")
    s.to(0)
    s.order(c, "lp-1", at(D), 50)
    s.order(c, "lp-2", at(D + 120), 50)
    # Before the D+120 order its due time D+61 00:00: a one-time buyer past
    # 60 days, attitude 0: satisfied (unattached_one_time_buyer).
    x.change(c, not_new, segment=("satisfied", "unattached_one_time_buyer"))
    # D+120: a repeat buyer, still satisfied (unattached_repeat_buyer: the
    # segment is the same, no segment code); buying (47.58, both orders in the
    # 365-day window): spurious_loyalty.
    x.change(c, at(D + 120), loyalty="spurious_loyalty")
    s.to(1)
    s.review(c, at(D + 121), 5, True)     # 0.295744
    s.review(c, at(D + 122), 5, True)     # 0.437030 >= 0.4: attached
    s.review(c, at(D + 123), 5, True)
    x.change(c, at(D + 122), segment=("trust", "attached_repeat_buyer"), loyalty="true_loyalty",
             attitude=s.attitude(c, at(D + 122)))
    s.to(2)
    s.message(c, "lp-p1", at(D + 124), "inbound", "praise")
    s.message(c, "lp-p2", at(D + 125), "inbound", "praise")
    s.message(c, "lp-news", at(D + 301), "outbound", "other")   # the neutral event
    # The lapse due time is last_day + 180 = D+300 at 00:00, evaluated before
    # the D+301 message.  p stays >= 0.5 until then (x = 1, t_x = 120/7):
    # at T = 300/7, 1/(1 + 0.32686 x (47.270/21.557)^1.242593) = 0.5356, and
    # the first day below 0.5 is D+341, so the rule is `silent`, not
    # palive_low: lapsing (silent); lapsing is not buying, attitude at D+300
    # (reviews ~1.5, praise ~1.0 left) 0.185828 + 0.194995 + 0.127817 =
    # 0.508639 >= 0.4: latent_loyalty.  docs/model.md's own example, trust ->
    # lapsing, true_loyalty -> latent_loyalty.
    lapse_day = D + 120 + LAPSE_DAYS
    assert palive(1, 120 / 7, 300 / 7) >= PALIVE_LOW
    assert first_day_below(1, D, D + 120, PALIVE_LOW, range(D + 120, D + 400)) == D + 341
    a = s.attitude(c, lapse_day * DAY_MS)
    assert abs(a - 0.508639) <= 1e-6
    x.change(c, lapse_day * DAY_MS, segment=("lapsing", "silent"), loyalty="latent_loyalty",
             attitude=a)
    # D+301 10:00: attitude 0.507106, still attached; lapsing stays: no event.
    x.attitude[c] = s.attitude(c, at(D + 301))
    assert x.attitude[c] >= ATTACHED

    # ==== inertia =======================================================================
    # docs/domain.md "Satisfaction and loyalty": "Dissatisfied but loyal: inertia
    # loyalty (not very satisfied, too lazy to look for a new shop, buys again
    # to save time and effort)".
    c = x.customer("s-inertia")
    two_orders(c)
    x.change(c, at(D + 7), segment=("satisfied", "unattached_repeat_buyer"),
             loyalty="spurious_loyalty")
    s.to(1)
    s.message(c, "in-c", at(D + 8), "inbound", "complaint", complaint_category="logistics")
    s.message(c, "in-c", at(D + 8, 10, 30), "outbound", "reply")   # answered: no SLA signal
    # complaint: pain 1 - (1 - 0.25) = 0.25 > goodwill 0.5 x 0 = 0 ("without
    # attitude any signal dissatisfies"); repeat, not fading (p at D+8 =
    # 0.7476 >= 0.5, 2 orders in 90 days): inertia (dissatisfied_repeat_buyer).
    assert W_COMPLAINT > GOODWILL * s.attitude(c, at(D + 8))
    x.change(c, at(D + 8), segment=("inertia", "dissatisfied_repeat_buyer"))
    s.to(2)
    s.order(c, "in-o3", at(D + 10), 50)
    # Still buying: the complaint is active (90 days), x = 2, p at its own
    # purchase 1/(1 + a/(b+1)) = 0.8121 >= 0.5: inertia stays; score
    # 25 x (0.5 sat(2,4) + 0.5 sat(3,4)) = 11.51 + 20 x (0.7 sat(150,500) +
    # 0.3 sat(50,100)) = 5.99 + 5 + 15 + 5 + 10 = 52.50: spurious_loyalty
    # stays.  No event.
    assert palive(1, 1, 8 / 7) >= PALIVE_LOW and palive(2, 10 / 7, 10 / 7) >= PALIVE_LOW
    x.attitude[c] = 0
    scores[c] = (D + 10, 52.50)

    # ==== at_risk =======================================================================
    # docs/domain.md "Satisfaction and loyalty": "Dissatisfied, usually not loyal",
    # triggers including "an inquiry not answered for a long time ... goods not
    # as described, or below expectations".  docs/model.md: code
    # `dissatisfied` for a customer with fewer than two purchase days,
    # `dissatisfied_fading` for a repeat buyer who is fading.
    c = x.customer("s-risk-lead")
    s.to(0)
    s.message(c, "rl-c", at(D), "inbound", "complaint")
    s.message(c, "rl-c", at(D, 10, 30), "outbound", "reply")
    # complaint 0.25 > 0 = goodwill, no purchase: at_risk (dissatisfied).
    x.change(c, at(D), segment=("at_risk", "dissatisfied"))
    x.attitude[c] = 0

    c = x.customer("s-risk-once")
    s.to(0)
    s.order(c, "ro-1", at(D), 50)
    s.to(1)
    s.review(c, at(D + 3), 1, False)
    # low_rating 0.25 (rating <= 2, not shared) > goodwill 0 (the review is
    # not rated >= 4: ratings part 0.35 x 0/1 x ... = 0); one purchase day,
    # not a repeat buyer: at_risk (dissatisfied).
    assert s.attitude(c, at(D + 3)) == 0 < W_LOW_RATING
    x.change(c, at(D + 3), segment=("at_risk", "dissatisfied"))
    x.attitude[c] = 0

    c = x.customer("s-risk-fading")
    two_orders(c)
    x.change(c, at(D + 7), segment=("satisfied", "unattached_repeat_buyer"),
             loyalty="spurious_loyalty")
    s.to(1)
    s.message(c, "rf-c", at(D + 70), "inbound", "complaint")
    s.message(c, "rf-c", at(D + 70, 10, 30), "outbound", "reply")
    # p falls below palive_low (a due time): x = 1, t_x = 1 week,
    # 1/(1 + 0.32686 x ((4.4135 + T)/5.4135)^1.242593) < 0.5 from T = 8.90
    # weeks: day D+62 p = 0.5010, D+63 p = 0.4977.  D+63 00:00, before the
    # complaint: lapsing (palive_low; 56 < 180 days silent); lapsing is not
    # buying: no_loyalty.
    fade_day = first_day_below(1, D, D + 7, PALIVE_LOW, range(D + 8, D + 200))
    assert fade_day == D + 63
    x.change(c, fade_day * DAY_MS, segment=("lapsing", "palive_low"), loyalty="no_loyalty")
    # D+70 complaint: 0.25 > 0; a repeat buyer, fading (p = 0.4754 < 0.5):
    # at_risk (dissatisfied_fading).  (Risk 1 - 0.4754 x 0.75 = 0.64 < 0.7.)
    assert palive(1, 1, 70 / 7) < PALIVE_LOW
    x.change(c, at(D + 70), segment=("at_risk", "dissatisfied_fading"))
    x.attitude[c] = 0

    # ==== brand types ===================================================================
    # docs/domain.md "What loyalty is": behaviour is "consistency of choice when
    # buying the same kind of product, measured as purchases of the
    # most-bought brand / purchases in that product class".  Every order of
    # one customer is on day D (one purchase day: segment new, no_loyalty), so
    # only the brand type moves.  An order counts each (category, brand) pair
    # once; brand_min_purchases 3.
    def brand_orders(c, *orders):
        s.to(0)
        for i, (ls, kw) in enumerate(orders):
            s.order(c, "%s-%d" % (c, i + 1), at(D, 10 + i), 20, items=ls, **kw)

    # "Behavioural types": "Complete loyalty: always the same brand in a
    # product class".
    c = x.customer("s-brand-complete")
    brand_orders(c, (lines("Acme"), {}), (lines("Acme", "Acme"), {}), (lines("Acme"), {}))
    # 1, 1 (two Acme lines in one order: one purchase), 1: n = 3 at the third
    # order (12:00; had the lines counted twice it would be 11:00), one brand:
    # complete.
    x.change(c, at(D, 12), brand="complete")

    # "Occasional loyalty: usually one brand, switching now and then, or
    # forced to by a stock-out".
    c = x.customer("s-brand-occasional")
    brand_orders(c, (lines("Acme"), {}), (lines("Acme"), {}), (lines("Acme", "Borealis"), {}))
    # Third order: Acme 3, Borealis 1, n = 4 (n = 2 before: undetermined);
    # not switching (the last three A, A, B are not one brand); s1 = 3/4 =
    # 0.75 >= brand_occasional_share 0.75: occasional.
    x.change(c, at(D, 12), brand="occasional")

    # "Switching loyalty: no deep loyalty; at some point their preference
    # moved to another brand".
    c = x.customer("s-brand-switching")
    brand_orders(c, (lines("Acme"), {}), (lines("Acme"), {}), (lines("Borealis"), {}),
                 (lines("Borealis"), {}), (lines("Borealis"), {}))
    # Third order A A B: n = 3, s1 = 2/3 < 0.75, s2 = 1/3 >= 0.2 and s1 + s2 =
    # 1 >= 0.8: split.  Fourth A A B B: s1 = s2 = 0.5: split.  Fifth A A B B B:
    # the last 3 are Borealis and the brand most bought before them is Acme:
    # switching.
    x.change(c, at(D, 12), brand="split")
    x.change(c, at(D, 14), brand="switching")

    # "Split loyalty: loyal to several brands and moving between them
    # (common on platforms)".
    c = x.customer("s-brand-split")
    brand_orders(c, (lines("Acme"), {}), (lines("Borealis"), {}), (lines("Cobalt"), {}))
    # n = 3, s1 = s2 = s3 = 1/3: s2 >= 0.2, s1 + s2 = 0.667 < 0.8, but
    # s3 >= 0.2 and s1 + s2 + s3 = 1 >= 0.8: split.
    x.change(c, at(D, 12), brand="split")

    # "No loyalty (brand-indifferent): brands make no difference; price
    # decides".
    c = x.customer("s-brand-none")
    brand_orders(c, (lines("Acme", "Borealis"), {"discount": 5}), (lines("Cobalt", "Dune"), {}))
    # Second order: 4 purchases of 4 brands, s1 = s2 = s3 = 0.25: not split
    # (s1 + s2 = 0.5, s1 + s2 + s3 = 0.75 < 0.8); discounted-order share 1/2 =
    # 0.5 >= brand_price_share 0.5: price-driven: none.
    x.change(c, at(D, 11), brand="none")

    # "What drives loyalty": "Weakening it: ... variety seeking".
    c = x.customer("s-brand-variety")
    brand_orders(c, (lines("Acme", "Borealis", price=10), {}),
                 (lines("Cobalt", "Dune", price=10), {}))
    # The same shares at full price (unit_price = list_price: no markdown, no
    # discount): discounted share 0 < 0.5: variety.
    x.change(c, at(D, 11), brand="variety")
    brand_share = {"s-brand-complete": 1, "s-brand-occasional": 0.75, "s-brand-switching": 0.6,
                   "s-brand-split": 0.333333, "s-brand-none": 0.25, "s-brand-variety": 0.25}
    for c in brand_share:
        x.attitude[c] = 0

    # ==== goodwill: a late first reply ====================================================
    # docs/domain.md "Satisfaction and loyalty" names "an inquiry not answered for
    # a long time" among the triggers of dissatisfaction; docs/model.md
    # "Dissatisfied": pain > goodwill x attitude, "an attached customer's
    # single late reply (0.15) does not outweigh, say, attitude 0.55".
    c = x.customer("s-late-trust")
    two_orders(c)
    x.change(c, at(D + 7), segment=("satisfied", "unattached_repeat_buyer"),
             loyalty="spurious_loyalty")
    s.to(1)
    s.review(c, at(D + 8), 5, True)
    s.review(c, at(D + 9), 5, True)
    x.change(c, at(D + 9), segment=("trust", "attached_repeat_buyer"), loyalty="true_loyalty",
             attitude=s.attitude(c, at(D + 9)))
    s.to(2)
    s.message(c, "lt-p", at(D + 10), "inbound", "praise")
    s.message(c, "lt-q", at(D + 11), "inbound", "inquiry")
    s.message(c, "lt-q", at(D + 12, 16), "outbound", "reply")   # 30 h later: late
    # The SLA deadline D+12 10:00 is a due time, evaluated before the reply:
    # inquiry_unanswered, pain 0.15, against goodwill 0.5 x attitude(D+12
    # 10:00) = 0.5 x (0.219507 + 0.215248 + 0.125857 + 0.078461) = 0.5 x
    # 0.639073 = 0.319537 > 0.15: not dissatisfied, trust stays; true_loyalty
    # stays (47.58, p at D+12 = 0.7240).  No event.
    goodwill = GOODWILL * s.attitude(c, at(D + 11) + SLA_MS)
    assert abs(goodwill - 0.319537) <= 1e-6 and W_INQUIRY_UNANSWERED < goodwill
    x.attitude[c] = s.attitude(c, at(D + 12, 16))
    scores[c] = (D + 12, 47.58)
    late_risk = q6(1 - palive(1, 1, 12 / 7) * (1 - W_INQUIRY_UNANSWERED))  # 1 - 0.7240 x 0.85

    c = x.customer("s-late-satisfied")    # the same late reply, no attitude to weigh against
    two_orders(c)
    x.change(c, at(D + 7), segment=("satisfied", "unattached_repeat_buyer"),
             loyalty="spurious_loyalty")
    s.to(1)
    s.message(c, "ls-q", at(D + 11), "inbound", "inquiry")
    s.message(c, "ls-q", at(D + 12, 16), "outbound", "reply")
    # At the deadline D+12 10:00 (the due time itself, not a day start):
    # pain 0.15 > goodwill 0.5 x 0.078461 (the inquiry's interest) = 0.039;
    # repeat, not fading (p 0.7240, 2 orders in 90 days): inertia
    # (dissatisfied_repeat_buyer).
    assert W_INQUIRY_UNANSWERED > GOODWILL * s.attitude(c, at(D + 11) + SLA_MS)
    x.change(c, at(D + 11) + SLA_MS, segment=("inertia", "dissatisfied_repeat_buyer"))
    x.attitude[c] = s.attitude(c, at(D + 12, 16))
    scores[c] = (D + 12, 47.58)

    # ==== complaints to resolution ========================================================
    # docs/domain.md "How to raise it": "handle complaints carefully"; "Satisfaction
    # and loyalty", the case: "a loyal customer hit by an unexpected import
    # VAT complains; the shop explains".  docs/model.md: a `resolution`
    # lifts the conversation's complaint signal (it stops counting in the
    # segment); it counts as the reply, inside resolve_hours (72): no
    # slow_resolution.
    c = x.customer("s-resolved-inertia")
    two_orders(c)
    x.change(c, at(D + 7), segment=("satisfied", "unattached_repeat_buyer"),
             loyalty="spurious_loyalty")
    s.to(1)
    s.message(c, "ri-c", at(D + 8), "inbound", "complaint", complaint_category="duties")
    s.message(c, "ri-c", at(D + 8, 12), "outbound", "resolution")
    # complaint 0.25 > 0: inertia (dissatisfied_repeat_buyer), as s-inertia;
    # resolved 2 h later: no active signal, satisfied (unattached_repeat_buyer).
    x.change(c, at(D + 8), segment=("inertia", "dissatisfied_repeat_buyer"))
    x.change(c, at(D + 8, 12), segment=("satisfied", "unattached_repeat_buyer"))
    x.attitude[c] = 0
    scores[c] = (D + 8, 47.58)

    c = x.customer("s-resolved-at-risk")
    s.to(0)
    s.order(c, "ra-1", at(D), 50)
    s.to(1)
    s.message(c, "ra-c", at(D + 3), "inbound", "complaint", complaint_category="quality")
    s.message(c, "ra-c", at(D + 3, 14), "outbound", "resolution")
    # complaint on a one-time buyer: at_risk (dissatisfied); resolved
    # 4 h later: a one-time buyer 3 <= 60 days after the purchase: new
    # (first_purchase).
    x.change(c, at(D + 3), segment=("at_risk", "dissatisfied"))
    x.change(c, at(D + 3, 14), segment=("new", "first_purchase"))
    x.attitude[c] = 0

    # The loyalty scores the loyalty types above rest on, by the same rules.
    for c, (day, want) in scores.items():
        assert abs(s.score(c, day) - want) < 1e-9, (c, s.score(c, day), want)
        assert abs(want - BEHAVIOUR_SCORE) >= 2, (c, want)

    # ---- run ---------------------------------------------------------------------------
    env.create_topics()
    d = env.daemon().start()
    t0 = time.monotonic()
    run_phases(env, d, s)
    n = len(x.events)
    wait_for("%d segment-change events delivered" % n,
             lambda: emitted(d, "segment_change") >= n, 60)
    time.sleep(SETTLE_S)
    assert emitted(d, "segment_change") == n, "delivered %d segment-change events, expected %d" % (
        emitted(d, "segment_change"), n)
    check_segment_events(env, x)

    # ---- the stored classes ----------------------------------------------------------------
    bad = []
    for c in sorted(x.now):
        h = customer_hash(env.r, env.redis_prefix, c)
        if stored_classes(h) != x.now[c]:
            bad.append((c, "classes", stored_classes(h), x.now[c]))
        if int(h.get("segment_seq", 0)) != x.seq[c]:
            bad.append((c, "segment_seq", h.get("segment_seq"), x.seq[c]))
        if abs(float(h.get("attitude", 0)) - x.attitude[c]) > 2e-6:
            bad.append((c, "attitude", h.get("attitude"), x.attitude[c]))
        if c in scores and abs(float(h.get("loyalty_score", 0)) - scores[c][1]) > 1e-9:
            bad.append((c, "loyalty_score", h.get("loyalty_score"), scores[c][1]))
        if c in brand_share and abs(float(h.get("brand_share", 0)) - brand_share[c]) > 1e-6:
            bad.append((c, "brand_share", h.get("brand_share"), brand_share[c]))
    assert not bad, "stored state differs (customer, field, redis, expected):\n  %s" % (
        "\n  ".join(map(str, bad)))

    # The late reply was a signal, weighed rather than ignored: one signal,
    # in the risk (1 - p x 0.85); the resolutions were counted.
    h = customer_hash(env.r, env.redis_prefix, "s-late-trust")
    assert h.get("signals_total") == "1" and abs(float(h["churn_risk"]) - late_risk) < 2e-6, h
    assert customer_hash(env.r, env.redis_prefix, "s-late-satisfied").get("signals_total") == "1"
    for c in ("s-resolved-inertia", "s-resolved-at-risk"):
        h = customer_hash(env.r, env.redis_prefix, c)
        assert h.get("resolutions") == "1" and h.get("signals_total") == "1", (c, h)
    d.stop()
    log("segments: %d events in %d phases for %d customers, checked in %.1f s" % (
        s.count, len(s.phases), len(x.now), time.monotonic() - t0))
