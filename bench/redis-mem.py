#!/usr/bin/env python3
"""Redis memory per customer under one loyaltyd key prefix (README, "State in Redis").

Lists every key under PREFIX (SCAN), asks `MEMORY USAGE key SAMPLES 0` of each
(SAMPLES 0: every element of a hash or zset is counted, not an estimate) and,
for the customer hashes, `OBJECT ENCODING` and `HLEN`.  A customer's bytes are
its hash `c:{ID}` + every other key of its own, `c:{ID}:SUFFIX` (the aux
string, the outbox hash when present, or whatever else a state layout keeps
per customer, e.g. a packed `:state`; each suffix is reported as a part) + an
equal share of the tasks' index and due zsets (`t:{N}:idx:*`, `t:{N}:due`; the
release before's global `idx:*` and `due:*` too); `model`, `schema`, the
tasks' progress and any other key are reported apart (one per prefix or task,
not per customer).

Talks to Redis through redis-cli (one command per line on stdin, one reply
per line), so it needs nothing but the Redis package.  Prints a report and
"RESULT key value" lines for bench/run.sh.
"""
import argparse
import collections
import re
import subprocess
import sys


def cli_args(args, port):
    """One redis-cli invocation with arguments (e.g. --scan); its stdout."""
    return subprocess.run(["redis-cli", "-p", str(port)] + args, check=True,
                          capture_output=True, text=True).stdout


def cli_batch(cmds, port):
    """Commands on redis-cli's stdin, one per line; one reply line each."""
    if not cmds:
        return []
    out = subprocess.run(["redis-cli", "-p", str(port)], input="".join(c + "\n" for c in cmds),
                         check=True, capture_output=True, text=True).stdout.split("\n")
    if len(out) < len(cmds):
        sys.exit("redis-mem: %d replies to %d commands" % (len(out), len(cmds)))
    return out[:len(cmds)]


def as_int(reply):
    """An integer reply; a key gone meanwhile (nil) or an error counts 0."""
    try:
        return int(reply)
    except ValueError:
        if reply:
            print("redis-mem: unexpected reply %r" % reply, file=sys.stderr)
        return 0


