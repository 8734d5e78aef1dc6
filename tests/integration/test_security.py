"""The daemon as a Redis ACL user with the least privilege of
deploy/redis-acl.conf: it may not load the function library, so an
administrator loads it with `loyaltyctl functions`.  Until then the daemon is
up, not ready and says what to do; afterwards it applies every event, with
the exact end state, and stores nothing outside its prefix."""
import os
import subprocess

from checks import check_state
from conftest import LOYALTYCTL, ROOT, feed_parallel, wait_for
from workload import TOPICS, Workload


def acl_rules(prefix):
    """The rule of deploy/redis-acl.conf for `prefix`, as ACL SETUSER arguments."""
    with open(os.path.join(ROOT, "deploy/redis-acl.conf")) as f:
        line = next(l for l in f if l.startswith("user "))
    rules = line.split()[2:]
    assert "~loyalty:*" in rules
    return ["~%s*" % prefix if r == "~loyalty:*" else r for r in rules]


def ctl(port, prefix, *args, conf=None):
    cmd = [LOYALTYCTL] + (["-c", conf] if conf else []) + [
        "--redis", "127.0.0.1:%d" % port, "--prefix", prefix, *args]
    p = subprocess.run(cmd, capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def test_least_privilege_user(env, own_redis, tmp_path):
    r = own_redis.client
    r.execute_command("ACL", "SETUSER", "lyd", "reset", *acl_rules(env.redis_prefix),
                      ">it-secret")
    pw = tmp_path / "redis.pw"
    pw.write_text("it-secret\n")
    conf = {"redis.port": own_redis.port, "redis.user": "lyd",
            "redis.password_file": str(pw), "redis.timeout_ms": 1000}

    # The user cannot load the library, and Redis does not hold it.
    r.function_flush()
    w = Workload(seed=41, customers=30)
    env.create_topics()
    feed_parallel({env.topic(t): w.lines[t] for t in TOPICS})
    d = env.daemon(**conf).start(wait_ready=False)

    def told():
        assert d.alive(), d.stderr_tail()
        return "with `loyaltyctl functions`" in d.stderr_tail(400)
    wait_for("the missing library explained", told, 30)
    assert "NOPERM" in d.stderr_tail(400)
    assert d.get("/ready")[0] == 503
    assert d.metrics().processed() == 0

    # The same user through loyaltyctl cannot load it either.
    ctl_conf = tmp_path / "ctl.conf"
    ctl_conf.write_text("redis.user = lyd\nredis.password_file = %s\n" % pw)
    rc, _, err = ctl(own_redis.port, env.redis_prefix, "functions", conf=str(ctl_conf))
    assert rc == 1 and "NOPERM" in err and "loyaltyctl functions" in err, (rc, err)
    # An administrator (the default user) can; the daemon goes on by itself.
    rc, out, err = ctl(own_redis.port, env.redis_prefix, "functions")
    assert rc == 0 and "loaded" in out, (rc, out, err)
    wait_for("/ready 200", lambda: d.get("/ready")[0] == 200, 60)
    d.wait_caught_up(w.total())
    check_state(r, env.redis_prefix, w)
    assert all(k.decode().startswith(env.redis_prefix) for k in r.keys("*")), r.keys("*")

    # A wrong password is refused and counted as an auth failure.
    d.stop()
    pw.write_text("wrong\n")
    d2 = env.daemon(name="d2", group=d.group, **conf).start(wait_ready=False)
    wait_for("the wrong password reported", lambda: "WRONGPASS" in d2.stderr_tail(200), 30)
    wait_for("the auth failure counted",
             lambda: d2.get("/ready")[0] == 503 and d2.live_metrics().get(
                 "loyaltyd_redis_errors_total", reason="auth") > 0, 30)
    d2.stop()
