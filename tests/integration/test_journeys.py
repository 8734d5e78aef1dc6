"""Scripted customer journeys through the real broker and the real daemon:
exactly the churn-risk and reward-trigger events docs/model.md prescribes come
out, no more.

Every expectation below is derived by hand from docs/model.md (defaults of the
`model.*` keys) and the arithmetic is written next to it; nothing is copied
from the daemon's output.  Event ids are recomputed from the documented
digest (SHA-256 of `customer NUL kind NUL cause`, workload.derived_id).

Kafka orders messages within a partition only, and the three input topics are
consumed in parallel.  A journey whose outcome depends on the order of events
of different topics is therefore fed in phases: a phase is produced only once
the daemon has applied everything before it.

Two tests:
  test_journeys           milestones, advocacy (+ cooldown), tier upgrades,
                          service recovery (tier and trust segment, once per
                          incident, cooldown), a dissatisfied customer crossing
                          the churn threshold and hysteresis.  Sweeper off.
  test_quiet_customers_swept
                          `clock = stream`, `sweep.interval_s = 1`, input
                          topics of one partition: quiet customers cross the
                          threshold when another customer's event moves the
                          stream time, found by the sweeper alone, once.
  test_wall_clock_timer_on_time
                          `clock = wall`: a quiet customer's SLA deadline
                          fires once the wall clock passes it, evaluated at
                          the deadline itself, not before.
"""
import datetime as dt
import json
import math
import time

from conftest import INPUT_TOPICS, customer_hash, drain, dump_customers, feed, log, wait_for
from workload import derived_id

DAY_MS = 86400000
HOUR_MS = 3600000
KIND_REWARD = "reward-trigger"
KIND_CHURN = "churn-risk"
REWARDS = "loyalty.rewards"
CHURN = "loyalty.churn-risk"
SETTLE_S = 2.5  # after the expected count: time for an unexpected extra to show up

# BG/NBD parameters the daemon uses until a model is saved: the published
# CDNOW fit in weeks (README, "The loyalty model"; docs/model.md "fitted population
# parameters"; a fresh Redis prefix has no saved model).
BG_R, BG_ALPHA, BG_A, BG_B = 0.242593, 4.413532, 0.792886, 2.425754
THRESHOLD = 0.7  # model.churn_threshold
# Reward order of the aux `X` section (docs/state.md).
RW_TYPES = ("milestone", "tier_upgrade", "advocacy", "service_recovery", "win_back")


# ---- helpers ------------------------------------------------------------------

def epoch_day(y, m, d):
    return (dt.date(y, m, d) - dt.date(1970, 1, 1)).days


def at(day, hour=10, minute=0):
    """Epoch ms of a UTC epoch day at hh:mm."""
    return day * DAY_MS + hour * HOUR_MS + minute * 60000


def rfc3339(ms):
    t = dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)


def fnv1a64(s):
    """64-bit FNV-1a, the hash of order ids and event ids (docs/state.md)."""
    h = 0xCBF29CE484222325
    for b in s.encode():
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def q6(v):
    """Six significant digits, as the daemon rounds the risk."""
    return float("%.6g" % v)


def palive(x, t_x, T):
    """BG/NBD P(alive | x, t_x, T) for x >= 1 (Fader, Hardie & Lee 2005,
    eq. 3, weeks): 1 / (1 + a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x))."""
    return 1.0 / (1.0 + BG_A / (BG_B + x - 1) * ((BG_ALPHA + T) / (BG_ALPHA + t_x)) ** (BG_R + x))


def onetime_p(days):
    """Recency term of a one-time buyer: 0.5 ^ (T_days / 365)."""
    return 0.5 ** (days / 365.0)


