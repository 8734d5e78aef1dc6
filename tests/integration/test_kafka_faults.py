"""The broker itself fails, on a broker of the test's own (conftest.py,
own_kafka): stopped (SIGTERM, SIGKILL) with derived events in flight and
started again; the dead-letter topic deleted while malformed messages keep
coming and created again; and the daemon on SASL_SSL with SCRAM-SHA-512
against a broker with a test CA.  The producer runs on the shipped settings
(idempotent, acks=all, no message timeout), the sweeper every second, and
each test ends with the exact end state, the dead-letter topic and the
milestones checked as test_redis_faults.py does."""
import os
import re
import signal
import subprocess
import threading
import time
import types

import pytest

from checks import (check_derived_records, check_dlq, check_milestones, check_state,
                    read_outputs, read_segments)
from conftest import KFEED, feed, feed_parallel, free_port, log, own_kafka_for, run, wait_for
from workload import TOPICS, Workload

CONF = {"clock": "stream", "sweep.interval_s": 1, "merge.max_idle_ms": 15000,
        "merge.grace_ms": 3000}


class OutageNotReported(AssertionError):
    """/ready or loyaltyd_kafka_up wrong while the broker is away."""


def check_end(env, d, w, newest, dlq_duplicates=False, dlq_workload=None,
              derived_duplicates=False):
    """Exact state (timers included), the DLQ (identical repeats only if
    dlq_duplicates), derived events each once (identical repeats only if
    derived_duplicates), every milestone once."""
    d.wait_timers_fired()
    check_state(env.r, env.redis_prefix, w, check_rev=False, timers_until=newest)
    check_dlq(env, dlq_workload or w, allow_duplicates=dlq_duplicates)
    rewards, churn = read_outputs(env)
    check_derived_records(rewards, churn, segments=read_segments(env),
                          allow_duplicates=derived_duplicates)
    check_milestones(w, rewards)


def fast_reregistration(k):
    """A broker SIGKILLed cannot register again before its old registration's
    session (broker.session.timeout.ms, 60 s in deploy/kafka.sh) ends, and
    gives up after 60 s: a shorter one for the restart."""
    k.setup(server_extra=["broker.session.timeout.ms=8000", "broker.heartbeat.interval.ms=1000"])


# Not strict, and only for the readiness check (raises= keeps every other
# failure, the end state or a repeat, a failure): the loop used to be caught
# waiting for acknowledgements with /ready left at 200 (fixed: producer_await
# judges readiness every 100 ms); a message fetched before the outage and
# consumed during it still sets loyaltyd_kafka_up to 1 for a moment, which
# could fall in the checked window.
@pytest.mark.xfail(strict=False, raises=OutageNotReported, reason=(
    "loyaltyd_kafka_up can read 1 for a moment while messages fetched before the outage "
    "are consumed"))
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_broker_restart_in_flight(env, tmp_path, sig):
    """The only broker stopped while the daemon publishes derived events,
    away ~10 s, started again on the same directory and ports: the daemon
    stays up, is not ready while it is away, resumes by itself; exact.
    The outage outlasts the consumer's session (session.timeout.ms 6 s
    here): the group drops the member, the commit at the revoke fails, and
    its partitions start again from the last committed offsets, so a
    malformed message dead-lettered since comes to the DLQ again, identical
    (same source position), as after any lost assignment.  The state is
    exact.  Derived events may come again too, identical (same id, same
    payload but emitted_at): a batch whose events were in flight when its
    partitions were revoked is decided again after the new assignment while
    the idempotent producer still retries the first copies (README,
    Guarantees; seen once in several runs, after SIGKILL)."""
    with own_kafka_for(env, str(tmp_path / "own-kafka"), setup=fast_reregistration) as k:
        broker_restart(env, k, sig)


