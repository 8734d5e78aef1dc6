"""Determinism of the event-time merge (README "Guarantees"):

    The three input topics are co-partitioned (same count, keyed by
    customer_id); partition p of all three is one task.  Within a task events
    are applied in event-time order (ties: fixed topic order orders < reviews
    < messages, then offset), waiting for a partition that is behind but not
    yet fetched (bounded by merge.max_idle_ms).  So a backlog, a replay from
    offset 0, a run with crashes and restarts, and a live run of the same
    input end in the same state and emit the same events with the same ids
    and payloads.

One input (workload.Workload, fixed seed: a few hundred customers over a year,
orders with their shipments, cancellations and returns, and reviews and
messages interleaved with them in event time), on input topics of PARTITIONS
partitions each keyed by customer_id, is run five ways, each with its own
Redis prefix, consumer group and output topics, all with `clock = stream`
and the sweeper on every second (`sweep.interval_s = 1`: its passes fall at
wall-clock moments, a different point of each customer's history in every
way, and must change nothing; docs/model.md "Timers"); the input has
inquiries answered after their deadline and customers who go quiet, so
timers fire both before events and by the sweeper.  Each way ends once
every event is applied and the sweeper has fired every timer its tasks'
stream times have passed (Daemon.wait_timers_fired):

  (a) backlog    all three topics produced, then one daemon started;
  (b) live       a daemon running, the input produced on its own topics in
                 event-time order (the three topics interleaved by ts, each
                 message delivered before the next is sent) at LIVE_RATE
                 events/s, with merge.grace_ms = GRACE_MS;
  (c) crashes    on (a)'s topics: KILLS SIGKILLs at random moments (seeded by
                 LOYALTY_IT_SEED) and restarts with the same group and prefix,
                 then a run to the end;
  (d) replay     after (a), on (a)'s topics from offset 0, into an empty
                 prefix with a new group;
  (e) rebalance  two instances in one group on their own topics, the input
                 produced in three event-time slices: the first instance
                 alone, the second joins while the first is part-way through
                 (the second slice is produced as it joins); once both hold
                 partitions the third slice is produced and the first
                 instance is stopped with SIGTERM part-way through it.  The
                 slices produced while daemons run are appended in event-time
                 order across the topics, as in (b), with the same grace.

and on a Redis Cluster of 3 masters with a replica each, started by the
module (OwnCluster; README "Redis Cluster"):

  (f) cluster    (d) into the cluster: replay from offset 0, new group;
  (g) cluster crashes
                 (c) on the cluster: KILLS SIGKILLs of the daemon;
  (h) resharding as (b) on the cluster, slots moved between masters with
                 `redis-cli --cluster reshard` twice while events flow (the
                 daemon counts the MOVED and ASK redirections it followed);
  (i) failover   as (b) on the cluster with redis.wait_replicas = 1, a
                 master SIGKILLed part-way: its replica takes over, and the
                 daemon goes on once the cluster serves every slot again;
  (j) a lost window
                 as (i) without redis.wait_replicas, the master's replica
                 SIGSTOPped and its link closed for 3 s before the master is
                 SIGKILLed (so that the replica promoted lacks writes the
                 master acknowledged),
                 the daemon restarted if it ends (as systemd would).  Not
                 compared with (a): test_cluster_lost_window_reported checks
                 that a loss shows in the daemon's metrics or log, as the
                 README says.

Each of (b)..(i) must end with (a)'s state, field for field, for every
customer (fields, aux string sections, index scores; `rev` and
`wm:*` left out, see IGNORED_FIELDS) and emit (a)'s set of event ids on the
reward, churn-risk and segment-change topics with identical payloads apart
from `emitted_at` (in (c) an id may repeat, with the identical payload).
test_backlog_reference pins (a) itself to the independent model of the
aggregates (each customer's windows as of its own as_of, the time its last
timer or event evaluated it), so the ways cannot all agree on something
wrong.

All five ways run once, in a module fixture; one test per comparison reports
a readable diff of the first differences.  Every wait is on /metrics counters
or committed offsets (the consumer-lag metric), each bounded.
LOYALTY_IT_DET_CUSTOMERS and LOYALTY_IT_DET_INPUT_SEED change the input;
LOYALTY_IT_DET_WAYS (say "e") runs (a) and only the ways it names, to repeat
one comparison.
"""
import concurrent.futures
import json
import os
import random
import signal
import subprocess
import time
import traceback

import pytest

from checks import check_derived_records, check_milestones, check_state
import conftest
from conftest import (BROKERS, KAFKA_PORT, KFEED, LOYALTYCTL, ROOT, OwnCluster, ctl_redis_args,
                      drain, feed, feed_parallel, full_state, indices, log, layout2_keys, run,
                      wait_for)
from workload import TOPICS, Workload