class Script:
    """Journey events grouped into phases; returns the event ids it makes."""

    def __init__(self):
        self.phases = []
        self.count = 0
        self._n = 0
        self.phase()

    def phase(self):
        self.phases.append({t: [] for t in INPUT_TOPICS})

    def add(self, topic, cid, typ, ts_ms, **fields):
        self._n += 1
        eid = "%s-ev%03d" % (cid, self._n)
        ev = {"event_id": eid, "customer_id": cid, "type": typ, "ts": rfc3339(ts_ms)}
        ev.update(fields)
        self.phases[-1][topic].append((cid, json.dumps(ev).encode()))
        self.count += 1
        return eid

    # the event types (README, "Events in")
    def order(self, cid, oid, ts_ms, amount, **kw):
        return self.add("orders", cid, "order.placed", ts_ms, order_id=oid, amount=amount,
                        currency="USD", **kw)

    def delivered(self, cid, oid, ts_ms):
        return self.add("orders", cid, "order.delivered", ts_ms, order_id=oid)

    def returned(self, cid, oid, ts_ms, amount, reason):
        return self.add("orders", cid, "order.returned", ts_ms, order_id=oid, amount=amount,
                        reason=reason)

    def review(self, cid, ts_ms, rating, shared):
        return self.add("reviews", cid, "review.posted", ts_ms, rating=rating, shared=shared)

    def message(self, cid, conv, ts_ms, direction, kind):
        return self.add("messages", cid, "message.sent", ts_ms, conversation_id=conv,
                        direction=direction, kind=kind)

    def complaint_answered(self, cid, conv, ts_ms):
        """An inbound complaint replied to 30 minutes later, inside the 24 h
        SLA: a `complaint` signal and no `inquiry_unanswered`."""
        eid = self.message(cid, conv, ts_ms, "inbound", "complaint")
        self.message(cid, conv, ts_ms + 30 * 60000, "outbound", "reply")
        return eid


class Expect:
    """The derived events a run must emit, by event id."""

    def __init__(self):
        self.events = {}

    def reward(self, cid, cause, rtype, kind, value, reasons, as_of_ms, **extra):
        eid = derived_id(cid, KIND_REWARD, cause)
        rw = {"type": rtype, "kind": kind, "value": value}
        if kind != "points":
            rw["currency"] = "USD"
        rw["graded_by"] = "revenue"  # no order carries costs
        rw.update(extra)
        self.events[eid] = dict(schema="loyalty.reward-trigger", customer=cid, cause=cause,
                                reasons=set(reasons), as_of=as_of_ms, reward=rw)

    def churn(self, cid, seq, reasons, risk, as_of_ms=None, as_of_min_ms=None, p_alive=None):
        eid = derived_id(cid, KIND_CHURN, "churn:%d" % seq)
        self.events[eid] = dict(schema="loyalty.churn-risk", customer=cid, cause="churn:%d" % seq,
                                reasons=set(reasons), as_of=as_of_ms, as_of_min=as_of_min_ms,
                                risk=risk, seq=seq, p_alive=p_alive)

    def count(self, schema):
        return sum(1 for e in self.events.values() if e["schema"] == schema)


def emitted(d, etype):
    return d.metrics().get("loyaltyd_emitted_total", type=etype)


def wait_applied(d, n, timeout=60):
    """Until the daemon has consumed and applied exactly n messages (all valid)."""
    def done():
        if not d.alive():
            raise AssertionError("daemon died\n" + d.stderr_tail())
        m = d.metrics()
        return m.consumed() == n and m.processed() == n and m
    m = wait_for("%d messages applied" % n, done, timeout)
    assert m.get("loyaltyd_applied_total") == n, "not every journey event was applied"
    assert m.get("loyaltyd_dead_lettered_total") == 0, m.dead_by_reason()
    return m


def wait_emitted(d, rewards, churn, timeout=60):
    """Poll until the delivered counts reach the expected ones, then settle
    and make sure no further event was delivered."""
    wait_for("%d rewards and %d churn-risk events delivered" % (rewards, churn),
             lambda: emitted(d, "reward_trigger") >= rewards and emitted(d, "churn_risk") >= churn,
             timeout)
    time.sleep(SETTLE_S)
    got = (emitted(d, "reward_trigger"), emitted(d, "churn_risk"))
    assert got == (rewards, churn), "delivered (rewards, churn) %s, expected %s" % (
        got, (rewards, churn))


def run_phases(env, d, script, applied_before=0, between=None):
    n = applied_before
    for i, ph in enumerate(script.phases):
        for t in INPUT_TOPICS:
            if ph[t]:
                feed(env.topic(t), ph[t])
                n += len(ph[t])
        wait_applied(d, n)
        if between:
            between(i)
    return n


