"""The JSON Schemas of the event contracts (schemas/, draft 2020-12) against
what loyaltyd really accepts and emits.

  test_schema_files            every file is a valid 2020-12 schema with a
                               stable $id, a title and a description, every
                               $ref resolves, and there is one schema per
                               input event type of the parser
  test_enums_match_the_code    the enumerations of the schemas are the name
                               tables of the C code (event types, shipping,
                               return reasons, directions, message kinds,
                               complaint categories, DLQ reasons, tiers,
                               segments, brand types, loyalty types, reward
                               types, kinds and gradings, reason codes)
  test_input_corpus_validates  the valid events of every generator the tests,
                               the demo and the benchmark use validate
  test_invalid_input_rejected  the malformed messages those generators make,
                               and a table of edge cases, are refused by the
                               schema exactly where a schema can say so; the
                               rest are the rules listed in NOT_EXPRESSIBLE
  test_daemon_outputs_validate the real daemon, fed a corpus with churn
                               crossings, rewards and malformed messages:
                               every churn-risk, reward-trigger,
                               segment-change and DLQ record validates and
                               carries no undocumented field,
                               the parser's verdict on each edge case is the
                               one the table records, and every message the
                               daemon dead-lettered for a rule a schema can
                               express is refused by the schema too

Validation uses jsonschema's Draft202012Validator with format checking
(`date-time` needs the rfc3339-validator package) and a registry of every
file, so the `urn:loyaltyd:schema:...` references resolve without a network.
"""
import argparse
import datetime as dt
import glob
import importlib.util
import json
import os
import re
import time

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

from conftest import ROOT, drain, feed, log
from test_journeys import Script, at, epoch_day
from workload import BASE_MS, DAY_MS, TOPICS, Workload, derived_id, malformed_messages

SCHEMA_DIR = os.path.join(ROOT, "schemas")
DRAFT = "https://json-schema.org/draft/2020-12/schema"
ID_RX = re.compile(r"^urn:loyaltyd:schema:([a-z0-9.-]+):v([1-9][0-9]*)$")
TOPIC_SCHEMA = {t: "topic-" + t for t in TOPICS}

# Rules of the parser (consumers/parse.c) that no JSON Schema can state, and
# the one case where a format-asserting validator is stricter than the parser.
# README.md in schemas/ lists the same.
NOT_EXPRESSIBLE = {
    "bytes": "ids are at most 128 and names at most 64 bytes of UTF-8; maxLength counts characters",
    "epoch": "the instant, once its offset is applied, must be after 1970-01-01T00:00:00.000Z "
             "and not after 9999-12-31T23:59:59.999Z; the pattern sees the written date only",
    "future": "ts at most limits.max_future_skew_s ahead of the daemon's clock",
    "duplicate_key": "a key repeated in one object (a JSON parser keeps one of them)",
    "nul": "the \\u0000 escape, in any string",
    "depth": "nesting deeper than limits.max_depth (32), unknown fields included",
    "size": "a message larger than limits.max_message_bytes",
    "leap_second": "second 60 at any minute: the parser takes it, a validator asserting "
                   "format date-time refuses it",
}
# Reasons of malformed generator messages the schemas cannot see (by rule),
# and those that are not JSON at all (refused before any schema applies).
REASON_RULE = {"too_deep": "depth", "too_large": "size", "future_timestamp": "future"}
NOT_JSON = {"invalid_json", "invalid_utf8"}


# ---- the schemas ----------------------------------------------------------------

def load_schemas():
    """{file name without .schema.json: (schema, text)}."""
    out = {}
    for path in sorted(glob.glob(os.path.join(SCHEMA_DIR, "*.schema.json"))):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        out[os.path.basename(path)[:-len(".schema.json")]] = (json.loads(text), text)
    return out


SCHEMAS = load_schemas()
REGISTRY = Registry().with_resources(
    (s["$id"], Resource.from_contents(s)) for s, _ in SCHEMAS.values() if "$id" in s)
FORMATS = FormatChecker()


def validator(name):
    if name not in SCHEMAS:
        pytest.fail("schemas/%s.schema.json is missing" % name)
    return Draft202012Validator(SCHEMAS[name][0], registry=REGISTRY, format_checker=FORMATS)


@pytest.fixture(scope="module", autouse=True)
def date_time_checked():
    """Several rules (the day of the month, leap seconds) rest on format
    date-time being asserted; without its checker they would pass unseen."""
    if "date-time" not in FORMATS.checkers:
        pytest.fail("jsonschema cannot check format date-time: install rfc3339-validator "
                    "(pip install 'jsonschema[format-nongpl]')", pytrace=False)


def errors(name, instance):
    return ["%s: %s" % ("/".join(map(str, e.absolute_path)) or "(top)", e.message)
            for e in validator(name).iter_errors(instance)]


