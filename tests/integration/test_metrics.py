"""/metrics, /health and /ready after a run."""
import collections
import subprocess
import time

from checks import read_outputs, read_segments
from conftest import LOYALTYD, feed_workload
from workload import TOPICS, Workload

# Every family daemon/metrics.c renders.
FAMILIES = (
    "loyaltyd_consumed_total", "loyaltyd_applied_total", "loyaltyd_duplicates_skipped_total",
    "loyaltyd_dead_lettered_total", "loyaltyd_emitted_total", "loyaltyd_delivery_failures_total",
    "loyaltyd_redis_errors_total", "loyaltyd_rebalances_total", "loyaltyd_sweeper_runs_total",
    "loyaltyd_sweeper_customers_total", "loyaltyd_redis_latency_seconds_bucket",
    "loyaltyd_redis_latency_seconds_sum", "loyaltyd_redis_latency_seconds_count",
    "loyaltyd_apply_latency_seconds_bucket", "loyaltyd_event_time_lag_seconds",
    "loyaltyd_derived_in_flight", "loyaltyd_config_last_reload_successful",
    "loyaltyd_sweep_interval_seconds",
    "loyaltyd_config_last_reload_timestamp_seconds", "loyaltyd_redis_up", "loyaltyd_kafka_up",
    "loyaltyd_ready", "loyaltyd_paused", "loyaltyd_consumer_lag", "loyaltyd_build_info",
    "loyaltyd_config_reloads_total", "loyaltyd_last_sweep_timestamp_seconds",
    "loyaltyd_unkeyed_total", "loyaltyd_key_mismatch_total", "process_cpu_seconds_total",
    "process_resident_memory_bytes", "process_virtual_memory_bytes",
    "process_start_time_seconds", "process_open_fds", "process_max_fds")


def test_metrics(env):
    """The counters match the run: consumed per topic, dead-lettered by
    reason, emitted by type (= records in the output topics); gauges and
    endpoints report a healthy, caught-up daemon."""
    w = Workload(seed=71, customers=120)
    env.create_topics()
    feed_workload(env, w)
    d = env.daemon().start()
    m = d.wait_caught_up(w.total())
    missing = [f for f in FAMILIES if f not in m.names()]
    assert not missing, "families missing from /metrics: %s" % missing
    for t in TOPICS:
        # The `topic` label is the topic's name, as in loyaltyd_consumer_lag.
        assert m.get("loyaltyd_consumed_total", topic=env.topic(t)) == len(w.lines[t]), t
    assert m.get("loyaltyd_applied_total") == w.valid_count()
    assert m.get("loyaltyd_duplicates_skipped_total") == 0
    want = collections.Counter(b[3] for b in w.bad)
    assert m.dead_by_reason() == dict(want), (m.dead_by_reason(), want)
    assert m.get("loyaltyd_dead_lettered_total", reason="model_rejected") == 0
    rewards, churn = read_outputs(env)
    assert m.get("loyaltyd_emitted_total", type="reward_trigger") == len(rewards) > 0
    assert m.get("loyaltyd_emitted_total", type="churn_risk") == len(churn)
    assert m.get("loyaltyd_emitted_total", type="segment_change") == len(read_segments(env))
    assert m.get("loyaltyd_delivery_failures_total") == 0
    assert m.get("loyaltyd_redis_errors_total") == 0
    assert m.get("loyaltyd_rebalances_total") >= 1
    assert m.get("loyaltyd_sweeper_runs_total") == 0  # sweep.interval_s = 0
    # Round trips: at least one per batch, at most a few per batch; batches
    # hold up to batch.max_events events, so far fewer than one per event.
    assert 1 <= m.get("loyaltyd_redis_latency_seconds_count") < w.valid_count()
    assert 1 <= m.get("loyaltyd_batches_total") <= m.get("loyaltyd_commits_total")
    assert m.get("loyaltyd_commits_total") <= w.valid_count()
    assert m.get("loyaltyd_apply_latency_seconds_count") == w.valid_count()
    assert m.get("loyaltyd_redis_latency_seconds_sum") > 0
    for h in ("loyaltyd_redis_latency_seconds", "loyaltyd_apply_latency_seconds"):
        buckets = [(l["le"], v) for l, v in m.all(h + "_bucket")]
        assert buckets[-1] == ("+Inf", m.get(h + "_count")), h
        counts = [v for _, v in buckets]
        assert counts == sorted(counts), (h, buckets)  # cumulative
    # Caught up: every task's oldest unapplied input is none, nothing waits
    # for delivery.
    task_lag = {l["partition"]: v for l, v in m.all("loyaltyd_event_time_lag_seconds")}
    assert task_lag == {str(p): 0 for p in range(4)}, task_lag
    assert m.get("loyaltyd_derived_in_flight") == 0
    assert m.get("loyaltyd_config_last_reload_successful") == 1
    assert m.get("loyaltyd_config_last_reload_timestamp_seconds") == 0
    for g, v in (("loyaltyd_redis_up", 1), ("loyaltyd_kafka_up", 1), ("loyaltyd_ready", 1),
                 ("loyaltyd_paused", 0)):
        assert m.get(g) == v, g
    lags = m.lags(env.topic_prefix)
    assert sorted(lags) == sorted((env.topic(t), str(p)) for t in TOPICS for p in range(4))
    assert set(lags.values()) == {0}
    # The build and the process, as every Prometheus client exports them.
    version = subprocess.run([LOYALTYD, "--version"], capture_output=True,
                             text=True).stdout.split()[1]
    assert m.all("loyaltyd_build_info") == [({"version": version}, 1)]
    assert m.get("loyaltyd_config_reloads_total", result="applied") == 0
    assert m.get("loyaltyd_config_reloads_total", result="refused") == 0
    assert m.get("loyaltyd_last_sweep_timestamp_seconds") == 0  # no sweeper here
    assert m.get("loyaltyd_sweep_interval_seconds") == 0
    assert 1 << 20 < m.get("process_resident_memory_bytes") < 2 << 30
    assert m.get("process_virtual_memory_bytes") > m.get("process_resident_memory_bytes")
    assert m.get("process_cpu_seconds_total") > 0
    assert time.time() - 600 < m.get("process_start_time_seconds") <= time.time()
    assert 3 < m.get("process_open_fds") < m.get("process_max_fds")
    assert m.get("loyaltyd_unkeyed_total") == 0 and m.get("loyaltyd_key_mismatch_total") == 0
    assert d.get("/health") == (200, "ok\n")
    assert d.get("/ready")[0] == 200
    assert d.get("/nope")[0] == 404
    d.stop()
