"""Redis answers with errors, or not at all, in the middle of a run: out of
memory, turned into a replica (READONLY), unable to persist (MISCONF), its
functions flushed, its clients paused past the daemon's timeout, its server
asleep.  For each: the daemon stays up and healthy, is not ready while it
lasts and says why (loyaltyd_redis_errors_total{reason}), holds its input
back, stores no offset past an event not applied, and resumes by itself when
the cause goes; or, told to stop while it lasts, ends in time and a new start
finishes the work.  The end state is exact (an independent model of the
input, timers included: the sweeper runs every second) and every milestone
is emitted once."""
import os
import shutil
import threading

import pytest

from checks import (check_derived_records, check_dlq, check_milestones, check_state,
                    read_outputs, read_segments)
from conftest import feed, feed_parallel, free_port, log, wait_for
from workload import TOPICS, Workload


class Fault:
    """One way for Redis to fail: inject() starts it, clear() ends it; the
    reason the daemon must count while it lasts."""

    def __init__(self, r, tmp):
        self.r = r
        self.tmp = tmp
        self.thread = None

    def inject(self, kind):
        r = self.r
        if kind == "oom":
            r.config_set("maxmemory-policy", "noeviction")
            r.config_set("maxmemory", "1")
        elif kind == "readonly":
            # A replica of a master that never answers: it keeps its data
            # and refuses writes until it is a master again.
            r.execute_command("REPLICAOF", "127.0.0.1", str(free_port()))
        elif kind == "misconf":
            # The last snapshot failed (its directory is gone): with save
            # points configured, Redis refuses writes until one succeeds.
            self.dir = os.path.join(self.tmp, "misconf")
            os.makedirs(self.dir, exist_ok=True)
            self.old_dir = r.config_get("dir")["dir"]
            r.config_set("dir", self.dir)
            shutil.rmtree(self.dir)
            r.bgsave()
            wait_for("the snapshot to fail", lambda: r.info("persistence")[
                "rdb_last_bgsave_status"] == "err", 20)
        elif kind == "function_flush":
            r.function_flush()
        elif kind == "client_pause":
            r.execute_command("CLIENT", "PAUSE", "20000", "WRITE")
        elif kind == "debug_sleep":
            # Asleep past the daemon's 1 s timeout, on a connection of its own.
            def sleep():
                own = type(r)(port=r.connection_pool.connection_kwargs["port"],
                              socket_timeout=30)
                own.execute_command("DEBUG", "SLEEP", "6")
            self.thread = threading.Thread(target=sleep)
            self.thread.start()
        else:
            raise AssertionError(kind)

    def clear(self, kind):
        r = self.r
        if kind == "oom":
            r.config_set("maxmemory", "0")
        elif kind == "readonly":
            r.execute_command("REPLICAOF", "NO", "ONE")
        elif kind == "misconf":
            os.makedirs(self.dir, exist_ok=True)
            r.config_set("dir", self.old_dir)
            r.bgsave()
            wait_for("a snapshot to succeed", lambda: r.info("persistence")[
                "rdb_last_bgsave_status"] == "ok", 20)
        elif kind == "client_pause":
            r.execute_command("CLIENT", "UNPAUSE")
        elif kind == "debug_sleep":
            self.thread.join()
        # function_flush: nothing; the daemon loads its functions again


# The reason counted for each fault: what Redis says, or what the daemon saw.
REASONS = {"oom": "oom", "readonly": "readonly", "misconf": "misconf",
           "function_flush": "no_function", "client_pause": "timeout",
           "debug_sleep": "timeout"}
FAULTS = sorted(REASONS)


