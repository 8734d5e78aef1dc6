"""Assertions shared by the integration tests: state against the independent
model, the dead-letter topic against the malformed input, the reward topic
against the expected milestones."""
import json

from conftest import INDEX_FIELDS, customer_ids, drain, full_state, indices, layout2_keys, log

# Field names as docs/state.md defines them.
INT_FIELDS = (
    "orders", "orders_cancelled", "cancelled_unknown", "orders_returned", "orders_shipped",
    "orders_delivered", "spend_cents", "refund_cents", "discount_cents", "discounted_orders",
    "depth_ppm_sum", "fast_ship_orders", "purchase_days", "first_day", "last_day", "prev_day",
    "first_day_cents", "ratings", "rating_sum", "ratings_low", "ratings_high", "rating_last",
    "reviews_shared", "msg_inquiry", "msg_complaint", "msg_praise", "msg_reply",
    "msg_reminder", "msg_marketing", "msg_other", "competitor_mentions", "choose_n",
    "choose_sum_min", "as_of", "orders_30d", "orders_90d", "orders_365d", "milestone")
FLOAT_FIELDS = ("net_spend", "spend_365d", "aov")
STR_FIELDS = ("currency", "codec")
# docs/state.md: a field at a new customer's value is not stored; read a
# missing one as that default.
DEFAULTS = {"first_day": -1, "last_day": -1, "prev_day": -1, "currency": ""}


def check_state(r, prefix, workload, check_rev=True, timers_until=None,
                kept_indices=("risk", "value"), except_customers=()):
    """Every customer's hash against the model; returns the full state.  With
    timers_until (the newest input event time), the sweeper ran: a customer's
    as_of may be a due time after its last event, up to that time, and its
    windows are judged as of it; a sweep commits too, so rev has no upper
    bound.  Customers in except_customers are left out (set aside)."""
    state = full_state(r, prefix, skip=except_customers)
    expected = {c: m for c, m in workload.customers().items() if c not in except_customers}
    assert set(state) == set(expected), (
        "customers in Redis differ from those with valid events: missing %s, unexpected %s" % (
            sorted(set(expected) - set(state))[:10], sorted(set(state) - set(expected))[:10]))
    bad = []
    for cid, model in sorted(expected.items()):
        h, _aux = state[cid]
        as_of = None
        if timers_until is not None:
            as_of = int(h.get("as_of", "0"))
            if not max(model.ts) <= as_of <= timers_until:
                bad.append((cid, "as_of", as_of, "%d..%d" % (max(model.ts), timers_until)))
        exp = model.expected_fields(as_of)
        for f in INT_FIELDS + FLOAT_FIELDS + STR_FIELDS:
            want = exp[f]
            got = h.get(f)
            if got is None:
                if f == "codec":
                    bad.append((cid, f, "missing", want))
                    continue
                got = str(DEFAULTS.get(f, 0))
            try:
                ok = (int(got) == want if f in INT_FIELDS else
                      float(got) == want if f in FLOAT_FIELDS else got == want)
            except ValueError:
                ok = False
            if not ok:
                bad.append((cid, f, got, want))
        most = model.valid if timers_until is None else float("inf")
        if check_rev and not 1 <= int(h.get("rev", "0")) <= most:
            # rev counts commits: one per customer and batch, so at least one
            # and at most one per applied event (unless the sweeper ran)
            bad.append((cid, "rev", h.get("rev"), "1..%d" % model.valid))
        if not any(k.startswith("wm:") for k in h):
            bad.append((cid, "wm:*", "missing", "watermark fields"))
    if bad:
        fields = sorted({b[1] for b in bad})
        raise AssertionError("%d mismatches in %d customers (fields %s); first ones "
                             "(customer, field, redis, expected):\n  %s" % (
                                 len(bad), len({b[0] for b in bad}), fields,
                                 "\n  ".join(map(str, bad[:25]))))
    # The operators' indices agree with the hashes they index; those not kept
    # (redis.indices, by default risk and value) are not written.
    idx = indices(r, prefix)
    assert set(idx) == set(kept_indices), "indices %s, expected %s" % (sorted(idx), kept_indices)
    for name in kept_indices:
        field = INDEX_FIELDS[name]
        wrong = [(cid, idx[name].get(cid), state[cid][0].get(field)) for cid in expected
                 if idx[name].get(cid) != float(state[cid][0].get(field, 0))]
        assert not wrong, "idx:%s disagrees with %s for %d customers, e.g. %s" % (
            name, field, len(wrong), wrong[:5])
    assert not layout2_keys(r, prefix), "layout 2 keys written: %s" % layout2_keys(r, prefix)[:5]
    log("state of %d customers matches the model (%d fields each)" % (
        len(expected), len(INT_FIELDS + FLOAT_FIELDS + STR_FIELDS)))
    return state