def pct(sorted_vals, p):
    """Nearest-rank percentile."""
    if not sorted_vals:
        return 0
    k = max(0, min(len(sorted_vals) - 1, int(round(p / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=16379)
    ap.add_argument("--prefix", required=True, help="the daemon's redis.prefix")
    ap.add_argument("--target", type=int, default=1024, help="bytes per customer (mean)")
    a = ap.parse_args()

    keys = [k for k in cli_args(["--scan", "--pattern", a.prefix + "*"], a.port).split("\n") if k]
    if any(" " in k or '"' in k for k in keys):
        sys.exit("redis-mem: key with a space or quote; redis-cli's stdin cannot carry it")
    usage = dict(zip(keys, (as_int(v) for v in
                            cli_batch(["MEMORY USAGE %s SAMPLES 0" % k for k in keys], a.port))))
    # c:{ID} and c:{ID}:SUFFIX: the customer's own keys, whatever the suffix
    cust_re = re.compile(re.escape(a.prefix) + r"c:\{(.+)\}(:[A-Za-z0-9_.-]+)?$")
    # t:{N}:idx:KIND, t:{N}:due (and idx:KIND, due:N of the release before)
    zset_re = re.compile(re.escape(a.prefix) + r"(?:t:\{\d+\}:)?(idx|due)(:|$)")
    keys = [k for k in keys if k in usage]
    per = collections.defaultdict(collections.Counter)
    glob = collections.Counter()
    zsets = []
    other = {}
    hashes = []
    for k in keys:
        m = cust_re.match(k)
        if m:
            per[m.group(1)][(m.group(2) or ":hash")[1:]] += usage[k]
            if not m.group(2):
                hashes.append(k)
        elif zset_re.match(k):
            glob[zset_re.match(k).group(1)] += usage[k]
            zsets.append(k)
        else:
            other[k[len(a.prefix):]] = usage[k]
    n = len(per)
    if n == 0:
        sys.exit("redis-mem: no customer keys under %r" % a.prefix)
    replies = cli_batch(["OBJECT ENCODING %s" % k for k in hashes] + ["HLEN %s" % k for k in hashes],
                  a.port)
    enc = collections.Counter(replies[:len(hashes)])
    zrep = cli_batch(["OBJECT ENCODING %s" % k for k in zsets] + ["ZCARD %s" % k for k in zsets],
                     a.port)
    zenc = collections.Counter(zrep[:len(zsets)])
    zentries = sum(as_int(v) for v in zrep[len(zsets):])
    hlen = sorted(as_int(v) for v in replies[len(hashes):])
    share = (glob["idx"] + glob["due"]) / n
    totals = sorted(sum(v.values()) + share for v in per.values())
    mean = sum(totals) / n
    names = ["hash", "aux", "outbox"] + sorted({p for v in per.values() for p in v} - {"hash", "aux", "outbox"})
    parts = {p: sum(v[p] for v in per.values()) / n for p in names}
    having = {p: sum(1 for v in per.values() if v[p]) for p in names}

    print("%d customers under %r (%d keys)" % (n, a.prefix, len(keys)))
    print("  mean per customer: %s + share of idx/due zsets %.0f (idx %d B, due %d B in all)"
          % (" + ".join("%s %.0f%s" % (p, parts[p], "" if having[p] in (0, n) else
                                       " (%d customers have one)" % having[p]) for p in names),
             share, glob["idx"], glob["due"]))
    print("  idx/due zsets: %d keys, %d entries, %.0f B per entry, encoding %s"
          % (len(zsets), zentries, (glob["idx"] + glob["due"]) / max(zentries, 1),
             ", ".join("%s %d" % kv for kv in zenc.most_common())))
    print("  bytes per customer: mean %.0f, p50 %.0f, p95 %.0f, max %.0f"
          % (mean, pct(totals, 50), pct(totals, 95), totals[-1]))
    print("  customer hash encoding: %s" % ", ".join("%s %d" % kv for kv in enc.most_common()))
    print("  fields per hash: min %d, p50 %d, max %d" % (hlen[0], pct(hlen, 50), hlen[-1]))
    if len(other) <= 20:
        print("  other keys: %s" % (", ".join("%s %d B" % kv for kv in sorted(other.items()))
                                    or "none"))
    else:
        print("  other keys: %d, %d B in all (not counted per customer), e.g. %s"
              % (len(other), sum(other.values()),
                 ", ".join("%s %d B" % kv for kv in sorted(other.items())[:5])))
    verdict = "PASS" if mean <= a.target else "FAIL"
    print("  target: mean <= %d B per customer: %s (%.0f%% of the target)"
          % (a.target, verdict, 100.0 * mean / a.target))
    for k, v in (("customers", n), ("mean", "%.0f" % mean), ("p50", "%.0f" % pct(totals, 50)),
                 ("p95", "%.0f" % pct(totals, 95)), ("max", "%.0f" % totals[-1]),
                 ("hash", "%.0f" % parts["hash"]), ("aux", "%.0f" % parts["aux"]),
                 ("outbox", "%.0f" % parts["outbox"]), ("share", "%.0f" % share),
                 ("parts", " + ".join("%s %.0f" % (p, parts[p]) for p in names)
                  + " + idx/due share %.0f" % share),
                 ("other_keys", "%d" % len(other)),
                 ("encoding", "/".join("%s:%d" % kv for kv in enc.most_common())),
                 ("fields", "%d-%d" % (hlen[0], hlen[-1])), ("fields_p50", pct(hlen, 50)),
                 ("verdict", verdict)):
        print("RESULT mem_%s %s" % (k, v))


if __name__ == "__main__":
    main()