def strict_json(raw):
    """The value of raw as a strict JSON reader sees it; ValueError when the
    bytes are not UTF-8 or not JSON (NaN and Infinity are not JSON)."""
    def no_constant(name):
        raise ValueError("not JSON: " + name)
    return json.loads(raw.decode("utf-8"), parse_constant=no_constant)


def walk_refs(node):
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"]
        for v in node.values():
            yield from walk_refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from walk_refs(v)


def declared(schema, resolver):
    """{property: (subschema, resolver)} a schema declares, through $ref and allOf."""
    out = {}
    if "$ref" in schema:
        r = resolver.lookup(schema["$ref"])
        out.update(declared(r.contents, r.resolver))
    for sub in schema.get("allOf", []):
        out.update(declared(sub, resolver))
    for k, v in schema.get("properties", {}).items():
        out[k] = (v, resolver)
    return out


def undocumented(instance, schema, resolver, path=""):
    """Paths of the members of instance that its schema does not declare.
    The output schemas allow extra members (consumers must ignore them), so
    this is what keeps the schemas complete."""
    while "$ref" in schema and "properties" not in schema:
        r = resolver.lookup(schema["$ref"])
        schema, resolver = r.contents, r.resolver
    if isinstance(instance, dict):
        props = declared(schema, resolver)
        for k, v in instance.items():
            if k not in props:
                yield path + k
            else:
                yield from undocumented(v, props[k][0], props[k][1], path + k + ".")
    elif isinstance(instance, list) and isinstance(schema.get("items"), dict):
        for i, v in enumerate(instance):
            yield from undocumented(v, schema["items"], resolver, "%s%d." % (path, i))


def test_schema_files():
    """Every schema file: draft 2020-12 by $schema and by check_schema, a
    unique $id urn:loyaltyd:schema:<file name>:v<N>, a title and a
    description, 2-space pretty-printing; every $ref resolves in the
    registry; there is a schema for every event type of state/model/event.c, one
    per input topic, and the output and DLQ schemas."""
    assert SCHEMAS, "no schema files in schemas/"
    ids = {}
    for name, (s, text) in SCHEMAS.items():
        assert s.get("$schema") == DRAFT, (name, s.get("$schema"))
        Draft202012Validator.check_schema(s)
        m = ID_RX.match(s.get("$id", ""))
        assert m and m.group(1) == name, "%s: $id %r" % (name, s.get("$id"))
        assert s["$id"] not in ids, "%s and %s share the $id %s" % (name, ids[s["$id"]], s["$id"])
        ids[s["$id"]] = name
        assert s.get("title") and s.get("description"), name
        assert text == json.dumps(s, indent=2, ensure_ascii=False) + "\n", (
            "%s.schema.json is not pretty-printed with a 2-space indent" % name)
        resolver = REGISTRY.resolver(base_uri=s["$id"])
        for ref in walk_refs(s):
            resolver.lookup(ref)  # raises when unresolvable
    want = set(c_names("state/model/event.c", "event_type_names")) | set(TOPIC_SCHEMA.values()) | {
        "common", "churn-risk", "reward-trigger", "segment-change", "dlq-record", "dlq-headers"}
    assert set(SCHEMAS) == want, "schema files: missing %s, unexpected %s" % (
        sorted(want - set(SCHEMAS)), sorted(set(SCHEMAS) - want))
    # Output schemas carry the version they describe in their $id.
    for name, schema_name in (("churn-risk", "loyalty.churn-risk"),
                              ("reward-trigger", "loyalty.reward-trigger"),
                              ("segment-change", "loyalty.segment-change")):
        props = SCHEMAS[name][0]["properties"]
        assert props["schema"] == {"const": schema_name}
        assert SCHEMAS[name][0]["$id"].endswith(":v%d" % props["schema_version"]["const"])


# ---- the enumerations against the C name tables ------------------------------------

def c_source(rel):
    with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
        return f.read()


def c_names(rel, table):
    """The string literals of the initializer of the C array `table` in rel."""
    m = re.search(r"\b%s(?:\[[^\]]*\])+\s*=\s*\{(.*?)\};" % re.escape(table), c_source(rel),
                  re.S)
    assert m, "no table %s in %s" % (table, rel)
    return re.findall(r'"([^"]*)"', m.group(1))


def c_call_literals(rel, func):
    """String literals in the arguments of every call of func in rel (its
    definition, whose parameters start with a type, left out)."""
    out = set()
    for m in re.finditer(r"\b%s\((.*?)\);" % re.escape(func), c_source(rel), re.S):
        if not re.match(r"\s*(?:const\s+)?(?:struct|enum|int|char)\b", m.group(1)):
            out |= set(re.findall(r'"([^"]*)"', m.group(1)))
    return out


