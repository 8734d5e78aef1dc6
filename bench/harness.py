#!/usr/bin/env python3
"""Runs and measures loyaltyd for bench/run.sh (bench/README.md says what and how).

  harness.py e2e ...      start N daemons on pre-produced topics, time them until
                          /metrics shows every message applied or dead-lettered
                          (or for a bounded time), with CPU, RSS and Redis figures;
                          --monitor FILE also captures Redis MONITOR meanwhile;
                          --redis-cluster SEEDS runs them on a Redis Cluster and
                          reports the Redis CPU of each master and of the replicas
  harness.py latency ...  one daemon on live topics fed by bench/kpace at a fixed
                          rate; p99 of loyaltyd_apply_latency_seconds over the
                          measured interval, from the histogram's bucket deltas
  harness.py soak ...     one daemon on live topics fed by bench/kpace at a fixed
                          rate for --minutes, the input cycled with fresh ids; a
                          line a minute (events/s, RSS, p99, Redis memory, lag)
                          and a verdict whether the series are flat
  harness.py replay ...   replay the commands a daemon sent (a MONITOR capture)
                          with redis-cli --pipe under a fresh prefix: the Redis ceiling
  harness.py selftest     checks the metric parser, the quantile code and the soak verdict

Every wait is bounded.  Prints human-readable lines and "RESULT key value"
lines, which run.sh collects.  Daemons and helpers it started are stopped on
exit, also on SIGTERM/SIGINT.
"""
import argparse
import collections
import datetime as dt
import itertools
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

APPLIED = ("loyaltyd_applied_total", "loyaltyd_duplicates_skipped_total", "loyaltyd_dead_lettered_total")
HIST = "loyaltyd_apply_latency_seconds"
IDLE = "loyaltyd_merge_idle_timeouts_total"  # the event-time merge gave up waiting for an input
TICK = os.sysconf("SC_CLK_TCK")
CHILDREN = []  # Popen objects to stop on exit


def result(key, value):
    print("RESULT %s %s" % (key, value), flush=True)


def say(fmt, *args):
    print(fmt % args if args else fmt, flush=True)


# ---- Prometheus text ----------------------------------------------------------
SAMPLE_RE = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(\{[^}]*\})?\s+(\S+)")
LABEL_RE = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """{name: [(labels dict, value)]}"""
    out = collections.defaultdict(list)
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        m = SAMPLE_RE.match(line)
        if not m:
            continue
        try:
            v = float(m.group(3))
        except ValueError:
            continue
        out[m.group(1)].append((dict(LABEL_RE.findall(m.group(2) or "")), v))
    return out


def msum(metrics, name):
    return sum(v for _, v in metrics.get(name, ()))


def done_count(metrics):
    return sum(msum(metrics, n) for n in APPLIED)


def histogram(metrics, name=HIST):
    """(cumulative buckets {le: count} summed over other labels, sum, count), or None."""
    buckets = metrics.get(name + "_bucket")
    if not buckets:
        return None
    cum = collections.Counter()
    for labels, v in buckets:
        le = labels.get("le")
        if le is None:
            continue
        cum[float("inf") if le in ("+Inf", "Inf", "inf") else float(le)] += v
    return dict(cum), msum(metrics, name + "_sum"), msum(metrics, name + "_count")


def hist_delta(before, after):
    """after - before, bucket by bucket (before may be None: counters start at 0)."""
    if after is None:
        return None
    b_cum, b_sum, b_n = before if before else ({}, 0.0, 0.0)
    a_cum, a_sum, a_n = after
    return {le: a_cum[le] - b_cum.get(le, 0.0) for le in a_cum}, a_sum - b_sum, a_n - b_n


def quantile(q, cum):
    """Prometheus' histogram_quantile: linear interpolation within the bucket that
    holds rank q*total.  Returns (value, exact); exact is False when the rank
    falls into the +Inf bucket (value is then the highest finite bound)."""
    les = sorted(cum)
    if not les:
        return None, False
    total = cum[les[-1]] if les[-1] == float("inf") else max(cum.values())
    if total <= 0:
        return None, False
    rank = q * total
    prev_le, prev_n = 0.0, 0.0
    for le in les:
        n = cum[le]
        if n >= rank:
            if le == float("inf"):
                return prev_le, False
            if n == prev_n:
                return le, True
            lo = prev_le if prev_le < le else 0.0
            return lo + (le - lo) * (rank - prev_n) / (n - prev_n), True
        prev_le, prev_n = le, n
    return prev_le, False


