"""Command lines and configuration files: exit codes and messages."""
import os
import subprocess

import pytest

from conftest import LOYALTYCTL, LOYALTYD, REDIS_PORT, need_ctl


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
                 redis + ["top", "-n", "0"], ["--redis", "nocolon", "model"]):
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