def check_outputs(env, expect, customers):
    """The reward and churn topics hold exactly the expected events, each
    once, with the documented payload."""
    recs = []
    for topic in (REWARDS, CHURN):
        for m in drain(env.topic(topic)):
            recs.append((topic, m, json.loads(m["value"])))
    seen = {}
    for topic, m, p in recs:
        eid = p.get("event_id")
        assert eid not in seen, "event_id %s emitted twice:\n%s\n%s" % (eid, seen[eid], p)
        seen[eid] = p
        assert p["customer_id"] == m["key"], p
        assert p["customer_id"] in customers, "event for a customer outside the journeys: %s" % p
        assert p["schema_version"] == 3 and p.get("emitted_at"), p
        assert p["schema"] == ("loyalty.reward-trigger" if topic == REWARDS else
                               "loyalty.churn-risk"), (topic, p)
    unexpected = {e: p for e, p in seen.items() if e not in expect.events}
    missing = {e: x for e, x in expect.events.items() if e not in seen}
    assert not unexpected and not missing, (
        "derived events differ from the expected ones\nunexpected:\n  %s\nmissing:\n  %s" % (
            "\n  ".join(json.dumps(p, sort_keys=True) for p in unexpected.values()),
            "\n  ".join("%s %s %s" % (x["customer"], x["schema"], x["cause"])
                        for x in missing.values())))
    for eid, x in expect.events.items():
        p = seen[eid]
        what = "%s %s: %s" % (x["customer"], x["cause"], json.dumps(p, sort_keys=True))
        assert p["customer_id"] == x["customer"], what
        assert p["schema"] == x["schema"], what
        assert set(p["reason_codes"]) == x["reasons"], what
        assert len(p["reason_codes"]) == len(x["reasons"]), what
        if x["as_of"] is not None:
            assert p["as_of"] == rfc3339(x["as_of"]), "as_of expected %s; %s" % (
                rfc3339(x["as_of"]), what)
        if x["schema"] == "loyalty.reward-trigger":
            assert p["reward"] == x["reward"], "reward expected %s; %s" % (x["reward"], what)
        else:
            assert p["threshold"] == THRESHOLD, what
            assert p["crossing"] == x["seq"], what
            assert abs(p["churn_risk"] - x["risk"]) < 2e-6, "risk expected %s; %s" % (x["risk"], what)
            assert p["churn_risk"] >= THRESHOLD, what
            assert p["scores"]["churn_risk"] == p["churn_risk"], what
            if x.get("as_of_min") is not None:
                assert p["as_of"] >= rfc3339(x["as_of_min"]), what
            if x.get("p_alive") is not None:
                assert abs(p["scores"]["p_alive"] - x["p_alive"]) < 2e-6, "p_alive expected %s; %s" % (
                    x["p_alive"], what)
    log("journeys: %d derived events, exactly the expected ones" % len(seen))
    return seen


def suppressed(env, cid):
    """The aux `X` section: suppressed triggers per reward type."""
    raw = dump_customers(env.r, env.redis_prefix, [cid])[cid]["aux"]
    out = dict.fromkeys(RW_TYPES, 0)
    for sec in raw.split("|"):
        if sec.startswith("X:"):
            for name, v in zip(RW_TYPES, sec[2:].split(";")):
                out[name] = int(v)
    return out


# ---- the journeys, sweeper off ---------------------------------------------------

