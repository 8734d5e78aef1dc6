"""Command lines and configuration files: exit codes and messages."""
import os
import time
import subprocess

import pytest

from conftest import LOYALTYCTL, LOYALTYD, REDIS_PORT, ctl_run, customer_ids, need_ctl, wait_for


def run_bin(args, timeout=20):
    p = subprocess.run(args, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


GOOD = """# a valid configuration
topic.orders = orders
redis.port = %d
redis.prefix = it:cli:
kafka.bootstrap.servers = 127.0.0.1:1
""" % REDIS_PORT


@pytest.fixture
def conf(tmp_path):
    def write(text, name="loyaltyd.conf"):
        p = tmp_path / name
        p.write_text(text)
        return str(p)
    return write


def test_good_config(conf):
    path = conf(GOOD)
    rc, out, err = run_bin([LOYALTYD, "-t", "-c", path])
    assert rc == 0, err
    assert path in out


def test_bad_config(conf):
    """An unknown key or a bad value: exit 78 (EX_CONFIG) naming FILE:LINE."""
    path = conf("# comment\nredis.port = 16379\nno.such.key = 1\n")
    rc, out, err = run_bin([LOYALTYD, "-c", path])
    assert rc == 78, (rc, err)
    assert "%s:3:" % path in err and "no.such.key" in err, err

    path = conf("redis.host = 127.0.0.1\n\n# the port\nredis.port = 70000\n", "port.conf")
    rc, out, err = run_bin([LOYALTYD, "-t", "-c", path])
    assert rc == 78, (rc, err)
    assert "%s:4:" % path in err and "redis.port" in err, err

    for line, what in (("clock = sometimes", "clock"), ("limits.max_amount = lots", "limits.max_amount"),
                       ("just a line without equals sign", "key = value"),
                       ("model.no_such_model_key = 3", "model.no_such_model_key")):
        path = conf(GOOD + line + "\n", "x.conf")
        rc, out, err = run_bin([LOYALTYD, "-t", "-c", path])
        assert rc == 78, (line, rc, err)
        assert "%s:6:" % path in err and what in err, (line, err)

    rc, out, err = run_bin([LOYALTYD, "-t", "-c", "/nonexistent/loyaltyd.conf"])
    assert rc == 78, (rc, err)
    assert "/nonexistent/loyaltyd.conf" in err


def test_help_config_is_a_valid_config(conf, tmp_path):
    rc, out, err = run_bin([LOYALTYD, "--help-config"])
    assert rc == 0, err
    assert "redis.prefix" in out and "kafka.bootstrap.servers" in out
    rc, out2, err = run_bin([LOYALTYD, "-t", "-c", conf(out, "described.conf")])
    assert rc == 0, "--help-config output is not accepted by -t: %s" % err


def test_bad_cli(conf):
    """Bad arguments: exit 2 with the usage on stderr."""
    for args in (["--bogus"], [], ["-t"], ["-c"], ["-c", conf(GOOD), "extra"]):
        rc, out, err = run_bin([LOYALTYD] + args)
        assert rc == 2, (args, rc, err)
        assert "usage: loyaltyd" in err, (args, err)
    rc, out, err = run_bin([LOYALTYD, "--help"])
    assert rc == 0 and "usage: loyaltyd" in out
    rc, out, err = run_bin([LOYALTYD, "--version"])
    assert rc == 0 and out.startswith("loyaltyd ")


def test_loyaltyctl_bad_args():
    need_ctl()
    redis = ["--redis", "127.0.0.1:%d" % REDIS_PORT, "--prefix", "it:cli:"]
    for args in ([], ["--bogus"], ["frobnicate"], ["show"], ["show", "a", "b"], ["fit"],
                 ["fit", "--from-redis", "--input", "x"], ["fit", "--from-redis", "--unit", "years"],
                 ["fit", "--from-redis", "--as-of", "1997-13-45"],
                 ["fit", "--input", "x", "--format", "csv"], redis + ["top", "--by", "height"],
                 redis + ["top", "-n", "0"], ["--redis", "nocolon", "model"], ["validate"],
                 ["validate", "--calibration-end", "1997-09-30"],
                 ["validate", "--calibration-end", "1997-09-30", "--input", "x", "--format", "cdnow-summary"],
                 ["validate", "--calibration-end", "1997-09-30", "--from-redis", "--holdout-end", "1997-10-14"]):
        rc, out, err = run_bin([LOYALTYCTL] + args)
        assert rc == 2, (args, rc, out, err)
        assert "usage: loyaltyctl" in err, (args, err)
    rc, out, err = run_bin([LOYALTYCTL, "--help"])
    assert rc == 0 and "usage: loyaltyctl" in out


@pytest.mark.parametrize("line", ["kafka.no.such.property = 1", "http.listen = nonsense"])
def test_config_refused_by_t_as_at_start(conf, line):
    """What the daemon would refuse at start-up, -t refuses too, with 78."""
    path = conf(GOOD + line + "\n", "late.conf")
    rc, out, err = run_bin([LOYALTYD, "-t", "-c", path])
    assert rc == 78, (rc, out, err)
    assert "%s:6:" % path in err


@pytest.mark.parametrize("lines,at,why", [
    ("redis.prefix = shop1:  # tenant\n", 6, "a '#' after the value"),
    ("group.id =\n", 6, "group.id: must not be empty"),
    ("redis.prefix = other:\n", 6, "redis.prefix is already set on line 4"),
    ("topic.dlq = orders\n", None, "topic.orders and topic.dlq are the same topic"),
])
def test_config_traps_refused(conf, lines, at, why):
    """A value that would silently do the wrong thing stops the start."""
    path = conf(GOOD + lines, "trap.conf")
    rc, out, err = run_bin([LOYALTYD, "-t", "-c", path])
    assert rc == 78, (rc, out, err)
    assert why in err, err
    assert ("%s:%d:" % (path, at) if at else "%s:" % path) in err, err


def test_quoted_value_keeps_its_hash(conf):
    rc, out, err = run_bin([LOYALTYD, "-t", "-c", conf(GOOD.replace(
        "redis.prefix = it:cli:", 'redis.prefix = "it:cli #2:"  # the second shop'))])
    assert rc == 0, err


def test_loyaltyctl_says_what_is_not_there(services):
    """A mistyped prefix or customer is an error, not an empty answer."""
    need_ctl()
    rc, out, err = run_bin([LOYALTYCTL, "--version"])
    assert rc == 0 and out.startswith("loyaltyctl "), (rc, out, err)
    redis = ["--redis", "127.0.0.1:%d" % REDIS_PORT, "--prefix", "it:cli-nothing-%d:" % os.getpid()]
    rc, out, err = run_bin([LOYALTYCTL] + redis + ["top"])
    assert rc == 1 and "no customers under prefix 'it:cli-nothing-" in err, (rc, out, err)
    rc, out, err = run_bin([LOYALTYCTL] + redis + ["delete", "cust-nobody"])
    assert rc == 1 and "no customer 'cust-nobody'" in err and "deleted" not in out, (rc, out, err)


def test_loyaltyctl_delete_removes_every_trace(services):
    """delete takes the hash, state, aux and outbox, every index entry and the due
    entry of the customer's partition, and leaves other customers alone."""
    need_ctl()
    import redis
    prefix = "it:cli-del-%d:" % os.getpid()
    r = redis.Redis(port=REDIS_PORT, decode_responses=True)
    try:
        for cid, part in (("cust-a", 3), ("cust-b", 1)):
            r.hset(prefix + "c:{%s}" % cid, mapping={"rev": 1, "partition": part})
            r.set(prefix + "c:{%s}:aux" % cid, "x")
            r.set(prefix + "c:{%s}:state" % cid, "x")
            r.hset(prefix + "c:{%s}:outbox" % cid, "e1", "rewards\t{}")
            for name in ("risk", "loyalty", "clv", "value"):
                r.zadd(prefix + "t:{%d}:idx:%s" % (part, name), {cid: 1.0})
            r.zadd(prefix + "t:{%d}:due" % part, {cid: 5})
        rc, out, err = run_bin([LOYALTYCTL, "--redis", "127.0.0.1:%d" % REDIS_PORT, "--prefix", prefix,
                                "delete", "cust-a"])
        assert rc == 0 and out.strip() == "deleted cust-a", (rc, out, err)
        left = sorted(k for k in r.scan_iter(prefix + "*") if "cust-a" in k)
        assert left == [], left
        for name in ("risk", "loyalty", "clv", "value"):
            assert r.zscore(prefix + "t:{3}:idx:" + name, "cust-a") is None
            assert r.zscore(prefix + "t:{1}:idx:" + name, "cust-b") == 1.0
        assert r.zscore(prefix + "t:{3}:due", "cust-a") is None
        assert r.zscore(prefix + "t:{1}:due", "cust-b") == 5
        assert r.exists(prefix + "c:{cust-b}") == 1
    finally:
        for k in r.scan_iter(prefix + "*"):
            r.delete(k)


def ranked(members):
    """(customer, score) by score, highest first, equal scores by customer
    id from the greatest (as ZRANGE ... REV orders them)."""
    by_id = sorted(members.items(), key=lambda kv: kv[0], reverse=True)
    return sorted(by_id, key=lambda kv: -kv[1])


def test_top_merges_the_tasks_indices(services):
    """top reads every task's index (`t:{N}:idx:KIND`) and merges them by
    score, equal scores by customer id as Redis orders them; a customer left
    in two tasks' indices is listed once, with its higher score."""
    need_ctl()
    import json
    import redis
    prefix = "it:cli-top-%d:" % os.getpid()
    r = redis.Redis(port=REDIS_PORT, decode_responses=True)
    risk = {1: {"a": 0.9, "c": 0.5, "e": 0.1}, 2: {"b": 0.9, "d": 0.7, "e": 0.3},
            11: {"f": 0.8}}
    try:
        for task, members in risk.items():
            r.zadd(prefix + "t:{%d}:idx:risk" % task, members)
            for cid in members:
                r.hset(prefix + "c:{%s}" % cid, mapping={"rev": 1, "partition": task})
        r.zadd(prefix + "idx:risk", {"z-old-key-ignored": 5.0})
        r.zadd(prefix + "t:{x}:idx:risk", {"z-not-a-task": 5.0})
        base = [LOYALTYCTL, "--redis", "127.0.0.1:%d" % REDIS_PORT, "--prefix", prefix, "--json"]
        want = [("b", 0.9), ("a", 0.9), ("f", 0.8), ("d", 0.7), ("c", 0.5), ("e", 0.3)]
        for n in (1, 2, 3, 4, 6, 50):
            rc, out, err = run_bin(base + ["top", "--by", "risk", "-n", str(n)])
            assert rc == 0, (rc, out, err)
            got = [(x["customer_id"], x["score"]) for x in json.loads(out)["top"]]
            assert got == want[:n], (n, got)
        rc, out, err = run_bin(base + ["top", "--by", "value"])
        assert rc == 1 and "no customers under prefix" in err, (rc, out, err)
    finally:
        for k in r.scan_iter(prefix + "*"):
            r.delete(k)


def test_task_keys(env):
    """Each customer's index entries and due time are in the keys of its task
    (its summary's `partition`), the tasks' keys are spread over the
    partitions, nothing is written under the keys of the release before, and
    top lists the merge of all tasks' indices."""
    import json
    from conftest import dec, due_tasks, feed_workload, index_tasks
    from workload import Workload
    need_ctl()
    w = Workload(seed=83, customers=60)
    env.create_topics()
    feed_workload(env, w)
    d = env.daemon().start()
    d.wait_caught_up(w.total())
    d.stop()
    p = env.redis_prefix
    part = {c: int(env.r.hget(p + "c:{%s}" % c, "partition")) for c in customer_ids(env.r, p)}
    idx, due = index_tasks(env.r, p), due_tasks(env.r, p)
    assert set(idx) == {"risk", "value"}, sorted(idx)
    for name, tasks in idx.items():
        assert len(tasks) > 1, "%s: one task's key only: %s" % (name, sorted(tasks))
        for task, members in tasks.items():
            wrong = [c for c in members if part.get(c) != task]
            assert not wrong, "%s of task %d holds customers of others: %s" % (name, task, wrong[:5])
        assert sum(len(m) for m in tasks.values()) == len(part), name
    assert len(due) > 1 and sum(len(m) for m in due.values()) > 0, sorted(due)
    for task, members in due.items():
        wrong = [c for c in members if part.get(c) != task]
        assert not wrong, "due set of task %d holds customers of others: %s" % (task, wrong[:5])
    old = [dec(k) for k in env.r.scan_iter(match=p + "*", count=1000)
           if dec(k).startswith((p + "idx:", p + "due:"))]
    assert not old, old
    merged = {}
    for members in idx["risk"].values():
        merged.update(members)
    rc, out, err = ctl_run(env, "--json", "top", "--by", "risk", "-n", "25")
    assert rc == 0, (rc, out, err)
    got = [(x["customer_id"], x["score"]) for x in json.loads(out)["top"]]
    assert got == ranked(merged)[:25], got


def test_reload_names_what_waits_for_a_restart(env):
    """SIGHUP applies the log level and model.* in place and says which
    changed keys wait for a restart, instead of ignoring them silently."""
    import signal
    d = env.daemon("hup").start()
    d.conf["log.level"] = "debug"
    d.conf["redis.prefix"] = d.conf["redis.prefix"] + "moved:"
    d.write_config()
    d.proc.send_signal(signal.SIGHUP)

    def stderr():
        with open(d.stderr_path, errors="replace") as f:
            return f.read()
    text = wait_for("the reload logged", lambda: "reloaded" in stderr() and stderr(), 20,
                    interval=0.1)
    assert "not applied until a restart: redis.prefix" in text, text[-2000:]
    assert d.alive(), text[-2000:]
    m = d.metrics()
    assert m.get("loyaltyd_config_reloads_total", result="applied") == 1
    assert m.get("loyaltyd_config_reloads_total", result="refused") == 0
    assert m.get("loyaltyd_config_last_reload_successful") == 1
    reloaded_at = m.get("loyaltyd_config_last_reload_timestamp_seconds")
    assert time.time() - 60 < reloaded_at <= time.time()
    # A file that does not load is refused, and counted so.
    with open(d.config_path, "a") as f:
        f.write("redis.port = 70000\n")
    d.proc.send_signal(signal.SIGHUP)
    wait_for("the refused reload counted", lambda: d.metrics().get(
        "loyaltyd_config_reloads_total", result="refused") >= 1, 20, interval=0.1)
    m = d.metrics()
    assert m.get("loyaltyd_config_reloads_total", result="refused") == 1
    assert m.get("loyaltyd_config_last_reload_successful") == 0
    assert m.get("loyaltyd_config_last_reload_timestamp_seconds") >= reloaded_at
    assert d.alive()
    d.sigterm()


def test_log_lines_under_journald_and_elsewhere(conf, tmp_path):
    """An error at start-up carries error priority for journald (stderr is
    the stream JOURNAL_STREAM names) and a UTC timestamp and level elsewhere."""
    import re
    path = conf(GOOD + "group.id =\n", "empty.conf")
    err_file = tmp_path / "stderr"
    err_file.write_bytes(b"")
    st = os.stat(err_file)
    with open(err_file, "ab") as f:
        p = subprocess.run([LOYALTYD, "-t", "-c", path], stderr=f, timeout=20,
                           env=dict(os.environ, JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino)))
    assert p.returncode == 78
    line = err_file.read_text().splitlines()[0]
    assert line.startswith("<3>%s:6: group.id: must not be empty" % path), line
    rc, out, err = run_bin([LOYALTYD, "-t", "-c", path])
    assert rc == 78
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z error: %s:6: " % re.escape(path),
                    err), err


