"""An input topic deleted and recreated under a running group starts again
at offset 0, below what was read from it and below every customer's
watermark: applied, its new events would be skipped as duplicates without a
word.  The daemon refuses instead: input paused, /ready 503,
loyaltyd_input_reset 1 and one log line saying what to do; the state is
left as it was.  Started again on the same topics, it refuses the same way."""
import os

from checks import check_state
from conftest import (KAFKA_PORT, ROOT, feed_parallel, full_state, log, run, wait_for)
from workload import TOPICS, Workload


def recreate(env, name):
    kenv = {"TOPIC_PREFIX": env.topic_prefix, "KAFKA_PORT": str(KAFKA_PORT)}
    run([os.path.join(ROOT, "deploy/kafka.sh"), "delete-topics", name], timeout=120, env=kenv)
    # Only the missing topic is created again (the others exist).
    run([os.path.join(ROOT, "deploy/kafka.sh"), "topics"], timeout=120, env=kenv)


def test_topic_recreated_is_refused(env):
    w = Workload(seed=101, customers=60, malformed=False)
    env.create_topics()
    feed_parallel({env.topic(t): w.lines[t] for t in TOPICS})
    d = env.daemon().start()
    d.wait_caught_up(w.total())
    check_state(env.r, env.redis_prefix, w)
    before = full_state(env.r, env.redis_prefix)

    recreate(env, "orders")
    later = Workload(seed=102, customers=60, malformed=False)
    feed_parallel({env.topic("orders"): later.lines["orders"][:40]})

    def refused():
        assert d.alive(), d.stderr_tail()
        return "no longer holds offsets already read" in d.stderr_tail(400)
    wait_for("the recreated topic refused", refused, 90)
    assert d.get("/ready")[0] == 503 and d.get("/health")[0] == 200
    m = d.metrics()
    assert m.get("loyaltyd_input_reset") == 1 and m.get("loyaltyd_paused") == 1
    assert full_state(env.r, env.redis_prefix) == before, "state changed after the reset"
    log("refused: %s" % [l for l in d.stderr_tail(400).splitlines()
                         if "no longer holds" in l][:1])
    d.stop()

    d2 = env.daemon(name="d2", group=d.group)
    d2.start(wait_ready=False)
    wait_for("refused again after a restart",
             lambda: "no longer holds offsets already read" in d2.stderr_tail(400), 90)
    assert d2.get("/ready")[0] == 503
    assert full_state(env.r, env.redis_prefix) == before
    d2.stop()