def broker_restart(env, own_kafka, sig):
    w = Workload(seed=211 + (sig == signal.SIGKILL), customers=300)
    first, rest, newest = w.halves()
    env.create_topics()
    feed_parallel({env.topic(t): first[t] for t in TOPICS})
    d = env.daemon(**CONF).start()
    n_first = sum(len(v) for v in first.values())
    d.wait_caught_up(n_first)
    emitted0 = d.metrics().get("loyaltyd_emitted_total")

    feed_parallel({env.topic(t): rest[t] for t in TOPICS})
    # Once the daemon publishes events of the second half, the broker is
    # frozen (SIGSTOP) until some are certainly in flight, then stopped: on
    # SIGTERM it resumes to shut down in order, on SIGKILL it just ends.
    wait_for("derived events of the second half", lambda: d.live_metrics().get(
        "loyaltyd_emitted_total") > emitted0, 60, interval=0.05)
    pid = own_kafka.pid()
    os.kill(pid, signal.SIGSTOP)
    try:
        m = wait_for("derived events in flight", lambda: (lambda m: m.get(
            "loyaltyd_derived_in_flight") > 0 and m)(d.live_metrics()), 20, interval=0.05)
    finally:
        if sig == signal.SIGTERM:
            os.kill(pid, signal.SIGTERM)
        os.kill(pid, signal.SIGCONT)
    at_stop = m.get("loyaltyd_derived_in_flight")
    held = m.processed()
    # Judged at the stop: a broker stopped with SIGTERM first acknowledges
    # what it had, so the daemon may well finish the rest while it goes.
    assert held < w.total(), "everything was processed before the broker went: no fault"
    log("stopping the broker (%s): %d of %d processed, %d derived in flight" % (
        sig.name, m.processed(), w.total(), at_stop))
    t_down = time.monotonic()
    own_kafka.stop(sig)
    in_flight = [at_stop]

    # Away 10 s: alive and healthy throughout; /ready and loyaltyd_kafka_up
    # are sampled and judged at the end, after the end state.
    seen = []  # (s after the stop, /ready, loyaltyd_kafka_up)
    while time.monotonic() - t_down < 10:
        assert d.alive(), d.stderr_tail()
        assert d.get("/health")[0] == 200
        m = d.metrics()
        in_flight.append(m.get("loyaltyd_derived_in_flight"))
        seen.append((round(time.monotonic() - t_down, 1), d.get("/ready")[0],
                     m.get("loyaltyd_kafka_up")))
        time.sleep(0.4)
    log("(s after the stop, /ready, kafka_up): %s" % seen[::3])
    assert max(in_flight) > 0, "no derived event was in flight while the broker was away"
    log("broker away 10 s: up to %d derived events in flight, %d of %d processed" % (
        max(in_flight), held, w.total()))

    own_kafka.start()
    wait_for("/ready 200 again", lambda: d.live_metrics() and d.get("/ready")[0] == 200, 90)
    m = d.wait_caught_up(None)
    assert m.get("loyaltyd_applied_total") + m.get(
        "loyaltyd_duplicates_skipped_total") >= w.valid_count()
    assert m.get("loyaltyd_kafka_up") == 1
    check_end(env, d, w, newest, dlq_duplicates=True, derived_duplicates=True)
    d.stop()
    # README, Guarantees: "Kafka down: ... loyaltyd_kafka_up and the log say
    # so", and /ready answers 503 while an output topic with messages
    # waiting has acknowledged none for 5 s.  From 5 s after the stop on, both.
    late = [x for x in seen if x[0] >= 5.5]
    wrong = [x for x in late if x[1] != 503 or x[2] != 0]
    if not late or wrong:
        raise OutageNotReported(
            "with the broker away: /ready not 503 or loyaltyd_kafka_up not 0 from 5 s on: "
            "(s, /ready, kafka_up) %s" % (wrong or seen))


def flood(n, size=1500):
    """n malformed orders (invalid JSON, under dlq.max_payload_bytes):
    [(topic, key, raw, reason)] as Workload.bad has them."""
    out = []
    for i in range(n):
        key = "flood-%04d" % i
        raw = ('{"event_id":"f-%04d","customer_id":"%s","type":"order.placed","pad":"%s"' % (
            i, key, "z" * size)).encode()
        out.append(("orders", key, raw, "invalid_json"))
    return out


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"^VmRSS:\s+(\d+)", f.read(), re.M).group(1))


