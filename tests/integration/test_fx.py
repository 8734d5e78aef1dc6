"""`loyaltyctl fx import` and `loyaltyctl fx list` against the real Redis
(README, "Currencies and exchange rates"): the ECB-layout sample of
data/fx/ and a plain date,currency,rate file imported into the keys the
README documents, the rates in force on a day listed in text and JSON
against an independent reading of the files, a refused file (each kind of
refusal) leaving Redis exactly as it was, a changed rate refused unless
--replace, another base refused, and the usage errors.  Each test has a key
prefix of its own, deleted afterwards."""
import csv
import itertools
import json
import os
import subprocess
from datetime import date, timedelta
from decimal import Decimal

import pytest

from conftest import LOYALTYCTL, REDIS_PORT, ROOT, need_ctl

SAMPLE = os.path.join(ROOT, "data", "fx", "eurofxref-sample.csv")
_seq = itertools.count()


@pytest.fixture
def prefix(services):
    """A key prefix of the test's own; its keys are deleted afterwards."""
    need_ctl()
    import redis
    pfx = "it:fxtest-%d-%d:" % (os.getpid(), next(_seq))
    r = redis.Redis(port=REDIS_PORT, decode_responses=True)
    yield pfx
    for k in list(r.scan_iter(match=pfx + "*", count=1000)):
        r.delete(k)


@pytest.fixture
def r(services):
    import redis
    return redis.Redis(port=REDIS_PORT, decode_responses=True)


