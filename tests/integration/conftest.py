"""Harness of the integration tests: services check, per-test isolation
(topics, Redis key prefix, consumer group, HTTP port), the `Daemon` helper and
the Kafka/Redis/metrics helpers the tests share.

Services come from deploy/services.sh (tests/run-all.sh starts them):
Redis on 127.0.0.1:$REDIS_PORT (16379), Kafka on 127.0.0.1:$KAFKA_PORT (19092).
Binaries: $LOYALTYD_BIN (build/loyaltyd), $LOYALTYCTL_BIN (build/loyaltyctl),
tools from build/tools.  LOYALTY_IT_KEEP=1 keeps topics and keys after a test.
"""
import concurrent.futures
import contextlib
import itertools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import pytest

try:
    import redis
except ImportError:  # pragma: no cover - the runner installs it
    redis = None

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.dirname(__file__))


def _bin(env, default):
    p = os.environ.get(env, default)
    return p if os.path.isabs(p) else os.path.join(ROOT, p)


LOYALTYD = _bin("LOYALTYD_BIN", "build/loyaltyd")
LOYALTYCTL = _bin("LOYALTYCTL_BIN", "build/loyaltyctl")
KFEED = _bin("KFEED_BIN", "build/tools/kfeed")
KDRAIN = _bin("KDRAIN_BIN", "build/tools/kdrain")
REDIS_PORT = int(os.environ.get("REDIS_PORT", "16379"))
KAFKA_PORT = int(os.environ.get("KAFKA_PORT", "19092"))
BROKERS = "127.0.0.1:%d" % KAFKA_PORT
KEEP = os.environ.get("LOYALTY_IT_KEEP") == "1"

INPUT_TOPICS = ("orders", "reviews", "messages")
STANDARD_TOPICS = ("orders", "reviews", "messages", "loyalty.churn-risk", "loyalty.rewards",
                   "loyalty.segments", "loyalty.dlq")