def test_dlq_topic_recreated(env, own_kafka):
    """The DLQ topic deleted mid-run while malformed messages keep arriving
    (README, Guarantees, "Outputs not taken": a topic that refuses writes)
    and created again 10 s later: the daemon stays up, pauses its input once
    the unacknowledged DLQ records pass output.max_pending_bytes (memory
    bounded), is not ready, and resumes by itself; every malformed message
    that came after the deletion is in the new topic (repeats identical
    only); what the old topic held went with it; nothing else changes: the
    state, the derived events and the milestones are exact."""
    w = Workload(seed=223, customers=120)
    first, rest, newest = w.halves()
    extra = flood(600)  # 600 x 1.5 kB, far over the 64 kB bound below
    env.create_topics()
    feed_parallel({env.topic(t): first[t] for t in TOPICS})
    d = env.daemon(**dict(CONF, **{"output.max_pending_bytes": 65536})).start()
    d.wait_caught_up(sum(len(v) for v in first.values()))
    rss0 = rss_kib(d.proc.pid)

    own_kafka.delete_topics(env.topic_prefix, "loyalty.dlq")
    t_del = time.monotonic()
    log("DLQ topic deleted")
    # The rest of the workload at once, the flood in slices of 50 a second.
    errors = []

    def feeder():
        try:
            feed_parallel({env.topic(t): rest[t] for t in TOPICS})
            lines = [(k, raw) for _, k, raw, _ in extra]
            for i in range(0, len(lines), 50):
                feed(env.topic("orders"), lines[i:i + 50])
                time.sleep(1)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)
    th = threading.Thread(target=feeder)
    th.start()

    def paused():
        m = d.live_metrics()
        return m.get("loyaltyd_paused") == 1 and d.get("/ready")[0] == 503
    wait_for("input paused and /ready 503 with the DLQ gone", paused, 30)
    assert "over output.max_pending_bytes" in d.stderr_tail(400), d.stderr_tail()
    # Held: nothing more consumed while the feed goes on.
    c0 = d.metrics().consumed()
    time.sleep(3)
    m = d.live_metrics()
    assert m.consumed() == c0, "input consumed while paused (%d -> %d)" % (c0, m.consumed())
    assert m.get("loyaltyd_paused") == 1
    rss = rss_kib(d.proc.pid)
    log("paused: %d consumed, %d dead-lettered, rss %d -> %d KiB" % (
        c0, m.get("loyaltyd_dead_lettered_total"), rss0, rss))
    # Under AddressSanitizer freed memory waits in its quarantine (256 MiB)
    # and RSS says nothing about the daemon's bound: judged on the plain build.
    if "ASAN_OPTIONS" not in os.environ:
        assert rss - rss0 < 16 * 1024, "memory grew by %d KiB with the DLQ gone" % (rss - rss0)
    assert d.get("/health")[0] == 200

    while time.monotonic() - t_del < 10:
        assert d.alive(), d.stderr_tail()
        time.sleep(0.5)
    own_kafka.topics(env.topic_prefix)  # creates what is missing: the DLQ
    log("DLQ topic created again")
    th.join(120)
    assert not errors, errors
    wait_for("/ready 200 again", lambda: d.live_metrics() and d.get("/ready")[0] == 200, 90)
    # Every message once: the pause dropped only what was fetched and not
    # handed over, which the resume fetched again.
    m = d.wait_caught_up(w.total() + len(extra), timeout=120)
    assert m.get("loyaltyd_paused") == 0

    # The DLQ records of the first half were acknowledged in the old topic
    # and went with it; every malformed message fed after the deletion is in
    # the new one.
    cut_keys = {k for t in TOPICS for k, _ in rest[t]}
    after = [b for b in w.bad if b[1] in cut_keys] + extra
    assert any(b[1] not in cut_keys for b in w.bad), "no malformed message before the cut"
    check_end(env, d, w, newest, dlq_duplicates=True,
              dlq_workload=types.SimpleNamespace(bad=after))
    d.stop()


# ---- SASL_SSL ------------------------------------------------------------------

def make_tls(directory):
    """A test CA and a broker certificate for 127.0.0.1 signed by it: (ca.pem,
    the broker's PEM keystore: key, certificate, CA)."""
    def ossl(*args):
        run(["openssl", *args], timeout=60)
    ca_key, ca = os.path.join(directory, "ca.key"), os.path.join(directory, "ca.pem")
    key, csr, crt = (os.path.join(directory, n) for n in ("broker.key", "broker.csr", "broker.pem"))
    ext = os.path.join(directory, "broker.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca,
         "-days", "2", "-subj", "/CN=loyaltyd test CA")
    ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
         "-subj", "/CN=127.0.0.1")
    ossl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
         "-out", crt, "-days", "2", "-extfile", ext)
    keystore = os.path.join(directory, "broker-keystore.pem")
    with open(keystore, "w") as out:
        for p in (key, crt, ca):
            with open(p) as f:
                out.write(f.read())
    return ca, keystore


USER, PASSWORD = "loyaltyd", "scram-pw-7Hq2x"
ADMIN, ADMIN_PASSWORD = "admin", "admin-pw-K3f9z"


def scram_jaas(user, password):
    return ('org.apache.kafka.common.security.scram.ScramLoginModule required '
            'username="%s" password="%s";' % (user, password))


