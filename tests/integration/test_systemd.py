"""What the daemon tells systemd, through a notify socket of the test's own
(the daemon cannot tell it from systemd's): READY=1 once it runs, WATCHDOG=1
at half of WATCHDOG_USEC rather than at every turn of its loop, STOPPING=1 on
SIGTERM; and the secrets systemd hands over as credentials
($CREDENTIALS_DIRECTORY, LoadCredential=)."""
import os
import socket
import time

from conftest import free_port, wait_for


def listen(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(0.2)
    return s


def messages(s, seconds):
    """(monotonic time, datagram) received for that long."""
    out, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            out.append((time.monotonic(), s.recv(4096).decode()))
        except socket.timeout:
            pass
    return out


def test_notify_and_watchdog_cadence(env, tmp_path):
    path = str(tmp_path / "notify.sock")
    s = listen(path)
    try:
        d = env.daemon("sd")
        d.start(extra_env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"})
        got = messages(s, 6.0)
        texts = [m for _, m in got]
        assert any("READY=1" in m for m in texts), texts[:10]
        pings = [t for t, m in got if "WATCHDOG=1" in m]
        # Every second (half of 2 s): about six in six seconds, not one per turn
        # of the main loop (ten a second when idle).
        assert 4 <= len(pings) <= 8, (len(pings), texts[:20])
        gaps = [b - a for a, b in zip(pings, pings[1:])]
        assert min(gaps) > 0.8, gaps
        assert any(m.startswith("STATUS=") for m in texts), texts[:10]
        d.proc.send_signal(15)
        bye = [m for _, m in messages(s, 3.0)]
        assert any("STOPPING=1" in m for m in bye), bye
        d.proc.wait(30)
    finally:
        s.close()


def test_redis_password_from_credentials(env, tmp_path):
    """A Redis of the test's own that wants a password: the daemon given it
    as the credential redis-password gets ready; given a wrong one, it does
    not, says why, and never logs the password."""
    import redis
    import subprocess
    port = free_port()
    srv = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                            "--requirepass", "right-horse-battery", "--save", "",
                            "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def up():
            try:
                return redis.Redis(port=port, password="right-horse-battery").ping()
            except redis.exceptions.ConnectionError:
                return False
        wait_for("the test's own Redis", up, 10, interval=0.1)
        creds = tmp_path / "creds"
        creds.mkdir()
        for name, secret, ready in (("good", "right-horse-battery", True),
                                    ("bad", "wrong-horse-staple", False)):
            (creds / "redis-password").write_text(secret + "\n")
            d = env.daemon("cred-" + name, **{"redis.port": port})
            d.start(wait_ready=False, extra_env={"CREDENTIALS_DIRECTORY": str(creds)})

            def text():
                with open(d.stderr_path, errors="replace") as f:
                    return f.read()

            def settled():
                if d.get("/ready")[0] == 200:
                    return "ready"
                t = text().lower()
                return not ready and "redis" in t and "pass" in t and "refused"

            ok = wait_for("cred-%s ready or refused" % name, settled, 30) == "ready"
            assert ok == ready, (name, text()[-2000:])
            assert secret not in text(), "the password was logged"
            d.kill_quietly()
    finally:
        srv.terminate()
        srv.wait(10)
