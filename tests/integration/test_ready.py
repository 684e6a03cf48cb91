"""Ready means ready: a host is connected only once its inventory is in,
/readyz says so, and a VM kanrid cannot know yet is "still loading" (503),
never "no such VM" (404).

A host that never finishes loading is a libvirt URI pointing at a TCP
listener that accepts and never answers: virConnectOpen() waits on it.
Closing the listener makes the host unreachable, which ends the wait."""
import re
import socket
import threading

from kanri_harness import Kanrid, node_xml


class SilentListener:
    """Accepts connections and says nothing until closed."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.accepted = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            self.accepted.set()

    def close(self):
        for c in self.conns:
            c.close()
        self.sock.close()


def test_loading_host_means_not_ready_and_503(kanrid_factory):
    silent = SilentListener()
    try:
        k = kanrid_factory(args=["--connect", "test:///default",
                                 "--connect", f"qemu+tcp://127.0.0.1:{silent.port}/system"],
                           ready=False)
        assert silent.accepted.wait(20), "kanrid never connected to the silent host"
        # The test driver's host syncs at once; the silent one never does.
        k.wait_connected(["test-default"])
        hosts = k.hosts()
        loading = hosts["127.0.0.1"]
        assert loading["state"] == "connecting" and loading["inventory_synced_at"] is None
        assert hosts["test-default"]["inventory_synced_at"] is not None

        r = k.get("/readyz", token=None)
        assert r.status == 503, r
        assert "127.0.0.1" in r.json["detail"]
        assert int(r.headers["Retry-After"]) >= 1
        # A VM that exists on a synced host is found; an unknown name could
        # be on the host still loading: 503 with Retry-After, not 404.
        assert k.get("/api/v1/vms/test").status == 200
        r = k.get("/api/v1/vms/no-such-vm")
        assert r.status == 503, r
        assert "still loading" in r.json["detail"] and int(r.headers["Retry-After"]) >= 1
        assert k.get("/api/v1/changes?vm=no-such-vm").status == 503
        p = k.cli("ready")
        assert p.returncode == 1 and "not ready" in p.stderr and "127.0.0.1" in p.stderr

        # The host fails: unreachable, so kanrid is ready and the name is
        # now known not to exist.
        silent.close()
        p = k.cli("ready", "--wait", "60")
        assert p.returncode == 0 and p.stdout.strip() == "ready", p.stderr
        assert k.get("/readyz", token=None).status == 200
        assert k.hosts()["127.0.0.1"]["state"] == "unreachable"
        assert k.get("/api/v1/vms/no-such-vm").status == 404
    finally:
        silent.close()


def test_ready_after_start_and_connected_means_synced(kanrid_factory):
    k = kanrid_factory(args=["--connect", "test:///default"])  # waits on /readyz
    h = k.hosts()["test-default"]
    assert h["state"] == "connected" and h["inventory_synced_at"] is not None
    # Everything the test driver defines is known the moment it is ready.
    assert "test" in k.vms()
    assert k.cli("ready").stdout.strip() == "ready"
    p = k.cli("host", "show", "test-default")
    assert "Inventory synced:" in p.stdout


def test_ready_wait_covers_a_manager_not_listening_yet(tmp_path):
    # Nothing listens on this port: without --wait that is an error at
    # once (exit 3, unreachable); with --wait it is tried until the time is
    # up, then reported as not ready, still exit 3.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    k = Kanrid.__new__(Kanrid)  # only for its cli() helper
    k.url = f"http://127.0.0.1:{port}"
    k.token = "kanri_x"
    assert k.cli("ready").returncode == 3
    p = k.cli("ready", "--wait", "1")
    assert p.returncode == 3 and "not ready" in p.stderr


def test_serving_while_the_configured_hosts_are_added(tmp_path):
    """kanrid answers from its first log line on, while it is still adding
    the hosts its configuration names; /readyz counts them, and a SIGTERM
    meanwhile stops it in order."""
    conf = ["[manager]\ncollect_interval = 60\n"]
    for h in range(200):
        path = tmp_path / f"h{h}.xml"
        path.write_text(node_xml(f"h{h}", 20, 0))
        conf.append(f"[hypervisor:h{h}]\nuri = test://{path}\n")
    k = Kanrid(config="".join(conf), ready=False)
    try:
        r = k.get("/readyz", token=None)
        assert r.status == 503, r
        assert int(r.headers["Retry-After"]) >= 1
        m = re.search(r"adding the configured hosts: (\d+) of 200", r.json["detail"])
        assert m and int(m.group(1)) < 200, r.json["detail"]
        assert k.get("/api/v1/healthz", token=None).status == 200
    finally:
        rc = k.stop()  # fails the test unless it exits 0 within 20 s
    assert rc == 0
