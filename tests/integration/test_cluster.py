"""Redis Cluster, the ground of issue 20, against Redis itself (neither Kafka
nor the shared Redis is used):

- slot_of (state/store/slot.c, through build/tools/slotcheck) gives every
  key the slot CLUSTER KEYSLOT of a cluster-enabled redis-server of the
  test's own gives it: random bytes, the store's customer keys, braces
  anywhere;
- deploy/services.sh cluster-up makes a cluster of 3 masters with a replica
  each on loopback, every node agreeing on all 16384 slots; the slot map
  read from its CLUSTER SLOTS and the MOVED errors it answers are read as
  Redis means them; cluster-down stops every node.

Every server is on a port of 17000-17100 (its cluster bus too) and is
stopped when the test ends, whatever happened."""
import binascii
import os
import random
import shutil
import signal
import subprocess

import pytest

from conftest import CLUSTER_BUS_OFFSET as BUS_OFFSET
from conftest import ROOT, _bin, free_cluster_base, log, port_open, run, wait_for

try:
    import redis
except ImportError:  # pragma: no cover - the runner installs it
    redis = None

SLOTCHECK = _bin("SLOTCHECK_BIN", "build/tools/slotcheck")
SERVICES = os.path.join(ROOT, "deploy/services.sh")


def need(*programs):
    missing = [p for p in programs if shutil.which(p) is None]
    if missing:
        pytest.fail("%s not found (deploy/install-deps.sh build)" % ", ".join(missing),
                    pytrace=False)
    if redis is None:
        pytest.fail("the Python package 'redis' is missing: pip install -r tests/requirements.txt",
                    pytrace=False)
    if not os.access(SLOTCHECK, os.X_OK):
        pytest.fail("%s is not built (make all)" % SLOTCHECK, pytrace=False)


def slots_of(keys):
    """slot_of of each key (bytes), through slotcheck."""
    text = "".join(binascii.hexlify(k).decode() + "\n" for k in keys)
    p = run([SLOTCHECK, "keys"], input=text.encode())
    out = [int(x) for x in p.stdout.split()]
    assert len(out) == len(keys)
    return out


def keyslots(client, keys):
    """CLUSTER KEYSLOT of each key, pipelined."""
    pipe = client.pipeline(transaction=False)
    for k in keys:
        pipe.execute_command("CLUSTER", "KEYSLOT", k)
    return [int(x) for x in pipe.execute()]


# Customer ids: the shapes of the workloads and CDNOW, and ids with braces
# (any UTF-8 of up to 128 bytes is a customer id).
PLAIN_IDS = ["cdnow-0006", "12345", "0", "C000123", "user@example.com",
             "3fa85f64-5717-4562-b3fc-2c963f66afa6", "Zoë Müller", "客户-7",
             "x" * 128, "a b", "a:b", "it-test-9"]
BRACE_IDS = ["{", "}", "{}", "}{", "{x}", "a{b}c", "a}b", "x}", "}x", "}}", "{{",
             "{a", "a{", "a{}b", "{}{}", "}{x}", "x{y}}"]
PREFIXES = ["", "loyalty:", "it-cluster:", "p{x}:", "p{}:"]