PARTITIONS = 4
CUSTOMERS = int(os.environ.get("LOYALTY_IT_DET_CUSTOMERS", "300"))
INPUT_SEED = int(os.environ.get("LOYALTY_IT_DET_INPUT_SEED", "61"))
SPAN_DAYS = 365
LIVE_RATE = 300  # events per second in (b)
# (e) appends in event-time order (each message delivered before the next),
# at least 1/FEED_RATE apart, so that two consecutive events are never
# appended within one fetch of the consumer (a fetch reads partitions one
# after another, and could see the later event without the earlier one).
FEED_RATE = 400
KILLS = 10
# merge.grace_ms of the ways fed live ((b), (e)): an event appended this
# recently waits for a caught-up partition of its task (README "Tasks and the
# merge").
GRACE_MS = 200
SHOW = 12  # differences shown per kind
# The ways to run ("a" always); others report "not run".  For repeating one
# comparison, e.g. LOYALTY_IT_DET_WAYS=e.
ONLY = set("a" + os.environ.get("LOYALTY_IT_DET_WAYS", "abcdefghij").replace(",", ""))
CLUSTER_WAYS = "fghij"  # on the module's Redis Cluster
RESHARD_SLOTS = 1500  # slots moved by each of (h)'s two reshardings

# Hash fields that are not a function of the input (README "State in Redis",
# docs/state.md "Fields the store adds itself"):
#   rev   the optimistic-concurrency revision: it counts commits, not content
#   wm:*  the replay watermark of each input partition: an offset
# No other field is a wall-clock stamp: with `clock = stream` every instant in
# the hash and in the aux string is an event time.  The wall clock appears only
# in a derived event's `emitted_at`, which is left out of the payload
# comparison.
IGNORED_FIELDS = {"rev"}
IGNORED_FIELD_PREFIXES = ("wm:",)
# docs/state.md: a field at a new customer's value is not stored; read a
# missing one as that default (counters 0, days -1, names "", p_alive 1,
# risk_armed 1).  A stored default therefore counts as missing.
NONZERO_DEFAULTS = {"first_day": "-1", "last_day": "-1", "prev_day": "-1", "p_alive": "1",
                    "risk_armed": "1"}

WAYS = {
    "a": "backlog",
    "b": "live, in event-time order at %d events/s" % LIVE_RATE,
    "c": "%d SIGKILLs and restarts" % KILLS,
    "d": "replay from offset 0 into an empty prefix, new group",
    "e": "two instances in one group, rebalances part-way",
    "f": "on a Redis Cluster (3 masters, 3 replicas): replay from offset 0, new group",
    "g": "%d SIGKILLs and restarts on the Redis Cluster" % KILLS,
    "h": "on the Redis Cluster, live, %d slots resharded twice while events flow" % RESHARD_SLOTS,
    "i": "on the Redis Cluster with redis.wait_replicas = 1, live, a master SIGKILLed part-way",
    "j": "on the Redis Cluster without redis.wait_replicas, live, a master SIGKILLed while its "
         "replica is stopped",
}
OUTPUTS = {"rewards": "loyalty.rewards", "churn": "loyalty.churn-risk", "segments": "loyalty.segments",
           "dlq": "loyalty.dlq"}


# ---- Kafka in parallel ------------------------------------------------------------

def drain_parallel(topics):
    """{topic: records} of every topic, the kdrains running at the same time."""
    with concurrent.futures.ThreadPoolExecutor(min(len(topics), 8)) as ex:
        futs = {t: ex.submit(drain, t, 1500, 90000) for t in topics}
        return {t: f.result() for t, f in futs.items()}


def feed_live(ordered, topic_of, rate, timeout=300):
    """[(topic, key, raw, ms)] produced in that order at `rate` messages per
    second by one kfeed that waits for each delivery before the next (-s):
    the broker appends them in event-time order across the three topics,
    and (-g) never two closer together than 1/rate, even when kfeed fell
    behind the lines written to it (a loaded machine) and catches up."""
    p = subprocess.Popen([KFEED, "-b", BROKERS, "-T", "-s", "-g", str(int(1e6 / rate))],
                         stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    t0 = time.monotonic()
    try:
        for i, (t, key, raw, _ms) in enumerate(ordered):
            ahead = t0 + i / rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
            if time.monotonic() - t0 > timeout:
                pytest.fail("live feed: still producing after %d s" % timeout)
            p.stdin.write(topic_of(t).encode() + b"\t" + key.encode() + b"\t" + raw + b"\n")
            p.stdin.flush()
            if i and i % 1000 == 0:
                log("live feed: %d of %d produced" % (i, len(ordered)))
    finally:
        if p.stdin and not p.stdin.closed:
            p.stdin.close()
    try:
        err = p.stderr.read().decode(errors="replace")
        rc = p.wait(60)
    except subprocess.TimeoutExpired:
        p.kill()
        pytest.fail("live feed: kfeed did not finish")
    if rc != 0:
        pytest.fail("live feed: kfeed exited %d: %s" % (rc, err[-2000:]))
    log("live feed: %d messages in %.1f s" % (len(ordered), time.monotonic() - t0))


# ---- what a way leaves behind ------------------------------------------------------------

def read_state(r, prefix):
    """{customer: {field: value}}: the hash (without IGNORED_*, defaults
    dropped), `aux.T` per aux section T, `idx:NAME` per index score and
    the keys of layout 2 (`aux`, `outbox`) when any is left."""
    out = {}
    for cid, (h, aux) in full_state(r, prefix).items():
        f = {}
        for k, v in h.items():
            if k in IGNORED_FIELDS or k.startswith(IGNORED_FIELD_PREFIXES):
                continue
            if v == NONZERO_DEFAULTS.get(k, "0") or v == "":
                continue
            f[k] = v
        for sec in (aux or "").split("|"):
            if sec:
                tag, _, body = sec.partition(":")
                f["aux." + tag] = body
        out[cid] = f
    for name, members in indices(r, prefix).items():
        for cid, score in members.items():
            out.setdefault(cid, {})["idx:" + name] = repr(score)
    for key in layout2_keys(r, prefix):
        out.setdefault(key, {})["layout2"] = "left"
    return out


def read_events(records_by_kind):
    """(by_id, dups, conflicts): by_id = {event_id: (kind, payload without
    emitted_at)}; dups = records repeating an id with the same payload;
    conflicts = [(id, first, other)] repeating it with another payload."""
    by_id, dups, conflicts = {}, 0, []
    for kind, recs in records_by_kind.items():
        for m in recs:
            p = json.loads(m["value"])
            p.pop("emitted_at", None)
            eid = p.get("event_id") or "<no event_id at %s/%s>" % (m["partition"], m["offset"])
            if eid in by_id:
                if by_id[eid] == (kind, p):
                    dups += 1
                else:
                    conflicts.append((eid, by_id[eid], (kind, p)))
                continue
            by_id[eid] = (kind, p)
    return by_id, dups, conflicts


# ---- readable differences ------------------------------------------------------------------

def short(v, n=160):
    s = v if isinstance(v, str) else json.dumps(v, sort_keys=True, ensure_ascii=False)
    return s if len(s) <= n else s[:n] + "..."


def flat(d, pfx=""):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flat(v, pfx + k + "."))
        else:
            out[pfx + k] = v
    return out