def test_journeys(env):
    """Milestones 2 and 5; advocacy with its 30-day cooldown; silver then gold
    tier upgrades; service recovery for a silver customer's late delivery
    (once per incident, the next signal inside the 14-day cooldown
    suppressed) and for a trust customer's complaint, no churn for either;
    a dissatisfied one-time buyer crossing the churn threshold on the third
    signal, and no second churn-risk event for further signals."""
    D = epoch_day(2024, 3, 4)  # a Monday in the past (the parser refuses the future)
    s = Script()
    x = Expect()

    # -- milestones: 6 orders of 20 USD on 5 distinct days -------------------------
    # spend 120 < silver's 200: bronze all along, so each coupon is 5 USD.
    # Repeat-buyer risk at its own purchase (T = t_x): p = 1/(1 + a/(b+x-1)),
    # lowest for x = 1: 1/(1 + 0.792886/2.425754) = 0.7537, risk 0.246 < 0.7.
    c = "j-mile"
    s.order(c, "m-1", at(D), 20)
    s.order(c, "m-2", at(D + 3), 20)          # 2nd purchase day: milestone 2
    s.order(c, "m-3", at(D + 3, 15), 20)      # same day again: counts once, nothing new
    s.order(c, "m-4", at(D + 10), 20)         # 3rd day
    s.order(c, "m-5", at(D + 20), 20)         # 4th day
    s.order(c, "m-6", at(D + 30), 20)         # 5th day: milestone 5
    x.reward(c, "milestone:2", "milestone", "coupon", 5, ["first_repeat_purchase"], at(D + 3),
             milestone=2)
    x.reward(c, "milestone:5", "milestone", "coupon", 5, ["purchase_milestone"], at(D + 30),
             milestone=5)

    # -- tier upgrades: silver (200/2) then gold (600/4) ---------------------------
    c = "j-tier"
    s.order(c, "t-1", at(D), 150)             # 150 / 1 order: bronze (not rewarded)
    s.order(c, "t-2", at(D + 5), 80)          # 230 / 2: silver; also milestone 2
    s.order(c, "t-3", at(D + 10), 200)        # 430 / 3: still silver (gold needs 600/4)
    s.order(c, "t-4", at(D + 15), 200)        # 630 / 4: gold
    # tier cause tier:<tier>:<epoch day>; points 250 at silver, 500 at gold;
    # the milestone coupon is graded by the tier now held (silver: 10 USD).
    # Cap: one reward (D+5) in the 30 days before D+15 < 3; tier cooldown 0.
    x.reward(c, "tier:silver:%d" % (D + 5), "tier_upgrade", "points", 250, ["tier_upgrade"],
             at(D + 5), tier="silver")
    x.reward(c, "milestone:2", "milestone", "coupon", 10, ["first_repeat_purchase"], at(D + 5),
             milestone=2)
    x.reward(c, "tier:gold:%d" % (D + 15), "tier_upgrade", "points", 500, ["tier_upgrade"],
             at(D + 15), tier="gold")

    # -- service recovery, silver: late delivery --------------------------------------
    c = "j-silver"
    s.order(c, "s-1", at(D), 150, promised_delivery_by=rfc3339(at(D + 5)))
    s.order(c, "s-2", at(D + 1), 100, promised_delivery_by=rfc3339(at(D + 6)))
    # 250 / 2 orders at D+1: silver (250 points) + milestone 2 (coupon 10, silver)
    x.reward(c, "tier:silver:%d" % (D + 1), "tier_upgrade", "points", 250, ["tier_upgrade"],
             at(D + 1), tier="silver")
    x.reward(c, "milestone:2", "milestone", "coupon", 10, ["first_repeat_purchase"], at(D + 1),
             milestone=2)
    s.delivered(c, "s-1", at(D + 4))          # on time: no signal
    s.delivered(c, "s-2", at(D + 9))          # promised D+6: late_delivery
    s.delivered(c, "s-2", at(D + 9, 11))      # the same delivery reported again: same incident
    # Silver before the signal: one service_recovery, silver grade coupon 15 USD,
    # cause recovery:late_delivery:<FNV-1a 64 of the order id>:<the signal's
    # time, the delivery>.  Cooldown: none before; cap: 1 reward (tier, D+1) in
    # the last 30 days.
    x.reward(c, "recovery:late_delivery:%016x:%d" % (fnv1a64("s-2"), at(D + 9)),
             "service_recovery", "coupon", 15, ["late_delivery"], at(D + 9))
    # Risk at D+9: x=1, t_x=1/7, T=9/7 weeks:
    #   p = 1/(1 + 0.32686 * ((4.4135+1.2857)/(4.4135+0.1429))^1.242593)
    #     = 1/(1 + 0.32686 * 1.2508^1.2426) = 1/(1 + 0.32686*1.3207) = 0.6985
    #   risk = 1 - 0.6985 * (1-0.15) = 0.406 < 0.7: no churn-risk event.
    assert q6(1 - palive(1, 1 / 7, 9 / 7) * 0.85) < THRESHOLD

    # -- service recovery, trust segment: complaint ------------------------------------
    c = "j-trust"
    s.order(c, "r-1", at(D), 20)
    s.order(c, "r-2", at(D + 3), 20)
    # 40 / 2 orders: bronze; milestone 2 coupon 5.  At D+3: no signal, repeat,
    # not fading (p = 0.754 >= 0.5, ordered today), no discount, standard
    # shipping, but no attitude yet: `satisfied`, not `trust` (trust loyalty is
    # satisfied *and* attached, docs/model.md "Segment").
    x.reward(c, "milestone:2", "milestone", "coupon", 5, ["first_repeat_purchase"], at(D + 3),
             milestone=2)

    # -- dissatisfied one-time buyer ---------------------------------------------------
    c = "j-unhappy"
    s.order(c, "u-1", at(D), 60)  # bronze, one purchase day: no reward

    # -- advocacy (its only order is on the orders topic: bronze, 50 points;
    # without it the grade would be `none`, also 50 points) -----------------------------
    c = "j-advocate"
    s.order(c, "a-1", at(D), 30)

    # ---- phase 2: reviews and messages of customers whose orders are in ------------
    s.phase()
    c = "j-advocate"
    r1 = s.review(c, at(D + 2), 5, True)      # shared, >= 4: advocacy 50 points
    s.review(c, at(D + 20), 4, True)          # 18 days later < 30-day cooldown: suppressed
    r3 = s.review(c, at(D + 40), 5, True)     # 38 days after the first: allowed again
    x.reward(c, "advocacy:" + r1, "advocacy", "points", 50, ["shared_review"], at(D + 2))
    x.reward(c, "advocacy:" + r3, "advocacy", "points", 50, ["shared_review"], at(D + 40))
    # One-time buyer risk at D+40: 1 - 0.5^(40/365) = 0.073: no churn.

    # j-silver: a complaint at D+12, 3 days after the recovery reward: the
    # recovery cooldown (14 days) suppresses it.  Risk at D+12 (T=12/7):
    #   p = 1/(1 + 0.32686 * (6.1278/4.5564)^1.2426) = 1/(1 + 0.32686*1.4451) = 0.6792
    #   risk = 1 - 0.6792 * 0.85 * 0.75 = 0.567 < 0.7: no churn.
    s.complaint_answered("j-silver", "cv-silver", at(D + 12))
    assert q6(1 - palive(1, 1 / 7, 12 / 7) * 0.85 * 0.75) < THRESHOLD

    # j-trust: three private five-star reviews: attitude 0.35 x sat(~2.97, 2)
    # = 0.27, still short of attitude_attached 0.4; private reviews earn nothing.
    for k in range(3):
        s.review("j-trust", at(D + 4 + k), 5, False)

    # j-unhappy, signal 1: complaint at D+200.  One-time buyer, T = 200 days:
    #   p = 0.5^(200/365) = 0.6840; risk = 1 - 0.6840*0.75 = 0.487
    # (not bronze-silver, segment `new` before: no service recovery).
    c = "j-unhappy"
    s.complaint_answered(c, "cv-unhappy", at(D + 200))
    assert q6(1 - onetime_p(200) * 0.75) < THRESHOLD

    # ---- phase 3: signal 2, a low rating at D+201 ----------------------------------
    s.phase()
    s.review(c, at(D + 201), 1, False)
    #   p = 0.5^(201/365) = 0.6827; risk = 1 - 0.6827 * 0.75^2 = 1 - 0.3840 = 0.616 < 0.7
    assert q6(1 - onetime_p(201) * 0.75 ** 2) < THRESHOLD

    # j-trust, after its reviews: two inbound praise messages (emotional
    # attachment) add 0.2 x sat(~1.98, 1) = 0.17: attitude 0.44 >= 0.4,
    # attached, so a satisfied repeat buyer in `trust` (trust loyalty,
    # docs/domain.md "Satisfaction and loyalty").
    s.message("j-trust", "praise-1", at(D + 7), "inbound", "praise")
    s.message("j-trust", "praise-2", at(D + 8), "inbound", "praise")
    # Trust before the complaint: service_recovery, bronze grade coupon 10,
    # cause recovery:complaint:<FNV-1a 64 of the complaint's event id>:<its time>.
    # Risk at D+10: x=1, t_x=3/7, T=10/7:
    #   p = 1/(1 + 0.32686 * (5.8421/4.8421)^1.2426) = 1/(1 + 0.32686*1.2628) = 0.7079
    #   risk = 1 - 0.7079 * 0.75 = 0.469 < 0.7: no churn.
    cmp_t = s.complaint_answered("j-trust", "cv-trust", at(D + 10))
    x.reward("j-trust", "recovery:complaint:%016x:%d" % (fnv1a64(cmp_t), at(D + 10)),
             "service_recovery", "coupon", 10, ["complaint"], at(D + 10))
    assert q6(1 - palive(1, 3 / 7, 10 / 7) * 0.75) < THRESHOLD

    # ---- phase 4: signal 3, a not_as_described return at D+202 -------------------------
    s.phase()
    s.returned(c, "u-1", at(D + 202), 60, "not_as_described")
    #   p = 0.5^(202/365) = 0.681401; risk = 1 - 0.681401 * 0.75^3
    #     = 1 - 0.681401 * 0.421875 = 1 - 0.287466 = 0.712534 >= 0.7: crossing 1.
    # p >= palive_low (0.5): no inactive_one_time code; the reasons are the
    # three active signals.  p_alive is reported as 1 (one-time buyer).
    # No win-back: spend_365d = 60 - 60 = 0 < 300 and clv < 200 (x = 0:
    # E[purchases in 52 weeks] <= r/(alpha+T)*52 = 0.2426/33.3*52 = 0.38,
    # times the Gamma-Gamma population mean p*gamma/(q-1) = 35.2: clv <= 13).
    risk = q6(1 - onetime_p(202) * 0.75 ** 3)
    assert risk >= THRESHOLD and abs(risk - 0.712534) < 1e-6
    x.churn(c, 1, ["complaint", "low_rating", "not_as_described"], risk, as_of_ms=at(D + 202),
            p_alive=1)

    # ---- phase 5: hysteresis - more signals while above the threshold ------------------
    s.phase()
    s.complaint_answered(c, "cv-unhappy-2", at(D + 205))
    s.review(c, at(D + 205, 12), 2, True)
    # risk = 1 - 0.5^(205/365) * 0.75^5 = 1 - 0.6777*0.2373 = 0.839: still >= the
    # re-arm level 0.5, so armed stays 0 and nothing is emitted.
    assert q6(1 - onetime_p(205) * 0.75 ** 5) >= 0.5

    env.create_topics()
    d = env.daemon().start()
    t0 = time.monotonic()
    run_phases(env, d, s)
    wait_emitted(d, x.count("loyalty.reward-trigger"), x.count("loyalty.churn-risk"))
    customers = {"j-mile", "j-tier", "j-silver", "j-trust", "j-unhappy", "j-advocate"}
    check_outputs(env, x, customers)

    # The suppressed triggers were counted (aux X): one advocacy, one recovery.
    assert suppressed(env, "j-advocate")["advocacy"] == 1
    assert suppressed(env, "j-silver")["service_recovery"] == 1
    h = customer_hash(env.r, env.redis_prefix, "j-unhappy")
    assert h.get("churn_seq") == "1" and h.get("risk_armed") == "0", h
    assert customer_hash(env.r, env.redis_prefix, "j-tier").get("tier") == "gold"
    d.stop()
    log("journeys: %d events in %d phases, checked in %.1f s" % (
        s.count, len(s.phases), time.monotonic() - t0))


