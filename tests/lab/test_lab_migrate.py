"""Live migration through kanri between two real libvirt daemons on one
machine: the system libvirtd (host "a") and a second, independent QEMU
libvirtd started by tests/lab/second-host.sh (host "b"; own mount and UTS
namespaces, own host UUID).  The guest keeps running and keeps its memory:
what it had in its RAM-backed root filesystem is still there on b."""
import os
import subprocess
import time

import pytest

import labvm

LAB = os.path.dirname(os.path.abspath(__file__))
SECOND_HOST = os.path.join(LAB, "second-host.sh")
PREFIX = f"kanri-lab-mig-{os.getpid()}-"
NAME = PREFIX + "g1"


def _second_host(cmd):
    return subprocess.run(["bash", SECOND_HOST, cmd], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def host_b(lab_images):
    """URI of the second libvirtd; stopped afterwards if this module
    started it (another user's daemon is left alone)."""
    if os.geteuid() != 0:
        pytest.skip("the second libvirtd needs root (mount namespace, system-mode daemon)")
    was_running = _second_host("status").returncode == 0
    p = _second_host("start")
    if p.returncode != 0:
        pytest.skip("second libvirtd (tests/lab/second-host.sh) cannot start on this machine:\n"
                    + p.stderr[-2000:])
    uri = p.stdout.strip().splitlines()[-1]
    yield uri
    if not was_running and not os.environ.get("KANRI_LAB_B_KEEP"):
        _second_host("stop")


def virsh_b(uri, *args, check=True):
    p = subprocess.run(["virsh", "-q", "-c", uri, *map(str, args)],
                       capture_output=True, text=True, timeout=120)
    if check and p.returncode != 0:
        raise AssertionError(f"virsh -c {uri} {' '.join(map(str, args))}: {p.stderr.strip()}")
    return p


class on_host:
    """Point labvm's virsh calls at another libvirt URI for a while."""

    def __init__(self, uri):
        self.uri, self.saved = uri, None

    def __enter__(self):
        self.saved, labvm.URI = labvm.URI, self.uri

    def __exit__(self, *exc):
        labvm.URI = self.saved


@pytest.fixture
def guest(host_b):
    """A running lab guest on host a (the system libvirtd); removed from
    both hosts afterwards, wherever it ended up."""

    def remove():
        labvm.cleanup_all(prefix=PREFIX)
        with on_host(host_b):
            labvm.cleanup_all(prefix=PREFIX, pools=False)

    remove()
    uuid = labvm.define_guest(NAME, memory_mib=256, vcpus=1)
    labvm.start(NAME)
    labvm.wait_agent(NAME, timeout=180)
    yield uuid
    remove()


def test_live_migration_between_two_libvirtds(kanrid_factory, host_b, guest):
    k = kanrid_factory(config=f"""[manager]
resync_interval = 30
[hypervisor:a]
uri = qemu:///system
[hypervisor:b]
uri = {host_b}
""")
    hosts = k.wait_connected(["a", "b"])
    # Two "machines" as far as libvirt tells: b runs in its own UTS namespace.
    assert hosts["a"]["hostname"] != hosts["b"]["hostname"]
    k.wait_for(lambda: k.vms("a").get(NAME, {}).get("state") == "running", timeout=30,
               what="guest running on a in the inventory")
    assert NAME not in k.vms("b")

    # Something only the running guest's memory holds, and its uptime.
    token = f"kanri-{os.getpid()}-{time.monotonic_ns()}"
    rc, _ = labvm.exec_in_guest(NAME, ["/bin/sh", "-c", f"echo {token} > /root/marker"])
    assert rc == 0
    up_before = float(labvm.exec_in_guest(NAME, ["cat", "/proc/uptime"])[1].split()[0])

    t0 = time.monotonic()
    r = k.post(f"/api/v1/vms/{NAME}/actions/migrate", {"to_host": "b"})
    took = time.monotonic() - t0
    assert r.status == 200, f"{r}\n--- kanrid log ---\n{k.log}"
    assert r.json["result"] == "ok" and r.json["host"] == "b"
    print(f"migrate a -> b: {took:.1f} s")

    # kanri's inventory: on b and running, gone from a.
    k.wait_for(lambda: k.vms("b").get(NAME, {}).get("state") == "running", timeout=30,
               what="guest running on b in the inventory")
    # The source row is removed in the action's own sync, before it returns.
    assert NAME not in k.vms("a")
    v = k.vms("b")[NAME]
    assert v["uuid"] == guest and v["host"] == "b" and v["persistent"] is True
    assert v["state_reason"] == "migrated"
    assert k.get(f"/api/v1/vms/{NAME}").json["host"] == "b"
    assert k.hosts()["b"]["domains_running"] == 1

    # libvirt: the source copy is undefined (UNDEFINE_SOURCE), the
    # destination one persistent (PERSIST_DEST) and running.
    assert labvm.state(NAME) is None
    assert virsh_b(host_b, "domstate", NAME).stdout.strip() == "running"
    assert "Persistent:     yes" in virsh_b(host_b, "dominfo", NAME).stdout

    # The same guest, still running: the agent answers on b, the marker is
    # still in its RAM, and its clock did not restart.
    assert virsh_b(host_b, "qemu-agent-command", "--timeout", 10, NAME,
                   '{"execute":"guest-ping"}').stdout.strip() == '{"return":{}}'
    with on_host(host_b):
        rc, out = labvm.exec_in_guest(NAME, ["cat", "/root/marker"])
        assert rc == 0 and out.strip() == token
        up_after = float(labvm.exec_in_guest(NAME, ["cat", "/proc/uptime"])[1].split()[0])
    assert up_after >= up_before

    # Audit: one ok migrate entry on host a, with its parameters.
    audit = [a for a in k.get(f"/api/v1/audit?vm={NAME}&limit=20").json["audit"]
             if a["action"] == "migrate"]
    assert len(audit) == 1
    a = audit[0]
    assert a["id"] == r.json["audit_id"] and a["result"] == "ok" and a["error"] is None
    assert a["host"] == "a" and a["target_uuid"] == guest and a["params"] == {"to_host": "b"}

    # Change history: the domain leaves a by this action, and appears on b.
    changes = [c for c in k.get("/api/v1/changes?limit=100").json["changes"]
               if c["vm_uuid"] == guest]
    left = [c for c in changes if c["host"] == "a" and c["audit_id"] == r.json["audit_id"]]
    assert left and left[0]["cause"] == "action" and left[0]["actor"] == a["actor"], changes
    arrived = [c for c in changes if c["host"] == "b" and c["from_version"] is None]
    assert len(arrived) == 1, changes
    # The destination's first sighting (libvirt's event may beat the
    # action's return) is attributed to the migration too.
    assert arrived[0]["cause"] == "action", arrived
    assert arrived[0]["audit_id"] == r.json["audit_id"] and arrived[0]["actor"] == a["actor"]
    assert k.get(f"/api/v1/changes?vm={NAME}&limit=20").json["changes"][0]["host"] == "b"

    # And back: the system libvirtd as the destination (it tells the source
    # to connect to this machine's name, which resolves to loopback).
    t0 = time.monotonic()
    r2 = k.post(f"/api/v1/vms/{NAME}/actions/migrate", {"to_host": "a"})
    took = time.monotonic() - t0
    assert r2.status == 200 and r2.json["host"] == "a", f"{r2}\n--- kanrid log ---\n{k.log}"
    print(f"migrate b -> a: {took:.1f} s")
    k.wait_for(lambda: k.vms("a").get(NAME, {}).get("state") == "running", timeout=30,
               what="guest running on a again")
    assert NAME not in k.vms("b") and k.vms("a")[NAME]["uuid"] == guest
    assert virsh_b(host_b, "domstate", NAME, check=False).returncode != 0
    assert labvm.state(NAME) == "running"
    rc, out = labvm.exec_in_guest(NAME, ["cat", "/root/marker"])
    assert rc == 0 and out.strip() == token
    a2 = k.get(f"/api/v1/audit?vm={NAME}&limit=1").json["audit"][0]
    assert (a2["id"], a2["action"], a2["host"], a2["result"]) == (r2.json["audit_id"], "migrate", "b", "ok")