def test_sasl_ssl_scram(env, tmp_path):
    """The daemon on a SASL_SSL listener only (SCRAM-SHA-512, the broker's
    certificate checked against a test CA, the password from a file): the
    workload flows and ends exact.  The same daemon with a wrong password
    is not ready, logs the authentication error and consumes nothing."""
    tls_dir = str(tmp_path / "tls")
    os.makedirs(tls_dir)
    ca, keystore = make_tls(tls_dir)
    sasl_port = {}

    def setup(k):
        sasl_port["port"] = p = free_port()
        k.setup(server_extra=[
            "listeners=PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d,SASL_SSL://127.0.0.1:%d"
            % (k.port, k.controller_port, p),
            "advertised.listeners=PLAINTEXT://127.0.0.1:%d,SASL_SSL://127.0.0.1:%d" % (k.port, p),
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,"
            "SASL_SSL:SASL_SSL",
            "sasl.enabled.mechanisms=SCRAM-SHA-512",
            "listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512",
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config="
            "org.apache.kafka.common.security.scram.ScramLoginModule required;",
            "listener.name.sasl_ssl.ssl.keystore.type=PEM",
            "listener.name.sasl_ssl.ssl.keystore.location=" + keystore,
            "listener.name.sasl_ssl.ssl.truststore.type=PEM",
            "listener.name.sasl_ssl.ssl.truststore.location=" + ca,
        ], format_args=[
            "--add-scram", "SCRAM-SHA-512=[name=%s,password=%s]" % (USER, PASSWORD),
            "--add-scram", "SCRAM-SHA-512=[name=%s,password=%s]" % (ADMIN, ADMIN_PASSWORD),
        ], admin_bootstrap="127.0.0.1:%d" % p, admin_extra=[
            "security.protocol=SASL_SSL",
            "sasl.mechanism=SCRAM-SHA-512",
            "sasl.jaas.config=" + scram_jaas(ADMIN, ADMIN_PASSWORD),
            "ssl.truststore.type=PEM",
            "ssl.truststore.location=" + ca,
        ])

    with own_kafka_for(env, str(tmp_path / "own-kafka"), setup=setup) as k:
        sasl = "127.0.0.1:%d" % sasl_port["port"]
        # The topics through the admin client on SASL_SSL (deploy/kafka.sh,
        # admin.properties with KAFKA_ADMIN_EXTRA).
        env.create_topics()
        w = Workload(seed=227, customers=100)
        newest = max(ms for t in TOPICS for ms in w.stamps[t])
        # kfeed takes librdkafka properties (-X): it produces on SASL_SSL too.
        # kdrain has no such option: the checks drain the PLAINTEXT listener.
        client = ["-X", "security.protocol=SASL_SSL", "-X", "sasl.mechanisms=SCRAM-SHA-512",
                  "-X", "sasl.username=" + ADMIN, "-X", "sasl.password=" + ADMIN_PASSWORD,
                  "-X", "ssl.ca.location=" + ca]
        for t in TOPICS:
            data = b"".join(key.encode() + b"\t" + raw + b"\n" for key, raw in w.lines[t])
            run([KFEED, "-b", sasl, "-t", env.topic(t), *client], input=data, timeout=120)

        pw = str(tmp_path / "kafka.password")
        with open(os.open(pw, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(PASSWORD + "\n")
        auth = {"kafka.bootstrap.servers": sasl, "kafka.security.protocol": "SASL_SSL",
                "kafka.sasl.mechanisms": "SCRAM-SHA-512", "kafka.sasl.username": USER,
                "kafka.sasl.password_file": pw, "kafka.ssl.ca.location": ca}
        d = env.daemon(**dict(CONF, **auth)).start()
        d.wait_caught_up(w.total())
        # Its connections go to the SASL_SSL listener only.
        p = subprocess.run(["ss", "-Htnp", "state", "established"], capture_output=True,
                           timeout=10)
        peers = set(re.findall(r"127\.0\.0\.1:(\d+)\s+users:\(\(\"loyaltyd\",pid=%d," % d.proc.pid,
                               p.stdout.decode()))
        peers.discard(str(d.port))
        kafka_peers = peers & {str(k.port), str(sasl_port["port"])}
        assert kafka_peers == {str(sasl_port["port"])}, (
            "daemon connected to %s, expected only the SASL_SSL port %d (PLAINTEXT is %d)" % (
                sorted(peers), sasl_port["port"], k.port))
        check_end(env, d, w, newest)

        # A wrong password: not ready, the authentication error in its log,
        # nothing consumed.
        bad_pw = str(tmp_path / "kafka-wrong.password")
        with open(os.open(bad_pw, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(PASSWORD + "-wrong\n")
        bad = env.daemon(name="wrongpw", redis_prefix=env.redis_prefix + "wrong:",
                         **dict(CONF, **dict(auth, **{"kafka.sasl.password_file": bad_pw})))
        bad.start(wait_ready=False)
        wait_for("the authentication error in the log", lambda: bad.alive() and re.search(
            r"[Aa]uthentication failed|SASL authentication error", bad.stderr_tail(200)), 30)
        time.sleep(5)
        assert bad.alive(), bad.stderr_tail()
        assert bad.get("/ready")[0] == 503, "ready with a wrong password"
        m = bad.metrics()
        assert m.consumed() == 0 and m.get("loyaltyd_ready") == 0
        assert not env.r.keys(env.redis_prefix + "wrong:c:*"), "customers written with a wrong password"
        log("wrong password: %s" % [l for l in bad.stderr_tail(200).splitlines()
                                     if "uthentication" in l][:1])
        bad.kill_quietly()
        d.stop()
