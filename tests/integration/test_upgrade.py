"""Upgrade: state written by the previous release (layout 2: every field in the
customer hash, the lists in an aux string) is read by this one and rewritten in
layout 3 (a summary hash and the packed state) at each customer's next commit.

The previous release is built from this repository's history (PREVIOUS), so
the state it starts from is what that release really wrote."""
import json
import os
import shutil
import subprocess

import pytest

from checks import check_derived_records, read_outputs, read_segments
from conftest import ROOT, dump_customers, customer_ids, feed, full_state, indices, log
from workload import TOPICS, Workload

# The last commit whose daemon writes layout 2.
PREVIOUS = "4a61d00"


def build_previous(dest):
    """loyaltyd of PREVIOUS, built from `git archive` into dest."""
    binary = os.path.join(dest, "build", "loyaltyd")
    if os.access(binary, os.X_OK):
        return binary
    have = subprocess.run(["git", "-C", ROOT, "cat-file", "-e", PREVIOUS + "^{commit}"],
                          stderr=subprocess.PIPE)
    assert have.returncode == 0, (
        "commit %s (the previous release) is not in this clone's history: "
        "the upgrade test needs a full clone" % PREVIOUS)
    os.makedirs(dest, exist_ok=True)
    archive = subprocess.Popen(["git", "-C", ROOT, "archive", PREVIOUS], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", dest], stdin=archive.stdout, check=True)
    assert archive.wait() == 0
    subprocess.run(["make", "-s", "-j2", "build/loyaltyd"], cwd=dest, check=True,
                   stdout=subprocess.DEVNULL, timeout=600)
    return binary


@pytest.fixture(scope="module")
def previous_loyaltyd(tmp_path_factory):
    cache = os.path.join(ROOT, "build", "previous-release")
    try:
        return build_previous(cache)
    except Exception:
        shutil.rmtree(cache, ignore_errors=True)
        raise


def test_upgrade_from_layout_2(env, previous_loyaltyd):
    """The previous release applies the first part of the input; this release
    goes on with the rest in the same group and prefix.  The end state, the
    indices and the derived events equal those of this release alone on the
    whole input; every customer the second part touched is stored in layout 3,
    the others are still read from layout 2 (dump shows both)."""
    w = Workload(seed=91, customers=160)
    env.create_topics()
    stamps = sorted(ms for t in TOPICS for ms in w.stamps[t])
    cut = stamps[len(stamps) * 2 // 3]
    first = {t: [l for l, ms in zip(w.lines[t], w.stamps[t]) if ms < cut] for t in TOPICS}
    rest = {t: [l for l, ms in zip(w.lines[t], w.stamps[t]) if ms >= cut] for t in TOPICS}

    for t in TOPICS:
        if first[t]:
            feed(env.topic(t), first[t])
    old = env.daemon("previous")
    old.binary = previous_loyaltyd
    old.start()
    n_first = sum(len(v) for v in first.values())
    old.wait_caught_up(n_first)
    old.stop()
    layout2 = customer_ids(env.r, env.redis_prefix)
    assert layout2 and all(env.r.exists("%sc:{%s}:aux" % (env.redis_prefix, c)) for c in layout2)
    assert not any(env.r.exists("%sc:{%s}:state" % (env.redis_prefix, c)) for c in layout2)

    # A reward the previous release committed and had not yet delivered when
    # it stopped (as after a crash) waits in its customer's outbox.
    bad = {key for _, key, _, _ in w.bad}
    touched = {cid for t in TOPICS for cid, _ in rest[t]} - bad
    before, _ = read_outputs(env)
    leftover = next(p for _, p in before if p["customer_id"] in touched)
    outbox = "%sc:{%s}:outbox" % (env.redis_prefix, leftover["customer_id"])
    env.r.hset(outbox, leftover["event_id"], "r\t" + json.dumps(leftover))

    for t in TOPICS:
        if rest[t]:
            feed(env.topic(t), rest[t])
    new = env.daemon("upgraded", group=old.group)  # the same group and prefix
    new.start()
    new.wait_caught_up(w.total() - n_first)
    new.stop()
    upgraded = full_state(env.r, env.redis_prefix)
    upgraded_idx = indices(env.r, env.redis_prefix)
    rewards, churn = read_outputs(env)
    segments = read_segments(env)
    ids, _ = check_derived_records(rewards, churn, segments=segments, allow_duplicates=True)
    copies = [p for _, p in rewards if p["event_id"] == leftover["event_id"]]
    assert len(copies) == 2 and not env.r.exists(outbox), "the leftover was not published"
    docs = dump_customers(env.r, env.redis_prefix, sorted(upgraded))
    for cid, d in docs.items():
        has_aux = env.r.exists("%sc:{%s}:aux" % (env.redis_prefix, cid))
        if cid in touched:
            assert d["layout"] == 3 and not has_aux, (cid, d["layout"])
            assert len(d["summary"]) <= 20 and "codec" not in d["summary"], d["summary"]
        elif cid in layout2:
            assert d["layout"] == 2 and has_aux, cid
    assert touched & layout2, "the second part touched no customer the first wrote"

    ref_prefix = env.redis_prefix + "ref:"
    ref = env.daemon("reference", redis_prefix=ref_prefix)
    ref.start()
    ref.wait_caught_up(w.total())
    ref.stop()
    reference = full_state(env.r, ref_prefix)
    assert set(upgraded) == set(reference)

    def sans_rev(fields):
        return {k: v for k, v in fields.items() if k != "rev"}
    differ = [c for c in reference if (sans_rev(upgraded[c][0]), upgraded[c][1]) !=
              (sans_rev(reference[c][0]), reference[c][1])]
    assert not differ, "%d customers differ, e.g. %s:\nupgraded  %s\nreference %s" % (
        len(differ), differ[0], upgraded[differ[0]], reference[differ[0]])
    assert upgraded_idx == indices(env.r, ref_prefix)
    # Both runs wrote to the same output topics: every event id twice, once each.
    rewards2, churn2 = read_outputs(env)
    segments2 = read_segments(env)
    assert (len(rewards2), len(churn2), len(segments2)) == (
        2 * len(rewards) - 1, 2 * len(churn), 2 * len(segments))
    ids2, _ = check_derived_records(rewards2, churn2, segments=segments2, allow_duplicates=True)
    assert set(ids2) == set(ids)
    log("upgrade: %d customers written by %s, %d rewritten in layout 3, state equal to a "
        "single run of this release" % (len(layout2), PREVIOUS, len(touched & layout2)))
