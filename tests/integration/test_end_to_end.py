"""End-to-end: a mixed workload through Kafka into Redis and back out, and a
replay of the same input by a second consumer group."""
from checks import (check_all, check_derived_records, check_dlq, input_positions, read_outputs,
                    read_segments)
from conftest import feed_workload, full_state, indices, log
from workload import Workload


def test_end_to_end(env):
    """Every customer's aggregates equal an independent computation; the DLQ
    holds exactly the malformed messages (reason, source position, original
    bytes); the reward topic holds exactly one milestone reward per milestone
    reached (the first repeat purchase is milestone 2) and event_ids are
    unique."""
    w = Workload(seed=11, customers=300)
    env.create_topics()
    feed_workload(env, w)
    d = env.daemon().start()
    m = d.wait_caught_up(w.total())
    assert m.get("loyaltyd_applied_total") == w.valid_count()
    assert m.get("loyaltyd_duplicates_skipped_total") == 0
    assert m.get("loyaltyd_dead_lettered_total") == len(w.bad)
    check_all(env, env.r, w, positions=input_positions(env, w))
    d.stop()
    log("end to end: %d events (%d malformed), %d customers" % (w.total(), len(w.bad), len(w.customers())))


def test_replay_idempotent(env):
    """A new consumer group re-reads every topic from offset 0 into the same
    Redis prefix: every valid event is a duplicate, the state (hash, aux,
    indices) is byte-identical and no derived event is emitted again."""
    w = Workload(seed=12, customers=150)
    env.create_topics()
    feed_workload(env, w)
    d1 = env.daemon("first").start()
    d1.wait_caught_up(w.total())
    d1.stop()
    before = full_state(env.r, env.redis_prefix)
    idx_before = indices(env.r, env.redis_prefix)
    rewards1, churn1 = read_outputs(env)
    segments1 = read_segments(env)
    ids1, _ = check_derived_records(rewards1, churn1, segments=segments1)
    assert rewards1, "the first run emitted no reward at all"

    # Another group, and the tasks' progress taken out of Redis: it starts
    # at offset 0 (with the progress, it would resume where that says).
    for k in list(env.r.scan_iter(match=env.redis_prefix + "t:*:progress")):
        env.r.delete(k)
    d2 = env.daemon("replay").start()
    m = d2.wait_caught_up(w.total())
    assert m.get("loyaltyd_duplicates_skipped_total") == w.valid_count()
    assert m.get("loyaltyd_applied_total") == 0
    assert m.get("loyaltyd_dead_lettered_total") == len(w.bad)
    after = full_state(env.r, env.redis_prefix)
    assert set(after) == set(before)
    changed = [c for c in before if before[c] != after[c]]
    assert not changed, "replay changed %d customers, e.g. %s:\nbefore %s\nafter  %s" % (
        len(changed), changed[0], before[changed[0]], after[changed[0]])
    assert indices(env.r, env.redis_prefix) == idx_before
    rewards2, churn2 = read_outputs(env)
    segments2 = read_segments(env)
    ids2, _ = check_derived_records(rewards2, churn2, segments=segments2)
    assert (len(rewards2), len(churn2), len(segments2)) == (
        len(rewards1), len(churn1), len(segments1)), (
        "replay emitted %d rewards, %d churn and %d segment-change events again" % (
            len(rewards2) - len(rewards1), len(churn2) - len(churn1),
            len(segments2) - len(segments1)))
    assert set(ids2) == set(ids1)
    # The DLQ is not deduplicated: the replay dead-letters each bad message again.
    recs = check_dlq(env, w, allow_duplicates=True)
    assert len(recs) == 2 * len(w.bad)
    d2.stop()
    log("replay: %d duplicates skipped, %d customers unchanged" % (w.valid_count(), len(before)))
