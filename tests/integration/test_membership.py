"""Group membership beyond two instances and a graceful leave: three
instances where one dies by SIGKILL (noticed only by its session timeout) and
others join and leave back and forth; and static membership, where a
restarted instance gets its partitions back without a rebalance of the
others.  The sweeper runs in both (stream clock, every second).  The end
state is exact (an independent model of the input, timers included), the
malformed messages are dead-lettered, and every milestone is emitted; an
event_id may repeat only with the identical payload (a process killed after
publishing and before its commit publishes again)."""
import time

from checks import (check_derived_records, check_dlq, check_milestones, check_state,
                    read_outputs, read_segments)
from conftest import feed_parallel, log, wait_for
from workload import TOPICS, Workload

CONF = {"clock": "stream", "sweep.interval_s": 1, "merge.max_idle_ms": 15000,
        "merge.grace_ms": 3000}


def processed(daemons):
    return sum(d.metrics().processed() for d in daemons if d.alive())


def owned(env, d):
    """The input partitions an instance reports a lag for: its assignment."""
    return {(t, p) for (t, p) in d.metrics().lags(env.topic_prefix)}


def finish(env, w, last_ms, survivors, allow_duplicates):
    """Wait until the group committed everything and fired every timer, then
    check the outcome."""
    r = env.r
    for d in survivors:
        d.wait_timers_fired(timeout=90)
    check_state(r, env.redis_prefix, w, check_rev=False, timers_until=last_ms)
    check_dlq(env, w, allow_duplicates=allow_duplicates)
    rewards, churn = read_outputs(env)
    check_derived_records(rewards, churn, segments=read_segments(env),
                          allow_duplicates=allow_duplicates)
    check_milestones(w, rewards)


def test_three_instances_kill_join_leave(env):
    w = Workload(seed=113, customers=400)
    first, second, last_ms = w.halves()
    env.create_topics()
    group = "it-%s-trio" % env.tag
    a, b, c = (env.daemon(n, group=group, **CONF).start() for n in "abc")
    feed_parallel({env.topic(t): first[t] for t in TOPICS})
    n_first = sum(len(v) for v in first.values())
    wait_for("the first half processed by the three",
             lambda: processed((a, b, c)) >= n_first, 120)
    wait_for("each of the three owns partitions",
             lambda: all(owned(env, d) for d in (a, b, c)), 60)

    # b dies without a word: its partitions wait for its session timeout
    # (6 s here), then a and c take them over and read from the last commit.
    b_had = owned(env, b)
    b.sigkill()
    t_kill = time.monotonic()
    feed_parallel({env.topic(t): second[t][:len(second[t]) // 2] for t in TOPICS})
    wait_for("b's partitions taken over", lambda: b_had <= owned(env, a) | owned(env, c), 90)
    log("b's %d partitions taken over %.1f s after its SIGKILL" % (len(b_had),
                                                                   time.monotonic() - t_kill))
    # A fourth joins, c leaves gracefully, then c comes back as a new process.
    d = env.daemon("d", group=group, **CONF).start()
    wait_for("d gets partitions", lambda: owned(env, d), 60)
    c.stop()
    feed_parallel({env.topic(t): second[t][len(second[t]) // 2:] for t in TOPICS})
    c2 = env.daemon("c2", group=group, **CONF).start()
    wait_for("c2 gets partitions", lambda: owned(env, c2), 60)
    members = (a, c2, d)
    # Everything produced was handled, and the group's lag is 0 everywhere.
    wait_for("the group caught up",
             lambda: all(v == 0 for dd in members for v in dd.metrics().lags(
                 env.topic_prefix).values())
             and len(set().union(*(owned(env, dd) for dd in members))) == 12, 180)
    finish(env, w, last_ms, members, allow_duplicates=True)
    for dd in members:
        dd.stop()


def test_static_member_restart_keeps_partitions(env):
    """Three static members; one is stopped and started again within the
    session timeout: it gets the same partitions back and the other two see
    no rebalance at all."""
    w = Workload(seed=114, customers=300)
    first, second, last_ms = w.halves()
    env.create_topics()
    group = "it-%s-static" % env.tag
    conf = dict(CONF, **{"kafka.consumer.session.timeout.ms": 30000})

    def member(name):
        return env.daemon(name, group=group, **dict(conf, **{
            "group.instance_id": "it-%s-%s" % (env.tag, name)}))
    a, b, c = member("a").start(), member("b").start(), member("c").start()
    feed_parallel({env.topic(t): first[t] for t in TOPICS})
    wait_for("the first half processed",
             lambda: processed((a, b, c)) >= sum(len(v) for v in first.values()), 120)
    wait_for("each of the three owns partitions",
             lambda: all(owned(env, d) for d in (a, b, c)), 60)
    before = {d.name: d.metrics().get("loyaltyd_rebalances_total") for d in (b, c)}
    a_had = owned(env, a)

    took = a.stop()
    a2 = env.daemon("a", group=group, **dict(conf, **{
        "group.instance_id": "it-%s-a" % env.tag}))
    t0 = time.monotonic()
    a2.start()
    feed_parallel({env.topic(t): second[t] for t in TOPICS})
    wait_for("a back with its partitions", lambda: owned(env, a2) == a_had, 30)
    log("static member: stopped in %.1f s, back with its %d partitions in %.1f s" % (
        took, len(a_had), time.monotonic() - t0))
    members = (a2, b, c)
    wait_for("the group caught up",
             lambda: all(v == 0 for dd in members for v in dd.metrics().lags(
                 env.topic_prefix).values()) and
             sum(dd.metrics().processed() for dd in members) >= w.total() -
             sum(len(v) for v in first.values()), 120)
    after = {d.name: d.metrics().get("loyaltyd_rebalances_total") for d in (b, c)}
    assert after == before, ("the others saw a rebalance", before, after)
    finish(env, w, last_ms, members, allow_duplicates=False)

    # A second process with a's id fences the running one: a fatal error,
    # exit 1 (systemd's Restart= then decides), never two owners.
    a3 = env.daemon("a3", group=group, **dict(conf, **{
        "group.instance_id": "it-%s-a" % env.tag}))
    a3.start()
    wait_for("the fenced member to exit", lambda: not a2.alive(), 60)
    assert a2.proc.returncode == 1, (a2.proc.returncode, a2.stderr_tail())
    assert "fatal" in a2.stderr_tail(100).lower(), a2.stderr_tail()
    for dd in (a3, b, c):
        dd.stop()
