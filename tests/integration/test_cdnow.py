"""The CDNOW calibration period replayed through Kafka; the BG/NBD fit from
the daemon's state must reproduce the published parameters.  The orders are
in USD and the daemon reports in USD (money.currency), with no exchange rate
stored: an order in the reporting currency needs none."""
import re

from conftest import cdnow_file, cdnow_order_lines, ctl_run, feed, log, need_ctl

PUBLISHED = {"r": 0.242593, "alpha": 4.413532, "a": 0.792886, "b": 2.425754}


def ctl(env, *args):
    rc, out, err = ctl_run(env, *args, timeout=120)
    assert rc == 0, "loyaltyctl %s: exit %d\n%s\n%s" % (" ".join(args), rc, out, err)
    return out, err


def params(text):
    line = next((l for l in text.splitlines() if l.startswith("bgnbd ")), "")
    got = dict(re.findall(r"(\w+)=([-0-9.e+]+)", line))
    assert all(k in got for k in PUBLISHED), "no BG/NBD parameters in:\n%s" % text
    return {k: float(v) for k, v in got.items()}


def test_cdnow_replay(env, tmp_path):
    need_ctl()
    lines = cdnow_order_lines(tmp_path, "1997-09-30")
    assert len({k for k, _ in lines}) == 2357
    env.create_topics()
    feed(env.topic("orders"), lines)
    d = env.daemon(clock="stream", **{"money.currency": "USD"}).start()
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