def log(msg):
    """Shows in the test output (-s) and in the captured output of a failure."""
    print("[it %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def wait_for(what, pred, timeout, interval=0.2):
    """Poll pred() until it returns a true value; fail the test on timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = pred()
        if last:
            return last
        if time.monotonic() >= deadline:
            pytest.fail("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(interval)


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd, timeout=120, check=True, env=None, input=None):
    """Run a command; its output is logged when it fails."""
    p = subprocess.run(cmd, input=input, capture_output=True, timeout=timeout,
                       env=dict(os.environ, **(env or {})), cwd=ROOT)
    if check and p.returncode != 0:
        pytest.fail("%s exited %d\nstdout:\n%s\nstderr:\n%s" % (
            " ".join(cmd), p.returncode, p.stdout.decode(errors="replace")[-3000:],
            p.stderr.decode(errors="replace")[-3000:]))
    return p


# ---- services -------------------------------------------------------------------

@pytest.fixture(scope="session")
def services():
    """Fails every test with one clear message when a service is missing."""
    problems = []
    if redis is None:
        problems.append("the Python package 'redis' is missing: pip install -r tests/requirements.txt")
    elif not port_open(REDIS_PORT):
        problems.append("no Redis on 127.0.0.1:%d" % REDIS_PORT)
    else:
        try:
            redis.Redis(port=REDIS_PORT, socket_timeout=5).ping()
        except Exception as e:  # noqa: BLE001
            problems.append("Redis on 127.0.0.1:%d does not answer PING: %s" % (REDIS_PORT, e))
    if not port_open(KAFKA_PORT):
        problems.append("no Kafka on %s" % BROKERS)
    for b in (LOYALTYD, KFEED, KDRAIN):
        if not os.access(b, os.X_OK):
            problems.append("%s is not built (make all)" % b)
    if problems:
        pytest.fail("integration services/binaries missing (start them with "
                    "`deploy/services.sh up`, or run tests/run-all.sh):\n  " + "\n  ".join(problems),
                    pytrace=False)
    return {"redis_port": REDIS_PORT, "brokers": BROKERS}


def need_ctl():
    if not os.access(LOYALTYCTL, os.X_OK):
        pytest.fail("%s is not built (make all)" % LOYALTYCTL, pytrace=False)


def ctl_run(env, *args, timeout=300):
    """loyaltyctl on the test Redis under env's prefix: (exit code, stdout, stderr)."""
    p = subprocess.run([LOYALTYCTL, "--redis", "127.0.0.1:%d" % REDIS_PORT, "--prefix", env.redis_prefix,
                        *args], capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def cdnow_file():
    p = os.environ.get("CDNOW_SAMPLE") or os.path.join(ROOT, "data", "cdnow", "CDNOW_sample.txt")
    if not os.path.exists(p):
        pytest.fail("CDNOW sample not found at %s" % p, pytrace=False)
    return p


def cdnow_order_lines(tmp_path, until):
    """The CDNOW sample's orders up to `until` (YYYY-MM-DD) as order.placed
    events (deploy/sample-events.py --orders-only): [(key, raw bytes)]."""
    out = tmp_path / "events"
    p = subprocess.run([sys.executable, os.path.join(ROOT, "deploy/sample-events.py"), "--cdnow", cdnow_file(),
                        "--out", str(out), "--orders-only", "--until", until, "--customers", "100000"],
                       capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr.decode()
    lines = []
    with open(out / "orders.txt", "rb") as f:
        for line in f:
            key, _, value = line.rstrip(b"\n").partition(b"\t")
            lines.append((key.decode(), value))
    return lines


_seq = itertools.count()


class TestEnv:
    """One test's private names: topics PREFIX.*, Redis keys, group, port."""

    def __init__(self, name):
        tag = "%s-%d-%d" % (re.sub(r"[^a-z0-9]", "", name.lower())[:20], os.getpid() % 100000,
                            next(_seq))
        self.tag = tag
        self.topic_prefix = "it.%s." % tag
        self.redis_prefix = "it:%s:" % tag
        self.extra_topics = []
        # deploy/kafka.sh's environment for this test's broker (own_kafka
        # replaces it; None: its topics went with it, nothing to delete)
        self.kafka_env = {"KAFKA_PORT": str(KAFKA_PORT)}
        self.workdir = None
        self.daemons = []
        self.r = redis.Redis(port=REDIS_PORT, socket_timeout=10)

    def topic(self, name):
        return self.topic_prefix + name

    def create_topics(self, *extra):
        self.extra_topics.extend(extra)
        t0 = time.monotonic()
        run([os.path.join(ROOT, "deploy/kafka.sh"), "topics", *extra], timeout=120,
            env=dict(self.kafka_env, TOPIC_PREFIX=self.topic_prefix))
        log("topics %s* created in %.1f s" % (self.topic_prefix, time.monotonic() - t0))

    def daemon(self, name="d", redis_prefix=None, group=None, **overrides):
        d = Daemon(self, name, redis_prefix or self.redis_prefix, group or "it-" + self.tag + "-" + name,
                   overrides)
        self.daemons.append(d)
        return d

    def cleanup(self, ok):
        for d in self.daemons:
            d.kill_quietly()
        if KEEP or not ok:
            log("kept topics %s* and keys %s* for inspection" % (self.topic_prefix, self.redis_prefix))
            return
        try:
            for pfx in {self.redis_prefix} | {d.redis_prefix for d in self.daemons}:
                keys = list(self.r.scan_iter(match=pfx + "*", count=1000))
                for i in range(0, len(keys), 500):
                    self.r.delete(*keys[i:i + 500])
        except Exception as e:  # noqa: BLE001
            log("redis cleanup: %s" % e)
        if self.kafka_env is None:
            return
        try:
            run([os.path.join(ROOT, "deploy/kafka.sh"), "delete-topics", *STANDARD_TOPICS,
                 *self.extra_topics], timeout=60, check=False,
                env=dict(self.kafka_env, TOPIC_PREFIX=self.topic_prefix))
        except Exception as e:  # noqa: BLE001
            log("topic cleanup: %s" % e)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call":
        item.it_failed = rep.failed


@pytest.fixture
def env(services, request, tmp_path):
    """Isolation for one test; every daemon it started is killed at teardown
    and its stderr shown if the test failed."""
    e = TestEnv(request.node.name)
    e.workdir = tmp_path
    yield e
    failed = getattr(request.node, "it_failed", True)
    if failed:
        for d in e.daemons:
            d.dump_stderr()
    e.cleanup(not failed)


# ---- Kafka helpers -------------------------------------------------------------------

def feed(topic, lines, timeout=120):
    """Produce [(key, raw bytes)] in order (kfeed: idempotent producer); a key
    of None produces the message without a key."""
    data = b"".join((b"" if k is None else k.encode() + b"\t") + v + b"\n" for k, v in lines)
    run([KFEED, "-b", BROKERS, "-t", topic], input=data, timeout=timeout)


def feed_parallel(batches, timeout=120):
    """{topic: [(key, raw)]}: one kfeed per topic, all at the same time, so no
    input partition lags the others by more than a kfeed run."""
    batches = {t: lines for t, lines in batches.items() if lines}
    with concurrent.futures.ThreadPoolExecutor(len(batches) or 1) as ex:
        for f in [ex.submit(feed, t, lines, timeout) for t, lines in batches.items()]:
            f.result()


def feed_workload(env, workload, topics=INPUT_TOPICS):
    t0 = time.monotonic()
    for t in topics:
        if workload.lines[t]:
            feed(env.topic(t), workload.lines[t])
    log("produced %d messages in %.1f s" % (sum(len(workload.lines[t]) for t in topics),
                                            time.monotonic() - t0))


def drain(topic, idle_ms=1500, max_ms=60000):
    """Every message of a topic: dicts {partition, offset, key, value, headers}."""
    p = run([KDRAIN, "-b", BROKERS, "-t", topic, "-i", str(idle_ms), "-w", str(max_ms)],
            timeout=max_ms / 1000 + 30)
    # kdrain writes invalid UTF-8 of a value as U+FFFD; decode leniently all the same.
    return [json.loads(line) for line in p.stdout.decode(errors="replace").splitlines() if line.strip()]


def payload_sans_emitted(value):
    d = json.loads(value)
    d.pop("emitted_at", None)
    return d


# ---- Redis helpers ---------------------------------------------------------------------

def dec(b):
    return b.decode() if isinstance(b, bytes) else b


def dump_customers(r, prefix, ids):
    """`loyaltyctl dump --json` of the customers: {customer: document}, the
    document with `summary` (the hash as stored), `fields` (the whole state in
    its readable form, the store's rev, partition and wm:* included) and
    `aux` (the lists, docs/state.md)."""
    out = {}
    ids = list(ids)
    with tempfile.TemporaryDirectory() as tmp:
        ctl = [LOYALTYCTL, *ctl_redis_args(r, tmp), "--prefix", prefix, "--json"]
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            p = subprocess.run(ctl + ["dump"] + chunk, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=120)
            assert p.returncode == 0, p.stderr.decode(errors="replace")
            docs = json.loads(p.stdout)
            for d in docs if isinstance(docs, list) else [docs]:
                out[d["customer_id"]] = d
    return out


def customer_hash(r, prefix, cid):
    """The customer's whole state as name -> value (fields at their default
    absent), decoded from Redis by loyaltyctl dump; {} for none."""
    if not r.exists("%sc:{%s}" % (prefix, cid)):
        return {}
    return dump_customers(r, prefix, [cid])[cid]["fields"]


def customer_ids(r, prefix):
    """Ids of every customer hash under the prefix (not its :state, nor the
    :aux or :outbox of layout 2)."""
    rx = re.compile(re.escape(prefix) + r"c:\{(.*)\}$")
    out = set()
    for k in r.scan_iter(match=prefix + "c:*", count=2000):
        m = rx.match(dec(k))
        if m:
            out.add(m.group(1))
    return out


def full_state(r, prefix, skip=()):
    """{customer: (fields, aux)} of every customer (but those in skip), for
    exact comparisons."""
    docs = dump_customers(r, prefix, sorted(set(customer_ids(r, prefix)) - set(skip)))
    return {cid: (d["fields"], d["aux"]) for cid, d in sorted(docs.items())}


INDEX_FIELDS = {"risk": "churn_risk", "loyalty": "loyalty_score", "clv": "clv",
                "value": "spend_365d"}


def task_keys(r, prefix, suffix):
    """{task: key} of the zsets `P t:{N}:SUFFIX` (one per task)."""
    out = {}
    for k in r.scan_iter(match=prefix + "t:{*}:" + suffix, _type="zset", count=1000):
        k = dec(k)
        task = k[len(prefix) + 3:-len("}:" + suffix)]
        if task.isdigit():
            out[int(task)] = k
    return out


def index_tasks(r, prefix):
    """{index: {task: {customer: score}}}: each kept index (redis.indices;
    risk and value by default) as its tasks' keys `P t:{N}:idx:NAME` hold it."""
    out = {}
    for n in INDEX_FIELDS:
        for task, key in task_keys(r, prefix, "idx:" + n).items():
            out.setdefault(n, {})[task] = {
                dec(m): s for m, s in r.zrange(key, 0, -1, withscores=True)}
    return out


def indices(r, prefix):
    """{index: {customer: score}} of the indices that exist under the prefix,
    their tasks' keys merged (a customer in two is an error)."""
    out = {}
    for n, tasks in index_tasks(r, prefix).items():
        merged = out.setdefault(n, {})
        for members in tasks.values():
            assert not set(members) & set(merged), "a customer in two tasks' %s" % n
            merged.update(members)
    return out


def due_tasks(r, prefix):
    """{task: {customer: due ms}} of the tasks' due sets `P t:{N}:due`."""
    return {t: {dec(m): s for m, s in r.zrange(k, 0, -1, withscores=True)}
            for t, k in task_keys(r, prefix, "due").items()}


def layout2_keys(r, prefix):
    """Keys of the layout 2 state (aux strings, outboxes): none is left once
    every customer was committed by this release."""
    return [dec(k) for pattern in ("c:*:aux", "c:*:outbox")
            for k in r.scan_iter(match=prefix + pattern, count=2000)]


class OwnRedis:
    """A Redis of its own on a free port, with RDB persistence, run by
    deploy/redis.sh in `directory`: `port`, a `client` on it, `rdb` (the path
    of the snapshot it saves at SIGTERM and loads at start), start() and stop()
    (SIGTERM: Redis saves its RDB first)."""

    def __init__(self, directory):
        self.port = free_port()
        self.rdb = os.path.join(directory, "data", "dump.rdb")
        self._env = {"REDIS_PORT": str(self.port), "REDIS_DIR": directory, "REDIS_PERSIST": "1"}
        self._script = os.path.join(ROOT, "deploy/redis.sh")
        self.client = redis.Redis(port=self.port, socket_timeout=10)

    def start(self):
        run([self._script, "start"], env=self._env, timeout=60)

    def stop(self, check=True):
        run([self._script, "stop"], env=self._env, timeout=60, check=check)


@pytest.fixture
def own_redis(env, tmp_path):
    """An OwnRedis in the test's tmp_path, started; stopped at teardown (before
    env's, which it depends on so that the services check comes first)."""
    r = OwnRedis(str(tmp_path / "own-redis"))
    r.start()
    yield r
    r.stop(check=False)


CLUSTER_PORTS = range(17000, 17101)  # every cluster the tests start, bus ports too
CLUSTER_BUS_OFFSET = 50


def free_cluster_base(count):
    """The first port p of CLUSTER_PORTS with p .. p+count-1 and their cluster
    bus ports (+CLUSTER_BUS_OFFSET) free."""
    for p in CLUSTER_PORTS:
        want = [p + i for i in range(count)] + [p + i + CLUSTER_BUS_OFFSET for i in range(count)]
        if max(want) in CLUSTER_PORTS and not any(port_open(q) for q in want):
            return p
    pytest.fail("no %d free ports (and bus ports +%d) in %d-%d" % (
        count, CLUSTER_BUS_OFFSET, CLUSTER_PORTS[0], CLUSTER_PORTS[-1]))


class OwnCluster:
    """A Redis Cluster of its own: 3 masters with a replica each on free
    loopback ports (deploy/services.sh cluster-up, deploy/redis-cluster.sh) in
    `directory`.  `ports`, `seeds` (redis.cluster's value), `client` (a
    redis-py RedisCluster), `masters()`, `kill(port)`, stop()."""

    def __init__(self, directory):
        from redis.cluster import RedisCluster
        self.base = free_cluster_base(6)
        self.ports = list(range(self.base, self.base + 6))
        self.directory = directory
        self._env = {"REDIS_CLUSTER_PORT": str(self.base),
                     "REDIS_CLUSTER_BUS_OFFSET": str(CLUSTER_BUS_OFFSET),
                     "REDIS_CLUSTER_DIR": directory}
        self.start()
        self.seeds = ",".join("127.0.0.1:%d" % p for p in self.ports[:3])
        self.client = RedisCluster(host="127.0.0.1", port=self.base, socket_timeout=10)

    def start(self):
        """Every node up (a node killed before comes back, as a replica of
        the master that took its place)."""
        run([os.path.join(ROOT, "deploy/services.sh"), "cluster-up"], env=self._env, timeout=180)

    def cli(self, port, *args, timeout=120):
        return run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), *args],
                   timeout=timeout).stdout.decode()

    def masters(self):
        """{port: [slot ranges]} of the masters, as CLUSTER NODES of a live node says."""
        for p in self.ports:
            try:
                out = self.cli(p, "CLUSTER", "NODES", timeout=10)
            except (Exception, pytest.fail.Exception):  # noqa: BLE001 - a node killed
                continue
            got = {}
            for line in out.splitlines():
                f = line.split()
                if "master" in f[2].split(",") and "fail" not in f[2]:
                    got[int(f[1].split("@")[0].rsplit(":", 1)[1])] = f[8:]
            return got
        pytest.fail("no node of the cluster answers")

    def replica_of(self, port):
        """The port of a replica of the master at port."""
        out = self.cli(port, "CLUSTER", "NODES", timeout=10)
        rows = [line.split() for line in out.splitlines()]
        mid = next(r[0] for r in rows if "myself" in r[2].split(","))
        return next(int(r[1].split("@")[0].rsplit(":", 1)[1]) for r in rows
                    if "slave" in r[2].split(",") and r[3] == mid)

    def pid(self, port):
        with open(os.path.join(self.directory, str(port), "redis.pid")) as f:
            return int(f.read())

    def kill(self, port):
        os.kill(self.pid(port), signal.SIGKILL)

    def stop(self):
        run([os.path.join(ROOT, "deploy/services.sh"), "cluster-down"], env=self._env,
            timeout=120, check=False)


