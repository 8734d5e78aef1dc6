"""A zombie instance: A is stopped (SIGSTOP) past the session timeout with a
batch applied and published but not yet committed; B takes its partitions and
catches up; A resumed writes late.  Its commits are refused by the customers'
revisions (fencing), never overwrite B's newer state: the end state is exact
and the events are those of one instance alone (the same ids; a payload's
scores may differ where the restart changed which of two topics' events came
first, as README "Same input, same output" says of runs with restarts)."""
import signal

from checks import check_derived_records, check_milestones, check_state, read_outputs
from conftest import feed_workload, log, wait_for
from workload import Workload


def test_zombie_commit_is_refused(env):
    w = Workload(seed=71, customers=600)
    ref_out = {k: "ref." + k for k in ("rewards", "churn", "segments", "dlq")}
    env.create_topics(*ref_out.values())
    feed_workload(env, w)
    group = "it-%s-zombie" % env.tag
    # A's producer waits a second before it sends (linger), so that a stop
    # nearly always finds a batch published and not yet committed.
    a = env.daemon("a", group=group, **{"kafka.producer.linger.ms": "1000",
                                        "batch.max_events": "500"}).start()
    wait_for("A applying", lambda: a.metrics().get("loyaltyd_applied_total") > w.total() // 10, 60)
    a.proc.send_signal(signal.SIGSTOP)
    try:
        b = env.daemon("b", group=group).start()
        # B gets every partition once A misses its session timeout (6 s).
        m = b.wait_caught_up(timeout=180)
        b_applied = m.get("loyaltyd_applied_total")
    finally:
        a.proc.send_signal(signal.SIGCONT)
    # A wakes up: its batch in flight lands against B's newer revisions.
    wait_for("A's late commits refused",
             lambda: a.metrics().get("loyaltyd_commit_conflicts_total") >= 1, 60)
    conflicts = a.metrics().get("loyaltyd_commit_conflicts_total")
    a.stop()
    b.stop()
    # Whatever the two left (messages dropped at their rebalances are read
    # again by the partitions' next owner): one more instance finishes it.
    c = env.daemon("c", group=group).start()
    c.wait_caught_up(timeout=120)
    c.stop()
    log("zombie: A had %d commits refused; B applied %d" % (conflicts, b_applied))
    # Every event applied exactly once: the aggregates equal the model's, and
    # each customer's revision is at most one per applied event.
    check_state(env.r, env.redis_prefix, w)
    rewards, churn = read_outputs(env)
    ids, _ = check_derived_records(rewards, churn, allow_duplicates=True)
    check_milestones(w, rewards)

    ref = env.daemon("ref", redis_prefix=env.redis_prefix + "ref:", **{
        "topic.rewards": env.topic(ref_out["rewards"]),
        "topic.churn_risk": env.topic(ref_out["churn"]),
        "topic.segments": env.topic(ref_out["segments"]),
        "topic.dlq": env.topic(ref_out["dlq"])}).start()
    ref.wait_caught_up(w.total())
    ref.stop()
    ref_rewards, ref_churn = read_outputs(env, env.topic(ref_out["rewards"]),
                                          env.topic(ref_out["churn"]))
    ref_ids, _ = check_derived_records(ref_rewards, ref_churn)
    assert set(ids) == set(ref_ids), "events only in the zombie run: %s; only alone: %s" % (
        sorted(set(ids) - set(ref_ids))[:5], sorted(set(ref_ids) - set(ids))[:5])