def input_positions(env, workload):
    """key -> (topic, partition, offset) of the malformed messages."""
    keys = {b[1] for b in workload.bad}
    pos = {}
    for t in ("orders", "reviews", "messages"):
        for m in drain(env.topic(t)):
            if m["key"] in keys:
                pos[m["key"]] = (env.topic(t), m["partition"], m["offset"])
    return pos


def check_dlq(env, workload, dlq_topic=None, allow_duplicates=False, positions=None,
              other_reasons=()):
    """The DLQ holds the malformed messages, each once (or repeated
    identically when allow_duplicates), with the right headers.  Records
    with a reason in other_reasons are not judged here."""
    recs = drain(dlq_topic or env.topic("loyalty.dlq"))
    want = {b[1]: b for b in workload.bad}
    seen = {}
    for m in recs:
        key = m["key"]
        if m["headers"].get("reason") in other_reasons:
            continue
        assert key in want, "unexpected DLQ record (key %r, headers %s, value %.200r)" % (
            key, m["headers"], m["value"])
        h = m["headers"]
        topic, _, raw, reason = want[key]
        assert h.get("reason") == reason, "DLQ %s: reason %r, expected %r (detail %r)" % (
            key, h.get("reason"), reason, h.get("detail"))
        assert h.get("source_topic") == env.topic(topic), (key, h)
        assert h.get("original_size") == str(len(raw)), (key, h.get("original_size"), len(raw))
        assert h.get("detail"), "DLQ %s: empty detail" % key
        if len(raw) > 2048:
            assert h.get("truncated") == "true", (key, h)
            assert m["value"].encode() == raw[:2048], "DLQ %s: value is not the 2048-byte prefix" % key
        else:
            assert h.get("truncated") == "false", (key, h)
            try:
                assert m["value"] == raw.decode("utf-8"), "DLQ %s: value is not the original bytes" % key
            except UnicodeDecodeError:
                pass  # kdrain shows invalid UTF-8 replaced; the size header was checked
        if positions is not None:
            assert (h.get("source_topic"), int(h.get("source_partition")),
                    int(h.get("source_offset"))) == positions[key], (
                "DLQ %s: source position %s/%s@%s, produced at %s" % (
                    key, h.get("source_topic"), h.get("source_partition"), h.get("source_offset"),
                    positions[key]))
        if key in seen:
            assert allow_duplicates, "DLQ %s recorded twice" % key
            assert seen[key]["headers"] == h and seen[key]["value"] == m["value"], key
        seen[key] = m
    missing = sorted(set(want) - set(seen))
    assert not missing, "malformed messages not in the DLQ: %s" % [(k, want[k][3]) for k in missing]
    log("DLQ: %d records for %d malformed messages, reasons %s" % (
        len(recs), len(want), sorted({b[3] for b in workload.bad})))
    return recs


def read_outputs(env, rewards_topic=None, churn_topic=None):
    """(rewards, churn) as lists of (record, payload dict)."""
    out = []
    for t in (rewards_topic or env.topic("loyalty.rewards"), churn_topic or env.topic("loyalty.churn-risk")):
        out.append([(m, json.loads(m["value"])) for m in drain(t)])
    return out


def read_segments(env, topic=None):
    """The segment-change records as a list of (record, payload dict)."""
    return [(m, json.loads(m["value"])) for m in drain(topic or env.topic("loyalty.segments"))]