def enum_of(node):
    return [v for v in node["enum"] if v is not None]


def same_set(values, names):
    """An enumeration and a C table hold the same names, each once (the
    order of a schema's enum means nothing)."""
    return len(set(values)) == len(values) and sorted(values) == sorted(names)


def test_enums_match_the_code():
    """Each enumeration in the schemas is the C table it comes from: the
    parser looks input values up in state/model/event.c's tables ("none" is never
    accepted), the DLQ reasons are parse.c's names (less "ok" and
    "no_memory", which is retried, not dead-lettered) plus "model_rejected"
    and "quarantined", and the output classes and reason codes are those of
    state/model/customer.c, reward.c, risk.c and model.c."""
    s = {n: v[0] for n, v in SCHEMAS.items()}
    common = s["common"]["$defs"]
    placed = s["order.placed"]["properties"]
    msg = s["message.sent"]["properties"]

    def no_none(names):
        return [n for n in names if n != "none"]

    assert enum_of(placed["shipping"]) == no_none(c_names("state/model/event.c", "event_shipping_names"))
    assert enum_of(s["order.returned"]["properties"]["reason"]) == no_none(
        c_names("state/model/event.c", "event_return_reason_names"))
    assert enum_of(msg["direction"]) == no_none(c_names("state/model/event.c", "event_direction_names"))
    assert enum_of(msg["kind"]) == c_names("state/model/event.c", "event_msg_kind_names")
    assert enum_of(msg["complaint_category"]) == no_none(c_names("state/model/event.c", "event_category_names"))
    types = c_names("state/model/event.c", "event_type_names")
    topic_types = [t for n in TOPIC_SCHEMA.values() for t in s[n]["properties"]["type"]["enum"]]
    assert sorted(topic_types) == sorted(types)
    for t in types:
        assert s[t]["properties"]["type"] == {"const": t}

    reasons = [r for r in c_names("consumers/parse.c", "parse_reason_names") if r not in ("ok", "no_memory")]
    assert '"model_rejected"' in c_source("consumers/lanes.c")
    assert '"quarantined"' in c_source("consumers/lanes.c")
    assert enum_of(s["dlq-headers"]["properties"]["reason"]) == reasons + ["model_rejected",
                                                                         "quarantined"]

    scores = common["scores"]["properties"]
    assert scores["tier"]["enum"] == c_names("state/model/customer.c", "cu_tier_names")
    for cls, table in (("segment", "cu_segment_names"), ("brand_type", "cu_brand_type_names"),
                       ("loyalty_type", "cu_loyalty_type_names")):
        assert scores[cls]["$ref"] == "#/$defs/" + cls
        assert same_set(common[cls]["enum"], c_names("state/model/customer.c", table)), cls
        move = s["segment-change"]["properties"][cls]["properties"]
        assert move["from"] == move["to"] == {"$ref": "urn:loyaltyd:schema:common:v3#/$defs/" + cls}
    assert s["segment-change"]["properties"]["changed"]["items"]["enum"] == [
        "segment", "brand_type", "loyalty_type"]
    signals = c_names("state/model/customer.c", "signal_names")
    assert common["signal_code"]["enum"] == signals
    reward = s["reward-trigger"]["properties"]["reward"]["properties"]
    assert reward["type"]["enum"] == c_names("state/model/customer.c", "reward_names")
    assert sorted(reward["kind"]["enum"]) == sorted(set(c_names("state/model/reward.c", "grades")))
    assert reward["tier"]["enum"] == c_names("state/model/customer.c", "cu_tier_names")[2:]  # silver+
    # rw->graded_by = by_margin ? "margin" : "revenue": the literals assigned.
    graded = {v for m in re.finditer(r"graded_by\s*=([^;]*);", c_source("state/model/reward.c"))
              for v in re.findall(r'"([^"]*)"', m.group(1))}
    assert same_set(reward["graded_by"]["enum"], graded), graded

    def codes(name):
        items = s[name]["properties"]["reason_codes"]["items"]["anyOf"]
        own = [c for sub in items if "enum" in sub for c in sub["enum"]]
        assert {"$ref": "urn:loyaltyd:schema:common:v3#/$defs/signal_code"} in items
        return set(own)
    assert codes("churn-risk") == c_call_literals("state/model/risk.c", "derived_reason_add")
    # emit_reward(p, out, TYPE, cause, REASON, &rw): the literal reasons (a
    # service recovery gives the signal's name, covered by signal_code).
    assert codes("reward-trigger") == c_call_literals("state/model/model.c", "emit_reward")


# ---- the input corpus ---------------------------------------------------------------

