"""Orderly shutdown in the middle of a run."""
from checks import (check_dlq, check_milestones, check_state, check_derived_records, read_outputs,
                    read_segments)
from conftest import feed_workload, log, wait_for
from workload import TOPICS, Workload

# The sweeper on, on the stream's clock, so its timers are part of what must
# survive the shutdown.
CONF = {"clock": "stream", "sweep.interval_s": 1}


def test_sigterm(env):
    """SIGTERM while events are being processed: exit 0 within 30 s; a restart
    in the same group resumes from the committed offsets (the second run sees
    no duplicate at all: everything the first applied was committed) and the
    final state is exactly right."""
    w = Workload(seed=51, customers=700)
    env.create_topics()
    feed_workload(env, w)
    d = env.daemon(**CONF).start()
    wait_for("1000 events applied", lambda: d.metrics().get("loyaltyd_applied_total") >= 1000, 60, 0.05)
    before = d.metrics().get("loyaltyd_applied_total")
    rc, took = d.sigterm(30)
    assert rc == 0, "exit %s on SIGTERM\n%s" % (rc, d.stderr_tail())
    log("SIGTERM after %d applied: exit 0 in %.2f s" % (before, took))
    assert before < w.valid_count(), "the first run finished before SIGTERM: nothing tested"

    d.start()  # same group
    m = d.wait_caught_up()
    dups = m.get("loyaltyd_duplicates_skipped_total")
    consumed2 = m.consumed()
    log("second run: consumed %d of %d, duplicates %d" % (consumed2, w.total(), dups))
    assert consumed2 < w.total() - before + 1, "the second run re-read work the first had done"
    assert dups == 0, "%d events re-read after an orderly shutdown" % dups
    assert m.get("loyaltyd_applied_total") < w.valid_count()
    d.wait_timers_fired()
    check_state(env.r, env.redis_prefix, w, check_rev=False,
                timers_until=max(ms for t in TOPICS for ms in w.stamps[t]))
    check_dlq(env, w)
    rewards, churn = read_outputs(env)
    check_derived_records(rewards, churn, segments=read_segments(env))
    check_milestones(w, rewards)
    d.stop()