# ---- processes ------------------------------------------------------------------
def cpu_s(pid):
    """user + system CPU seconds of pid so far (0 if gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except (OSError, TypeError):
        return 0.0
    fields = st[st.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def redis_info(port, section="cpu"):
    """The numeric fields of Redis's INFO section, e.g. its own CPU counters
    (INFO cpu: used_cpu_user, used_cpu_sys and, since Redis 6.2, the
    _main_thread ones) in seconds; {} when unreadable."""
    try:
        out = subprocess.run(["redis-cli", "-p", str(port), "INFO", section], capture_output=True, text=True,
                             timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    info = {}
    for line in out.splitlines():
        k, _, v = line.strip().partition(":")
        try:
            info[k] = float(v)
        except ValueError:
            pass
    return info


def redis_cpu_delta(before, after, keys):
    """sum over keys of after - before, or None when a counter is missing."""
    if not all(k in before and k in after for k in keys):
        return None
    return sum(after[k] - before[k] for k in keys)


REDIS_CPU = ("used_cpu_user", "used_cpu_sys")
REDIS_CPU_MAIN = ("used_cpu_user_main_thread", "used_cpu_sys_main_thread")
EMITTED = "loyaltyd_emitted_total"


def cluster_nodes(seeds):
    """[(port, role, INFO cpu)] of the nodes of a seed list 127.0.0.1:P,... (role
    from INFO replication: master or slave; None when the node does not answer)."""
    out = []
    for port in sorted(int(s.rpartition(":")[2]) for s in seeds.split(",") if s.strip()):
        role = None
        try:
            rep = subprocess.run(["redis-cli", "-p", str(port), "INFO", "replication"], capture_output=True,
                                 text=True, timeout=10).stdout
            role = next((ln.strip().partition(":")[2] for ln in rep.splitlines() if ln.startswith("role:")), None)
        except (OSError, subprocess.SubprocessError):
            pass
        out.append((port, role, redis_info(port)))
    return out


def cluster_cpu(n, before, after, done):
    """Report the Redis CPU of a cluster run: per event on each master (and its
    share of the masters' total), the masters' total and the replicas' total;
    the roles are those of the start (a node whose role changed is named)."""
    masters, replicas = [], 0.0
    after = {port: (role, info) for port, role, info in after}
    for port, role, info in before:
        role1, info1 = after.get(port, (None, {}))
        if role1 != role:
            say("Redis Cluster: 127.0.0.1:%d was %s at the start and is %s at the end", port, role, role1)
        d = redis_cpu_delta(info, info1, REDIS_CPU)
        if d is None:
            say("Redis Cluster: INFO cpu of 127.0.0.1:%d not readable", port)
            return
        if role == "master":
            masters.append((port, d))
        else:
            replicas += d
    tot = sum(d for _, d in masters)
    if not masters or not done or tot <= 0:
        say("Redis Cluster: no master CPU measured")
        return
    us = [1e6 * d / done for _, d in masters]
    share = [100.0 * d / tot for _, d in masters]
    result(n + "_redis_cpu_s", "%.2f" % tot)
    result(n + "_redis_us_per_event", "%.1f" % (1e6 * tot / done))
    result(n + "_redis_masters", "%d" % len(masters))
    result(n + "_redis_master_ports", "/".join("%d" % p for p, _ in masters))
    result(n + "_redis_master_us", "/".join("%.1f" % u for u in us))
    result(n + "_redis_master_share", "/".join("%.0f%%" % s for s in share))
    result(n + "_redis_master_max_us", "%.1f" % max(us))
    result(n + "_redis_replicas_us_per_event", "%.1f" % (1e6 * replicas / done))
    say("Redis CPU per event (INFO cpu used_cpu_user + used_cpu_sys): masters %.1f us in all (%.2f s); "
        "each master %s; replicas %.1f us in all (%.2f s)", 1e6 * tot / done, tot,
        ", ".join("127.0.0.1:%d %.1f us (%.0f %%)" % (p, u, s) for (p, _), u, s in zip(masters, us, share)),
        1e6 * replicas / done, replicas)
BACKLOG = "loyaltyd_derived_in_flight"


def vm_kib(pid, field="VmHWM"):
    """A field of /proc/PID/status in KiB (VmHWM: peak RSS, VmRSS: RSS now); 0 if gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def fetch(port, path="/metrics", timeout=2.0):
    """(status, body) of http://127.0.0.1:port/path; (0, '') when it does not answer."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, ""
    except (OSError, ValueError):
        return 0, ""


def stop(p, timeout=30):
    """SIGTERM, then SIGKILL after timeout; the exit code (None if it was killed)."""
    if p.poll() is None:
        p.send_signal(signal.SIGCONT)  # in case a capture left it paused
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)
            return None
    return p.returncode


def stop_all():
    while CHILDREN:
        stop(CHILDREN.pop(), 20)


def on_signal(signum, frame):
    raise KeyboardInterrupt


def conf_key(line):
    """The key of a 'key = value' config line."""
    return line.partition("=")[0].strip()


class Daemon:
    """One loyaltyd with its own config, HTTP port and log."""

    def __init__(self, a, name, i):
        self.name = "%s-%d" % (name, i)
        self.port = free_port()
        self.conf = os.path.join(a.work, self.name + ".conf")
        self.log = os.path.join(a.work, self.name + ".log")
        self.metrics_file = os.path.join(a.work, self.name + ".metrics")
        lines = [
            "kafka.bootstrap.servers = %s" % a.brokers,
            "group.id = %s" % a.group,
            "topic.orders = %sorders" % a.topic_prefix,
            "topic.reviews = %sreviews" % a.topic_prefix,
            "topic.messages = %smessages" % a.topic_prefix,
            "topic.churn_risk = %sloyalty.churn-risk" % a.topic_prefix,
            "topic.rewards = %sloyalty.rewards" % a.topic_prefix,
            "topic.segments = %sloyalty.segments" % a.topic_prefix,
            "topic.dlq = %sloyalty.dlq" % a.topic_prefix,
            ("redis.cluster = %s" % a.redis_cluster) if getattr(a, "redis_cluster", None)
            else "redis.port = %d" % a.redis_port,
            "redis.prefix = %s" % a.prefix,
            "http.listen = 127.0.0.1:%d" % self.port,
            "log.level = notice",
            "clock = stream",
            "sweep.interval_s = %d" % a.sweep,
        ]
        if getattr(a, "refit", False):  # the refit seen within a second
            lines.append("model.refresh_s = 1")
        # --conf lines go last; one that sets a key of the lines above replaces
        # that line (the daemon refuses a key set twice)
        extra = [c.strip() for c in a.conf or [] if c.strip() and not c.strip().startswith("#")]
        mine = {conf_key(c) for c in extra}
        lines = [x for x in lines if conf_key(x) not in mine]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines + extra) + "\n")
        self.proc = None
        self.metrics = {}
        self.done = 0.0
        self.t_first = None

    def start(self, loyaltyd):
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen([loyaltyd, "-c", self.conf], stdout=log, stderr=log)
        CHILDREN.append(self.proc)
        self.t0 = time.monotonic()

    def poll(self):
        """Refresh metrics; False if the process is gone."""
        if self.proc.poll() is not None:
            return False
        status, body = fetch(self.port)
        if status == 200:
            self.metrics = parse_metrics(body)
            self.text = body
            self.done = done_count(self.metrics)
            if self.t_first is None and self.done > 0:
                self.t_first = time.monotonic()
        return True

    def save_metrics(self):
        if getattr(self, "text", None):
            with open(self.metrics_file, "w") as f:
                f.write(self.text)

    def stop(self):
        rc = stop(self.proc)
        if self.proc in CHILDREN:
            CHILDREN.remove(self.proc)
        if rc != 0:
            say("harness: %s exited with %s on SIGTERM (see %s)", self.name,
                "SIGKILL after 30 s" if rc is None else rc, self.log)
        return rc


def fail(msg):
    say("harness: %s", msg)
    sys.exit(1)


# ---- e2e -------------------------------------------------------------------------
def copy_prefix(port, old, new):
    """COPY every key under prefix old to the same name under new; the count."""
    keys = subprocess.run(["redis-cli", "-p", str(port), "--scan", "--pattern", old + "*"], check=True,
                          capture_output=True).stdout.split(b"\n")
    resp = b"".join(b"*3\r\n$4\r\nCOPY\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n"
                    % (len(k), k, len(new) + len(k) - len(old), new.encode() + k[len(old):])
                    for k in keys if k)
    subprocess.run(["redis-cli", "-p", str(port), "--pipe"], input=resp, check=True, capture_output=True)
    return sum(1 for k in keys if k)


class Capture:
    """redis-cli MONITOR over a slice of a daemon's run.  At the start of the
    slice the daemon is paused (SIGSTOP) while Redis finishes what it sent, its
    keys are copied under the replay's prefix and MONITOR connects; at the end
    it is paused again while MONITOR stops.  So the capture holds exactly the
    commands of the events counted, and a replay under the copy starts from
    the state the daemon had."""

    def __init__(self, a, d):
        self.a, self.d = a, d
        self.proc = None
        self.done0 = self.done1 = 0
        self.keys = 0

    def _paused(self, what):
        pid = self.d.proc.pid
        os.kill(pid, signal.SIGSTOP)
        try:
            time.sleep(0.3)  # Redis runs what the daemon had sent
            what()
        finally:
            os.kill(pid, signal.SIGCONT)
        self.d.poll()  # answers before the daemon can finish another batch
        return self.d.done

    def _connect(self):
        a = self.a
        if a.copy_prefix and self.d.done > 0:
            self.keys = copy_prefix(a.redis_port, a.prefix, a.copy_prefix)
        self.out = open(a.monitor, "wb")
        self.proc = subprocess.Popen(["redis-cli", "-p", str(a.redis_port), "MONITOR"], stdout=self.out,
                                     stderr=subprocess.DEVNULL)
        CHILDREN.append(self.proc)
        deadline = time.monotonic() + 5
        while os.path.getsize(a.monitor) < 3 and time.monotonic() < deadline:  # its "OK"
            time.sleep(0.02)

    def _disconnect(self):
        stop(self.proc, 5)
        CHILDREN.remove(self.proc)
        self.out.close()

    def start(self):
        self.done0 = self._paused(self._connect)

    def finish(self):
        self.done1 = self._paused(self._disconnect)
        self.proc = None
        n = self.a.name
        say("MONITOR capture: messages %d to %d (%d)%s", self.done0, self.done1, self.done1 - self.done0,
            ", after copying %d keys to %s" % (self.keys, self.a.copy_prefix) if self.keys else "")
        result(n + "_monitor_from", "%d" % self.done0)
        result(n + "_monitor_events", "%d" % (self.done1 - self.done0))


def cmd_e2e(a):
    os.makedirs(a.work, exist_ok=True)
    daemons = [Daemon(a, a.name, i) for i in range(a.instances)]
    cap = None
    if a.monitor:
        if a.instances != 1:
            fail("--monitor takes one instance")
        cap = Capture(a, daemons[0])
        if not a.monitor_from:
            cap._connect()  # before the daemon connects: its FUNCTION LOAD is in the capture
    other = {"redis": a.redis_pid, "kafka": a.kafka_pid}
    other_cpu0 = {k: cpu_s(p) for k, p in other.items() if p}
    cluster = getattr(a, "redis_cluster", None)
    rinfo0 = {} if cluster else redis_info(a.redis_port)  # just before the daemon starts
    cinfo0 = cluster_nodes(cluster) if cluster else None
    t0 = time.monotonic()
    for d in daemons:
        d.start(a.loyaltyd)
    samples = []  # (t, done) after every instance applied its first event
    t_all = None  # the moment every instance had applied something
    t_done = None
    last_progress, last_done = t0, -1.0
    reason = ""
    while True:
        for d in daemons:
            if not d.poll():
                fail("%s exited (rc %s); see %s" % (d.name, d.proc.returncode, d.log))
        now = time.monotonic()
        done = sum(d.done for d in daemons)
        if done > last_done:
            last_progress, last_done = now, done
        if t_all is None and all(d.done > 0 for d in daemons):
            t_all = now
        if t_all is not None:
            samples.append((now, done))
        if cap and cap.proc is None and done >= a.monitor_from:
            cap.start()
            done = cap.done0
        elif cap and cap.proc and a.max_events and done - cap.done0 >= a.max_events:
            cap.finish()
            reason = "bounded"
            break
        if done >= a.expect:
            t_done = now
            break
        if (a.bound and t_all is not None and now - t_all >= a.bound) or (
                not cap and a.max_events and done >= a.max_events):
            reason = "bounded"
            break
        if now - last_progress > a.stall:
            reason = "no progress for %d s" % a.stall
            break
        if now - t0 > a.timeout:
            reason = "timeout %d s" % a.timeout
            break
        time.sleep(a.interval)
    t_end = time.monotonic()
    rinfo1 = {} if cluster else redis_info(a.redis_port)  # just after it caught up (or stopped)
    cinfo1 = cluster_nodes(cluster) if cluster else None
    if cap and cap.proc:
        cap.finish()
    cpu = [cpu_s(d.proc.pid) for d in daemons]
    hwm = [vm_kib(d.proc.pid) for d in daemons]
    other_cpu = {k: cpu_s(other[k]) - c0 for k, c0 in other_cpu0.items()}
    for d in daemons:
        d.save_metrics()
    metrics = [d.metrics for d in daemons]
    time.sleep(a.settle)  # one more sweep; deliveries settle
    for d in daemons:
        d.poll()
    settled = [d.metrics for d in daemons]  # the derived events, once delivered
    rcs = [d.stop() for d in daemons]

    done = sum(done_count(m) for m in metrics)
    n = a.name
    el = t_end - t0
    t_first = min((d.t_first for d in daemons if d.t_first), default=None)
    applied = sum(msum(m, "loyaltyd_applied_total") for m in metrics)
    dead = sum(msum(m, "loyaltyd_dead_lettered_total") for m in metrics)
    dup = sum(msum(m, "loyaltyd_duplicates_skipped_total") for m in metrics)
    lat_n = sum(msum(m, "loyaltyd_redis_latency_seconds_count") for m in metrics)
    lat_sum = sum(msum(m, "loyaltyd_redis_latency_seconds_sum") for m in metrics)
    rebal = sum(msum(m, "loyaltyd_rebalances_total") for m in metrics)
    who = "%d loyaltyd" % a.instances
    if t_done is not None:
        say("caught up: %d messages (%d applied, %d duplicates, %d dead-lettered) in %.2f s from start, "
            "%.2f s from the first applied (%s)", done, applied, dup, dead, el, t_done - t_first, who)
    else:
        say("stopped (%s) at %d of %d messages after %.2f s (%s)", reason, done, a.expect, el, who)
        if reason != "bounded":
            result(n + "_incomplete", 1)
    # rate from the moment every instance applied its first event (left out:
    # start-up, group join, the rebalance when the second instance joins)
    if t_all is None and a.instances > 1:
        say("no window: not every instance applied an event (one finished before the group rebalanced)")
    if samples and len(samples) > 1:
        ta, da = samples[0]
        w = [s for s in samples if s[0] - ta <= a.window] if a.window else samples
        tw, dw = w[-1]
        if tw > ta:
            result(n + "_window_events_s", "%.0f" % ((dw - da) / (tw - ta)))
            result(n + "_window_s", "%.1f" % (tw - ta))
            say("rate after every instance applied its first event: %.0f events/s over %.1f s",
                (dw - da) / (tw - ta), tw - ta)
    result(n + "_messages", a.expect)
    result(n + "_done", "%d" % done)
    result(n + "_seconds", "%.2f" % el)
    result(n + "_instances", a.instances)
    result(n + "_rebalances", "%d" % rebal)
    if t_done is not None:
        result(n + "_events_s", "%.0f" % (done / el))
        if t_first and t_done > t_first:
            result(n + "_events_s_steady", "%.0f" % (done / (t_done - t_first)))
        say("throughput: %.0f events/s from start, %.0f events/s from the first applied",
            done / el, done / max(t_done - t_first, 1e-9))
    rss = max(hwm) / 1024.0
    say("loyaltyd peak RSS (VmHWM): %s MiB", " / ".join("%.1f" % (h / 1024.0) for h in hwm))
    result(n + "_rss_mib", "%.1f" % rss)
    dcpu = sum(cpu)
    pct = lambda c: 100.0 * c / el
    say("CPU until %s: loyaltyd %.1f s (%.0f %% of one core)%s", "caught up" if t_done else "stopped",
        dcpu, pct(dcpu), "".join(", %s %.1f s (%.0f %%)" % (k, c, pct(c)) for k, c in sorted(other_cpu.items())))
    result(n + "_cpu", "%.0f%%/%.0f%%/%.0f%%" % (pct(dcpu), pct(other_cpu.get("redis", 0)),
                                                pct(other_cpu.get("kafka", 0))))
    if done:
        result(n + "_us_per_event", "%.1f" % (1e6 * dcpu / done))
        result(n + "_redis_per_event", "%.3g" % (lat_n / done))
        say("loyaltyd CPU per event: %.1f us; Redis round trips: %d, %.3g per event, mean %.3f ms",
            1e6 * dcpu / done, lat_n, lat_n / done, 1000 * lat_sum / max(lat_n, 1))
        # Redis's own counters (all its clients: the machine's other users too)
        rtot = redis_cpu_delta(rinfo0, rinfo1, REDIS_CPU)
        rmain = redis_cpu_delta(rinfo0, rinfo1, REDIS_CPU_MAIN)
        if cluster:
            cluster_cpu(n, cinfo0, cinfo1, done)
        elif rtot is None:
            say("Redis CPU per event: INFO cpu not readable")
        else:
            result(n + "_redis_cpu_s", "%.2f" % rtot)
            result(n + "_redis_us_per_event", "%.1f" % (1e6 * rtot / done))
            if rmain is not None:
                result(n + "_redis_main_us_per_event", "%.1f" % (1e6 * rmain / done))
            say("Redis CPU per event (INFO cpu used_cpu_user + used_cpu_sys, start to %s): %.1f us (%.2f s)%s",
                "caught up" if t_done else "stopped", 1e6 * rtot / done, rtot,
                "; main thread %.1f us" % (1e6 * rmain / done) if rmain is not None else "")
        # derived events: delivered (after the settle time) + still in flight
        if any(EMITTED in m for m in settled):
            by_type = collections.Counter()
            for m in settled:
                for labels, v in m.get(EMITTED, ()):
                    by_type[labels.get("type", "?")] += v
            backlog = sum(msum(m, BACKLOG) for m in settled)
            derived = sum(by_type.values()) + backlog
            result(n + "_derived", "%d" % derived)
            result(n + "_derived_share", "%.3f" % (derived / done))
            result(n + "_derived_types", ",".join("%s:%d" % kv for kv in sorted(by_type.items())))
            say("derived events: %d (%s; %d not yet acknowledged) = %.3f per input message",
                derived, ", ".join("%s %d" % kv for kv in sorted(by_type.items())), backlog, derived / done)
        else:
            say("derived events: %s not exported", EMITTED)
    result(n + "_redis_ms", "%.3f" % (1000 * lat_sum / max(lat_n, 1)))
    if any(rc != 0 for rc in rcs):
        result(n + "_exit", ",".join(str(rc) for rc in rcs))
    if t_done is None and reason != "bounded":
        sys.exit(1)


# ---- latency -------------------------------------------------------------------------
RESCORED = "loyaltyd_rescored_total"


def save_refit(port, prefix):
    """What `loyaltyctl fit --save` stores: parameters and one more version.
    These differ from the defaults (more dropout), so every rescore changes
    the customer's scores and indices."""
    params = ["r", "0.242593", "alpha", "4.413532", "a", "2.5", "b", "1.5",
              "p", "6.248802", "q", "3.744588", "gamma", "15.447748", "unit", "weeks"]
    subprocess.run(["redis-cli", "-p", str(port), "EVAL",
                    "redis.call('HSET', KEYS[1], unpack(ARGV)) "
                    "return redis.call('HINCRBY', KEYS[1], 'version', 1)",
                    "1", prefix + "model"] + params, check=True, capture_output=True)


def wait_ready(d, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if d.proc.poll() is not None:
            fail("%s exited (rc %s); see %s" % (d.name, d.proc.returncode, d.log))
        if fetch(d.port, "/ready")[0] == 200:
            return
        time.sleep(0.2)
    fail("%s not ready after %d s" % (d.name, timeout))


def fmt_s(v):
    return "%.1f ms" % (1000 * v) if v < 1 else "%.2f s" % v


def cmd_latency(a):
    os.makedirs(a.work, exist_ok=True)
    n = a.name
    d = Daemon(a, a.name, 0)
    d.start(a.loyaltyd)
    wait_ready(d, 60)
    time.sleep(a.settle)  # group join
    kp_out = os.path.join(a.work, n + ".kpace")
    with open(kp_out, "w") as f:
        kp = subprocess.Popen([a.kpace, "-b", a.brokers, "-r", str(a.rate), "-d", str(a.warm + a.measure)]
                              + ["%s%s=%s" % (a.topic_prefix, t, p) for t, p in (x.split("=", 1) for x in a.feed)],
                              stdout=f, stderr=subprocess.STDOUT)
    CHILDREN.append(kp)
    time.sleep(a.warm)
    if not d.poll():
        fail("%s exited; see %s" % (d.name, d.log))
    if a.refit:
        save_refit(a.redis_port, a.prefix)
    before, done0, t_a = histogram(d.metrics), d.done, time.monotonic()
    idle0 = msum(d.metrics, IDLE)
    rescored0 = msum(d.metrics, RESCORED)
    try:
        kp.wait(a.warm + a.measure + 90)
    except subprocess.TimeoutExpired:
        kp.kill()
        kp.wait()
    CHILDREN.remove(kp)
    t_prod = time.monotonic()
    d.poll()
    rescored = msum(d.metrics, RESCORED) - rescored0
    with open(kp_out) as f:
        kp_text = f.read()
    m = re.search(r"sent (\d+) in ([\d.]+) s \((\d+)/s", kp_text)
    if kp.returncode != 0 or not m:
        fail("kpace failed (rc %s): %s" % (kp.returncode, kp_text.strip()[-500:]))
    sent, produced_rate = int(m.group(1)), int(m.group(3))
    produced_s = float(m.group(2))
    if produced_s < 0.95 * (a.warm + a.measure):
        say("the input ran out after %.1f s of producing: the measured interval is shorter", produced_s)
        result(n + "_input_ran_out_s", "%.1f" % produced_s)
    if not d.poll():
        fail("%s exited; see %s" % (d.name, d.log))
    done_p = d.done  # when the producer stopped
    # drain: until every produced message is applied, no progress, or the bound
    last, last_t = -1, time.monotonic()
    while True:
        if not d.poll():
            fail("%s exited; see %s" % (d.name, d.log))
        now = time.monotonic()
        if d.done >= sent:
            break
        if d.done > last:
            last, last_t = d.done, now
        if now - t_prod > a.drain or now - last_t > min(a.drain, 10):
            break
        time.sleep(0.1)
    t_b = time.monotonic()
    after = histogram(d.metrics)
    done1 = d.done
    d.save_metrics()
    d.stop()

    # Kept up: less than a second's worth of input waiting when the producer
    # stopped, and all of it applied within the drain bound.
    backlog = int(sent - done_p)
    kept_up = backlog <= a.rate and done1 >= sent
    applied_rate = (done_p - done0) / max(t_prod - t_a, 1e-9)
    say("offered %d events/s to %s for %.0f s (%.0f s warm-up): kpace sent %d (%d/s)",
        a.rate, ", ".join(x.split("=", 1)[0] for x in a.feed), a.warm + a.measure, a.warm, sent, produced_rate)
    say("applied %.0f events/s while producing after the warm-up (%.1f s); backlog when the producer stopped: "
        "%d messages (%.1f s of input); %d of %d applied %.1f s later: %s", applied_rate, t_prod - t_a,
        backlog, backlog / a.rate, done1, sent, t_b - t_prod, "kept up" if kept_up else "did NOT keep up")
    result(n + "_offered", a.rate)
    result(n + "_sent", sent)
    result(n + "_kept_up", "yes" if kept_up else "no")
    result(n + "_backlog", backlog)
    result(n + "_applied_events_s", "%.0f" % applied_rate)
    if a.refit:
        say("rescored %d customers in the background while producing (%.0f/s)", rescored,
            rescored / max(t_prod - t_a, 1e-9))
        result(n + "_rescored", "%d" % rescored)
        result(n + "_rescored_s", "%.0f" % (rescored / max(t_prod - t_a, 1e-9)))
    if IDLE in d.metrics:
        say("%s over the measured interval: %d", IDLE, msum(d.metrics, IDLE) - idle0)
        result(n + "_idle_timeouts", "%d" % (msum(d.metrics, IDLE) - idle0))
    if after is None:
        say("latency: histogram not exported (%s_bucket missing from /metrics)", HIST)
        result(n + "_p99", "histogram not exported")
        return
    cum, hsum, hcount = hist_delta(before, after)
    if hcount <= 0:
        say("latency: histogram exported but no observation in the measured interval")
        result(n + "_p99", "no observations")
        return
    p50, _ = quantile(0.5, cum)
    p99, exact = quantile(0.99, cum)
    bound = "" if exact else ">= "
    say("append to state visible (%s over %d events): p50 %s, p99 %s%s, mean %s%s", HIST, hcount,
        fmt_s(p50), bound, fmt_s(p99), fmt_s(hsum / hcount),
        "" if kept_up else " (did not keep up: the tail waited in the backlog)")
    result(n + "_p99", bound + fmt_s(p99))
    result(n + "_p99_s", "%.6f" % p99)
    result(n + "_p50_s", "%.6f" % p50)
    result(n + "_lat_n", "%d" % hcount)


# ---- soak ------------------------------------------------------------------------------------
DATE_RE = re.compile(rb'"(\d{4}-\d\d-\d\d)T')
CYCLE_IDS = (b'"event_id":"', b'"order_id":"', b'"conversation_id":"')
BAD_TS = re.compile(rb'"ts":"[^0-9]')  # workload.py's bad_timestamp lines ("yesterday ...")
SOAK_RSS, SOAK_BAND, SOAK_RISE, SOAK_FLOOR = 0.10, 0.10, 0.5, 0.05  # the verdict's bounds (bench/README.md)


def date_span_days(paths):
    """Days from the earliest to the latest date in the files' lines, plus one:
    the event-time shift from one cycle of the input to the next."""
    dates = [d for p in paths for d in DATE_RE.findall(open(p, "rb").read())]
    lo, hi = (dt.date.fromisoformat(x.decode()) for x in (min(dates), max(dates)))
    return (hi - lo).days + 1


def cycle_line(line, k, shift, cache):
    """line as it is in cycle k of a cycled input: its event, order and
    conversation ids prefixed "cK." (new to the daemon: no duplicate) and its
    dates shift days later; cache maps old dates to new.  A line whose "ts" is
    not a date becomes b"": kpace would order it after every date and hold
    back its topic until the other inputs end (which cycled inputs never do)."""
    if BAD_TS.search(line):
        return b""
    for f in CYCLE_IDS:
        line = line.replace(f, f + b"c%d." % k)

    def moved(m):
        d = m.group(1)
        if d not in cache:
            cache[d] = (dt.date.fromisoformat(d.decode()) + dt.timedelta(days=shift)).isoformat().encode()
        return b'"' + cache[d] + b"T"
    return DATE_RE.sub(moved, line) if shift else line


def feed_cycles(path, fifo, days, n, cycles):
    """Writes path's lines into fifo again and again until the reader closes
    it, cycle k (0, 1, ...) through cycle_line with its dates (k - n + 1) *
    days from the file's: the event time goes forward from cycle to cycle and
    reaches the file's own dates in cycle n - 1 (the daemon dead-letters a
    timestamp in the future).  cycles[path] counts the cycles begun."""
    try:
        with open(fifo, "wb") as out:
            for k in itertools.count():
                cycles[path] = k + 1
                cache = {}
                with open(path, "rb") as f:
                    for line in f:
                        out.write(cycle_line(line, k, (k - n + 1) * days, cache))
    except OSError:  # BrokenPipeError: kpace is done
        pass


def soak_verdict(rows, rss_bound=SOAK_RSS, band=SOAK_BAND, rise=SOAK_RISE, floor=SOAK_FLOOR):
    """Whether a soak's per-minute series are flat: [(ok, text)] for RSS growth
    from minute 5 (the last minute of a shorter run) to the end (at most
    rss_bound), events/s of every minute (within band of the median) and the
    p99 (its least-squares rise over the run at most rise x its median, or
    floor seconds).  rows: one dict a minute with events_s, rss_kib, p99 (s or None)."""
    n, out = len(rows), []
    b = min(4, n - 1)
    r0, r1 = rows[b]["rss_kib"], rows[-1]["rss_kib"]
    g = (r1 - r0) / r0 if r0 else float("inf")
    out.append((g <= rss_bound, "RSS minute %d -> %d: %.1f -> %.1f MiB (%+.1f %%; bound +%.0f %%)"
                % (b + 1, n, r0 / 1024, r1 / 1024, 100 * g, 100 * rss_bound)))
    rates = [r["events_s"] for r in rows]
    med = statistics.median(rates)
    off = [i + 1 for i, v in enumerate(rates) if abs(v - med) > band * med]
    out.append((not off, "events/s %.0f to %.0f, median %.0f; band +-%.0f %% of the median: %s"
                % (min(rates), max(rates), med, 100 * band,
                   "every minute within" if not off else "outside in minute(s) %s" % off)))
    pts = [(i + 1, r["p99"]) for i, r in enumerate(rows) if r["p99"] is not None]
    if len(pts) < 3:
        out.append((len(pts) == n, "p99: %d minute(s) with observations, too few for a trend" % len(pts)))
        return out
    xm, ym = statistics.mean(x for x, _ in pts), statistics.mean(y for _, y in pts)
    slope = sum((x - xm) * (y - ym) for x, y in pts) / sum((x - xm) ** 2 for x, _ in pts)
    up = slope * (pts[-1][0] - pts[0][0])
    lim = max(rise * statistics.median(y for _, y in pts), floor)
    out.append((up <= lim and len(pts) == n,
                "p99 %s to %s, fitted rise over the run %+.1f ms (bound %.1f ms: %.0f %% of the median or %.0f ms)%s"
                % (fmt_s(min(y for _, y in pts)), fmt_s(max(y for _, y in pts)), 1000 * up, 1000 * lim, 100 * rise,
                   1000 * floor, "" if len(pts) == n else "; minutes without observations")))
    return out


def cmd_soak(a):
    os.makedirs(a.work, exist_ok=True)
    feeds = [x.split("=", 1) for x in a.feed]
    days = date_span_days([p for _, p in feeds])
    lines = sum(sum(1 for _ in open(p, "rb")) for _, p in feeds)
    n = int(a.rate * (a.warm + 60 * a.minutes + 5) / lines) + 2  # the cycles kpace can reach, and one more
    d = Daemon(a, a.name, 0)
    d.start(a.loyaltyd)
    wait_ready(d, 60)
    time.sleep(a.settle)  # group join
    cycles, args = {}, []
    for t, path in feeds:
        fifo = os.path.join(a.work, "%s.%s.fifo" % (a.name, t))
        if os.path.exists(fifo):
            os.unlink(fifo)
        os.mkfifo(fifo)
        threading.Thread(target=feed_cycles, args=(path, fifo, days, n, cycles), daemon=True).start()
        args.append("%s%s=%s" % (a.topic_prefix, t, fifo))
    kp_out = os.path.join(a.work, a.name + ".kpace")
    with open(kp_out, "w") as f:
        kp = subprocess.Popen([a.kpace, "-b", a.brokers, "-r", str(a.rate), "-d", str(a.warm + 60 * a.minutes + 5)]
                              + args, stdout=f, stderr=subprocess.STDOUT)
    CHILDREN.append(kp)
    say("soak: %d events/s offered to %s for %d min after %.0f s of warm-up; the input cycles, each cycle with "
        "fresh ids and %d days later, the first %d x %d days before the files' dates", a.rate,
        ", ".join(t for t, _ in feeds), a.minutes, a.warm, days, n - 1, days)
    time.sleep(a.warm)
    if not d.poll():
        fail("%s exited; see %s" % (d.name, d.log))
    m0 = d.metrics
    applied = lambda: msum(d.metrics, APPLIED[0])  # applied only: not duplicates, not dead-lettered
    t_prev, done_prev, h_prev = time.monotonic(), applied(), histogram(d.metrics)
    t0, rows = t_prev, []
    say("%6s %9s %8s %10s %16s %8s", "minute", "events/s", "RSS MiB", "p99", "Redis used MiB", "lag")
    for minute in range(1, a.minutes + 1):
        while time.monotonic() < t0 + 60 * minute:
            if kp.poll() is not None:
                fail("kpace exited early (rc %s): %s" % (kp.returncode, open(kp_out).read().strip()[-500:]))
            if d.proc.poll() is not None:
                fail("%s exited (rc %s); see %s" % (d.name, d.proc.returncode, d.log))
            time.sleep(max(0.0, min(1.0, t0 + 60 * minute - time.monotonic())))
        if not d.poll():
            fail("%s exited; see %s" % (d.name, d.log))
        now, h = time.monotonic(), histogram(d.metrics)
        delta = hist_delta(h_prev, h)
        p99, exact = quantile(0.99, delta[0]) if delta and delta[2] > 0 else (None, True)
        row = {"events_s": (applied() - done_prev) / (now - t_prev), "rss_kib": vm_kib(d.proc.pid, "VmRSS"),
               "p99": p99, "redis": redis_info(a.redis_port, "memory").get("used_memory", 0),
               "lag": sum(v for _, v in d.metrics.get("loyaltyd_consumer_lag", ()) if v > 0)}
        rows.append(row)
        say("%6d %9.0f %8.1f %10s %16.1f %8d", minute, row["events_s"], row["rss_kib"] / 1024,
            "n/a" if p99 is None else ("" if exact else ">=") + fmt_s(p99), row["redis"] / 2 ** 20, row["lag"])
        t_prev, done_prev, h_prev = now, applied(), h
    try:
        kp.wait(90)
    except subprocess.TimeoutExpired:
        kp.kill()
        kp.wait()
    CHILDREN.remove(kp)
    d.save_metrics()
    d.stop()
    say("%s; input cycles begun: %s; over the measured minutes: %d duplicates skipped, %d dead-lettered, "
        "%d late", open(kp_out).read().strip(), max(cycles.values(), default=0),
        *(msum(d.metrics, k) - msum(m0, k) for k in APPLIED[1:] + ("loyaltyd_late_events_total",)))
    checks = soak_verdict(rows)
    for ok, text in checks:
        say("%-8s %s", "flat:" if ok else "GROWING:", text)
    flat = all(ok for ok, _ in checks)
    say("verdict: %s", "flat" if flat else "NOT flat")
    if not flat:
        sys.exit(1)


# ---- replay: the Redis ceiling -----------------------------------------------------------
MON_RE = re.compile(rb'^(\d+\.\d+) \[(\d+) ([^\]]+)\] (.*)$')
ARG_RE = re.compile(rb'"((?:[^"\\]|\\.)*)"')
ESC_RE = re.compile(rb'\\(x[0-9a-fA-F]{2}|.)', re.S)
ESC = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"a": b"\a", b"b": b"\b", b'"': b'"', b"\\": b"\\"}


def unescape(s):
    if b"\\" not in s:
        return s
    return ESC_RE.sub(lambda m: bytes([int(m.group(1)[1:], 16)]) if m.group(1)[:1] == b"x" and len(m.group(1)) == 3
                      else ESC.get(m.group(1), m.group(1)), s)


def monitor_lines(path):
    """(client address, raw argument text) of each command line of a MONITOR
    capture, leaving out the commands Redis functions ran ([db lua]): they
    are part of their FCALL."""
    with open(path, "rb") as f:
        for line in f:
            m = MON_RE.match(line.rstrip(b"\r\n"))
            if m and m.group(3) != b"lua":
                yield m.group(3), m.group(4)


def cmd_replay(a):
    old, new = a.prefix.encode(), a.new_prefix.encode()
    # pass 1: the connections that touched the run's prefix (the daemon's)
    daemon_clients = {addr for addr, raw in monitor_lines(a.monitor) if old in raw}
    if not daemon_clients:
        fail("replay: no command with prefix %r in %s" % (a.prefix, a.monitor))
    # pass 2: every command of those connections (FUNCTION LOAD too), in
    # execution order, prefix rewritten, as RESP
    mix = collections.Counter()
    ncmd = 0
    resp = os.path.join(a.work, "replay.resp")
    with open(resp, "wb") as f:
        for addr, raw in monitor_lines(a.monitor):
            if addr not in daemon_clients:
                continue
            args = [unescape(x).replace(old, new) for x in ARG_RE.findall(raw)]
            if not args:
                continue
            mix[args[0].upper().decode("ascii", "replace")] += 1
            ncmd += 1
            f.write(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(x), x) for x in args))
    size = os.path.getsize(resp)
    t = time.monotonic()
    with open(resp, "rb") as f:
        p = subprocess.run(["redis-cli", "-p", str(a.redis_port), "--pipe"], stdin=f, capture_output=True,
                           text=True, timeout=a.timeout)
    el = time.monotonic() - t
    m = re.search(r"errors: (\d+), replies: (\d+)", p.stdout)
    if p.returncode != 0 and not m:
        fail("replay: redis-cli --pipe failed: %s %s" % (p.stdout[-300:], p.stderr[-300:]))
    errors, replies = (int(m.group(1)), int(m.group(2))) if m else (-1, -1)
    keys = len(subprocess.run(["redis-cli", "-p", str(a.redis_port), "--scan", "--pattern", a.new_prefix + "*"],
                              capture_output=True, text=True).stdout.split())
    say("captured %d commands from %d connection(s) for %d events (%.2f per event, %.0f bytes of RESP): %s",
        ncmd, len(daemon_clients), a.events, ncmd / a.events, size,
        ", ".join("%s %d" % kv for kv in mix.most_common(8)))
    say("redis-cli --pipe: %d replies, %d errors in %.2f s: %.0f commands/s = %.0f events/s (%d keys written)",
        replies, errors, el, ncmd / el, a.events / el, keys)
    result("ceiling_commands", ncmd)
    result("ceiling_cmds_per_event", "%.2f" % (ncmd / a.events))
    result("ceiling_commands_s", "%.0f" % (ncmd / el))
    result("ceiling_events_s", "%.0f" % (a.events / el))
    result("ceiling_errors", errors)
    if not a.keep:
        os.unlink(resp)


