"""The CDNOW calibration period replayed through Kafka; the BG/NBD fit from
the daemon's state must reproduce the published parameters."""
import os
import re
import subprocess
import sys

import pytest

from conftest import LOYALTYCTL, REDIS_PORT, ROOT, feed, log, need_ctl

PUBLISHED = {"r": 0.242593, "alpha": 4.413532, "a": 0.792886, "b": 2.425754}


def cdnow_file():
    p = os.environ.get("CDNOW_SAMPLE") or os.path.join(ROOT, "data", "cdnow", "CDNOW_sample.txt")
    if not os.path.exists(p):
        pytest.fail("CDNOW sample not found at %s" % p, pytrace=False)
    return p


def ctl(env, *args):
    p = subprocess.run([LOYALTYCTL, "--redis", "127.0.0.1:%d" % REDIS_PORT, "--prefix", env.redis_prefix,
                        *args], capture_output=True, timeout=120)
    out, err = p.stdout.decode(), p.stderr.decode()
    assert p.returncode == 0, "loyaltyctl %s: exit %d\n%s\n%s" % (" ".join(args), p.returncode, out, err)
    return out, err


def params(text):
    line = next((l for l in text.splitlines() if l.startswith("bgnbd ")), "")
    got = dict(re.findall(r"(\w+)=([-0-9.e+]+)", line))
    assert all(k in got for k in PUBLISHED), "no BG/NBD parameters in:\n%s" % text
    return {k: float(v) for k, v in got.items()}


def test_cdnow_replay(env, tmp_path):
    need_ctl()
    out = tmp_path / "events"
    p = subprocess.run([sys.executable, os.path.join(ROOT, "deploy/sample-events.py"), "--cdnow", cdnow_file(),
                        "--out", str(out), "--orders-only", "--until", "1997-09-30", "--customers", "100000"],
                       capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr.decode()
    lines = []
    with open(out / "orders.txt", "rb") as f:
        for line in f:
            key, _, value = line.rstrip(b"\n").partition(b"\t")
            lines.append((key.decode(), value))
    assert len({k for k, _ in lines}) == 2357
    env.create_topics()
    feed(env.topic("orders"), lines)
    d = env.daemon(clock="stream").start()
    m = d.wait_caught_up(len(lines), partitions=4)  # only the orders topic has data
    assert m.get("loyaltyd_applied_total") == len(lines)
    d.stop()

    text, err = ctl(env, "fit", "--from-redis", "--as-of", "1997-09-30", "--unit", "weeks")
    log("fit: %s" % text.strip().replace("\n", " | "))
    got = params(text)
    n = re.search(r"\bn=(\d+)", text.splitlines()[0])
    assert n and int(n.group(1)) == 2357, text
    for k, v in PUBLISHED.items():
        assert round(got[k], 3) == round(v, 3) and abs(got[k] - v) < 1e-3, (
            "%s=%s, published %s\n%s" % (k, got[k], v, text))

    ctl(env, "fit", "--from-redis", "--as-of", "1997-09-30", "--unit", "weeks", "--save")
    shown, _ = ctl(env, "model")
    saved = params(shown)
    for k in PUBLISHED:
        assert abs(saved[k] - got[k]) < 1e-6, (k, saved[k], got[k], shown)