def test_keyslot_matches_redis(tmp_path):
    """slot_of agrees with CLUSTER KEYSLOT of Redis on about 7000 keys; and
    the store's two keys of a customer share its slot unless the id starts
    with '}' (its tag is then empty and each key hashes whole)."""
    need("redis-server")
    port = free_cluster_base(1)
    bus = port + BUS_OFFSET
    out = open(tmp_path / "redis.log", "wb")
    srv = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
         "--cluster-enabled", "yes", "--cluster-port", str(bus),
         "--cluster-config-file", str(tmp_path / "nodes.conf"), "--save", "",
         "--appendonly", "no", "--daemonize", "no", "--dir", str(tmp_path)],
        stdout=out, stderr=subprocess.STDOUT)
    try:
        client = redis.Redis(port=port, socket_timeout=10)

        def up():
            assert srv.poll() is None, (tmp_path / "redis.log").read_text()[-2000:]
            try:
                return client.ping()
            except redis.exceptions.ConnectionError:
                return False
        wait_for("the cluster-enabled redis-server on %d" % port, up, 20, interval=0.1)

        rnd = random.Random(20)
        keys = []
        # Random bytes, braces more often than chance would give them.
        for _ in range(4000):
            alphabet = rnd.choice([bytes(range(256)), b"{}ab", b"{}\x00\xff:x"])
            keys.append(bytes(rnd.choice(alphabet) for _ in range(rnd.randrange(0, 40))))
        # The store's keys of a customer (store_schema.c: P c:{C}, P c:{C}:state).
        ids = PLAIN_IDS + BRACE_IDS + [
            "".join(rnd.choice("ab{}-:9") for _ in range(rnd.randrange(1, 12)))
            for _ in range(300)]
        customer_keys = [(prefix, cid) for prefix in PREFIXES for cid in ids]
        for prefix, cid in customer_keys:
            keys.append(("%sc:{%s}" % (prefix, cid)).encode())
            keys.append(("%sc:{%s}:state" % (prefix, cid)).encode())
        # Empty tags and tags that are not there.
        keys += [b"", b"{}", b"{}}", b"{{}}", b"{}{a}", b"a{}b{c}", b"foo{}{bar}",
                 b"foo{{bar}}zap", b"foo{bar}{zap}", b"{user1000}.following",
                 b"user1000", b"}{", b"a}b{c}", b"{", b"}", b"{\x00}", b"\x00{\x00}\x00"]

        ours, theirs = slots_of(keys), keyslots(client, keys)
        wrong = [(k, a, b) for k, a, b in zip(keys, ours, theirs) if a != b]
        assert not wrong, "%d of %d keys in another slot than Redis's, e.g.\n%s" % (
            len(wrong), len(keys),
            "\n".join("%r: slot_of %d, Redis %d" % w for w in wrong[:20]))
        assert len(set(theirs)) > 3000, "too few distinct slots: the keys test little"

        # What this means for the store's keys, in Redis's own answers: a
        # customer's hash and packed state share a slot unless its id starts
        # with '}' (an empty tag: each key hashed whole); a prefix with a tag
        # of its own puts every customer in one slot, one with "{}" splits
        # every customer's keys.
        by_key = dict(zip(keys, theirs))

        def pair(prefix, cid):
            return (by_key[("%sc:{%s}" % (prefix, cid)).encode()],
                    by_key[("%sc:{%s}:state" % (prefix, cid)).encode()])
        for prefix in ("", "loyalty:", "it-cluster:"):
            for cid in ids:
                h, st = pair(prefix, cid)
                assert (h == st) == (not cid.startswith("}")), (prefix, cid, h, st)
        assert {slot for cid in ids for slot in pair("p{x}:", cid)} == {slots_of([b"x"])[0]}
        assert all(len(set(pair("p{}:", cid))) == 2 for cid in PLAIN_IDS)
        log("slot_of: %d keys, %d distinct slots, all as Redis" % (len(keys), len(set(ours))))
    finally:
        srv.send_signal(signal.SIGTERM)
        try:
            srv.wait(15)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait(5)
        out.close()
    assert not port_open(port)


def cli(port, *args):
    return run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), *args]).stdout.decode()


def cluster_info(port):
    return dict(line.split(":", 1) for line in cli(port, "CLUSTER", "INFO").split()
                if ":" in line)


def node_pids(directory, ports):
    pids = {}
    for p in ports:
        with open(os.path.join(directory, str(p), "redis.pid")) as f:
            pids[p] = int(f.read())
    return pids