# ---- selftest --------------------------------------------------------------------------
def cmd_selftest(a):
    text = "\n".join([
        "# TYPE loyaltyd_apply_latency_seconds histogram",
        'loyaltyd_apply_latency_seconds_bucket{le="0.001"} 0',
        'loyaltyd_apply_latency_seconds_bucket{le="0.01"} 50',
        'loyaltyd_apply_latency_seconds_bucket{le="0.1"} 90',
        'loyaltyd_apply_latency_seconds_bucket{le="1"} 100',
        'loyaltyd_apply_latency_seconds_bucket{le="+Inf"} 100',
        "loyaltyd_apply_latency_seconds_sum 5.5",
        "loyaltyd_apply_latency_seconds_count 100",
        'loyaltyd_dead_lettered_total{reason="invalid_json"} 2',
        "loyaltyd_applied_total 40",
    ])
    m = parse_metrics(text)
    assert done_count(m) == 42, done_count(m)
    h = histogram(m)
    assert h[2] == 100 and h[0][0.01] == 50
    v, exact = quantile(0.99, h[0])
    assert exact and abs(v - 0.91) < 1e-9, v   # rank 99 in (0.1, 1]: 0.1 + 0.9 * 9/10
    v, _ = quantile(0.5, h[0])
    assert abs(v - 0.01) < 1e-9, v
    before = ({0.001: 0, 0.01: 40, 0.1: 80, 1: 80, float("inf"): 80}, 1.0, 80)
    cum, s, c = hist_delta(before, h)
    assert c == 20 and cum[0.01] == 10 and cum[1] == 20
    v, _ = quantile(0.99, cum)  # rank 19.8 in (0.1, 1] (10 in it): 0.1 + 0.9 * 9.8/10
    assert abs(v - 0.982) < 1e-9, v
    v, exact = quantile(0.99, {0.1: 10, float("inf"): 100})
    assert not exact and v == 0.1
    assert histogram(parse_metrics("loyaltyd_applied_total 3")) is None
    assert unescape(b'a\\"b\\\\c\\x41\\n') == b'a"b\\cA\n'
    line = b'1.5 [0 127.0.0.1:5] "SET" "k\\"1" "v\\x00"'
    mm = MON_RE.match(line)
    assert [unescape(x) for x in ARG_RE.findall(mm.group(4))] == [b"SET", b'k"1', b"v\x00"]
    # soak: the cycled input and the verdict on synthetic series
    line = b'c\t{"event_id":"w1-1","order_id":"o-1","ts":"2025-12-31T01:02:03.000Z"}\n'
    assert cycle_line(line, 0, 0, {}) == line.replace(b'"w1', b'"c0.w1').replace(b'"o-', b'"c0.o-')
    assert cycle_line(line, 2, 800, {}) == b'c\t{"event_id":"c2.w1-1","order_id":"c2.o-1","ts":"2028-03-10T01:02:03.000Z"}\n'
    assert b'"ts":"2024-12-31T' in cycle_line(line, 5, -365, {})
    assert cycle_line(line.replace(b'"ts":"', b'"ts":"yesterday '), 0, 0, {}) == b""
    rows = [{"events_s": 5000 + 30 * (i % 3), "rss_kib": 60000 + 100 * (i % 2), "p99": 0.08 + 0.01 * (i % 4)}
            for i in range(30)]
    assert all(ok for ok, _ in soak_verdict(rows))
    grow = [dict(r, rss_kib=60000 * (1 + 0.01 * i)) for i, r in enumerate(rows)]
    assert [ok for ok, _ in soak_verdict(grow)] == [False, True, True]
    dip = [dict(r, events_s=3000 if i == 17 else r["events_s"]) for i, r in enumerate(rows)]
    assert [ok for ok, _ in soak_verdict(dip)] == [True, False, True]
    worse = [dict(r, p99=0.05 + 0.01 * i) for i, r in enumerate(rows)]
    assert [ok for ok, _ in soak_verdict(worse)] == [True, True, False]
    spike = [dict(r, p99=0.4 if i == 12 else r["p99"]) for i, r in enumerate(rows)]  # one bad minute: no trend
    assert all(ok for ok, _ in soak_verdict(spike))
    say("harness selftest: ok")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    def daemon_args(p):
        p.add_argument("--name", required=True)
        p.add_argument("--work", required=True)
        p.add_argument("--loyaltyd", default="build/loyaltyd")
        p.add_argument("--brokers", default="127.0.0.1:19092")
        p.add_argument("--topic-prefix", required=True)
        p.add_argument("--group", required=True)
        p.add_argument("--prefix", required=True, help="redis.prefix")
        p.add_argument("--redis-port", type=int, default=16379)
        p.add_argument("--sweep", type=int, default=2, help="sweep.interval_s")
        p.add_argument("--conf", action="append",
                       help="extra 'key = value' config line (replaces the harness's own line for that key)")
        p.add_argument("--settle", type=float, default=3.0)

    p = sub.add_parser("e2e")
    daemon_args(p)
    p.add_argument("--instances", type=int, default=1)
    p.add_argument("--expect", type=int, required=True, help="input messages")
    p.add_argument("--bound", type=float, default=0, help="stop this long after every instance applied")
    p.add_argument("--window", type=float, default=60, help="window of the _window_events_s rate")
    p.add_argument("--stall", type=float, default=60, help="give up after this long without progress")
    p.add_argument("--timeout", type=float, default=3600)
    p.add_argument("--interval", type=float, default=0.1)
    p.add_argument("--redis-pid", type=int)
    p.add_argument("--redis-cluster", metavar="SEEDS",
                   help="redis.cluster = SEEDS (127.0.0.1:PORT,...) instead of redis.port; Redis CPU "
                        "from INFO cpu of every node, per master and for the replicas")
    p.add_argument("--kafka-pid", type=int)
    p.add_argument("--max-events", type=int, default=0,
                   help="stop once this many messages are processed (with --monitor: captured)")
    p.add_argument("--monitor", help="capture redis-cli MONITOR to this file meanwhile")
    p.add_argument("--monitor-from", type=int, default=0, help="start the capture at this many messages")
    p.add_argument("--copy-prefix", help="with --monitor-from: copy the state here when the capture starts")

    p = sub.add_parser("latency")
    daemon_args(p)
    p.add_argument("--kpace", default="build/bench/kpace")
    p.add_argument("--rate", type=int, default=20000)
    p.add_argument("--warm", type=float, default=5)
    p.add_argument("--measure", type=float, default=20)
    p.add_argument("--drain", type=float, default=20)
    p.add_argument("--feed", action="append", required=True, help="TOPIC=FILE (topic without the prefix)")
    p.add_argument("--refit", action="store_true",
                   help="save a new model version at the end of the warm-up: the customers the "
                        "warm-up made are rescored while the measured events arrive")

    p = sub.add_parser("soak")
    daemon_args(p)
    p.add_argument("--kpace", default="build/bench/kpace")
    p.add_argument("--rate", type=int, default=5000)
    p.add_argument("--minutes", type=int, default=30)
    p.add_argument("--warm", type=float, default=15, help="seconds of input before the first minute")
    p.add_argument("--feed", action="append", required=True,
                   help="TOPIC=FILE (topic without the prefix); the files are cycled")

    p = sub.add_parser("replay")
    p.add_argument("--work", required=True)
    p.add_argument("--monitor", required=True)
    p.add_argument("--prefix", required=True, help="the captured run's redis.prefix")
    p.add_argument("--new-prefix", required=True)
    p.add_argument("--events", type=int, required=True, help="messages of the captured run")
    p.add_argument("--redis-port", type=int, default=16379)
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--keep", action="store_true")

    sub.add_parser("selftest")
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, on_signal)
    try:
        {"e2e": cmd_e2e, "latency": cmd_latency, "soak": cmd_soak, "replay": cmd_replay,
         "selftest": cmd_selftest}[a.cmd](a)
    except KeyboardInterrupt:
        say("harness: interrupted")
        sys.exit(130)
    finally:
        stop_all()


if __name__ == "__main__":
    main()