# ---- quiet customers, found by the sweeper ----------------------------------------------

def test_quiet_customers_swept(env, monkeypatch):
    """With `clock = stream` the sweeper judges partition 0 at its newest
    event time.  Two quiet customers send nothing after their purchases; other
    customers' orders move the stream time.  The repeat buyer's churn-risk
    event (`palive_low`) appears exactly at the BG/NBD crossing day, not the
    day before; the one-time buyer's (`inactive_one_time`) 634 days after the
    purchase; later sweeps of both emit nothing more."""
    D0 = epoch_day(2023, 1, 2)  # 2023-01-02; the last event is 700 days later, still past
    # One partition per input topic: every customer's due time is filed under
    # partition 0, whose stream time any customer's event advances.
    monkeypatch.setenv("KAFKA_PARTITIONS", "1")
    env.create_topics()
    d = env.daemon(**{"clock": "stream", "sweep.interval_s": "1"}).start()
    s = Script()
    x = Expect()

    # Q1, repeat buyer: orders on D0 and D0+7.  x = 1, t_x = 1 week.
    # Milestone 2 at D0+7, bronze (40 USD): coupon 5.
    s.order("q-repeat", "q1-1", at(D0), 20)
    s.order("q-repeat", "q1-2", at(D0 + 7), 20)
    x.reward("q-repeat", "milestone:2", "milestone", "coupon", 5, ["first_repeat_purchase"],
             at(D0 + 7), milestone=2)
    # Q2, one-time buyer: one order on D0.
    s.order("q-once", "q2-1", at(D0, 11), 25)

    # Crossing day of Q1, no signal (factor 1): risk >= 0.7 <=> p <= 0.3 <=>
    #   0.32686 * ((alpha+T)/(alpha+1))^1.242593 >= 1/0.3 - 1 = 2.3333
    #   (alpha+T)/5.413532 >= 7.1387^(1/1.242593) = 4.8637  =>  T >= 21.92 weeks
    # = 153.5 days after the first purchase; T counts whole days (now_day -
    # first_day)/7, so the first day with risk >= 0.7 is day 154:
    #   day 153: p = 0.300583, risk 0.699417;  day 154: p = 0.299169, risk 0.700831
    q1_day = next(n for n in range(8, 1000) if q6(1 - palive(1, 1, n / 7)) >= THRESHOLD)
    assert q1_day == 154
    q1_risk, q1_p = q6(1 - palive(1, 1, 154 / 7)), q6(palive(1, 1, 154 / 7))
    # Q2: 0.5^(T/365) <= 0.3 <=> T >= 365*log2(1/0.3) = 633.98 days: day 634
    # (day 633: p = 0.300566, risk 0.699434; day 634: p = 0.299996, risk 0.700004).
    q2_day = math.ceil(365 * math.log2(1 / 0.3))
    assert q2_day == 634 and q6(1 - onetime_p(633)) < THRESHOLD <= q6(1 - onetime_p(634))
    q2_risk = q6(1 - onetime_p(634))

    # Phase A: stream time to D0+153 12:00, the day before Q1's crossing.
    s.phase()
    s.order("q-clock-a", "ca-1", at(D0 + q1_day - 1, 12), 10)
    # Phase B: stream time to D0+154 06:00: Q1 is due (crossing day start) and
    # is swept at 06:00 of that day: risk 0.700831, p_alive 0.299169 < 0.5
    # (reason palive_low), no signals.  No win-back: spend_365d 40 < 300 and
    # clv < 200 (E[purchases in 52 w] <= p_alive * (r+x)/(alpha+T) * 52 =
    # 0.299*1.2426/26.41*52 = 0.73, times the Gamma-Gamma mean (15.45+1*20)*
    # 6.2488/(6.2488+2.7446) = 24.6: clv <= 18).
    s.phase()
    s.order("q-clock-b", "cb-1", at(D0 + q1_day, 6), 10)
    # The event is as of the crossing itself (the start of that day), the
    # due time the sweep evaluates, not the 06:00 the stream time reached.
    x.churn("q-repeat", 1, ["palive_low"], q1_risk, as_of_ms=(D0 + q1_day) * DAY_MS,
            p_alive=q1_p)
    # Phase C: stream time to D0+634 06:00: Q2 crosses (inactive_one_time,
    # p_alive reported 1; spend_365d 0, clv <= 0.2426/95*52*35.2 = 4.7: no
    # win-back).  Q1 is swept again (its oldest day bucket left the 365-day
    # window, docs/model.md Tier): risk still >= 0.5, no second event.  The
    # clock customers of phases A and B are one-time buyers 481 and 480 days
    # old: risk 1 - 0.5^(481/365) = 0.599 < 0.7.
    s.phase()
    s.order("q-clock-c", "cc-1", at(D0 + q2_day, 6), 10)
    x.churn("q-once", 1, ["inactive_one_time"], q2_risk, as_of_ms=(D0 + q2_day) * DAY_MS,
            p_alive=1)
    # Phase D: stream time to D0+700: every due time of Q1 and Q2 (window
    # ends, tier graces) has passed and was evaluated at its own time; still
    # no second event.
    # Clock customers: a at 547 days: risk 1 - 0.5^(547/365) = 0.646 < 0.7.
    s.phase()
    s.order("q-clock-d", "cd-1", at(D0 + 700, 6), 10)
    assert q6(1 - onetime_p(547)) < THRESHOLD

    def sweeps():
        m = d.metrics()
        return m.get("loyaltyd_sweeper_runs_total"), m.get("loyaltyd_sweeper_customers_total")

    def after_phase(i):
        runs0, swept0 = sweeps()
        if i in (0, 1):
            # The first purchases; Phase A: the day before Q1's crossing.
            # Let at least two sweeps run at this stream time: nothing but
            # Q1's milestone may have been emitted.
            wait_for("two sweeper runs", lambda: sweeps()[0] >= runs0 + 2, 30)
            wait_emitted(d, 1, 0)
        elif i == 2:
            wait_emitted(d, 1, 1)
        elif i == 3:
            wait_emitted(d, 1, 2)
        else:
            # Q1 and Q2 re-evaluated (their graces end before D0+700), and a
            # few sweeper runs after that: still one churn event each.
            # A sweep evaluates a customer at each of its due times up to the
            # stream time (not at the time the sweeper happens to run): by
            # D0+700 both have had every due time evaluated, their tier
            # graces have run out, and nothing is due before D0+700.
            def settled(c):
                h = customer_hash(env.r, env.redis_prefix, c)
                due = env.r.zscore(env.redis_prefix + "t:{0}:due", c)
                return (h.get("tier", "none") == "none" and
                        int(h.get("as_of", 0)) <= at(D0 + 700, 6) and
                        (due is None or due > at(D0 + 700, 6)))
            wait_for("Q1 and Q2 evaluated up to D0+700",
                     lambda: all(settled(c) for c in ("q-repeat", "q-once")), 30)
            runs1 = sweeps()[0]
            wait_for("two more sweeper runs", lambda: sweeps()[0] >= runs1 + 2, 30)
            wait_emitted(d, 1, 2)
        log("phase %d: sweeper runs %d -> %d, customers swept %d -> %d" % (
            i, runs0, sweeps()[0], swept0, sweeps()[1]))

    t0 = time.monotonic()
    run_phases(env, d, s, between=after_phase)
    customers = {"q-repeat", "q-once", "q-clock-a", "q-clock-b", "q-clock-c", "q-clock-d"}
    check_outputs(env, x, customers)
    for c in ("q-repeat", "q-once"):
        h = customer_hash(env.r, env.redis_prefix, c)
        assert h.get("churn_seq") == "1" and h.get("risk_armed") == "0", (c, h)
        # the grace ended at D0+664: the tier dropped to none (not stored)
        assert h.get("tier", "none") == "none", (c, h)
    d.stop()
    log("quiet customers: checked in %.1f s" % (time.monotonic() - t0))


