"""Upgrade: state written by an earlier release is read by this one and
rewritten in layout 4 (a summary hash and the packed state, the orders as paid
its last list) at each customer's next commit.

- Layout 2 (every field in the customer hash, the lists in an aux string): its
  global due sets (`P due:N`) and indices (`P idx:KIND`) are moved to the
  tasks' keys (`P t:{N}:due`, `P t:{N}:idx:KIND`) at start, and the timers fire.
- Layout 3 (the packed state without the orders as paid): read as a customer
  without them.

Each previous release is built from this repository's history (PREVIOUS), so
the state it starts from is what that release really wrote."""
import json
import os
import shutil
import subprocess

import pytest

from checks import check_derived_records, read_outputs, read_segments
from conftest import (ROOT, ctl_run, customer_hash, dec, due_tasks, dump_customers, customer_ids,
                      feed, full_state, index_tasks, indices, log, need_ctl)
from workload import TOPICS, Workload

# {layout: the last commit whose daemon writes it}.
PREVIOUS = {2: "4a61d00", 3: "94b8fe9"}


def build_previous(commit, dest):
    """loyaltyd of commit, built from `git archive` into dest (kept there, with
    the commit it was built from in dest/COMMIT, for the next run)."""
    binary = os.path.join(dest, "build", "loyaltyd")
    stamp = os.path.join(dest, "COMMIT")
    if os.access(binary, os.X_OK) and os.path.exists(stamp):
        with open(stamp) as f:
            if f.read().strip() == commit:
                return binary
    have = subprocess.run(["git", "-C", ROOT, "cat-file", "-e", commit + "^{commit}"],
                          stderr=subprocess.PIPE)
    assert have.returncode == 0, (
        "commit %s (a previous release) is not in this clone's history: "
        "the upgrade tests need a full clone" % commit)
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(dest)
    archive = subprocess.Popen(["git", "-C", ROOT, "archive", commit], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", dest], stdin=archive.stdout, check=True)
    assert archive.wait() == 0
    subprocess.run(["make", "-s", "-j2", "build/loyaltyd"], cwd=dest, check=True,
                   stdout=subprocess.DEVNULL, timeout=600)
    with open(stamp, "w") as f:
        f.write(commit + "\n")
    return binary


@pytest.fixture(scope="module")
def previous_loyaltyd():
    """previous_loyaltyd(layout): the path of the loyaltyd of PREVIOUS[layout],
    built once into build/previous-release-LAYOUT."""
    def get(layout):
        cache = os.path.join(ROOT, "build", "previous-release-%d" % layout)
        try:
            return build_previous(PREVIOUS[layout], cache)
        except Exception:
            shutil.rmtree(cache, ignore_errors=True)
            raise
    return get


def split_input(w):
    """The workload's lines per topic before the cut (two thirds of its
    events, by time) and from it: (first, rest)."""
    stamps = sorted(ms for t in TOPICS for ms in w.stamps[t])
    cut = stamps[len(stamps) * 2 // 3]
    first = {t: [l for l, ms in zip(w.lines[t], w.stamps[t]) if ms < cut] for t in TOPICS}
    rest = {t: [l for l, ms in zip(w.lines[t], w.stamps[t]) if ms >= cut] for t in TOPICS}
    return first, rest


def run_previous(env, binary, first):
    """The previous release (binary) on the first part of the input, caught up
    and stopped: (its daemon, the number of lines it consumed)."""
    for t in TOPICS:
        if first[t]:
            feed(env.topic(t), first[t])
    old = env.daemon("previous")
    old.binary = binary
    old.start()
    n_first = sum(len(v) for v in first.values())
    old.wait_caught_up(n_first)
    old.stop()
    return old, n_first


def run_this(env, old, rest, n_rest):
    """This release on the rest of the input in the previous one's group and
    prefix, caught up and stopped."""
    for t in TOPICS:
        if rest[t]:
            feed(env.topic(t), rest[t])
    new = env.daemon("upgraded", group=old.group)
    new.start()
    new.wait_caught_up(n_rest)
    new.stop()


def same_as_reference(env, w, upgraded, upgraded_idx, outputs, ids, republished=0):
    """This release alone on the whole input, into another prefix, ends with
    the state (but the store's rev) and indices of the upgrade, and derives the
    same events: the output topics, which both runs wrote to, hold each of
    them twice, but the `republished` rewards the upgrade published twice,
    three times.  Returns the reference's prefix."""
    rewards, churn, segments = outputs
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
        2 * len(rewards) - republished, 2 * len(churn), 2 * len(segments))
    ids2, _ = check_derived_records(rewards2, churn2, segments=segments2, allow_duplicates=True)
    assert set(ids2) == set(ids)
    return ref_prefix


def old_keys(r, prefix):
    """({partition: {customer: due ms}}, {index: {customer: score}}) of the
    keys of the release before, `P due:N` and `P idx:KIND`."""
    due, idx = {}, {}
    for k in r.scan_iter(match=prefix + "due:*", count=1000):
        due[int(dec(k)[len(prefix) + 4:])] = {
            dec(m): s for m, s in r.zrange(k, 0, -1, withscores=True)}
    for n in ("risk", "loyalty", "clv", "value"):
        if r.exists(prefix + "idx:" + n):
            idx[n] = {dec(m): s for m, s in r.zrange(prefix + "idx:" + n, 0, -1, withscores=True)}
    return due, idx


def ranked(members):
    """(customer, score) as loyaltyctl top lists them: highest first, equal
    scores by id from the greatest."""
    by_id = sorted(members.items(), key=lambda kv: kv[0], reverse=True)
    return sorted(by_id, key=lambda kv: -kv[1])


def migrate(env, old, old_due, old_idx):
    """This release started on the previous one's Redis without new input (and
    no sweeper) after a migration cut short by a crash: the due times and
    index entries are in the tasks' keys, each in its customer's task, the
    old keys are gone and top lists what the old index did.  The previous
    release kept all four indices; this one keeps risk and value (the
    default redis.indices), the others are deleted."""
    p = env.redis_prefix
    part = {c: int(env.r.hget(p + "c:{%s}" % c, "partition")) for c in customer_ids(env.r, p)}
    # What a migration that crashed after copying a due set, and part of an
    # index, but before deleting them leaves.
    first = min(old_due)
    env.r.zadd(p + "t:{%d}:due" % first, old_due[first])
    for cid, score in sorted(old_idx["risk"].items())[::2]:
        env.r.zadd(p + "t:{%d}:idx:risk" % part[cid], {cid: score})
    mig = env.daemon("migrated", group=old.group)
    mig.start()
    mig.stop()
    due_after, idx_after = old_keys(env.r, p)
    assert not due_after and not idx_after, "old keys left: %s %s" % (sorted(due_after), sorted(idx_after))
    assert due_tasks(env.r, p) == old_due
    tasks = index_tasks(env.r, p)
    kept = {n: old_idx[n] for n in ("risk", "value")}
    assert indices(env.r, p) == kept
    for name, by_task in tasks.items():
        assert len(by_task) > 1, name
        for task, members in by_task.items():
            assert all(part[c] == task for c in members), (name, task)
    with open(mig.stderr_path, "rb") as f:
        text = f.read().decode(errors="replace")
    assert "moved the keys of the release before to the tasks' keys: %d due time(s)" % (
        sum(len(v) for v in old_due.values())) in text, text[-3000:]
    for name in kept:
        rc, out, err = ctl_run(env, "--json", "top", "--by", name, "-n", "40")
        assert rc == 0, (rc, out, err)
        got = [(x["customer_id"], x["score"]) for x in json.loads(out)["top"]]
        assert got == ranked(old_idx[name])[:40], (name, got)


def test_upgrade_from_layout_2(env, previous_loyaltyd):
    """The last release writing layout 2 applies the first part of the input; this release
    goes on with the rest in the same group and prefix.  The end state, the
    indices and the derived events equal those of this release alone on the
    whole input; every customer the second part touched is stored in layout 4,
    the others are still read from layout 2 (dump shows both)."""
    w = Workload(seed=91, customers=160)
    env.create_topics()
    first, rest = split_input(w)
    old, n_first = run_previous(env, previous_loyaltyd(2), first)
    layout2 = customer_ids(env.r, env.redis_prefix)
    assert layout2 and all(env.r.exists("%sc:{%s}:aux" % (env.redis_prefix, c)) for c in layout2)
    assert not any(env.r.exists("%sc:{%s}:state" % (env.redis_prefix, c)) for c in layout2)
    need_ctl()
    old_due, old_idx = old_keys(env.r, env.redis_prefix)
    assert len(old_due) > 1 and set(old_idx) >= {"risk", "value"}, (sorted(old_due), sorted(old_idx))
    migrate(env, old, old_due, old_idx)

    # A reward the previous release committed and had not yet delivered when
    # it stopped (as after a crash) waits in its customer's outbox.
    bad = {key for _, key, _, _ in w.bad}
    touched = {cid for t in TOPICS for cid, _ in rest[t]} - bad
    before, _ = read_outputs(env)
    leftover = next(p for _, p in before if p["customer_id"] in touched)
    outbox = "%sc:{%s}:outbox" % (env.redis_prefix, leftover["customer_id"])
    env.r.hset(outbox, leftover["event_id"], "r\t" + json.dumps(leftover))

    run_this(env, old, rest, w.total() - n_first)
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
            assert d["layout"] == 4 and not has_aux, (cid, d["layout"])
            assert len(d["summary"]) <= 20 and "codec" not in d["summary"], d["summary"]
        elif cid in layout2:
            assert d["layout"] == 2 and has_aux, cid
    assert touched & layout2, "the second part touched no customer the first wrote"

    same_as_reference(env, w, upgraded, upgraded_idx, (rewards, churn, segments), ids,
                      republished=1)

    # The due times the previous release filed fire: a sweeper on the upgraded
    # state evaluates every customer the rest of the input left alone at each
    # due time its task's stream time has passed.
    stream = {int(dec(k)[len(env.redis_prefix) + 3:].split("}")[0]):
              int(env.r.hget(k, "stream") or 0)
              for k in env.r.scan_iter(match=env.redis_prefix + "t:{*}:progress")}
    waiting = [(n, c, due) for n, members in old_due.items() for c, due in members.items()
               if c not in touched and due <= stream.get(n, 0)]
    assert waiting, "no due time of the previous release for the sweeper"
    sweeper = env.daemon("sweeper", group=old.group, **{"sweep.interval_s": "1"})
    sweeper.start()
    sweeper.wait_timers_fired()
    sweeper.stop()
    due_now = due_tasks(env.r, env.redis_prefix)
    for n, c, due in waiting:
        assert due_now.get(n, {}).get(c, float("inf")) > due, (n, c, due)
        assert int(customer_hash(env.r, env.redis_prefix, c).get("as_of", 0)) >= due, (c, due)
    log("upgrade: %d customers written by %s, %d rewritten in layout 4, state equal to a "
        "single run of this release; %d due times and %d index entries moved to the tasks' "
        "keys, %d of the due times fired" % (
            len(layout2), PREVIOUS[2], len(touched & layout2),
            sum(len(v) for v in old_due.values()), sum(len(old_idx[n]) for n in ("risk", "value")),
            len(waiting)))


def test_upgrade_from_layout_3(env, previous_loyaltyd):
    """The last release writing layout 3 applies the first part of the input;
    this release goes on with the rest in the same group and prefix.  Every
    customer the second part touched is stored in layout 4, the others are
    still read from layout 3 (dump shows both); the end state, the indices,
    the due times and the derived events equal those of this release alone
    on the whole input.  money.currency is unset (the default): amounts are
    summed as given and no customer keeps orders as paid (aux `Y`), so those
    written before the upgrade lack none."""
    w = Workload(seed=93, customers=160)
    env.create_topics()
    first, rest = split_input(w)
    old, n_first = run_previous(env, previous_loyaltyd(3), first)
    p = env.redis_prefix
    layout3 = customer_ids(env.r, p)
    assert layout3
    heads = {c: env.r.getrange("%sc:{%s}:state" % (p, c), 0, 1) for c in layout3}
    assert all(h == b"L\x03" for h in heads.values()), sorted(set(heads.values()))
    assert not any(env.r.exists("%sc:{%s}:aux" % (p, c)) for c in layout3)
    need_ctl()

    run_this(env, old, rest, w.total() - n_first)
    upgraded = full_state(env.r, p)
    upgraded_idx = indices(env.r, p)
    upgraded_due = due_tasks(env.r, p)
    rewards, churn = read_outputs(env)
    segments = read_segments(env)
    ids, _ = check_derived_records(rewards, churn, segments=segments, allow_duplicates=True)

    bad = {key for _, key, _, _ in w.bad}
    touched = {cid for t in TOPICS for cid, _ in rest[t]} - bad
    assert set(upgraded) == layout3 | touched, sorted(set(upgraded) ^ (layout3 | touched))[:5]
    docs = dump_customers(env.r, p, sorted(upgraded))
    layouts = {cid: d["layout"] for cid, d in docs.items()}
    wrong = [(c, n) for c, n in sorted(layouts.items()) if n != (4 if c in touched else 3)]
    assert not wrong, "%d customers in the wrong layout, e.g. %s" % (len(wrong), wrong[:5])
    assert touched & layout3, "the second part touched no customer the first wrote"
    assert layout3 - touched, "the second part touched every customer the first wrote"
    assert all(env.r.getrange("%sc:{%s}:state" % (p, c), 0, 1) == b"L\x04" for c in touched)
    paid = [c for c, (_, aux) in upgraded.items() if any(
        x.startswith("Y:") for x in aux.split("|"))]
    assert not paid, "orders as paid with money.currency unset: %s" % paid[:5]

    ref_prefix = same_as_reference(env, w, upgraded, upgraded_idx, (rewards, churn, segments),
                                   ids)
    assert upgraded_due == due_tasks(env.r, ref_prefix)
    log("upgrade: %d customers written by %s in layout 3, %d of them rewritten in layout 4, "
        "%d left in layout 3; state, indices, due times and derived events equal to a single "
        "run of this release" % (len(layout3), PREVIOUS[3], len(touched & layout3),
                                 len(layout3 - touched)))
