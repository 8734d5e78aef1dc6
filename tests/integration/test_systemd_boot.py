"""The Debian package under a real systemd: a container (systemd-nspawn)
boots systemd as its init on a throw-away overlay of this machine's root,
the .deb is installed in it with dpkg, and the shipped unit is started,
reloaded, watched and stopped by systemd itself.

The container shares the host's network, so the daemon inside reaches the
test's Kafka and a password-protected Redis of the test's own on loopback.
Nothing it writes reaches the host's root: the overlay's upper layer is a
tmpfs, unmounted afterwards.

The package comes from $LOYALTYD_DEB (tests/run-all.sh builds it in its
package step); without it the test builds one with tests/deploy/package.sh."""
import glob
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid

import pytest

from checks import check_state
from conftest import ROOT, BROKERS, feed_workload, free_port, http_get, log, wait_for
from workload import Workload

NSPAWN = shutil.which("systemd-nspawn")
MACHINE = "loyaltyd-it"


def sh(*cmd, timeout=60, check=True):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError("%s: exit %d\n%s%s" % (" ".join(cmd), p.returncode, p.stdout,
                                                    p.stderr))
    return p


class Container:
    """systemd booted in a container on an overlay of /, entered with nsenter."""

    def __init__(self, workdir):
        self.base = workdir
        self.upper = os.path.join(workdir, "layer")
        self.root = os.path.join(workdir, "root")
        self.proc = None
        self.leader = None
        self.log_path = os.path.join(workdir, "console.log")

    def setup(self):
        os.makedirs(self.upper)
        os.makedirs(self.root)
        sh("mount", "-t", "tmpfs", "tmpfs", self.upper)
        os.makedirs(os.path.join(self.upper, "u"))
        os.makedirs(os.path.join(self.upper, "w"))
        sh("mount", "-t", "overlay", "overlay", "-o",
           "lowerdir=/,upperdir=%s/u,workdir=%s/w" % (self.upper, self.upper), self.root)
        # Boot to a target of our own: the servers this machine has installed
        # (redis-server, prometheus, ...) stay down in the container.
        units = os.path.join(self.root, "etc/systemd/system")
        with open(os.path.join(units, "loyaltyd-it.target"), "w") as f:
            f.write("[Unit]\nDescription=loyaltyd test boot\nRequires=basic.target\n"
                    "After=basic.target\nAllowIsolate=yes\n")
        target = os.path.join(units, "default.target")
        if os.path.lexists(target):
            os.unlink(target)
        os.symlink("/etc/systemd/system/loyaltyd-it.target", target)

    def boot(self, timeout=90):
        self.console = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            # No systemd on the host to register with or to allocate a scope
            # from: --register=no --keep-unit.  A machine id of its own.
            [NSPAWN, "--quiet", "--boot", "--register=no", "--keep-unit",
             "--link-journal=no", "--uuid=" + str(uuid.uuid4()), "--console=passive",
             "--machine=" + MACHINE, "-D", self.root],
            stdin=subprocess.DEVNULL, stdout=self.console, stderr=subprocess.STDOUT)

        def leader():
            """nspawn's child that runs systemd (an intermediate child comes
            and goes before it)."""
            assert self.proc.poll() is None, "systemd-nspawn exited:\n" + self.console_text()
            for kid in sh("pgrep", "-P", str(self.proc.pid), check=False).stdout.split():
                try:
                    with open("/proc/%s/comm" % kid) as f:
                        if f.read().strip() == "systemd":
                            return kid
                except OSError:
                    pass
            return None
        self.leader = wait_for("the container's init", leader, 30)

        def up():
            state = self.run("systemctl", "is-system-running", "--wait", check=False,
                             timeout=timeout).stdout.strip()
            return state if state in ("running", "degraded") else None
        state = wait_for("the container's systemd up", up, timeout, interval=0.5)
        log("container: systemd %s (init pid %s on the host)" % (state, self.leader))

    def run(self, *cmd, check=True, timeout=120):
        return sh("nsenter", "--target", self.leader, "--mount", "--uts", "--ipc", "--net",
                  "--pid", "--cgroup", "--", "/usr/bin/env",
                  "PATH=/usr/sbin:/usr/bin:/sbin:/bin", *cmd, check=check, timeout=timeout)

    def show(self, unit, *props):
        out = self.run("systemctl", "show", unit, "-p", ",".join(props)).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def write(self, path, text, mode=0o644):
        full = os.path.join(self.root, path.lstrip("/"))
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(text)
        os.chmod(full, mode)

    def console_text(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def teardown(self):
        if self.proc is not None and self.proc.poll() is None:
            if self.leader:
                self.run("systemctl", "poweroff", check=False, timeout=30)
            try:
                self.proc.wait(45)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.proc is not None:
            self.console.close()
        for m in (self.root, self.upper):
            if os.path.ismount(m):
                sh("umount", "-l", m, check=False)


def the_deb(tmp_path):
    deb = os.environ.get("LOYALTYD_DEB")
    if deb:
        assert os.path.exists(deb), "LOYALTYD_DEB=%s does not exist" % deb
        return deb
    out = tmp_path / "deb"
    out.mkdir()
    subprocess.run([os.path.join(ROOT, "tests/deploy/package.sh")], check=True, timeout=900,
                   env=dict(os.environ, DEB_OUT=str(out)), stdout=subprocess.DEVNULL)
    return glob.glob(str(out / "loyaltyd_*.deb"))[0]


@pytest.fixture
def container(tmp_path):
    if os.geteuid() != 0:
        pytest.fail("the systemd boot test needs root (mount, systemd-nspawn)")
    assert NSPAWN, "systemd-nspawn is missing (Debian package systemd-container)"
    c = Container(tempfile.mkdtemp(prefix="loyaltyd-boot-"))
    try:
        c.setup()
        c.boot()
        yield c
    finally:
        c.teardown()
        shutil.rmtree(c.base, ignore_errors=True)


def test_installed_unit_under_systemd(env, container, tmp_path):
    """Install the .deb, start the shipped unit with a password credential and
    a drop-in, and check what systemd sees: READY (active/running), the
    dynamic user, the credential and ${VAR} expansion at work (the state lands
    under the expanded prefix, in a Redis that wants the password), the
    watchdog kept fed, a reload, journald priorities, a clean stop, and a bad
    configuration that fails the start once without a restart loop."""
    import redis
    c = container
    deb = the_deb(tmp_path)
    shutil.copy(deb, os.path.join(c.root, "var/tmp/loyaltyd.deb"))
    c.run("dpkg", "-i", "/var/tmp/loyaltyd.deb", timeout=120)
    assert c.run("systemctl", "is-enabled", "loyaltyd", check=False).stdout.strip() == "disabled"
    assert c.show("loyaltyd", "ActiveState")["ActiveState"] == "inactive"  # not started on install

    # A Redis that wants a password, on the shared loopback.
    port, secret = free_port(), "boot-horse-battery"
    # With AOF, as README "Guarantees" asks (without it the daemon warns).
    srv = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                            "--requirepass", secret, "--save", "", "--appendonly", "yes",
                            "--dir", str(tmp_path)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        r = redis.Redis(port=port, password=secret)
        wait_for("the test's own Redis", lambda: _ping(r), 10, interval=0.1)
        http = free_port()
        # The integration tests' own settings (topics, group, limits), for
        # a Redis and a prefix of this test's.
        keys = dict(env.daemon("boot").conf)
        keys.update({"redis.port": str(port), "redis.prefix": "${LOYALTYD_SHOP}:",
                     "http.listen": "127.0.0.1:%d" % http})
        conf = "".join("%s = %s\n" % kv for kv in keys.items())
        c.write("/etc/loyaltyd/loyaltyd.conf", conf)
        c.write("/etc/loyaltyd/redis.password", secret + "\n", mode=0o600)
        c.write("/etc/systemd/system/loyaltyd.service.d/test.conf",
                "[Service]\nLoadCredential=redis-password:/etc/loyaltyd/redis.password\n"
                "Environment=LOYALTYD_SHOP=%s\n"
                # Fed every second, or systemd kills it after two.
                "WatchdogSec=2s\n" % env.redis_prefix.rstrip(":"))
        # The refit reads the same configuration: the same credential and
        # environment.
        c.write("/etc/systemd/system/loyaltyd-refit.service.d/test.conf",
                "[Service]\nLoadCredential=redis-password:/etc/loyaltyd/redis.password\n"
                "Environment=LOYALTYD_SHOP=%s\n" % env.redis_prefix.rstrip(":"))
        c.run("systemctl", "daemon-reload")
        env.create_topics()
        w = Workload(seed=97, customers=60)
        feed_workload(env, w)

        t0 = time.monotonic()
        c.run("systemctl", "start", "loyaltyd", timeout=120)  # returns at READY=1
        log("systemctl start: %.1f s" % (time.monotonic() - t0))
        st = c.show("loyaltyd", "ActiveState", "SubState", "MainPID", "StatusText",
                    "NRestarts", "WatchdogUSec")
        assert (st["ActiveState"], st["SubState"]) == ("active", "running"), st
        assert st["WatchdogUSec"] in ("2s", "2000000"), st
        pid = st["MainPID"]
        status = c.run("cat", "/proc/%s/status" % pid).stdout
        uid = int(next(l for l in status.splitlines() if l.startswith("Uid:")).split()[1])
        assert 61184 <= uid <= 65519, "not a dynamic user: uid %d" % uid
        assert http_get(http, "/ready")[0] == 200
        # ProcSubset=pid hides /proc/stat (the boot time): the start time
        # still comes out right.
        started = next(float(l.split()[1]) for l in http_get(http, "/metrics")[1].splitlines()
                       if l.startswith("process_start_time_seconds "))
        assert time.time() - 120 < started <= time.time(), started

        def caught_up():
            code, text = http_get(http, "/metrics")
            applied = sum(float(l.split()[-1]) for l in text.splitlines()
                          if l.startswith(("loyaltyd_applied_total ",
                                           "loyaltyd_dead_lettered_total{")))
            return applied >= w.valid_count() + len(w.bad)
        wait_for("the unit's daemon caught up", caught_up, 120, interval=0.5)
        check_state(r, env.redis_prefix, w)

        # Watchdog: pinged at half of WatchdogSec, so still the same process.
        time.sleep(5)
        st2 = c.show("loyaltyd", "ActiveState", "MainPID", "NRestarts", "StatusText")
        assert (st2["ActiveState"], st2["MainPID"], st2["NRestarts"]) == ("active", pid, "0"), st2
        assert "applied" in st2["StatusText"], st2

        c.run("systemctl", "reload", "loyaltyd")
        wait_for("the reload applied", lambda: 'loyaltyd_config_reloads_total{result="applied"} 1'
                 in http_get(http, "/metrics")[1], 20)
        assert c.show("loyaltyd", "MainPID")["MainPID"] == pid

        # The daily refit, run now: loyaltyctl under the refit unit reads the
        # same configuration and credential, logs the old parameters, and
        # either saves a new version (which the daemon then rescores every
        # customer with) or fails, saving nothing.
        assert c.run("systemctl", "is-enabled", "loyaltyd-refit.timer",
                     check=False).stdout.strip() == "disabled"
        c.run("systemctl", "start", "loyaltyd-refit.service", check=False, timeout=300)
        refit = c.show("loyaltyd-refit.service", "Result", "ExecMainStatus")
        said = c.run("journalctl", "-u", "loyaltyd-refit", "--no-pager", "-o", "cat").stdout
        assert "loyaltyctl: model version 0: r=" in said, said
        version = r.hget(env.redis_prefix + "model", "version")
        log("refit unit: %s, %s" % (refit, said.strip().splitlines()[-1]))
        if refit["Result"] == "success":
            assert version == b"1" and "saved as model version 1" in said, said
            wait_for("the unit's daemon rescored", lambda: 'loyaltyd_rescored_total %d' % len(
                w.customers()) in http_get(http, "/metrics")[1], 60)
        else:
            assert version is None and refit["ExecMainStatus"] == "1", (refit, said)
            assert "nothing saved" in said or "nothing to fit" in said, said

        # journald parsed the <N> prefixes: the start line is a notice (5),
        # a dead-lettered message info (6), and a healthy run says nothing
        # at warning or above (libmicrohttpd's own lines included).
        entries = [json.loads(l) for l in c.run(
            "journalctl", "-u", "loyaltyd", "-o", "json", "--no-pager").stdout.splitlines()]
        own = [(e.get("PRIORITY"), e.get("MESSAGE", "")) for e in entries
               if e.get("_PID") == pid]
        assert any(p == "5" and m.startswith("loyaltyd ") and " running " in m
                   for p, m in own), own[:20]
        assert any(p == "6" and "dead-lettered" in m for p, m in own), own[:20]
        assert not [(p, m) for p, m in own if p is None or int(p) <= 4], own[:20]
        assert not any(secret in e.get("MESSAGE", "") for e in entries)

        c.run("systemctl", "stop", "loyaltyd", timeout=60)
        st = c.show("loyaltyd", "ActiveState", "Result", "ExecMainStatus")
        assert (st["ActiveState"], st["Result"], st["ExecMainStatus"]) == (
            "inactive", "success", "0"), st

        # A bad line: the start fails with 78 (EX_CONFIG), and is not retried.
        c.write("/etc/loyaltyd/loyaltyd.conf", conf + "redis.prefix = again\n")
        p = c.run("systemctl", "start", "loyaltyd", check=False, timeout=60)
        assert p.returncode != 0
        time.sleep(3)  # RestartSec=2s: a restart would have come by now
        st = c.show("loyaltyd", "ActiveState", "Result", "NRestarts", "ExecMainStatus")
        assert (st["ActiveState"], st["Result"], st["NRestarts"], st["ExecMainStatus"]) == (
            "failed", "exit-code", "0", "78"), st
        journal = c.run("journalctl", "-u", "loyaltyd", "--no-pager", "-o", "cat").stdout
        assert "/etc/loyaltyd/loyaltyd.conf:%d: redis.prefix is already set" % (
            conf.count("\n") + 1) in journal, journal[-2000:]
    finally:
        srv.terminate()
        srv.wait(10)


def _ping(r):
    import redis
    try:
        return r.ping()
    except redis.exceptions.ConnectionError:
        return False