# ---- the wall clock ------------------------------------------------------------------------

def test_wall_clock_timer_on_time(env, monkeypatch):
    """With `clock = wall` a due time fires once the wall clock has passed it
    and the task's input is caught up (docs/model.md "Timers"), with no event
    after it: an inbound inquiry left unanswered, appended so that its
    24-hour deadline (model.sla_hours) falls a few seconds into the test.
    Until the deadline the customer stays as of the inquiry; after it the
    sweeper evaluates it at the deadline itself (as_of exactly the deadline,
    an `inquiry_unanswered` signal of that time), within a few sweeper
    intervals."""
    monkeypatch.setenv("KAFKA_PARTITIONS", "1")
    env.create_topics()
    d = env.daemon(**{"clock": "wall", "sweep.interval_s": "1"}).start()
    lead_s = 12
    t0 = int(time.time() * 1000) - 24 * HOUR_MS + lead_s * 1000
    due = t0 + 24 * HOUR_MS
    s = Script()
    s.message("w-quiet", "w-conv", t0, "inbound", "inquiry")
    feed(env.topic("messages"), s.phases[0]["messages"])
    d.wait_caught_up(1, partitions=1)

    def as_of():
        doc = dump_customers(env.r, env.redis_prefix, ["w-quiet"])["w-quiet"]
        return int(doc["fields"]["as_of"]), doc

    # Before the deadline: evaluated at the inquiry only, however often the
    # sweeper runs meanwhile.
    while time.time() * 1000 < due - 1500:
        got, doc = as_of()
        assert got == t0, "evaluated before its deadline: as_of %d, inquiry %d, deadline %d" % (
            got, t0, due)
        time.sleep(0.5)
    got, doc = wait_for("the deadline evaluated",
                        lambda: (lambda a: a if a[0] != t0 else None)(as_of()), 15, interval=0.2)
    fired_ms = time.time() * 1000
    assert got == due, "evaluated at %d, not at its deadline %d" % (got, due)
    assert fired_ms >= due
    # docs/state.md, aux section S: one signal per entry, its time first.
    signals = [sec[2:] for sec in doc["aux"].split("|") if sec.startswith("S:")]
    assert signals and any(e.split(",")[0] == str(due) for e in signals[0].split(";")), (
        "no signal at the deadline: %r" % doc["aux"])
    assert d.metrics().get("loyaltyd_timers_fired_total", partition=0) >= 1
    # The gauge is refreshed every second: it may still count the timer.
    wait_for("no overdue timer", lambda: d.metrics().all("loyaltyd_timers_overdue") ==
             [({"partition": "0"}, 0.0)], 5)
    log("wall clock: the deadline fired %.1f s after it passed" % ((fired_ms - due) / 1000))
    d.stop()