def payload_diff(pa, px):
    fa, fx = flat(pa), flat(px)
    return ["%s: %s | %s" % (k, short(fa.get(k, "(missing)"), 60), short(fx.get(k, "(missing)"), 60))
            for k in sorted(set(fa) | set(fx)) if fa.get(k) != fx.get(k)]


def event_line(eid, ev):
    kind, p = ev
    return "%s %s %s as_of %s %s %s" % (eid, kind, p.get("customer_id"), p.get("as_of"),
                                       p.get("reason_codes"), short(p.get("reward", ""), 80))


def state_diff(sa, sx):
    """[(customer, field, a, x)] for every differing field."""
    rows = []
    for cid in sorted(set(sa) | set(sx)):
        if cid not in sx or cid not in sa:
            rows.append((cid, "<customer>", "present" if cid in sa else "absent",
                         "present" if cid in sx else "absent"))
            continue
        fa, fx = sa[cid], sx[cid]
        for f in sorted(set(fa) | set(fx)):
            if fa.get(f) != fx.get(f):
                rows.append((cid, f, fa.get(f, "(missing)"), fx.get(f, "(missing)")))
    return rows


# ---- the five ways ---------------------------------------------------------------------------

class Way:
    def __init__(self, env, key, own_inputs):
        self.key = key
        self.title = "(%s) %s" % (key, WAYS[key])
        self.prefix = "%s%s:" % (env.redis_prefix, key)
        self.group = "it-%s-%s" % (env.tag, key)
        p = "" if key == "a" else key + "."
        self.inputs = {t: env.topic((p if own_inputs else "") + t) for t in TOPICS}
        self.outputs = {k: env.topic(p + v) for k, v in OUTPUTS.items()}
        self.error = None
        self.secs = None
        self.notes = []
        self.state = None
        self.events = None
        self.dups = 0
        self.conflicts = []
        self.dlq = []
        self.records = {}
        self.cluster = key in CLUSTER_WAYS