def pid_gone(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_local_cluster(tmp_path):
    """cluster-up: 3 masters and 3 replicas, every slot served, each master
    with one replica, AOF on, every node agreeing; idempotent; the slot map
    and MOVED as slot.c reads them are Redis's; cluster-down stops it all."""
    need("redis-server", "redis-cli")
    base = free_cluster_base(6)
    ports = list(range(base, base + 6))
    directory = str(tmp_path / "cluster")
    env = {"REDIS_CLUSTER_PORT": str(base), "REDIS_CLUSTER_BUS_OFFSET": str(BUS_OFFSET),
           "REDIS_CLUSTER_DIR": directory}
    pids = {}
    try:
        run([SERVICES, "cluster-up"], env=env, timeout=180)
        pids = node_pids(directory, ports)
        status = run([SERVICES, "cluster-status"], env=env, check=False)
        assert status.returncode == 0, status.stdout.decode()
        again = run([SERVICES, "cluster-up"], env=env, timeout=60).stdout.decode()
        assert again.count("already running") == 6, again
        assert node_pids(directory, ports) == pids

        for p in ports:
            info = cluster_info(p)
            assert info["cluster_state"] == "ok", (p, info)
            assert info["cluster_slots_assigned"] == "16384", (p, info)
            assert info["cluster_slots_ok"] == "16384", (p, info)
            assert info["cluster_known_nodes"] == "6", (p, info)
            assert cli(p, "CONFIG", "GET", "appendonly").split() == ["appendonly", "yes"]

        # CLUSTER NODES: id addr flags master-id ... slots
        nodes = [line.split() for line in cli(ports[0], "CLUSTER", "NODES").splitlines()]
        masters = {n[0]: n for n in nodes if "master" in n[2].split(",")}
        replicas = [n for n in nodes if "slave" in n[2].split(",")]
        assert len(masters) == 3 and len(replicas) == 3, nodes
        assert sorted(r[3] for r in replicas) == sorted(masters), "each master one replica"
        covered = set()
        for m in masters.values():
            for rng in m[8:]:
                lo, _, hi = rng.partition("-")
                covered.update(range(int(lo), int(hi or lo) + 1))
        assert covered == set(range(16384))

        # The slot map slot.c reads from CLUSTER SLOTS, asked of a replica.
        out = run([SLOTCHECK, "map", "127.0.0.1", str(ports[5])]).stdout.decode().splitlines()
        assert out[:2] == ["covered 16384", "masters 3"], out
        owner = {}
        for line in out[2:]:
            rng, addr = line.split()
            lo, hi = (int(x) for x in rng.split("-"))
            for s in range(lo, hi + 1):
                owner[s] = addr
        want = {}
        for m in masters.values():
            addr = m[1].split("@")[0]
            for rng in m[8:]:
                lo, _, hi = rng.partition("-")
                for s in range(int(lo), int(hi or lo) + 1):
                    want[s] = addr
        assert owner == want

        # MOVED from the first master, as slot.c reads it: the key's slot
        # (CLUSTER KEYSLOT) and that slot's master in the map.
        keys = ["loyalty:c:{%d}" % i for i in range(40)] + ["foo", "{user1000}.following"]
        here = "127.0.0.1:%d" % ports[0]
        seen = {"here": 0, "MOVED": 0}
        for line in run([SLOTCHECK, "redirect", "127.0.0.1", str(ports[0]), *keys]
                        ).stdout.decode().splitlines():
            key, kind, *rest = line.split()
            slot = int(cli(ports[0], "CLUSTER", "KEYSLOT", key))
            seen[kind] += 1
            if kind == "here":
                assert owner[slot] == here, line
            else:
                assert kind == "MOVED" and rest == [str(slot), owner[slot]], line
        assert seen["here"] > 0 and seen["MOVED"] > 0, seen

        # The store's two keys of a customer share its slot: one command
        # takes both on a cluster.
        cluster_cli = os.path.join(ROOT, "deploy/redis-cluster.sh")
        p = run([cluster_cli, "cli", "MSET", "loyalty:c:{42}", "h", "loyalty:c:{42}:state", "s"],
                env=env)
        assert p.stdout.decode().strip() == "OK"
        p = run([cluster_cli, "cli", "MSET", "loyalty:c:{42}", "h", "loyalty:c:{43}:state", "s"],
                env=env, check=False)
        assert "CROSSSLOT" in p.stdout.decode() + p.stderr.decode()
    finally:
        down = run([SERVICES, "cluster-down"], env=env, check=False, timeout=120)
        log(down.stdout.decode())
    assert down.returncode == 0, down.stderr.decode()
    status = run([SERVICES, "cluster-status"], env=env, check=False)
    assert status.returncode == 3, status.stdout.decode()
    assert pids and all(pid_gone(pid) for pid in pids.values()), pids
    assert not any(port_open(p) for p in ports)
