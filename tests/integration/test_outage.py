"""Redis goes away mid-run and comes back."""
from checks import (check_dlq, check_milestones, check_state, read_outputs, read_segments,
                    check_derived_records)
from conftest import feed_parallel, log, wait_for
from workload import TOPICS, Workload


def test_redis_outage(env, own_redis):
    """While Redis is down the daemon stays up (/health 200) and /ready
    answers 503; once Redis is back it catches up and the state, DLQ and
    rewards are exactly right."""
    w = Workload(seed=41, customers=200)
    env.create_topics()
    # Halves by event time, each fed on all topics at once, with the sweeper
    # on the stream's clock (as test_redis_faults.py does).
    first, second, newest = w.halves()
    feed_parallel({env.topic(t): first[t] for t in TOPICS})
    d = env.daemon(**{"redis.port": own_redis.port, "redis.timeout_ms": 1000,
                      "clock": "stream", "sweep.interval_s": 1, "merge.max_idle_ms": 15000,
                      "merge.grace_ms": 3000}).start()
    d.wait_caught_up(sum(len(v) for v in first.values()))

    own_redis.stop()  # SIGTERM: Redis saves its RDB first
    feed_parallel({env.topic(t): second[t] for t in TOPICS})
    wait_for("/ready to answer 503", lambda: d.get("/ready")[0] == 503, 30)
    m = d.metrics()
    assert m.get("loyaltyd_redis_up") == 0 and m.get("loyaltyd_ready") == 0
    # Down for a few seconds: still running, healthy, not ready, input paused.
    seen = []

    def still_down_for_a_while():
        assert d.alive(), "daemon exited while Redis was down\n" + d.stderr_tail()
        assert d.get("/health")[0] == 200
        assert d.get("/ready")[0] == 503
        seen.append(1)
        return len(seen) >= 15
    wait_for("15 probes during the outage", still_down_for_a_while, 30, interval=0.2)
    m = d.metrics()
    assert m.get("loyaltyd_paused") == 1
    # Inputs wait.  Where some were fetched before the input was paused, the
    # event-time lag of their task is the age of the oldest (fed before the
    # 15 probes: 3 s or more); where Redis was found gone first (a timer
    # probe, once a second), nothing more was fetched: the second half waits
    # in Kafka, unconsumed.
    task_lag = {l["partition"]: v for l, v in m.all("loyaltyd_event_time_lag_seconds")}
    assert len(task_lag) == 4, task_lag
    assert max(task_lag.values()) >= 2.5 or m.consumed() < w.total(), (task_lag, m.consumed())
    log("outage: /ready 503, /health 200 over %d probes, event-time lag %s"
        % (len(seen), task_lag))

    held = d.metrics().processed()
    assert held < w.total(), "nothing was held back during the outage: the test proved nothing"
    own_redis.start()  # loads the RDB saved at shutdown
    wait_for("/ready to answer 200 again", lambda: d.get("/ready")[0] == 200, 60)
    m = d.wait_caught_up(w.total())
    assert m.get("loyaltyd_applied_total") + m.get("loyaltyd_duplicates_skipped_total") == w.valid_count()
    assert m.get("loyaltyd_redis_errors_total") >= 1
    wait_for("the event-time lag back to 0", lambda: {
        v for _, v in d.metrics().all("loyaltyd_event_time_lag_seconds")} == {0}, 10)
    d.wait_timers_fired()
    check_state(own_redis.client, env.redis_prefix, w, check_rev=False,
                timers_until=newest)
    check_dlq(env, w)
    rewards, churn = read_outputs(env)
    check_derived_records(rewards, churn, segments=read_segments(env))
    check_milestones(w, rewards)
    d.stop()