class Runs:
    def __init__(self, env):
        self.env = env
        self.r = env.r
        self.w = Workload(seed=INPUT_SEED, customers=CUSTOMERS, malformed=False, span_days=SPAN_DAYS)
        self.total = self.w.total()
        self.kill_seed = int(os.environ.get("LOYALTY_IT_SEED", str(int(time.time()) % 100000)))
        self.ways = {k: Way(env, k, own_inputs=k in ("b", "e", "h", "i", "j")) for k in WAYS}
        self.cluster = None  # OwnCluster, started for the cluster ways

    # -- set-up --
    def create_topics(self):
        names = []
        for k, way in self.ways.items():
            if k == "a":
                continue  # the standard topic names
            p = k + "."
            names += [p + v for v in OUTPUTS.values()]
            if way.inputs["orders"] != self.ways["a"].inputs["orders"]:
                names += [p + t for t in TOPICS]
        self.env.extra_topics.extend(names)
        t0 = time.monotonic()
        run([os.path.join(ROOT, "deploy/kafka.sh"), "topics", *names], timeout=240,
            env={"TOPIC_PREFIX": self.env.topic_prefix, "KAFKA_PORT": str(KAFKA_PORT),
                 "KAFKA_PARTITIONS": str(PARTITIONS)})
        log("%d topics of %d partitions created in %.1f s" % (
            len(names) + len(conftest.STANDARD_TOPICS), PARTITIONS, time.monotonic() - t0))

    def daemon(self, way, name=None, **extra):
        # The merge waits merge.max_idle_ms for a partition that is behind;
        # past it the order is no longer guaranteed.  A sanitizer build on a
        # loaded 2-core machine can take seconds for a first fetch after a
        # rebalance, so the bound here is generous.
        conf = {"clock": "stream", "merge.max_idle_ms": "15000", "sweep.interval_s": "1",
                "topic.orders": way.inputs["orders"], "topic.reviews": way.inputs["reviews"],
                "topic.messages": way.inputs["messages"], "topic.rewards": way.outputs["rewards"],
                "topic.churn_risk": way.outputs["churn"], "topic.segments": way.outputs["segments"],
                "topic.dlq": way.outputs["dlq"]}
        if way.cluster:
            conf.update({"redis.cluster": self.cluster.seeds, "redis.host": None,
                         "redis.port": None})
        conf.update(extra)
        return self.env.daemon(name or way.key, redis_prefix=way.prefix, group=way.group, **conf)

    def redis_of(self, way):
        return self.cluster.client if way.cluster else self.r

    def slices(self, *cuts):
        """The input cut at event times: [{topic: lines}], slice i holding the
        events with cuts[i-1] <= ts < cuts[i] (a prefix of each topic)."""
        bounds = (float("-inf"),) + cuts + (float("inf"),)
        return [{t: [l for l, ms in zip(self.w.lines[t], self.w.stamps[t]) if lo <= ms < hi]
                 for t in TOPICS} for lo, hi in zip(bounds, bounds[1:])]

    # -- the ways --
    def run_a(self, way):
        feed_parallel({way.inputs[t]: self.w.lines[t] for t in TOPICS})
        d = self.daemon(way).start()
        m = d.wait_caught_up(self.total, timeout=180)
        d.wait_timers_fired()
        way.notes.append("applied %d" % m.get("loyaltyd_applied_total"))
        d.stop()

    def run_d(self, way):
        d = self.daemon(way).start()
        m = d.wait_caught_up(self.total, timeout=180)
        d.wait_timers_fired()
        way.notes.append("applied %d" % m.get("loyaltyd_applied_total"))
        d.stop()

    def run_b(self, way):
        d = self.daemon(way, **{"merge.grace_ms": str(GRACE_MS)}).start()
        # Produce once the daemon holds its partitions (not an assertion: if
        # it does not yet, the first messages are simply a short backlog).
        deadline = time.monotonic() + 20
        while d.metrics().get("loyaltyd_rebalances_total") < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        feed_live(self.w.in_event_time(), lambda t: way.inputs[t], LIVE_RATE)
        m = d.wait_caught_up(self.total, timeout=180)
        d.wait_timers_fired()
        way.notes.append("applied %d, late events %d" % (m.get("loyaltyd_applied_total"),
                                                         m.get("loyaltyd_late_events_total")))
        d.stop()

    def run_c(self, way):
        rng = random.Random(self.kill_seed)
        d = self.daemon(way, **{"kafka.consumer.group.instance.id": "it-%s-%s" % (self.env.tag,
                                                                                 way.key)})
        done = 0  # events applied so far (a lower bound: read just before each kill)
        for kill in range(KILLS):
            d.start()
            # A random amount of progress before this kill (on average half
            # an equal share of what is left, so that the last start still
            # has work), or a random time cap, whichever comes first; then a
            # random few milliseconds more.
            left = max(self.total - done, 0)
            target = rng.randint(0, max(1, left // (KILLS - kill + 1)))
            cap = rng.uniform(0.3, 3.0)
            t0 = time.monotonic()
            while d.metrics().get("loyaltyd_applied_total") < target and time.monotonic() - t0 < cap:
                time.sleep(0.02)
            time.sleep(rng.uniform(0, 0.05))
            m = d.metrics()
            d.sigkill()
            done += int(m.get("loyaltyd_applied_total"))
            way.notes.append("kill %d at %d applied" % (kill + 1, m.get("loyaltyd_applied_total")))
            log("(%s) kill %d after %.2f s: this start applied %d, duplicates %d (target %d)" % (
                way.key, kill + 1, time.monotonic() - t0, m.get("loyaltyd_applied_total"),
                m.get("loyaltyd_duplicates_skipped_total"), target))
        d.start()
        m = d.wait_caught_up(timeout=180)
        d.wait_timers_fired()
        log("(%s) final start: applied %d, duplicates %d; about %d applied before it" % (
            way.key, m.get("loyaltyd_applied_total"), m.get("loyaltyd_duplicates_skipped_total"), done))
        way.notes.append("final start applied %d" % m.get("loyaltyd_applied_total"))
        d.stop()

    def run_f(self, way):
        self.run_d(way)

    def run_g(self, way):
        self.run_c(way)

    def live_on_cluster(self, way, during, restart=False, **conf):
        """As (b) on the cluster, during(d, applied) called from a thread
        while the input is produced; the redirections the daemon followed
        are noted."""
        d = self.daemon(way, **dict({"merge.grace_ms": str(GRACE_MS)}, **conf)).start()
        deadline = time.monotonic() + 20
        while d.metrics().get("loyaltyd_rebalances_total") < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        with concurrent.futures.ThreadPoolExecutor(1) as ex:
            fut = ex.submit(during, d, lambda: d.metrics().get("loyaltyd_applied_total")
                            if d.alive() else 0)
            feed_live(self.w.in_event_time(), lambda t: way.inputs[t], LIVE_RATE)
            fut.result(timeout=300)
        way.restarts = 0
        while True:
            try:
                m = d.wait_caught_up(None if restart else self.total, timeout=240)
                break
            except pytest.fail.Exception:
                # Ended on purpose (what systemd's Restart= would restart),
                # at most a few times; it may still be closing when its
                # /metrics stops answering.
                if restart and way.restarts < 3:
                    try:
                        d.proc.wait(30)
                    except subprocess.TimeoutExpired:
                        pass
                if not restart or d.alive() or way.restarts >= 3:
                    raise
            way.restarts += 1
            log("(%s) the daemon ended (exit %s); started again" % (way.key, d.proc.poll()))
            d.start()
        d.wait_timers_fired()
        way.redirects = {k: m.get("loyaltyd_redis_%s_total" % k)
                         for k in ("moved", "ask", "tryagain")}
        way.notes.append("applied %d, redirections followed %s" % (
            m.get("loyaltyd_applied_total"), way.redirects))
        d.stop()
        return m

    def run_h(self, way):
        c = self.cluster

        def reshard(d, applied):
            for i, share in enumerate((0.25, 0.55)):
                wait_for("(h) %d%% of the input applied" % (share * 100),
                         lambda: applied() >= self.total * share, 240, interval=0.1)
                ports = sorted(c.masters())
                src, dst = ports[i % len(ports)], ports[(i + 1) % len(ports)]
                ids = {p: c.cli(p, "CLUSTER", "MYID").strip() for p in (src, dst)}
                t0 = time.monotonic()
                run(["redis-cli", "--cluster", "reshard", "127.0.0.1:%d" % src,
                     "--cluster-from", ids[src], "--cluster-to", ids[dst],
                     "--cluster-slots", str(RESHARD_SLOTS), "--cluster-yes"], timeout=240)
                log("(h) %d slots moved from :%d to :%d in %.1f s, %d events applied" % (
                    RESHARD_SLOTS, src, dst, time.monotonic() - t0, applied()))
                way.notes.append("resharded :%d -> :%d at %d applied" % (src, dst, applied()))

        self.live_on_cluster(way, reshard)
        assert way.redirects["moved"] + way.redirects["ask"] > 0, (
            "(h) the daemon followed no redirection: the resharding missed the traffic")

    def run_i(self, way):
        c = self.cluster

        def failover(d, applied):
            wait_for("(i) a third of the input applied", lambda: applied() >= self.total / 3, 240,
                     interval=0.1)
            before = c.masters()
            victim = sorted(before)[0]
            c.kill(victim)
            t0 = time.monotonic()
            log("(i) master :%d SIGKILLed at %d applied" % (victim, applied()))
            after = wait_for("(i) a replica promoted in place of :%d" % victim,
                             lambda: (lambda m: m if victim not in m and len(m) == 3 else None)(
                                 c.masters()), 60, interval=0.5)
            way.notes.append("master :%d killed at %d applied, %s masters after %.1f s" % (
                victim, applied(), sorted(after), time.monotonic() - t0))
            log("(i) " + way.notes[-1])
            # The new master has no replica: with redis.wait_replicas = 1 no
            # batch writing there is done until the old one is back as its.
            c.start()

        self.live_on_cluster(way, failover, **{"redis.wait_replicas": "1"})

    def run_j(self, way):
        c = self.cluster

        def lose(d, applied):
            wait_for("(j) a third of the input applied", lambda: applied() >= self.total / 3, 240,
                     interval=0.1)
            victim = sorted(c.masters())[0]
            replica = c.replica_of(victim)
            # Stopped, and its link closed by the master: what the master
            # writes from here on reaches no replica (a link still open
            # would hold it in the kernel's buffers until SIGCONT).
            os.kill(c.pid(replica), signal.SIGSTOP)
            c.cli(victim, "CLIENT", "KILL", "TYPE", "replica", timeout=10)
            time.sleep(3)
            at = applied()
            c.kill(victim)
            os.kill(c.pid(replica), signal.SIGCONT)
            wait_for("(j) :%d promoted in place of :%d" % (replica, victim),
                     lambda: replica in c.masters(), 60, interval=0.5)
            way.notes.append("replica :%d stopped 3 s, master :%d killed at %d applied" % (
                replica, victim, at))
            log("(j) " + way.notes[-1])
            c.start()

        self.live_on_cluster(way, lose, restart=True)

    def run_e(self, way):
        ordered = self.w.in_event_time()
        cut1, cut2 = ordered[len(ordered) * 2 // 5][3], ordered[len(ordered) * 7 // 10][3]
        s1, s2, s3 = self.slices(cut1, cut2)
        n1 = sum(len(v) for v in s1.values())
        n2 = sum(len(v) for v in s2.values())

        def topics(s):
            return {way.inputs[t]: lines for t, lines in s.items()}

        feed_parallel(topics(s1))
        e1 = self.daemon(way, "e1", **{"merge.grace_ms": str(GRACE_MS)}).start()
        d = [e1]

        def applied():
            return sum(x.metrics().get("loyaltyd_applied_total") for x in d)

        wait_for("(e) first instance part-way through the first slice",
                 lambda: applied() >= n1 // 2, 120, interval=0.05)
        e2 = self.daemon(way, "e2", **{"merge.grace_ms": str(GRACE_MS)}).start()
        d.append(e2)
        at_join = applied()
        # While the daemons run, the input is appended in event-time order
        # across the topics, as in (b): the broker then holds no event after
        # one that comes later in event time on another topic.
        in_order = [x for x in ordered if cut1 <= x[3]]
        feed_live([x for x in in_order if x[3] < cut2], lambda t: way.inputs[t], FEED_RATE)

        def owned(x):
            return set(x.metrics().lags(self.env.topic_prefix))

        split = wait_for("(e) the partitions split between the two instances",
                         lambda: (lambda a, b: (a, b) if a and b and not a & b else None)(
                             owned(e1), owned(e2)), 90)
        n3 = sum(len(v) for v in s3.values())
        feed_live([x for x in in_order if x[3] >= cut2], lambda t: way.inputs[t], FEED_RATE)
        wait_for("(e) the third slice part-way", lambda: applied() >= n1 + n2 + n3 // 4, 120,
                 interval=0.05)
        at_stop = applied()
        late1 = e1.metrics().get("loyaltyd_late_events_total")
        t0 = time.monotonic()
        e1.proc.send_signal(signal.SIGTERM)
        try:
            rc = e1.proc.wait(60)
        except subprocess.TimeoutExpired:
            pytest.fail("(e) first instance did not exit within 60 s of SIGTERM\n" + e1.stderr_tail())
        assert rc == 0, "(e) first instance exited %s on SIGTERM\n%s" % (rc, e1.stderr_tail())
        d.remove(e1)
        m = e2.wait_caught_up(timeout=180)
        e2.wait_timers_fired()
        way.notes.append("second joined at %d applied, split %d/%d partitions, first stopped at %d "
                         "applied (caught up %.1f s later), second applied %d; late events %d "
                         "and %d" % (
                             at_join, len(split[0]), len(split[1]), at_stop, time.monotonic() - t0,
                             m.get("loyaltyd_applied_total"), late1,
                             m.get("loyaltyd_late_events_total")))
        log("(e) " + way.notes[-1])
        e2.stop()

    # -- all of it --
    def execute(self):
        log("determinism: %d customers, %d events (orders %d, reviews %d, messages %d), input seed %d, "
            "kill seed %d (LOYALTY_IT_SEED=%d repeats the kills)" % (
                len(self.w.customers()), self.total, len(self.w.lines["orders"]),
                len(self.w.lines["reviews"]), len(self.w.lines["messages"]), INPUT_SEED,
                self.kill_seed, self.kill_seed))
        self.create_topics()
        if ONLY & set(CLUSTER_WAYS):
            try:
                self.cluster = OwnCluster(str(self.env.workdir / "cluster"))
            except (Exception, pytest.fail.Exception) as e:  # noqa: BLE001
                for k in CLUSTER_WAYS:
                    self.ways[k].error = "no Redis Cluster: %s" % e
        for k in ("a", "d", "c", "e", "b", "f", "g", "h", "i", "j"):
            way = self.ways[k]
            if k not in ONLY:
                way.error = "not run (LOYALTY_IT_DET_WAYS)"
                continue
            if way.error:
                continue
            if k in ("c", "d", "f", "g") and self.ways["a"].error:
                way.error = "not run: (a) did not complete, its topics are (c)'s and (d)'s input"
                continue
            t0 = time.monotonic()
            n0 = len(self.env.daemons)
            try:
                getattr(self, "run_" + k)(way)
            except (Exception, pytest.fail.Exception) as e:  # noqa: BLE001
                way.error = "%s did not complete: %s\n%s" % (way.title, e, traceback.format_exc(limit=6))
                log(way.error)
                for dmn in self.env.daemons[n0:]:
                    dmn.dump_stderr()
                    dmn.kill_quietly()
            way.secs = time.monotonic() - t0
            log("%s: %s in %.1f s" % (way.title, "failed" if way.error else "done", way.secs))
        t0 = time.monotonic()
        ready = [w for w in self.ways.values() if not w.error]
        recs = drain_parallel([w.outputs[k] for w in ready for k in OUTPUTS])
        for way in ready:
            way.state = read_state(self.redis_of(way), way.prefix)
            way.records = {k: recs[way.outputs[k]] for k in ("rewards", "churn", "segments")}
            way.events, way.dups, way.conflicts = read_events(way.records)
            way.dlq = recs[way.outputs["dlq"]]
            log("%s: %d customers, %d derived events (%d rewards, %d churn-risk, %d segment-change "
                "records), %d repeated, %d conflicting, %d DLQ records" % (
                    way.title, len(way.state), len(way.events), len(way.records["rewards"]),
                    len(way.records["churn"]), len(way.records["segments"]), way.dups,
                    len(way.conflicts), len(way.dlq)))
        log("state and outputs read in %.1f s" % (time.monotonic() - t0))

    def require(self, *keys):
        """The ways of these keys, each run to its end; else the test is
        skipped (not asked for) or fails (with the way's error)."""
        for k in keys:
            if k not in ONLY:
                pytest.skip("(%s) not run: LOYALTY_IT_DET_WAYS" % k)
        for k in keys:
            if self.ways[k].error:
                pytest.fail(self.ways[k].error, pytrace=False)
        return [self.ways[k] for k in keys]

    def compare(self, key):
        a, x = self.require("a", key)
        problems = []
        rows = state_diff(a.state, x.state)
        if rows:
            custs = sorted({r[0] for r in rows})
            counts = {}
            for r in rows:
                counts[r[1]] = counts.get(r[1], 0) + 1
            top = ", ".join("%s x%d" % kv for kv in sorted(counts.items(), key=lambda kv: -kv[1])[:12])
            problems.append("state: %d of %d customers differ in %d fields (%s); first ones "
                            "(customer, field, %s, %s):\n    %s" % (
                                len(custs), len(a.state), len(rows), top, "(a)", "(%s)" % key,
                                "\n    ".join("%s  %s: %s | %s" % (c, f, short(va, 70), short(vx, 70))
                                              for c, f, va, vx in rows[:SHOW])))
        only_a = sorted(set(a.events) - set(x.events))
        only_x = sorted(set(x.events) - set(a.events))
        changed = sorted(i for i in set(a.events) & set(x.events) if a.events[i] != x.events[i])
        if only_a or only_x or changed:
            lines = ["only in (a): " + event_line(i, a.events[i]) for i in only_a[:SHOW // 2]]
            lines += ["only in (%s): " % key + event_line(i, x.events[i]) for i in only_x[:SHOW // 2]]
            for i in changed[:SHOW // 2]:
                lines.append("payload differs (a) | (%s): %s\n        %s" % (
                    key, event_line(i, a.events[i]), "\n        ".join(payload_diff(a.events[i][1],
                                                                                    x.events[i][1]))))
            problems.append("events: (a) emitted %d, (%s) %d: %d only in (a), %d only in (%s), %d with "
                            "different payloads; first ones:\n    %s" % (
                                len(a.events), key, len(x.events), len(only_a), len(only_x), key,
                                len(changed), "\n    ".join(lines)))
        if x.conflicts:
            problems.append("events: %d ids emitted twice with different payloads, e.g.\n    %s" % (
                len(x.conflicts), "\n    ".join(
                    "%s:\n        %s" % (i, "\n        ".join(payload_diff(p1[1], p2[1])))
                    for i, p1, p2 in x.conflicts[:SHOW // 2])))
        if x.dups and key not in ("c", "g", "i"):
            problems.append("events: %d records repeat an id (allowed only after crashes and "
                            "a failover)" % x.dups)
        if x.dlq:
            problems.append("DLQ: %d records, the input has no malformed message: %s" % (
                len(x.dlq), [(m["key"], m["headers"].get("reason")) for m in x.dlq[:5]]))
        summary = "%s against (a) %s: %s" % (x.title, WAYS["a"], "; ".join(x.notes[-2:]))
        if problems:
            pytest.fail("%s\n  %s" % (summary, "\n  ".join(problems)), pytrace=False)
        log("%s: same state (%d customers) and the same %d events (%d repeated)" % (
            summary, len(x.state), len(x.events), x.dups))


@pytest.fixture(scope="module")
def runs(services, request, tmp_path_factory):
    env = conftest.TestEnv("determinism")
    env.workdir = tmp_path_factory.mktemp("determinism")
    rs = Runs(env)
    t0 = time.monotonic()
    try:
        rs.execute()
    except BaseException:
        for d in env.daemons:
            d.dump_stderr()
        env.cleanup(False)
        if rs.cluster:
            rs.cluster.stop()
        raise
    log("determinism: five ways in %.1f s (%s)" % (time.monotonic() - t0, ", ".join(
        "%s %.1f s" % (k, w.secs or 0) for k, w in rs.ways.items())))
    yield rs
    mine = [i for i in request.session.items if i.module is request.module]
    failed = any(getattr(i, "it_failed", True) for i in mine)
    if failed:
        log("daemon logs in %s" % env.workdir)
    env.cleanup(not failed)
    if rs.cluster:
        rs.cluster.stop()


# ---- the tests -------------------------------------------------------------------------------

def test_backlog_reference(runs):
    """(a) itself: every aggregate equals the independent model, each event
    applied once (rev), indices agree, derived events well
    formed and unique, exactly the expected milestones, nothing dead-lettered;
    and the input exercises the order-dependent outputs (churn-risk crossings,
    rewards besides milestones)."""
    a = runs.ways["a"]
    if a.error:
        pytest.fail(a.error, pytrace=False)
    check_state(runs.r, a.prefix, runs.w,
                timers_until=max(max(v) for v in runs.w.stamps.values() if v))
    recs = {k: [(m, json.loads(m["value"])) for m in v] for k, v in a.records.items()}
    check_derived_records(recs["rewards"], recs["churn"], segments=recs["segments"])
    check_milestones(runs.w, recs["rewards"])
    assert not a.dlq, a.dlq[:3]
    types = {}
    for _, p in recs["rewards"]:
        types[p["reward"]["type"]] = types.get(p["reward"]["type"], 0) + 1
    log("(a): %d rewards %s, %d churn-risk, %d segment-change events" % (
        len(recs["rewards"]), types, len(recs["churn"]), len(recs["segments"])))
    assert len(recs["churn"]) >= 10, "too few churn-risk events for a meaningful comparison"
    assert len(types) >= 3, "too few kinds of reward for a meaningful comparison: %s" % types


def test_live_matches_backlog(runs):
    runs.compare("b")


def test_crashes_match_backlog(runs):
    runs.compare("c")


def test_replay_matches_backlog(runs):
    runs.compare("d")


def test_rebalance_matches_backlog(runs):
    runs.compare("e")


def test_cluster_matches_backlog(runs):
    runs.compare("f")


def test_cluster_crashes_match_backlog(runs):
    runs.compare("g")


def test_cluster_resharding_matches_backlog(runs):
    runs.compare("h")


def test_cluster_failover_matches_backlog(runs):
    runs.compare("i")


def test_cluster_lost_window_reported(runs):
    """(j): writes a master acknowledged and its promoted replica never got
    are not silently gone.  Wherever (j)'s state differs from (a)'s, the
    daemon said so: its commits found older revisions than it had written
    (loyaltyd_state_rewound_total, a warning), or it ended when a task's
    progress went back (and applied that window again once restarted)."""
    a, j = runs.require("a", "j")
    text = ""
    for name in sorted(os.listdir(str(runs.env.workdir))):
        if name.startswith("j.") and name.endswith(".stderr"):
            with open(os.path.join(str(runs.env.workdir), name), errors="replace") as f:
                text += f.read()
    rewound = text.count("Redis lost writes it had acknowledged")
    went_back = text.count("redis lost acknowledged writes")
    differ = sorted({r[0] for r in state_diff(a.state, j.state)})
    log("(j) %d customers differ from (a); %d rewound warnings, %d progress-went-back exits, "
        "%d restarts" % (len(differ), rewound, went_back, j.restarts))
    if differ:
        assert rewound + went_back > 0, (
            "%d customers lost events (e.g. %s) and the daemon reported nothing" % (
                len(differ), differ[:5]))


def test_cluster_loyaltyctl_matches_backlog(runs, tmp_path):
    """loyaltyctl on the cluster ((f)) says what it says on one Redis ((a)):
    stats, top by every kept index, show and the fit from Redis; then
    delete removes a customer from every master (its keys and its index
    entries)."""
    a, f = runs.require("a", "f")

    def ctl(way, *args, check=True):
        r = runs.redis_of(way)
        p = subprocess.run([LOYALTYCTL, *ctl_redis_args(r, str(tmp_path)), "--prefix", way.prefix,
                            "--json", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=300)
        if check:
            assert p.returncode == 0, (way.key, args, p.stderr.decode(errors="replace"))
        return p

    def same(*args):
        ja, jf = (json.loads(ctl(w, *args).stdout) for w in (a, f))
        assert ja == jf, "loyaltyctl %s differs: one Redis %s, cluster %s" % (
            " ".join(args), json.dumps(ja)[:400], json.dumps(jf)[:400])
        return ja

    stats = same("stats")
    top = same("top", "--by", "risk", "-n", "25")
    same("top", "--by", "value", "-n", "25")
    some = sorted(a.state)[:: max(1, len(a.state) // 5)]
    for cid in some:
        same("show", cid)
    last_day = max(max(v) for v in runs.w.stamps.values() if v) // 86400000
    as_of = time.strftime("%Y-%m-%d", time.gmtime(last_day * 86400))
    # The fit reads every customer (a SCAN of every master): the same data
    # gives the same result, a fitted model or the same refusal.
    fa, ff = (ctl(w, "fit", "--from-redis", "--as-of", as_of, "--unit", "weeks", check=False)
              for w in (a, f))
    assert (fa.returncode, fa.stdout, fa.stderr) == (ff.returncode, ff.stdout, ff.stderr), (
        "fit --from-redis differs:\n%s\n%s" % (fa, ff))
    fit = fa.stdout.decode()[:100] or fa.stderr.decode().strip().splitlines()[-1]
    log("loyaltyctl on the cluster as on one Redis: stats %s, top %d, %d shown, fit %s" % (
        json.dumps(stats)[:120], len(top) if isinstance(top, list) else -1, len(some), fit))

    victim = some[0]
    c = runs.cluster.client
    assert c.exists("%sc:{%s}" % (f.prefix, victim)) == 1
    ctl(f, "delete", victim)
    assert c.exists("%sc:{%s}" % (f.prefix, victim), "%sc:{%s}:state" % (f.prefix, victim)) == 0
    assert victim not in read_state(c, f.prefix), "deleted customer still listed"
    assert ctl(f, "show", victim, check=False).returncode != 0