def run_fault(env, own_redis, tmp_path, kind, stop_during):
    w = Workload(seed=83 + FAULTS.index(kind), customers=100)
    stamps = sorted(ms for t in TOPICS for ms in w.stamps[t])
    cut = stamps[len(stamps) // 2]
    env.create_topics()
    for t in TOPICS:
        feed(env.topic(t), [l for l, ms in zip(w.lines[t], w.stamps[t]) if ms < cut])
    conf = {"redis.port": own_redis.port, "redis.timeout_ms": 1000, "clock": "stream",
            "sweep.interval_s": 1, "merge.max_idle_ms": 15000, "merge.grace_ms": 3000}
    d = env.daemon(**conf).start()
    first = sum(1 for t in TOPICS for ms in w.stamps[t] if ms < cut)
    d.wait_caught_up(first)

    fault = Fault(own_redis.client, str(tmp_path))
    fault.inject(kind)
    # All three topics at once, and a grace that covers the feed: the
    # events are merged in event-time order as they would be from a
    # backlog, so a run after a stop derives the same events (README,
    # "Tasks and the merge").
    feed_parallel({env.topic(t): [l for l, ms in zip(w.lines[t], w.stamps[t]) if ms >= cut]
                   for t in TOPICS})
    reasons = {}

    def counted():
        m = d.live_metrics()
        reasons.update({l.get("reason"): v for l, v in m.all("loyaltyd_redis_errors_total")
                        if v})
        return REASONS[kind] in reasons
    wait_for("reason %s counted" % REASONS[kind], counted, 30)
    assert d.alive() and d.get("/health")[0] == 200
    if kind == "function_flush":
        # The next connection loads the library again: back at once.
        wait_for("everything applied", lambda: d.metrics().processed() == w.total(), 60)
        assert d.get("/ready")[0] == 200
    else:
        wait_for("/ready to answer 503 (%s)" % kind, lambda: d.get("/ready")[0] == 503, 30)
        held = d.metrics().processed()
        assert held < w.total(), "nothing was held back: the fault did not bite"
        log("%s: /ready 503, reasons %s, %d of %d processed" % (kind, reasons, held, w.total()))

    if stop_during:
        code, took = d.sigterm(timeout=30)
        assert code == 0 and took < 20, (code, took, d.stderr_tail())
        fault.clear(kind)
        d = env.daemon(name="d2", group=d.group, **conf).start()
        d.wait_caught_up(None)
    else:
        fault.clear(kind)
        wait_for("/ready to answer 200 again", lambda: d.get("/ready")[0] == 200, 60)
        m = d.wait_caught_up(w.total())
        assert m.get("loyaltyd_applied_total") + m.get(
            "loyaltyd_duplicates_skipped_total") == w.valid_count()
    d.wait_timers_fired()
    check_state(own_redis.client, env.redis_prefix, w, check_rev=False,
                timers_until=stamps[-1])
    # Stopped while Redis failed, the process could not record how far it
    # got, nor remember what it had published: a message dead-lettered or
    # an event published in that time comes again, identical (same source
    # position, same event_id).  Recovering by itself, it does neither.
    check_dlq(env, w, allow_duplicates=stop_during)
    rewards, churn = read_outputs(env)
    check_derived_records(rewards, churn, segments=read_segments(env),
                          allow_duplicates=stop_during)
    check_milestones(w, rewards)
    d.stop()


@pytest.mark.parametrize("kind", FAULTS)
def test_redis_fault_resumes_by_itself(env, own_redis, tmp_path, kind):
    run_fault(env, own_redis, tmp_path, kind, stop_during=False)


@pytest.mark.parametrize("kind", FAULTS)
def test_redis_fault_sigterm_during(env, own_redis, tmp_path, kind):
    run_fault(env, own_redis, tmp_path, kind, stop_during=True)


def test_eviction_policy_refused(env, own_redis):
    """A Redis that may evict keys (a maxmemory with a policy other than
    noeviction) would lose customers without an error: the daemon refuses
    it at start, with one clear reason, and starts once the policy is
    noeviction."""
    own_redis.client.config_set("maxmemory", "512mb")
    own_redis.client.config_set("maxmemory-policy", "allkeys-lru")
    w = Workload(seed=97, customers=20)
    env.create_topics()
    feed_parallel({env.topic(t): w.lines[t] for t in TOPICS})
    d = env.daemon(**{"redis.port": own_redis.port, "redis.timeout_ms": 1000})
    d.start(wait_ready=False)

    def refused():
        assert d.alive(), d.stderr_tail()
        return "maxmemory-policy is allkeys-lru" in d.stderr_tail(400)
    wait_for("the eviction policy refused", refused, 30)
    assert d.get("/ready")[0] == 503 and d.get("/health")[0] == 200
    assert not own_redis.client.keys(env.redis_prefix + "*"), "written before it was judged"
    own_redis.client.config_set("maxmemory-policy", "noeviction")
    wait_for("/ready 200", lambda: d.get("/ready")[0] == 200, 30)
    d.wait_caught_up(w.total())
    check_state(own_redis.client, env.redis_prefix, w)
    d.stop()
