"""kanrid as a systemd service, without systemd as PID 1 here: what
`meson install` puts in place, the units checked by `systemd-analyze verify`
and scored by `systemd-analyze security`, the readiness protocol
(NOTIFY_SOCKET: READY=1 once GET /readyz says ready, RELOADING=1 and
READY=1 around a SIGHUP reload, STOPPING=1), the reload itself, and log
messages with structured fields in a real journald (started by the test
in a mount namespace of its own)."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from kanri_harness import BUILD, KANRID, Kanrid, node_xml, required_tool, run
from test_ingest import free_port

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


@pytest.fixture(scope="module")
def installed():
    """`meson install` of the build into a temporary root: its path and
    the prefix the build was configured with."""
    d = tempfile.TemporaryDirectory(prefix="kanri-install-")
    p = run(["meson", "install", "-C", BUILD, "--destdir", d.name, "--no-rebuild", "--quiet"],
            capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    p = run(["meson", "introspect", BUILD, "--buildoptions"], capture_output=True, text=True,
            check=True)
    opts = {o["name"]: o["value"] for o in json.loads(p.stdout)}
    yield d.name, opts
    d.cleanup()


def under(root, *parts):
    return os.path.join(root, *[p.lstrip("/") for p in parts])


def test_meson_install_puts_everything_in_its_place(installed):
    root, opts = installed
    prefix = opts["prefix"]
    etc = opts["sysconfdir"] if opts["sysconfdir"].startswith("/") else \
        os.path.join(prefix, opts["sysconfdir"])
    want = [
        (prefix, opts["sbindir"], "kanrid"), (prefix, opts["bindir"], "kanri"),
        (prefix, opts["sbindir"], "kanri-guestd"),
        (prefix, opts["mandir"], "man8", "kanrid.8"), (prefix, opts["mandir"], "man1", "kanri.1"),
        (prefix, opts["mandir"], "man5", "kanri.conf.5"),
        (prefix, opts["mandir"], "man8", "kanri-guestd.8"),
        (etc, "kanri", "kanri.conf"),
        (prefix, opts["datadir"], "kanri", "openapi.json"),
        (prefix, opts["datadir"], "kanri", "prometheus", "prometheus.yml"),
        (prefix, opts["datadir"], "kanri", "prometheus", "kanri.rules.yml"),
    ]
    for parts in want:
        path = under(root, *parts)
        assert os.path.isfile(path), path
    for exe in ("kanrid", "kanri-guestd"):
        assert os.access(under(root, prefix, opts["sbindir"], exe), os.X_OK)
    units = [f for f in os.listdir(under(root, "lib/systemd/system"))] \
        if os.path.isdir(under(root, "lib/systemd/system")) else \
        os.listdir(under(root, prefix, "lib/systemd/system"))
    assert sorted(units) == ["kanri-guestd.service", "kanrid.service"], units
    # The installed default configuration is valid as it stands.
    conf = under(root, etc, "kanri", "kanri.conf")
    p = run([KANRID, "--check-config", "--config", conf], capture_output=True, text=True)
    assert p.returncode == 0 and "OK" in p.stdout, p.stdout + p.stderr


def unit_dir(root, opts):
    for d in (under(root, "lib/systemd/system"), under(root, opts["prefix"], "lib/systemd/system")):
        if os.path.isdir(d):
            return d
    raise AssertionError("no unit directory under " + root)


def test_units_verify_and_score(installed):
    """systemd-analyze verify has nothing to say of either unit, and
    systemd-analyze security scores them (lower is better; 'OK' is under
    4.0 on its scale); the scores are printed for the record."""
    analyze = required_tool("systemd-analyze", "systemd")
    root, opts = installed
    units = unit_dir(root, opts)
    tmp = tempfile.TemporaryDirectory(prefix="kanri-units-")
    paths = []
    for name in ("kanrid.service", "kanri-guestd.service"):
        with open(os.path.join(units, name)) as f:
            text = f.read()
        # The programs are where this test installed them, not yet in /usr.
        exe = re.search(r"^ExecStart=(\S+)", text, re.M).group(1)
        text = text.replace("ExecStart=" + exe, "ExecStart=" + under(root, exe))
        path = os.path.join(tmp.name, name)
        with open(path, "w") as f:
            f.write(text)
        paths.append(path)
    p = subprocess.run([analyze, "verify", "--man=no"] + paths, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0 and not p.stdout.strip() and not p.stderr.strip(), \
        p.stdout + p.stderr
    for path in paths:
        p = subprocess.run([analyze, "security", "--offline=yes", "--no-pager", path],
                           capture_output=True, text=True, timeout=120)
        m = re.search(r"Overall exposure level for (\S+): ([\d.]+) (\w+)", p.stdout)
        assert m, p.stdout + p.stderr
        print(f"systemd-analyze security: {m.group(1)} {m.group(2)} {m.group(3)}")
        assert float(m.group(2)) < 2.5, p.stdout
    tmp.cleanup()


class Notify:
    """The service manager's end of sd_notify(3): a datagram socket."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.seen = []

    def next(self, timeout):
        self.sock.settimeout(timeout)
        msg = self.sock.recv(4096).decode()
        self.seen.append(msg)
        return dict(line.split("=", 1) for line in msg.split("\n") if "=" in line)

    def wait(self, key, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {key} in {self.seen}")
            try:
                m = self.next(left)
            except socket.timeout:
                raise AssertionError(f"no {key} in {self.seen}")
            if key in m:
                return m


def test_readiness_reload_and_stop_told_to_systemd():
    tmp = tempfile.TemporaryDirectory(prefix="kanri-notify-")
    node = os.path.join(tmp.name, "node.xml")
    with open(node, "w") as f:
        f.write(node_xml("sd", n_running=3, n_shutoff=1))
    conf_text = f"[manager]\nlog_level = info\n[hypervisor:node]\nuri = test://{node}\n"
    n = Notify(os.path.join(tmp.name, "notify.sock"))
    k = Kanrid(config=conf_text, env=dict(os.environ, NOTIFY_SOCKET=n.path), ready=False)
    conf = os.path.join(k.tmp.name, "kanri.conf")
    try:
        m = n.wait("READY")
        # Told ready only when the API says so too.
        assert m["READY"] == "1" and m["STATUS"] == "ready: 1 host", n.seen
        assert k.get("/readyz").status == 200
        assert "sd-vm0" in k.vms()
        # Before, what it was doing.
        assert n.seen[0] == "STATUS=adding the configured hosts: 0 of 1", n.seen

        # A reload: a host added, the log level applied, and a change that
        # waits for the next start named.
        with open(conf, "w") as f:
            f.write(conf_text.replace("log_level = info", "log_level = debug\ncollect_interval = 7")
                    + "[hypervisor:extra]\nuri = test:///default\n")
        k.proc.send_signal(signal.SIGHUP)
        assert n.wait("RELOADING")["RELOADING"] == "1"
        m = n.wait("READY")
        assert m["READY"] == "1", n.seen
        k.wait_connected(["node", "extra"])
        k.wait_for(lambda: "reload: " in k.log and "1 host added" in k.log, what="reload logged")
        assert "log level debug" in k.log
        assert re.search(r"take effect at kanrid's next start: \[manager\] collect_interval$",
                         k.log, re.M), k.log

        # A configuration with an error is refused whole: nothing changes.
        with open(conf, "w") as f:
            f.write(conf_text + "[hypervisor:extra]\nuri = test:///default\n"
                    "[hypervisor:third]\nuri = test:///default\nkeepalive_interval = often\n")
        k.proc.send_signal(signal.SIGHUP)
        n.wait("READY")
        k.wait_for(lambda: "reload refused" in k.log, what="the refusal logged")
        assert "keepalive_interval" in k.log
        assert sorted(k.hosts()) == ["extra", "node"]

        assert k.stop() == 0
        assert n.wait("STOPPING")["STOPPING"] == "1"
    finally:
        k.stop()
        tmp.cleanup()


def test_no_notify_socket_no_noise():
    """Without NOTIFY_SOCKET (not under systemd) nothing is sent and
    nothing is said about it."""
    env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
    k = Kanrid(args=["--connect", "test:///default"], env=env)
    try:
        assert k.get("/readyz").status == 200
    finally:
        k.stop()
    assert "NOTIFY_SOCKET" not in k.log and "systemd" not in k.log


JOURNAL_RUN = r"""
set -e
mount -t tmpfs tmpfs /run/systemd/journal
mount -t tmpfs tmpfs /run/log
/lib/systemd/systemd-journald & jpid=$!
for i in $(seq 200); do [ -S /run/systemd/journal/stdout ] && break; sleep 0.05; done
# kanrid's stderr is a stream to journald, as under a unit.
systemd-cat -t kanrid "$@" & echo $! > "$OUT/kanrid.pid"
wait $! || true
journalctl -D /run/log/journal -o json --no-pager -t kanrid > "$OUT/journal.json"
kill $jpid
"""


def test_structured_fields_in_journald():
    if os.geteuid() != 0:
        pytest.skip("a journald of the test's own needs root (mount namespace)")
    required_tool("unshare", "util-linux")
    required_tool("systemd-cat", "systemd")
    if not os.path.exists("/lib/systemd/systemd-journald"):
        pytest.fail("systemd-journald is not installed")
    out = tempfile.TemporaryDirectory(prefix="kanri-journal-")
    state = os.path.join(out.name, "state")
    port = free_port()
    os.makedirs("/run/systemd/journal", exist_ok=True)
    os.makedirs("/run/log", exist_ok=True)
    p = subprocess.Popen(["unshare", "-m", "--propagation", "private", "bash", "-c", JOURNAL_RUN,
                          "journal-run", KANRID, "--state-dir", state, "--listen",
                          f"127.0.0.1:{port}", "--connect", "test:///default"],
                         env=dict(os.environ, OUT=out.name), stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    try:
        import urllib.request

        def call(method, path):
            with open(os.path.join(state, "admin.token")) as f:
                token = f.read().strip()
            req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                         data=b"{}" if method == "POST" else None,
                                         headers={"Authorization": "Bearer " + token,
                                                  "Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status
        deadline = time.monotonic() + 60
        while True:
            try:
                if call("GET", "/readyz") == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline and p.poll() is None, "kanrid never ready"
            time.sleep(0.1)
        assert call("POST", "/api/v1/vms/test/actions/suspend") == 200
        with open(os.path.join(out.name, "kanrid.pid")) as f:
            pid = int(f.read())
        # systemd-cat execs kanrid: the pid is kanrid's.
        os.kill(pid, signal.SIGTERM)
        text, _ = p.communicate(timeout=120)
        assert p.returncode == 0, text
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    entries = [json.loads(line) for line in open(os.path.join(out.name, "journal.json"))]
    out.cleanup()
    by_msg = {e["MESSAGE"]: e for e in entries}
    connected = next(e for m, e in by_msg.items() if "connected; inventory synced" in m)
    assert connected["KANRI_HOST"] == "test-default" and connected["PRIORITY"] == "5", connected
    act = next(e for m, e in by_msg.items() if m.startswith("suspend of test"))
    assert (act["KANRI_HOST"], act["KANRI_VM"], act["KANRI_ACTION"]) == \
        ("test-default", "test", "suspend"), act
    # Messages went through the native protocol (fields), not the stream.
    assert act["_TRANSPORT"] == "journal" and act["SYSLOG_IDENTIFIER"] == "kanrid", act
    assert "stopping" in by_msg