def load_script(rel, name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, rel))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def sample_events(customers=300):
    """deploy/sample-events.py's events for the first CDNOW customers
    (bench/synth-events.py replicates exactly these with other ids):
    {topic: [(key, raw)]}, and its malformed messages [(topic, key, raw)]."""
    se = load_script("deploy/sample-events.py", "sample_events")
    txs = se.read_transactions(os.path.join(ROOT, "data/cdnow/CDNOW_sample.txt"), None, customers)
    g = se.Gen(1997)
    for cust in sorted(txs):
        g.customer(cust, txs[cust])
    lines = {t: [(c, js.encode()) for _, c, js in getattr(g, t)] for t in TOPICS}
    return lines, [(t, k, raw.encode()) for t, k, raw in g.malformed()]


def bench_events(malformed):
    """bench/workload.py's --small-like population, scaled down: {topic: [(key, raw)]}."""
    bw = load_script("bench/workload.py", "bench_workload")
    a = argparse.Namespace(seed=2025, customers=300, events=3000, start="2025-01-01", days=365,
                           sigma=1.7, malformed=malformed)
    w = bw.Workload(a)
    w.run()
    return {t: [tuple(line.split("\t", 1)) for _, _, line in lst] for t, lst in w.out.items()}


def bench_malformed():
    """The messages bench/workload.py makes malformed: the lines that differ
    from the same run without them (the same seed draws the same events),
    with the reason the damage gets.  A line may be damaged twice; the
    parser's first failing check decides: JSON, object, type, ts."""
    clean, damaged = bench_events(0.0), bench_events(0.01)
    out = []
    for t in TOPICS:
        assert len(clean[t]) == len(damaged[t])
        for (_, a), (key, b) in zip(clean[t], damaged[t]):
            if a == b:
                continue
            try:
                ev = strict_json(b.encode())
            except ValueError:
                reason = "invalid_json"
            else:
                reason = ("not_object" if not isinstance(ev, dict) else
                          "unknown_type" if ev["type"].startswith("x.") else
                          "bad_timestamp" if ev["ts"].startswith("yesterday ") else None)
            assert reason, "undamaged line reported as damaged: %s" % b
            out.append((t, key, b.encode(), reason))
    return out


def crafted_script(D):
    """Journeys (test_journeys.Script) that end in a churn crossing: the
    dissatisfied one-time buyer of test_journeys (complaint, low rating,
    not_as_described return at D+200..202: risk 0.712534 >= 0.7), and the same
    for a valuable one whose 365-day spend stays >= 300, which also earns a
    win-back reward.  Returns (script, {event_id: what}) of the derived
    events they must produce."""
    s = Script()
    want = {}
    for cid, amount, refund in (("s-unhappy", 60, 60), ("s-valuable", 400, 10)):
        s.order(cid, cid + "-o1", at(D), amount)
        s.complaint_answered(cid, cid + "-cv", at(D + 200))
        s.review(cid, at(D + 201), 1, False)
        s.returned(cid, cid + "-o1", at(D + 202), refund, "not_as_described")
        want[derived_id(cid, "churn-risk", "churn:1")] = (cid, "churn")
    want[derived_id("s-valuable", "reward-trigger", "winback:1")] = ("s-valuable", "win_back")
    return s, want


def script_lines(script):
    lines = {t: [] for t in TOPICS}
    for ph in script.phases:
        for t in TOPICS:
            lines[t].extend(ph[t])
    return lines


def test_input_corpus_validates():
    """The valid events of tests/integration/workload.py (the end-to-end and
    replay seeds, and a single-topic population), test_journeys.Script,
    deploy/sample-events.py and bench/workload.py validate against their
    topic's schema and their type's schema; every input type occurs."""
    corpora = {
        "workload seed 11": Workload(seed=11, customers=300).lines,
        "workload seed 12": Workload(seed=12, customers=150).lines,
        "workload single-topic": Workload(seed=5, customers=120, single_topic=True,
                                          malformed=False).lines,
        "journeys script": script_lines(crafted_script(epoch_day(2024, 3, 4))[0]),
        "sample-events": sample_events()[0],
        "bench workload": bench_events(0.0),
    }
    bad_keys = {b[1] for b in malformed_messages(BASE_MS)}
    seen = {}
    failures = []
    for corpus, lines in corpora.items():
        for t in TOPICS:
            for key, raw in lines[t]:
                if key in bad_keys:
                    continue
                ev = strict_json(raw if isinstance(raw, bytes) else raw.encode())
                errs = errors(TOPIC_SCHEMA[t], ev) + errors(ev["type"], ev)
                if errs:
                    failures.append((corpus, t, errs[:3], raw[:300]))
                seen[ev["type"]] = seen.get(ev["type"], 0) + 1
    assert not failures, "%d valid events refused by the schemas, e.g.:\n  %s" % (
        len(failures), "\n  ".join(map(str, failures[:10])))
    types = c_names("state/model/event.c", "event_type_names")
    assert sorted(seen) == sorted(types), "event types never generated: %s" % (
        sorted(set(types) - set(seen)))
    assert sum(seen.values()) > 5000
    log("schemas: %d valid input events validated (%s)" % (
        sum(seen.values()), ", ".join("%s %d" % kv for kv in sorted(seen.items()))))


