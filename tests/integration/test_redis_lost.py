"""Redis loses what it acknowledged: restarted from an older snapshot, or
restarted empty, while the daemon runs.  Redis holds each task's progress (the
offsets applied, README "Guarantees"), so the daemon notices: from an older
snapshot it ends and, started again, applies the lost window once more; empty
while the group has committed offsets, it is refused until an operator decides
(redis.lost = replay rebuilds from the earliest retained offsets)."""
import os
import shutil

from checks import check_derived_records, check_milestones, check_state, read_outputs
from conftest import feed, log, wait_for
from workload import TOPICS, Workload


def halves(w):
    """The input cut at the median event time: each half in event-time order
    across the topics, so the second half is applied in the same order
    whether for the first time or again."""
    stamps = sorted(ms for t in TOPICS for ms in w.stamps[t])
    cut = stamps[len(stamps) // 2]
    return ({t: [l for l, ms in zip(w.lines[t], w.stamps[t]) if ms < cut] for t in TOPICS},
            {t: [l for l, ms in zip(w.lines[t], w.stamps[t]) if ms >= cut] for t in TOPICS})


def wait_exit(d, timeout):
    wait_for("daemon %s to end" % d.name, lambda: not d.alive(), timeout)
    return d.proc.returncode


def test_restored_from_older_snapshot(env, own_redis, tmp_path):
    """The second half applied and committed, then Redis restarts from the
    snapshot taken after the first half: the daemon ends with a failure
    status (one clear log line), and started again it resumes from Redis's
    progress, so the end state is exact and every milestone is there."""
    w = Workload(seed=61, customers=200)
    first, rest = halves(w)
    env.create_topics()
    for t in TOPICS:
        feed(env.topic(t), first[t])
    conf = {"redis.port": own_redis.port, "redis.timeout_ms": 1000}
    d = env.daemon("first", **conf).start()
    d.wait_caught_up(sum(len(v) for v in first.values()))
    own_redis.client.save()
    old = str(tmp_path / "older.rdb")
    shutil.copy(own_redis.rdb, old)

    # The second half as a backlog (read in event-time order, as its replay
    # will be: produced while a daemon reads, the topics' order would differ).
    d.stop()
    for t in TOPICS:
        feed(env.topic(t), rest[t])
    d = env.daemon("second", group=d.group, **conf).start()
    d.wait_caught_up()  # the committed offsets are at the first half's end
    own_redis.stop()
    shutil.copy(old, own_redis.rdb)
    own_redis.start()
    assert wait_exit(d, 60) != 0
    assert "redis lost acknowledged writes" in d.stderr_tail(), d.stderr_tail()

    again = env.daemon("again", group=d.group, **conf).start()
    n_rest = sum(len(v) for v in rest.values())
    # The group's committed offsets are at the end already: caught up means
    # the lost window read again (and, where the first half ended in
    # malformed messages, those: progress counts applied events only).
    wait_for("the lost window read again", lambda: again.metrics().consumed() >= n_rest, 120)
    m = again.wait_caught_up()
    assert n_rest <= m.consumed() <= n_rest + len(w.bad)
    assert m.get("loyaltyd_resumed_from_redis_total") >= 1
    assert m.get("loyaltyd_applied_total") > 0
    check_state(own_redis.client, env.redis_prefix, w, check_rev=False)
    rewards, churn = read_outputs(env)
    check_derived_records(rewards, churn, allow_duplicates=True)
    check_milestones(w, rewards)
    again.stop()
    log("older snapshot: the lost window applied again (%d events), state exact"
        % m.get("loyaltyd_applied_total"))


def test_restarted_empty_is_refused(env, own_redis):
    """Redis restarted empty under a running daemon whose group has committed
    offsets: not ready, nothing applied, the metric and one log line say why;
    a restart refuses too; with redis.lost = replay the state is rebuilt from
    the earliest offsets and is exact."""
    w = Workload(seed=62, customers=150)
    env.create_topics()
    for t in TOPICS:
        feed(env.topic(t), w.lines[t])
    conf = {"redis.port": own_redis.port, "redis.timeout_ms": 1000}
    d = env.daemon("first", **conf).start()
    d.wait_caught_up(w.total())
    own_redis.stop()
    os.remove(own_redis.rdb)
    own_redis.start()
    # /ready answers 503 as soon as Redis is found gone; then, reconnected,
    # for the lost state.
    wait_for("Redis judged to have lost its state",
             lambda: d.metrics().get("loyaltyd_redis_state_lost") == 1, 30)
    assert d.get("/ready")[0] == 503
    m = d.metrics()
    assert m.get("loyaltyd_redis_state_lost") == 1 and m.get("loyaltyd_redis_up") == 1
    assert d.alive() and d.get("/health")[0] == 200
    assert "Redis lost its data" in d.stderr_tail()
    assert own_redis.client.dbsize() == 0, "wrote into the empty Redis"
    d.stop()

    refused = env.daemon("refused", group=d.group, **conf).start(wait_ready=False)
    wait_for("the refusal", lambda: refused.alive() and refused.get("/health")[0] == 200 and
             refused.metrics().get("loyaltyd_redis_state_lost") == 1, 60)
    assert refused.get("/ready")[0] == 503 and own_redis.client.dbsize() == 0
    refused.stop()

    rebuilt = env.daemon("rebuilt", group=d.group, **dict(conf, **{"redis.lost": "replay"}))
    rebuilt.start()
    m = rebuilt.wait_caught_up(w.total())
    assert m.get("loyaltyd_applied_total") == w.valid_count()
    check_state(own_redis.client, env.redis_prefix, w)
    rebuilt.stop()
    log("restarted empty: refused until redis.lost = replay, then rebuilt exactly")