def ctl_redis_args(r, tmp):
    """loyaltyctl's options naming the Redis (or Redis Cluster) of client r:
    --redis HOST:PORT, or -c FILE with redis.cluster (and a password file
    for a client that has a password: never in argv)."""
    conf_lines = []
    args = []
    kw = getattr(r, "connection_pool", None)
    kw = kw.connection_kwargs if kw is not None else None
    if kw is None:  # a RedisCluster
        nodes = r.get_nodes()
        conf_lines.append("redis.cluster = %s" % ",".join(
            "%s:%d" % (n.host, n.port) for n in nodes))
        password = None
    else:
        args = ["--redis", "%s:%d" % (kw.get("host", "127.0.0.1"), kw.get("port", REDIS_PORT))]
        password = kw.get("password")
    if password:
        pw = os.path.join(tmp, "redis.password")
        with open(os.open(pw, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(password + "\n")
        conf_lines.append("redis.password_file = %s" % pw)
    if conf_lines:
        conf = os.path.join(tmp, "ctl.conf")
        with open(conf, "w") as f:
            f.write("\n".join(conf_lines) + "\n")
        args = ["-c", conf] + args
    return args


class OwnKafka:
    """A Kafka broker of its own (KRaft, broker and controller in one JVM) run
    by deploy/kafka.sh in `directory`, on free loopback ports: `port` (its
    PLAINTEXT listener), `bootstrap`, `pid()`, start() (formats the storage
    on the first start; a later start reuses the directory and the ports)
    and stop(sig): SIGTERM waits for a clean shutdown (deploy/kafka.sh stop),
    SIGKILL ends the JVM at once.  Before the first start, setup() can set it
    up otherwise (e.g. with a SASL_SSL listener)."""

    def __init__(self, directory):
        os.makedirs(directory, exist_ok=True)
        self.dir = directory
        self.port = free_port()
        self.controller_port = free_port()
        self.bootstrap = "127.0.0.1:%d" % self.port
        self.env = {"KAFKA_PORT": str(self.port), "KAFKA_CONTROLLER_PORT": str(self.controller_port),
                    "KAFKA_DIR": directory, "KAFKA_HEAP_OPTS": "-Xms128m -Xmx384m",
                    "KAFKA_START_TIMEOUT": "90"}
        self._script = os.path.join(ROOT, "deploy/kafka.sh")

    def setup(self, server_extra=(), format_args=(), admin_bootstrap=None, admin_extra=()):
        """server_extra: lines appended to server.properties (they replace
        keys set before them); format_args: more arguments of the storage
        format (e.g. --add-scram ...); admin_bootstrap and admin_extra: the
        address and more client properties of deploy/kafka.sh's admin
        commands (the topics, the readiness check)."""
        if server_extra:
            self.env["KAFKA_SERVER_EXTRA"] = self._write("server-extra.properties", server_extra)
        if format_args:
            self.env["KAFKA_FORMAT_ARGS"] = " ".join(format_args)
        if admin_bootstrap:
            self.env["KAFKA_BOOTSTRAP"] = admin_bootstrap
        if admin_extra:
            self.env["KAFKA_ADMIN_EXTRA"] = self._write("admin-extra.properties", admin_extra)

    def _write(self, name, lines):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write("".join(line + "\n" for line in lines))
        return path

    def start(self):
        t0 = time.monotonic()
        run([self._script, "start"], env=self.env, timeout=150)
        log("own broker on %s up in %.1f s" % (self.bootstrap, time.monotonic() - t0))

    def pid(self):
        try:
            with open(os.path.join(self.dir, "kafka.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def stop(self, sig=signal.SIGTERM, check=True):
        if sig == signal.SIGTERM:
            run([self._script, "stop"], env=self.env, timeout=60, check=check)
            return
        pid = self.pid()
        if pid is None:
            return
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return

        def gone():
            try:
                with open("/proc/%d/stat" % pid) as f:
                    return f.read().rsplit(") ", 1)[1].startswith("Z")
            except OSError:
                return True
        wait_for("broker pid %d to end" % pid, gone, 30)

    def topics(self, prefix, *names):
        """deploy/kafka.sh topics on this broker: the standard topics and names."""
        run([self._script, "topics", *names], env=dict(self.env, TOPIC_PREFIX=prefix), timeout=120)

    def delete_topics(self, prefix, *names):
        run([self._script, "delete-topics", *names], env=dict(self.env, TOPIC_PREFIX=prefix),
            timeout=60)


@contextlib.contextmanager
def own_kafka_for(env, directory, setup=None):
    """An OwnKafka started for env's test (setup(broker) first, if given):
    while it runs, env's topics are created on it and feed, drain and new
    daemons (kafka.bootstrap.servers) use its PLAINTEXT listener; stopped
    (SIGKILL, it is thrown away) at the end."""
    k = OwnKafka(directory)
    if setup:
        setup(k)
    saved = globals()["BROKERS"], env.kafka_env
    k.start()
    globals()["BROKERS"] = k.bootstrap
    env.kafka_env = k.env
    try:
        yield k
    finally:
        globals()["BROKERS"] = saved[0]
        env.kafka_env = None  # its topics go with it
        for d in env.daemons:  # none left talking to a broker that is going
            d.kill_quietly()
        k.stop(signal.SIGKILL)


@pytest.fixture
def own_kafka(env, tmp_path):
    """A plain OwnKafka in the test's tmp_path, started, used by env (see
    own_kafka_for); stopped at teardown."""
    with own_kafka_for(env, str(tmp_path / "own-kafka")) as k:
        yield k


# ---- metrics ------------------------------------------------------------------------------

_metric_rx = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$')
_label_rx = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


class Metrics:
    def __init__(self, text):
        self.samples = []
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            m = _metric_rx.match(line)
            if m:
                labels = dict(_label_rx.findall(m.group(2) or ""))
                self.samples.append((m.group(1), labels, float(m.group(3))))

    def get(self, name, **labels):
        """Sum of the samples of `name` whose labels include `labels`."""
        return sum(v for n, l, v in self.samples
                   if n == name and all(l.get(k) == str(x) for k, x in labels.items()))

    def all(self, name):
        return [(l, v) for n, l, v in self.samples if n == name]

    def names(self):
        return {n for n, _, _ in self.samples}

    def consumed(self):
        return self.get("loyaltyd_consumed_total")

    def processed(self):
        """Consumed messages done with: applied, skipped, dead-lettered, or
        given up with a revoked partition (its next owner reads them again)."""
        return (self.get("loyaltyd_applied_total") + self.get("loyaltyd_duplicates_skipped_total")
                + self.get("loyaltyd_dead_lettered_total")
                + self.get("loyaltyd_revoked_unapplied_total"))

    def dead_by_reason(self):
        return {l["reason"]: v for l, v in self.all("loyaltyd_dead_lettered_total") if v}

    def lags(self, topic_prefix):
        return {(l["topic"], l["partition"]): v for l, v in self.all("loyaltyd_consumer_lag")
                if l.get("topic", "").startswith(topic_prefix)}


def http_get(port, path, timeout=5):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=timeout) as f:
            return f.status, f.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, OSError) as e:
        return None, str(e)


# ---- the daemon --------------------------------------------------------------------------

class Daemon:
    """A loyaltyd process with its own config file and stderr log."""

    _n = itertools.count()

    def __init__(self, env, name, redis_prefix, group, overrides):
        self.env = env
        self.name = name
        self.redis_prefix = redis_prefix
        self.group = group
        self.port = free_port()
        self.binary = LOYALTYD
        self.proc = None
        self.starts = 0
        self.stderr_path = None
        self.conf = {
            "topic.orders": env.topic("orders"),
            "topic.reviews": env.topic("reviews"),
            "topic.messages": env.topic("messages"),
            "topic.churn_risk": env.topic("loyalty.churn-risk"),
            "topic.rewards": env.topic("loyalty.rewards"),
            "topic.segments": env.topic("loyalty.segments"),
            "topic.dlq": env.topic("loyalty.dlq"),
            "group.id": group,
            "redis.host": "127.0.0.1",
            "redis.port": str(REDIS_PORT),
            "redis.prefix": redis_prefix,
            "http.listen": "127.0.0.1:%d" % self.port,
            "log.level": "info",
            # The sweeper re-evaluates customers at wall-clock moments; off,
            # so the state is a function of the input alone.
            "sweep.interval_s": "0",
            "limits.max_message_bytes": "65536",
            "dlq.max_payload_bytes": "2048",
            "kafka.bootstrap.servers": BROKERS,
            # Fresher lag figures and commits, faster failure detection.
            "kafka.consumer.statistics.interval.ms": "1000",
            "kafka.consumer.auto.commit.interval.ms": "1000",
            "kafka.consumer.session.timeout.ms": "6000",
            "kafka.consumer.heartbeat.interval.ms": "1000",
        }
        self.conf.update({k: str(v) for k, v in overrides.items() if v is not None})
        for k in [k for k, v in overrides.items() if v is None]:
            self.conf.pop(k, None)
        self.config_path = os.path.join(str(env.workdir), "%s.conf" % name)

    def write_config(self):
        with open(self.config_path, "w") as f:
            f.write("# generated by tests/integration/conftest.py\n")
            for k, v in self.conf.items():
                f.write("%s = %s\n" % (k, v))

    def start(self, wait_ready=True, timeout=60, extra_env=None):
        assert not self.alive(), "daemon %s already running" % self.name
        self.write_config()
        self.starts += 1
        self.stderr_path = os.path.join(str(self.env.workdir), "%s.%d.stderr" % (self.name, self.starts))
        self._err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen([self.binary, "-c", self.config_path], stdout=subprocess.DEVNULL,
                                     stderr=self._err, cwd=ROOT,
                                     env=dict(os.environ, **(extra_env or {})))
        if wait_ready:
            self.wait_ready(timeout)
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def get(self, path):
        return http_get(self.port, path)

    def metrics(self):
        st, body = self.get("/metrics")
        if st != 200:
            pytest.fail("daemon %s: /metrics answered %s: %s\n%s" % (self.name, st, body[:200],
                                                                    self.stderr_tail()))
        return Metrics(body)

    def wait_ready(self, timeout=60):
        def ready():
            if not self.alive():
                pytest.fail("daemon %s exited with %s during start-up\n%s" % (
                    self.name, self.proc.returncode, self.stderr_tail()))
            return self.get("/ready")[0] == 200
        wait_for("daemon %s /ready" % self.name, ready, timeout)

    def live_metrics(self):
        """/metrics, failing the test if the daemon has died."""
        if not self.alive():
            pytest.fail("daemon %s died (exit %s)\n%s" % (self.name, self.proc.returncode,
                                                         self.stderr_tail()))
        return self.metrics()

    def wait_caught_up(self, expected=None, timeout=180, partitions=12):
        """Until everything produced was handled and committed: the consumed
        counter equals `expected` (if given) and applied + duplicates +
        dead-lettered equals it, and the consumer lag (from the committed
        offsets) is 0 on at least `partitions` input partitions."""
        state = {}

        def done():
            m = self.live_metrics()
            lags = m.lags(self.env.topic_prefix)
            state.update(consumed=m.consumed(), processed=m.processed(), lags=lags)
            if expected is not None and (m.consumed() != expected or m.processed() != expected):
                return None
            if m.processed() != m.consumed():
                return None
            if len(lags) < partitions or any(v != 0 for v in lags.values()):
                return None
            return m
        t0 = time.monotonic()
        deadline = time.monotonic() + timeout
        while True:
            m = done()
            if m:
                log("daemon %s caught up: %d consumed in %.1f s" % (self.name, m.consumed(),
                                                                     time.monotonic() - t0))
                return m
            if time.monotonic() > deadline:
                pytest.fail("daemon %s not caught up after %d s (expected %s): %s\n%s" % (
                    self.name, timeout, expected, state, self.stderr_tail()))
            time.sleep(0.3)

    def wait_timers_fired(self, timeout=60):
        """Until the sweeper has fired every due timer its tasks' timer clocks
        have passed (docs/model.md "Timers"): two sweeper passes ended since
        the call (the second began after it), then every task reports no
        overdue timer."""
        runs0 = self.metrics().get("loyaltyd_sweeper_runs_total")
        state = {}

        def done():
            m = self.live_metrics()
            over = m.all("loyaltyd_timers_overdue")
            state.update(runs=m.get("loyaltyd_sweeper_runs_total") - runs0, overdue=over)
            return (m.get("loyaltyd_sweeper_runs_total") >= runs0 + 2 and over
                    and all(v == 0 for _, v in over))
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                pytest.fail("daemon %s: due timers not fired after %d s: %s" % (
                    self.name, timeout, state))
            time.sleep(0.2)

    def sigterm(self, timeout=30):
        """SIGTERM; returns the exit code and the seconds it took."""
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            pytest.fail("daemon %s did not exit within %d s of SIGTERM\n%s" % (
                self.name, timeout, self.stderr_tail()))
        return rc, time.monotonic() - t0

    def stop(self, timeout=30):
        rc, took = self.sigterm(timeout)
        assert rc == 0, "daemon %s exited %s on SIGTERM\n%s" % (self.name, rc, self.stderr_tail())
        return took

    def sigkill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def kill_quietly(self):
        if self.alive():
            self.proc.kill()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass

    def stderr_tail(self, n=60):
        if not self.stderr_path or not os.path.exists(self.stderr_path):
            return ""
        with open(self.stderr_path, "rb") as f:
            lines = f.read().decode(errors="replace").splitlines()
        return "---- %s (last %d lines) ----\n%s" % (self.stderr_path, n, "\n".join(lines[-n:]))

    def dump_stderr(self):
        for i in range(1, self.starts + 1):
            p = os.path.join(str(self.env.workdir), "%s.%d.stderr" % (self.name, i))
            if os.path.exists(p):
                with open(p, "rb") as f:
                    lines = f.read().decode(errors="replace").splitlines()
                print("---- stderr of daemon %s, start %d: %s (last 80 lines) ----" % (self.name, i, p))
                print("\n".join(lines[-80:]))