# ---- edge cases: the parser's verdict and the schema's ----------------------------

TS = "2024-01-10T10:00:00Z"


def edge_cases(now_ms):
    """[(key, topic, raw, daemon reason or None if accepted, schema accepts,
    NOT_EXPRESSIBLE rule behind a difference)].  The key is the message key
    and, unless the case is about it, the customer_id."""
    out = []

    def add(topic, body, reason, schema_ok=None, rule=None):
        key = "edge-%02d" % len(out)
        if isinstance(body, dict):
            body = dict({"event_id": "ev-" + key, "customer_id": key}, **body)
            body = json.dumps(body, ensure_ascii=False)
        body = body.replace("KEY", key).encode()
        out.append((key, topic, body, reason, reason is None if schema_ok is None else schema_ok,
                    rule))

    def order(**kw):
        return dict({"type": "order.placed", "ts": TS, "order_id": "o-1", "amount": 10,
                     "currency": "USD"}, **kw)

    def review(**kw):
        return dict({"type": "review.posted", "ts": TS, "rating": 4}, **kw)

    def message(**kw):
        return dict({"type": "message.sent", "ts": TS, "conversation_id": "cv-1",
                     "direction": "inbound", "kind": "inquiry"}, **kw)

    # accepted by both
    add("orders", order(discount=None, items=None, shipping=None, promised_ship_by=None,
                        promised_delivery_by=None, conversation_id=None), None)
    add("orders", order(ts=1704880800000, amount=0, discount=0,
                        items=[{"qty": None, "sku": "", "unit_price": None, "x_extra": [1]}]), None)
    add("orders", order(ts=1704880800000.0), None)
    add("orders", order(ts="2024-01-10t10:00:00.123456789z"), None)
    add("orders", order(ts="1969-12-31T23:00:00-05:00"), None)
    add("orders", order(amount=1e9, order_id="o" * 128, event_id="e" * 128), None)
    add("orders", order(items=[{"qty": 1000000}, {"qty": 1.0, "brand": "b" * 64}],
                        ts="2024-01-10T10:00:00+23:59"), None)
    add("orders", {"type": "order.cancelled", "ts": TS, "order_id": "never-placed"}, None)
    add("orders", {"type": "order.returned", "ts": TS, "order_id": "o-1", "amount": 1,
                   "reason": None}, None)
    add("reviews", review(rating=5.0, text="", shared=None, order_id=None, sku=None), None)
    add("messages", message(mentions_competitor=None, x_future={"a": [[{"b": 1}]]}), None)
    add("orders", order(reward_event_id="r" * 128,
                        items=[{"qty": 2, "unit_price": 5, "unit_cost": 2.5}, {"unit_cost": 0}]),
        None)
    add("orders", order(reward_event_id=None, items=[{"unit_cost": None}]), None)
    add("messages", message(direction="outbound", kind="resolution"), None)
    add("messages", message(kind="complaint", complaint_category="duties"), None)
    add("messages", message(direction="outbound", kind="resolution",
                            complaint_category="logistics"), None)
    add("messages", message(kind="complaint", complaint_category=None), None)
    # accepted by the parser, refused by a format-asserting validator
    add("orders", order(ts="2024-01-10T10:00:60Z"), None, False, "leap_second")
    # refused by both
    add("orders", order(amount=1000000000.5), "bad_amount")
    add("orders", order(event_id=None), "missing_field")
    add("orders", order(type=None), "missing_field")
    add("orders", order(items=[None]), "wrong_type")
    add("orders", order(items={}), "wrong_type")
    add("orders", order(items=[{"qty": 1000001}]), "bad_quantity")
    add("orders", order(items=[{"unit_price": -1}]), "bad_amount")
    add("orders", order(currency="US"), "bad_currency")
    add("orders", order(discount="5"), "wrong_type")
    add("orders", order(items=[{"sku": "s" * 65}]), "bad_id")
    add("orders", order(order_id=""), "bad_id")
    add("orders", order(conversation_id=""), "bad_id")
    add("orders", order(customer_id="c" * 129), "bad_id")
    add("orders", order(ts=0), "bad_timestamp")
    add("orders", order(ts=1.5), "bad_timestamp")
    add("orders", order(ts=True), "wrong_type")
    add("orders", order(ts="2024-02-30T10:00:00Z"), "bad_timestamp")
    add("orders", order(ts="2024-01-10 10:00:00Z"), "bad_timestamp")
    add("orders", order(ts="2024-01-10T10:00:00.Z"), "bad_timestamp")
    add("orders", order(ts="2024-01-10T10:00:00+24:00"), "bad_timestamp")
    add("orders", order(ts="2024-01-10T10:00:00+0100"), "bad_timestamp")
    add("orders", order(promised_ship_by="soon"), "bad_timestamp")
    add("orders", order(promised_delivery_by="2023-02-29T10:00:00Z"), "bad_timestamp")
    add("orders", order(shipping=""), "bad_enum")
    add("messages", message(direction="none"), "bad_enum")
    add("messages", message(kind="resolution"), "bad_enum")  # inbound
    add("messages", message(kind="complaint", complaint_category="shipping"), "bad_enum")
    add("messages", message(kind="complaint", complaint_category="none"), "bad_enum")
    add("messages", message(complaint_category=3), "wrong_type")
    add("orders", order(items=[{"unit_cost": -1}]), "bad_amount")
    add("orders", order(items=[{"unit_cost": 1000000000.5}]), "bad_amount")
    add("orders", order(items=[{"unit_cost": "2"}]), "wrong_type")
    add("orders", order(reward_event_id=""), "bad_id")
    add("orders", order(reward_event_id="r" * 129), "bad_id")
    add("reviews", review(rating=0), "bad_rating")
    add("reviews", review(rating="5"), "wrong_type")
    add("reviews", review(text=5), "wrong_type")
    add("reviews", {"type": "order.cancelled", "ts": TS, "order_id": "o-1"}, "wrong_topic")
    # refused by the parser for a rule no schema can state
    add("orders", '{"event_id":"ev-KEY","event_id":"ev-KEY-2","customer_id":"KEY",'
                  '"type":"order.shipped","ts":"%s","order_id":"o-1"}' % TS,
        "invalid_json", True, "duplicate_key")
    add("orders", json.dumps({"event_id": "ev-KEY", "customer_id": "KEY", "type": "order.shipped",
                              "ts": TS, "order_id": "o\u0000-1"}), "invalid_json", True, "nul")
    add("orders", order(customer_id="\u00e9" * 100), "bad_id", True, "bytes")
    add("orders", order(items=[{"brand": "\u00e9" * 40}]), "bad_id", True, "bytes")
    add("orders", order(ts="1970-01-01T00:00:00Z"), "bad_timestamp", True, "epoch")
    add("orders", order(ts="1970-01-01T00:30:00+01:00"), "bad_timestamp", True, "epoch")
    add("orders", order(ts="1969-12-31T20:00:00-01:00"), "bad_timestamp", True, "epoch")
    add("orders", order(ts="9999-12-31T23:59:59.999-01:00"), "bad_timestamp", True, "epoch")
    future = dt.datetime.fromtimestamp(now_ms / 1000 + 2 * 86400, tz=dt.timezone.utc)
    add("orders", order(ts=future.strftime("%Y-%m-%dT%H:%M:%SZ")), "future_timestamp", True,
        "future")
    add("messages", message(x_nested=json.loads("[" * 40 + "]" * 40)), "too_deep", True, "depth")
    return out