def ctl(prefix, *args):
    p = subprocess.run([LOYALTYCTL, "--redis", "127.0.0.1:%d" % REDIS_PORT, "--prefix", prefix,
                        *args], capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def snapshot(r, prefix):
    """Every key under the prefix with its type and whole value."""
    out = {}
    for k in r.scan_iter(match=prefix + "*", count=1000):
        t = r.type(k)
        out[k] = (t, r.hgetall(k) if t == "hash" else sorted(r.smembers(k)) if t == "set"
                  else r.get(k))
    return out


def ecb_quotes(path):
    """{currency: {date: Decimal}} of an ECB-layout file, read independently."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header = [h.strip() for h in rows[0]]
    out = {}
    for row in rows[1:]:
        if not row:
            continue
        d = date.fromisoformat(row[0].strip())
        for code, v in zip(header[1:], row[1:]):
            if code and v.strip() not in ("", "N/A"):
                out.setdefault(code, {})[d] = Decimal(v.strip())
    return out


def in_force(quotes, on=None):
    """{currency: (rate, since)} in force on a day (None: the latest)."""
    out = {}
    for code, by_day in quotes.items():
        days = [d for d in by_day if on is None or d <= on]
        if days:
            since = max(days)
            out[code] = (by_day[since], since)
    return out


def listed(prefix, *args):
    rc, out, err = ctl(prefix, "--json", "fx", "list", *args)
    assert rc == 0, (rc, out, err)
    doc = json.loads(out)
    return doc, {x["currency"]: (Decimal(x["rate"]), x["since"] and date.fromisoformat(x["since"]))
                 for x in doc["rates"]}


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_import_ecb_sample_and_list(prefix, r):
    rc, out, err = ctl(prefix, "fx", "import", SAMPLE)
    assert rc == 0, (rc, out, err)
    assert "27 rates of 3 currencies, 2024-01-02 to 2024-01-12" in out, out
    assert "imported: 27 new, 0 unchanged, 0 replaced; version 1" in out, out
    want = ecb_quotes(SAMPLE)
    # the keys of the README: one hash per currency, the base, the set, the version
    assert r.get(prefix + "{fx}:base") == "EUR"
    assert r.get(prefix + "{fx}:version") == "1"
    assert r.smembers(prefix + "{fx}:currencies") == {"USD", "JPY", "GBP"}
    for code, by_day in want.items():
        stored = r.hgetall(prefix + "{fx}:" + code)
        assert {date.fromisoformat(d): Decimal(v) for d, v in stored.items()} == by_day, code
    assert r.hget(prefix + "{fx}:JPY", "2024-01-05") == "158.41"
    assert r.hget(prefix + "{fx}:GBP", "2024-01-03") == "0.8634"  # 0.86340 without its zero

    # the latest rates, in text
    rc, out, err = ctl(prefix, "fx", "list")
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == "rates: units of each currency for 1 EUR, the latest; version 1", out
    assert lines[1].split() == ["currency", "rate", "since"]
    assert [l.split() for l in lines[2:]] == [["GBP", "0.85935", "2024-01-12"],
                                               ["JPY", "159.22", "2024-01-12"],
                                               ["USD", "1.0942", "2024-01-12"]]
    # and in JSON, on every day around the file's, against the independent reading
    doc, rates = listed(prefix)
    assert doc["base"] == "EUR" and doc["version"] == 1 and doc["on"] is None
    assert rates == in_force(want)
    for n in range(0, 16):
        on = date(2024, 1, 1) + timedelta(days=n)
        rc, out, err = ctl(prefix, "--json", "fx", "list", "--on", on.isoformat())
        if on < date(2024, 1, 2):
            assert rc == 1 and "no rate in force on 2024-01-01" in err, (rc, out, err)
            continue
        assert rc == 0, err
        doc = json.loads(out)
        assert doc["on"] == on.isoformat()
        got = {x["currency"]: (Decimal(x["rate"]), date.fromisoformat(x["since"]))
               for x in doc["rates"]}
        assert got == in_force(want, on), on
    # the weekend: Friday's rates, dated Friday
    rc, out, err = ctl(prefix, "fx", "list", "--on", "2024-01-07", "--currency", "JPY")
    assert rc == 0, err
    assert out.splitlines()[0].endswith("in force on 2024-01-07; version 1")
    assert out.splitlines()[2].split() == ["JPY", "158.41", "2024-01-05"]
    # the base is 1, always; an unquoted currency is an error
    doc, rates = listed(prefix, "--currency", "EUR")
    assert rates == {"EUR": (Decimal(1), None)}
    rc, out, err = ctl(prefix, "fx", "list", "--currency", "CHF")
    assert rc == 1 and "no rates of CHF" in err, (rc, out, err)
    rc, out, err = ctl(prefix, "fx", "list", "--currency", "USD", "--on", "2023-12-31")
    assert rc == 1 and "no rate of USD in force on 2023-12-31" in err, (rc, out, err)
    # the same file again changes nothing, not even the version
    rc, out, err = ctl(prefix, "--json", "fx", "import", SAMPLE)
    assert rc == 0, err
    doc = json.loads(out)
    assert (doc["added"], doc["unchanged"], doc["replaced"], doc["version"]) == (0, 27, 0, 1)
    assert doc["format"] == "ecb" and doc["base"] == "EUR" and doc["rates"] == 27
    assert doc["currencies"] == ["GBP", "JPY", "USD"]
    assert (doc["first"], doc["last"]) == ("2024-01-02", "2024-01-12")
    assert r.get(prefix + "{fx}:version") == "1"


def test_import_plain(prefix, r, tmp_path):
    plain = write(tmp_path, "rates.csv",
                  "date,currency,rate\n"
                  "2024-01-05,USD,1.0921\n"      # as the sample has it
                  "2024-01-05,CHF,0.9314\n"
                  "2024-01-15,CHF,0.9350\n"
                  "2024-01-15,USD,1.0953\n"
                  "2024-01-15,EUR,1\n")          # the base itself: skipped
    assert ctl(prefix, "fx", "import", SAMPLE)[0] == 0
    rc, out, err = ctl(prefix, "--json", "fx", "import", plain, "--format", "plain")
    assert rc == 0, (rc, out, err)
    doc = json.loads(out)
    assert (doc["format"], doc["base"], doc["rates"]) == ("plain", "EUR", 4)
    assert (doc["added"], doc["unchanged"], doc["replaced"], doc["version"]) == (3, 1, 0, 2)
    assert r.get(prefix + "{fx}:version") == "2"
    assert r.smembers(prefix + "{fx}:currencies") == {"USD", "JPY", "GBP", "CHF"}
    assert r.hgetall(prefix + "{fx}:CHF") == {"2024-01-05": "0.9314", "2024-01-15": "0.935"}
    doc, rates = listed(prefix, "--on", "2024-01-14")
    assert rates["CHF"] == (Decimal("0.9314"), date(2024, 1, 5))
    assert rates["USD"] == (Decimal("1.0942"), date(2024, 1, 12))
    doc, rates = listed(prefix)
    assert rates["CHF"] == (Decimal("0.935"), date(2024, 1, 15))
    assert rates["USD"] == (Decimal("1.0953"), date(2024, 1, 15))
    assert rates["JPY"] == (Decimal("159.22"), date(2024, 1, 12))
    # recognised without --format, and the text says nothing is new
    rc, out, err = ctl(prefix, "fx", "import", plain)
    assert rc == 0, err
    assert "(plain, rates against EUR)" in out and "nothing new" in out and "version 2" in out, out


def test_plain_file_of_another_base(prefix, r, tmp_path):
    """A USD-based file is stored against USD; then an EUR-based one is refused."""
    usd = write(tmp_path, "usd.csv", "date,currency,rate\n2024-01-05,EUR,0.9157\n"
                                     "2024-01-05,JPY,145.05\n")
    rc, out, err = ctl(prefix, "fx", "import", usd, "--base", "USD")
    assert rc == 0, err
    assert r.get(prefix + "{fx}:base") == "USD"
    doc, rates = listed(prefix)
    assert doc["base"] == "USD" and rates["EUR"] == (Decimal("0.9157"), date(2024, 1, 5))
    before = snapshot(r, prefix)
    rc, out, err = ctl(prefix, "fx", "import", SAMPLE)
    assert rc == 1, (rc, out, err)
    assert "the stored rates are quoted against USD" in err and "against EUR" in err, err
    assert "nothing imported" in err
    assert snapshot(r, prefix) == before


BAD = [
    # (name, text, extra arguments, FILE:LINE and reason)
    ("header.csv", "Day,USD\n2024-01-05,1.09\n", (), ":1: the header must start with Date"),
    ("code.csv", "Date,USD,XYZ,\n2024-01-05,1.09,1,\n", (), ":1: unknown currency code 'XYZ'"),
    ("date.csv", "Date,USD,\n2024-01-05,1.09,\n2024-02-30,1.09,\n", (),
     ":3: '2024-02-30' is not a date (YYYY-MM-DD)"),
    ("zero.csv", "Date,USD,JPY,\n2024-01-05,1.09,158.41,\n2024-01-04,0,157.81,\n", (),
     ":3: USD: '0' is not a rate: zero"),
    ("negative.csv", "Date,USD,\n2024-01-05,-1.09,\n", (), ":2: USD: '-1.09' is not a rate: negative"),
    ("nan.csv", "Date,USD,\n2024-01-05,NaN,\n", (),
     ":2: USD: 'NaN' is not a rate: not a plain decimal number"),
    ("digits.csv", "Date,USD,\n2024-01-05,1.0921000000000000001,\n", (),
     ":2: USD: '1.0921000000000000001' is not a rate: more than 15 digits after the point"),
    ("short.csv", "Date,USD,JPY,\n2024-01-05,1.09\n", (), ":2: 1 value, the header names 2 currencies"),
    ("twice.csv", "Date,USD,\n2024-01-05,1.0921,\n2024-01-05,1.0922,\n", (),
     ":3: USD on 2024-01-05 is 1.0922 here and 1.0921 on line 2"),
    ("plain-header.csv", "day,currency,rate\n2024-01-05,USD,1.09\n", ("--format", "plain"),
     ":1: the header must be date,currency,rate"),
    ("plain-code.csv", "date,currency,rate\n2024-01-05,USD,1.09\n2024-01-05,usd,1.09\n", (),
     ":3: 'usd' is not a currency code"),
    ("plain-rate.csv", "date,currency,rate\n2024-01-05,USD,1,09\n", (),
     ":2: 4 fields, 3 wanted (date,currency,rate)"),
    ("plain-base.csv", "date,currency,rate\n2024-01-05,USD,1.09\n2024-01-05,EUR,1.01\n", (),
     ":3: EUR is the base: its rate is 1, not '1.01'"),
]


@pytest.mark.parametrize("name,text,extra,why", BAD, ids=[b[0] for b in BAD])
def test_refused_file_leaves_redis_untouched(prefix, r, tmp_path, name, text, extra, why):
    assert ctl(prefix, "fx", "import", SAMPLE)[0] == 0
    before = snapshot(r, prefix)
    assert len(before) == 6
    path = write(tmp_path, name, text)
    rc, out, err = ctl(prefix, "fx", "import", path, *extra)
    assert rc == 1, (rc, out, err)
    assert (path + why) in err, err
    assert "nothing imported" in err, err
    assert out == ""
    assert snapshot(r, prefix) == before


def test_refused_file_writes_nothing_to_a_fresh_prefix(prefix, r, tmp_path):
    path = write(tmp_path, "bad.csv", "Date,USD,\n2024-01-05,1.09,\n2024-01-04,x,\n")
    rc, out, err = ctl(prefix, "fx", "import", path)
    assert rc == 1 and path + ":3: USD: 'x' is not a rate" in err, (rc, err)
    assert snapshot(r, prefix) == {}
    rc, out, err = ctl(prefix, "fx", "list")
    assert rc == 1 and "no exchange rates under prefix '%s'" % prefix in err, (rc, err)
    rc, out, err = ctl(prefix, "fx", "import", str(tmp_path / "missing.csv"))
    assert rc == 1 and "missing.csv: No such file or directory" in err, (rc, err)


def test_changed_rate_needs_replace(prefix, r, tmp_path):
    assert ctl(prefix, "fx", "import", SAMPLE)[0] == 0
    before = snapshot(r, prefix)
    fix = write(tmp_path, "fix.csv", "date,currency,rate\n"
                                     "2024-01-15,USD,1.0953\n"
                                     "2024-01-05,USD,1.0925\n"
                                     "2024-01-05,JPY,158.41\n"
                                     "2024-01-08,GBP,0.86\n")
    rc, out, err = ctl(prefix, "fx", "import", fix)
    assert rc == 1, (rc, out, err)
    # the earliest line of the file that differs is named
    assert fix + ":3: USD on 2024-01-05 is stored as 1.0921, the file says 1.0925" in err, err
    assert "(2 stored rates differ)" in err and "replay" in err and "--replace" in err, err
    assert "nothing imported" in err
    assert snapshot(r, prefix) == before
    rc, out, err = ctl(prefix, "fx", "import", fix, "--replace")
    assert rc == 0, (rc, out, err)
    assert "imported: 1 new, 1 unchanged, 2 replaced; version 2" in out, out
    assert r.hget(prefix + "{fx}:USD", "2024-01-05") == "1.0925"
    assert r.hget(prefix + "{fx}:USD", "2024-01-15") == "1.0953"
    assert r.hget(prefix + "{fx}:GBP", "2024-01-08") == "0.86"
    assert r.hget(prefix + "{fx}:USD", "2024-01-04") == "1.0953"  # the others as they were
    doc, rates = listed(prefix, "--on", "2024-01-06")
    assert rates["USD"] == (Decimal("1.0925"), date(2024, 1, 5))
    assert doc["version"] == 2


def test_key_of_another_type(prefix, r, tmp_path):
    """A key in the way is an error that writes nothing."""
    r.set(prefix + "{fx}:JPY", "not a hash")
    rc, out, err = ctl(prefix, "fx", "import", SAMPLE)
    assert rc == 1 and "WRONGTYPE" in err and "nothing imported" in err, (rc, err)
    assert snapshot(r, prefix) == {prefix + "{fx}:JPY": ("string", "not a hash")}


def test_usage_errors(services):
    need_ctl()
    for args in (["fx"], ["fx", "frobnicate"], ["fx", "import"], ["fx", "import", "a", "b"],
                 ["fx", "import", SAMPLE, "--format", "csv"],
                 ["fx", "import", SAMPLE, "--base", "XYZ"],
                 ["fx", "import", SAMPLE, "--base", "eur"],
                 ["fx", "import", SAMPLE, "--force"],
                 ["fx", "import", SAMPLE, "--format"],
                 ["fx", "list", "--on", "2024-13-01"], ["fx", "list", "--on", "yesterday"],
                 ["fx", "list", "--currency", "usd"], ["fx", "list", "--currency"],
                 ["fx", "list", "USD"]):
        p = subprocess.run([LOYALTYCTL, "--redis", "127.0.0.1:1", *args], capture_output=True,
                           timeout=20)
        assert p.returncode == 2, (args, p.returncode, p.stderr)
        assert b"usage: loyaltyctl" in p.stderr, (args, p.stderr)
    p = subprocess.run([LOYALTYCTL, "--help"], capture_output=True, timeout=20)
    assert b"fx import FILE" in p.stdout and b"fx list" in p.stdout