def check_derived_records(rewards, churn, allow_duplicates=False, segments=()):
    """Payload shape; event_ids unique, or repeated only with the identical
    payload (minus emitted_at) when allow_duplicates."""
    by_id = {}
    dups = 0
    for schema, recs in (("loyalty.reward-trigger", rewards), ("loyalty.churn-risk", churn),
                         ("loyalty.segment-change", segments)):
        for m, p in recs:
            assert p.get("schema") == schema, p
            assert p.get("schema_version") == 3, p
            assert isinstance(p.get("event_id"), str) and len(p["event_id"]) == 32, p
            assert p.get("customer_id") == m["key"], "record key %r, customer_id %r" % (m["key"], p)
            assert p.get("as_of") and p.get("emitted_at"), p
            assert isinstance(p.get("reason_codes"), list), p
            assert isinstance(p.get("scores"), dict), p
            if schema != "loyalty.segment-change":
                assert p["reason_codes"], p
            if schema == "loyalty.reward-trigger":
                rw = p.get("reward") or {}
                assert rw.get("type") in ("milestone", "tier_upgrade", "advocacy", "service_recovery",
                                          "win_back"), p
                assert rw.get("kind") in ("coupon", "points", "cashback", "gift"), p
            if schema == "loyalty.segment-change":
                assert p.get("changed") and isinstance(p.get("sequence"), int), p
                for k in ("segment", "brand_type", "loyalty_type"):
                    move = p.get(k) or {}
                    assert (move.get("from") != move.get("to")) == (k in p["changed"]), p
            bare = dict(p)
            bare.pop("emitted_at")
            if p["event_id"] in by_id:
                assert allow_duplicates, "event_id %s emitted twice:\n%s\n%s" % (
                    p["event_id"], by_id[p["event_id"]], bare)
                assert by_id[p["event_id"]] == bare, (
                    "event_id %s emitted twice with different payloads:\n%s\n%s" % (
                        p["event_id"], by_id[p["event_id"]], bare))
                dups += 1
            by_id[p["event_id"]] = bare
    return by_id, dups


def check_milestones(workload, rewards):
    """Exactly the expected milestone rewards: one per milestone a customer
    reached (the first repeat purchase is milestone 2), none for others."""
    want = workload.expected_milestones()
    got = {}
    for m, p in rewards:
        rw = p["reward"]
        if rw["type"] != "milestone":
            continue
        assert p["event_id"] not in got or got[p["event_id"]] == (p["customer_id"], rw["milestone"])
        got[p["event_id"]] = (p["customer_id"], rw.get("milestone"))
        exp = want.get(p["event_id"])
        assert exp is not None, "unexpected milestone reward %s" % p
        assert exp == (p["customer_id"], rw.get("milestone")), (exp, p)
        reason = "first_repeat_purchase" if rw["milestone"] == 2 else "purchase_milestone"
        assert p["reason_codes"] == [reason], p
        assert rw.get("kind") == "coupon" and rw.get("value", 0) > 0, p
        assert rw.get("currency") in ("USD", "EUR"), p
    missing = sorted(set(want) - set(got), key=lambda i: want[i])
    assert not missing, "%d milestone rewards missing, e.g. %s" % (
        len(missing), [want[i] for i in missing[:10]])
    repeaters = {c for c, m in workload.models.items() if m.max_days >= 2}
    firsts = {c for (c, ms) in got.values() if ms == 2}
    assert firsts == repeaters
    log("milestones: %d rewards (%d first repeat purchases, %d customers never repeated)" % (
        len(got), len(firsts), len(workload.customers()) - len(firsts)))
    return got


def check_all(env, r, workload, prefix=None, positions=None):
    state = check_state(r, prefix or env.redis_prefix, workload)
    check_dlq(env, workload, positions=positions)
    rewards, churn = read_outputs(env)
    check_derived_records(rewards, churn, segments=read_segments(env))
    check_milestones(workload, rewards)
    return state, rewards, churn


__all__ = ["check_state", "check_dlq", "read_outputs", "read_segments", "check_derived_records",
           "check_milestones", "check_all", "input_positions", "customer_ids"]