def schema_verdict(topic, raw):
    try:
        ev = strict_json(raw)
    except ValueError:
        return False, ["not JSON"]
    errs = errors(TOPIC_SCHEMA[topic], ev)
    return not errs, errs


def test_invalid_input_rejected():
    """Every malformed message of workload.py, deploy/sample-events.py and
    bench/workload.py is refused before any schema (not JSON) or by its
    topic's schema, except those whose reason is a rule in NOT_EXPRESSIBLE,
    which the schema accepts (pinning the list).  In the edge-case table the
    schema's verdict is the recorded one, and it differs from the parser's
    only for a NOT_EXPRESSIBLE rule."""
    cases = [(t, k, raw, reason, "workload") for t, k, raw, reason in malformed_messages(BASE_MS)]
    sample_reasons = {"cdnow-bad1": "invalid_json", "cdnow-bad2": "bad_amount",
                      "cdnow-bad3": "bad_rating", "cdnow-bad4": "wrong_topic"}
    cases += [(t, k, raw, sample_reasons[k], "sample-events") for t, k, raw in sample_events(5)[1]]
    bench = bench_malformed()
    assert {b[3] for b in bench} == {"not_object", "unknown_type", "bad_timestamp", "invalid_json"}
    cases += [(t, k, raw, reason, "bench") for t, k, raw, reason in bench]
    wrong = []
    for topic, key, raw, reason, src in cases:
        if reason in NOT_JSON:
            try:
                strict_json(raw)
                wrong.append((src, key, reason, "parsed as JSON"))
            except ValueError:
                pass
            continue
        ok, errs = schema_verdict(topic, raw)
        if ok != (reason in REASON_RULE):
            wrong.append((src, key, reason, errs[:2] or "accepted"))
    assert not wrong, "schema verdicts on malformed messages:\n  %s" % "\n  ".join(map(str, wrong))

    table = edge_cases(int(time.time() * 1000))
    wrong = []
    for key, topic, raw, reason, schema_ok, rule in table:
        ok, errs = schema_verdict(topic, raw)
        if ok != schema_ok:
            wrong.append((key, raw.decode()[:160], "schema accepts" if ok else errs[:2]))
        differs = (reason is None) != schema_ok
        assert differs == (rule is not None), (key, reason, schema_ok, rule)
        assert rule is None or rule in NOT_EXPRESSIBLE, (key, rule)
    assert not wrong, "edge cases with another schema verdict than recorded:\n  %s" % (
        "\n  ".join(map(str, wrong)))
    rules = {rule for *_, rule in table if rule} | set(REASON_RULE.values())
    assert rules == set(NOT_EXPRESSIBLE), "rules without an example: %s" % (
        set(NOT_EXPRESSIBLE) - rules)
    log("schemas: %d malformed messages and %d edge cases judged as the parser does" % (
        len(cases), len(table)))


