#!/usr/bin/env python3
"""The naive baseline: the Kafka-to-Redis glue a team writes first.

confluent-kafka consumer (auto-commit), one message at a time; per event one
blocking MULTI/EXEC transaction (redis-py) of HINCRBY/HINCRBYFLOAT counters
and sums in the customer's hash plus an HSET of last-seen.  No model, no
watermark, no outbox: only the per-event round trip and the JSON parsing that
any such consumer pays.

Stops when --expect messages are consumed, --max-seconds after the first
message (then the rate is over the prefix it processed), or after --idle
seconds without a message.  Prints a report and "RESULT key value" lines.
"""
import argparse
import json
import sys
import time

try:
    import redis
    from confluent_kafka import Consumer
except ImportError as e:
    sys.exit("naive: %s (pip install confluent-kafka redis)" % e)


def apply(pipe, key, ev):
    t = ev.get("type")
    pipe.hincrby(key, "events", 1)
    if t == "order.placed":
        pipe.hincrby(key, "orders", 1)
        pipe.hincrbyfloat(key, "spend", float(ev.get("amount", 0)))
        pipe.hincrbyfloat(key, "discount", float(ev.get("discount", 0)))
        pipe.hincrby(key, "items", sum(int(i.get("qty", 1)) for i in ev.get("items", ())))
        pipe.hset(key, "last_order", ev.get("ts", ""))
    elif t == "order.returned":
        pipe.hincrby(key, "returns", 1)
        pipe.hincrbyfloat(key, "refunds", float(ev.get("amount", 0)))
    elif t in ("order.shipped", "order.delivered", "order.cancelled"):
        pipe.hincrby(key, t.split(".")[1], 1)
    elif t == "review.posted":
        pipe.hincrby(key, "reviews", 1)
        pipe.hincrby(key, "rating_sum", int(ev.get("rating", 0)))
    elif t == "message.sent":
        pipe.hincrby(key, "msg_" + str(ev.get("kind", "other")), 1)
    pipe.hset(key, "last_seen", ev.get("ts", ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--brokers", default="127.0.0.1:19092")
    ap.add_argument("--topics", required=True, help="comma-separated")
    ap.add_argument("--group", required=True)
    ap.add_argument("--prefix", required=True, help="Redis key prefix")
    ap.add_argument("--redis-port", type=int, default=16379)
    ap.add_argument("--expect", type=int, required=True)
    ap.add_argument("--max-seconds", type=float, default=60)
    ap.add_argument("--idle", type=float, default=15)
    ap.add_argument("--name", default="naive")
    a = ap.parse_args()

    r = redis.Redis(host="127.0.0.1", port=a.redis_port)
    r.ping()
    c = Consumer({"bootstrap.servers": a.brokers, "group.id": a.group, "auto.offset.reset": "earliest",
                  "enable.auto.commit": True})
    c.subscribe(a.topics.split(","))
    n = bad = 0
    t_start = time.monotonic()
    t_first = t_last = None
    last_msg = t_start
    reason = "all consumed"
    try:
        while n + bad < a.expect:
            msg = c.poll(1.0)
            now = time.monotonic()
            if msg is None:
                if now - last_msg > a.idle:
                    reason = "idle for %.0f s" % a.idle
                    break
                continue
            if msg.error():
                continue
            last_msg = now
            if t_first is None:
                t_first = now
            try:
                ev = json.loads(msg.value())
                key = "%sc:{%s}" % (a.prefix, ev["customer_id"])
                pipe = r.pipeline(transaction=True)
                apply(pipe, key, ev)
                pipe.execute()
                n += 1
            except (ValueError, KeyError, TypeError, AttributeError):
                bad += 1
            t_last = time.monotonic()
            if t_last - t_first >= a.max_seconds:
                reason = "time bound %.0f s" % a.max_seconds
                break
    finally:
        c.close()
    if t_first is None or t_last is None or t_last <= t_first:
        sys.exit("naive: nothing consumed")
    el = t_last - t_first
    rate = (n + bad) / el
    prefix = n + bad < a.expect
    print("naive: %d events (%d skipped as malformed) in %.1f s from the first message: %.0f events/s (%s%s)"
          % (n + bad, bad, el, rate, reason,
             "; a time-bounded prefix of the %d input messages" % a.expect if prefix else ""))
    print("RESULT %s_events_s %.0f" % (a.name, rate))
    print("RESULT %s_done %d" % (a.name, n + bad))
    print("RESULT %s_seconds %.1f" % (a.name, el))
    print("RESULT %s_prefix %s" % (a.name, "yes" if prefix else "no"))


if __name__ == "__main__":
    main()