def test_json_log_lines(env):
    """log.format = json: every line the daemon writes is one JSON object
    with ts, level and msg."""
    import json
    import re
    d = env.daemon("jsonlog", **{"log.format": "json"}).start()
    d.sigterm()
    with open(d.stderr_path, errors="replace") as f:
        lines = [l for l in f.read().splitlines() if l.strip()]
    assert len(lines) >= 3, lines
    for l in lines:
        o = json.loads(l)
        assert set(o) == {"ts", "level", "msg"}, o
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", o["ts"]), o
        assert o["level"] in ("error", "warning", "notice", "info", "debug"), o
    assert any("running" in json.loads(l)["msg"] for l in lines), lines


def test_loyaltyctl_json(env):
    """Every command has --json (before or after the command): one document
    that says what the text says, checked against Redis itself."""
    import json
    from conftest import customer_hash, feed_workload, indices
    from workload import Workload
    need_ctl()
    w = Workload(seed=73, customers=40)
    env.create_topics()
    feed_workload(env, w)
    d = env.daemon().start()
    d.wait_caught_up(w.total())
    d.stop()
    ctl = [LOYALTYCTL, "--redis", "127.0.0.1:%d" % REDIS_PORT, "--prefix", env.redis_prefix]

    def doc(*args):
        rc, out, err = run_bin(ctl + list(args))
        assert rc == 0, (args, rc, err)
        assert len(out.splitlines()) == 1, out  # one document, one line
        return json.loads(out)

    by_value = indices(env.r, env.redis_prefix)["value"]
    top = doc("--json", "top", "--by", "value", "-n", "5")
    assert top["by"] == "value" and [r["rank"] for r in top["top"]] == [1, 2, 3, 4, 5]
    want = sorted(by_value.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    assert [r["score"] for r in top["top"]] == [s for _, s in want]
    assert doc("top", "-n", "5", "--by", "value", "--json") == top
    # An index the configuration does not keep is refused, not shown empty.
    rc, out, err = run_bin(ctl + ["top", "--by", "clv"])
    assert rc == 1 and "the clv index is not kept" in err and out == "", (rc, out, err)
    cid = top["top"][0]["customer_id"]

    dump = doc("dump", cid, "--json")
    assert dump["customer_id"] == cid and dump["layout"] == 4
    raw = {k.decode(): v.decode() for k, v in
           env.r.hgetall("%sc:{%s}" % (env.redis_prefix, cid)).items()}
    assert dump["summary"] == raw
    # The summary: a small hash an operator reads, in Redis's compact encoding.
    assert 10 <= len(raw) <= 20 and max(len(v) for v in raw.values()) <= 64, raw
    assert env.r.object("encoding", "%sc:{%s}" % (env.redis_prefix, cid)) in (b"listpack", "listpack")
    for name in ("tier", "segment", "churn_risk", "p_alive", "clv", "loyalty_score"):
        assert raw[name] == dump["fields"].get(name, raw[name]), name
    assert int(dump["fields"]["orders"]) >= 1 and dump["fields"]["rev"] == raw["rev"]
    two = doc("--json", "dump", cid, top["top"][1]["customer_id"])
    assert [d["customer_id"] for d in two] == [cid, top["top"][1]["customer_id"]]
    show = doc("--json", "show", cid)
    text = run_bin(ctl + ["show", cid])[1]
    assert show["customer_id"] == cid and show["lines"] == text.splitlines()
    # Tier limits and scales print as written, not as 1e+06.
    assert not [l for l in show["lines"] if "e+" in l], show["lines"]
    model = doc("model", "--json")
    assert set(model) == {"bgnbd", "gammagamma", "version"} and model["bgnbd"]["r"] > 0
    assert model["version"] == 0  # no fit saved under this prefix
    assert model["bgnbd"]["unit"] == "weeks" and model["gammagamma"]["gamma"] > 0
    assert doc("--json", "delete", cid) == {"deleted": cid}
    assert env.r.exists("%sc:{%s}" % (env.redis_prefix, cid)) == 0


def test_indices_configurable(env):
    """redis.indices chooses the sorted sets kept: those named are written
    and agree with the hashes, one no longer named is deleted at start, and
    loyaltyctl top reads a kept one through the same configuration."""
    import json
    from conftest import INDEX_FIELDS, customer_hash, feed_workload, indices
    from workload import Workload
    need_ctl()
    w = Workload(seed=79, customers=30)
    env.create_topics()
    feed_workload(env, w)
    d = env.daemon().start()  # the default: risk and value
    d.wait_caught_up(w.total())
    d.stop()
    assert set(indices(env.r, env.redis_prefix)) == {"risk", "value"}
    env.r.zadd(env.redis_prefix + "t:{0}:idx:loyalty", {"left-by-an-older-config": 1.0})
    d = env.daemon(name="d2", group=d.group, **{"redis.indices": "clv, loyalty"}).start()
    try:
        # At start the indices not kept are gone; the customers' next commits
        # (a rescore pass after the new configuration, here new events) fill
        # the kept ones.
        assert set(indices(env.r, env.redis_prefix)) <= {"clv", "loyalty"}
        more = Workload(seed=80, customers=30, id_prefix="more")
        feed_workload(env, more)
        d.wait_caught_up(more.total())
    finally:
        d.stop()
    idx = indices(env.r, env.redis_prefix)
    assert set(idx) == {"clv", "loyalty"}, sorted(idx)
    assert "left-by-an-older-config" in idx["loyalty"]  # a kept index is not rebuilt
    for cid in more.customers():
        h = customer_hash(env.r, env.redis_prefix, cid)
        for name in ("clv", "loyalty"):
            assert idx[name][cid] == float(h.get(INDEX_FIELDS[name], 0)), (cid, name)
    conf = os.path.join(str(env.workdir), "ctl-indices.conf")
    with open(conf, "w") as f:
        f.write("redis.port = %d\nredis.prefix = %s\nredis.indices = clv,loyalty\n" % (
            REDIS_PORT, env.redis_prefix))
    rc, out, err = run_bin([LOYALTYCTL, "-c", conf, "--json", "top", "--by", "clv", "-n", "3"])
    assert rc == 0, (rc, out, err)
    want = ranked(idx["clv"])[:3]
    assert [r["customer_id"] for r in json.loads(out)["top"]] == [c for c, _ in want]
    rc, out, err = run_bin([LOYALTYCTL, "-c", conf, "top", "--by", "risk"])
    assert rc == 1 and "the risk index is not kept" in err, (rc, out, err)