# ---- what the daemon emits ------------------------------------------------------------

def test_daemon_outputs_validate(env):
    """One daemon on a backlog of a workload.py population (with its 37
    malformed messages), the crafted churn journeys, the edge-case table and
    sample-events' malformed messages.  Every churn-risk, reward-trigger,
    segment-change and DLQ record validates against its schema (the DLQ
    headers also on their own) and has no member the schema does not
    declare, and every kind of them is emitted; the crafted churn
    crossings and win-back arrive under the documented event ids; each
    message with a unique key is dead-lettered exactly when and why the
    tables say; and the schema refuses the original of every dead-lettered
    message whose reason a schema can express."""
    w = Workload(seed=41, customers=150)
    # The journeys start after the workload's last event, so they are
    # nobody's late events and the merge applies them in their own order.
    D = max(max(w.stamps[t]) for t in TOPICS) // DAY_MS + 2
    script, want_derived = crafted_script(D)
    table = edge_cases(int(time.time() * 1000))
    _, sample_bad = sample_events(5)
    sample_reasons = {"cdnow-bad1": "invalid_json", "cdnow-bad2": "bad_amount",
                      "cdnow-bad3": "bad_rating", "cdnow-bad4": "wrong_topic"}

    lines = {t: list(w.lines[t]) for t in TOPICS}
    for t, more in script_lines(script).items():
        lines[t] += more
    # key -> (topic, raw, expected DLQ reason or None)
    unique = {key: (topic, raw, reason) for topic, key, raw, reason in w.bad}
    for key, topic, raw, reason, _, _ in table:
        lines[topic].append((key, raw))
        unique[key] = (topic, raw, reason)
    for topic, key, raw in sample_bad:
        lines[topic].append((key, raw))
        unique[key] = (topic, raw, sample_reasons[key])
    total = sum(len(v) for v in lines.values())
    rejected = sum(1 for _, _, r in unique.values() if r)

    env.create_topics()
    for t in TOPICS:
        feed(env.topic(t), lines[t])
    d = env.daemon().start()
    m = d.wait_caught_up(total)
    assert m.get("loyaltyd_applied_total") == total - rejected, m.dead_by_reason()
    assert m.get("loyaltyd_dead_lettered_total") == rejected

    outputs = {
        "reward-trigger": drain(env.topic("loyalty.rewards")),
        "churn-risk": drain(env.topic("loyalty.churn-risk")),
        "segment-change": drain(env.topic("loyalty.segments")),
        "dlq-record": drain(env.topic("loyalty.dlq")),
    }
    d.stop()
    bad = []
    for name, recs in outputs.items():
        schema = SCHEMAS[name][0]
        resolver = REGISTRY.resolver(base_uri=schema["$id"])
        for rec in recs:
            inst = rec if name == "dlq-record" else json.loads(rec["value"])
            errs = errors(name, inst)
            if name == "dlq-record":
                errs += errors("dlq-headers", rec["headers"])
            else:
                assert inst["customer_id"] == rec["key"], rec
            extra = list(undocumented(inst, schema, resolver))
            if errs or extra:
                bad.append((name, errs[:3], extra, rec["value"][:300]))
    assert not bad, "%d emitted records do not match their schema, e.g.:\n  %s" % (
        len(bad), "\n  ".join(map(str, bad[:10])))
    counts = {n: len(r) for n, r in outputs.items()}
    assert counts["segment-change"] >= 1, "no segment-change event: %s" % counts
    assert all(counts.values()), "an output topic stayed empty: %s" % counts

    # The crafted crossings and the win-back, by their documented ids.
    payloads = {json.loads(r["value"])["event_id"]: json.loads(r["value"])
                for n in ("reward-trigger", "churn-risk") for r in outputs[n]}
    for eid, (cid, what) in want_derived.items():
        p = payloads.get(eid)
        assert p is not None, "no %s event for %s under id %s" % (what, cid, eid)
        assert p["customer_id"] == cid, p
        if what == "churn":
            assert p["crossing"] == 1 and p["churn_risk"] >= p["threshold"], p
            assert set(p["reason_codes"]) == {"complaint", "low_rating", "not_as_described"}, p
        else:
            assert p["reward"]["type"] == what, p
    # Rules the schemas cannot state, on every churn-risk event.
    for r in outputs["churn-risk"]:
        p = json.loads(r["value"])
        assert p["churn_risk"] >= p["threshold"] and p["scores"]["churn_risk"] == p["churn_risk"], p
        assert p["event_id"] == derived_id(p["customer_id"], "churn-risk", "churn:%d" % p["crossing"]), p
    # ... on every segment change: `changed` names exactly the pairs that
    # moved, each `to` is the class in `scores`, and a customer's sequence
    # numbers count 1, 2, ... (one daemon, a backlog: nothing is repeated).
    sequences = {}
    for r in outputs["segment-change"]:
        p = json.loads(r["value"])
        moved = [k for k in ("segment", "brand_type", "loyalty_type") if p[k]["from"] != p[k]["to"]]
        assert sorted(p["changed"]) == sorted(moved), p
        assert all(p[k]["to"] == p["scores"][k] for k in moved), p
        sequences.setdefault(p["customer_id"], []).append(p["sequence"])
    for cid, seq in sequences.items():
        assert sorted(seq) == list(range(1, len(seq) + 1)), (cid, seq)
    # The scores members every payload of this release has, though the
    # schema cannot require them (version-2 payloads of earlier releases).
    for n in ("reward-trigger", "churn-risk", "segment-change"):
        for r in outputs[n]:
            sc = json.loads(r["value"])["scores"]
            assert "attitude" in sc and "loyalty_type" in sc, (n, r["value"][:300])

    # The DLQ: each unique-keyed message once, with the reason the tables
    # give; the schema refuses the original wherever a schema can say so.
    rule_of = {k: rule for k, *_, rule in table if rule}
    dlq = {}
    for rec in outputs["dlq-record"]:
        assert rec["key"] in unique and rec["key"] not in dlq, "unexpected DLQ record %s" % rec
        dlq[rec["key"]] = rec
    wrong = []
    for key, (topic, raw, reason) in sorted(unique.items()):
        got = dlq[key]["headers"]["reason"] if key in dlq else None
        if got != reason:
            wrong.append((key, raw[:120], "daemon: %s" % (got or "accepted"), "expected: %s" % (
                reason or "accepted")))
            continue
        if got is None:
            continue
        h = dlq[key]["headers"]
        assert h["source_topic"] == env.topic(topic) and h["original_size"] == str(len(raw)), h
        assert h["truncated"] == ("true" if len(raw) > 2048 else "false"), h
        if key in rule_of or reason in REASON_RULE:
            continue  # a rule no schema can state (test_invalid_input_rejected)
        if reason in NOT_JSON:
            with pytest.raises(ValueError):
                strict_json(raw)
        else:
            ok, _ = schema_verdict(topic, raw)
            if ok:
                wrong.append((key, raw[:120], "dead-lettered as %s but the schema accepts it" % reason))
    assert not wrong, "verdicts that differ from the tables:\n  %s" % "\n  ".join(map(str, wrong))
    # ... and every message the daemon applied validates, but for the
    # leap-second row, where the schema is the stricter.
    stricter = {k for k, rule in rule_of.items() if rule == "leap_second"}
    refused = [(t, key, errs[:2]) for t in TOPICS for key, raw in lines[t]
               if key not in dlq and key not in stricter
               for ok, errs in [schema_verdict(t, raw)] if not ok]
    assert not refused, "applied by the daemon, refused by the schema: %s" % refused[:10]
    kinds = {}
    for r in outputs["reward-trigger"]:
        t = json.loads(r["value"])["reward"]["type"]
        kinds[t] = kinds.get(t, 0) + 1
    assert sorted(kinds) == sorted(enum_of(
        SCHEMAS["reward-trigger"][0]["properties"]["reward"]["properties"]["type"])), kinds
    reasons = {r["headers"]["reason"] for r in outputs["dlq-record"]}
    log("schemas: %d reward-trigger (%s), %d churn-risk, %d segment-change and %d DLQ records "
        "(%d reasons) validated; %d edge cases judged by the daemon as recorded" % (
            counts["reward-trigger"], ", ".join("%s %d" % kv for kv in sorted(kinds.items())),
            counts["churn-risk"], counts["segment-change"], counts["dlq-record"], len(reasons),
            len(table)))
