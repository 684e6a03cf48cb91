"""The kanrid core against a real QEMU guest: lifecycle actions through kanri
drive the real domain, and the inventory follows."""
import os

import pytest

import labvm

NAME = f"kanri-lab-core-{os.getpid()}"

CONF = """[manager]
resync_interval = 30
[hypervisor:local]
uri = qemu:///system
"""


@pytest.fixture
def guest(lab_images):
    labvm.undefine(NAME)
    uuid = labvm.define_guest(NAME, memory_mib=256, vcpus=1)
    yield uuid
    labvm.undefine(NAME)


def test_real_guest_lifecycle_through_kanri(kanrid_factory, guest):
    k = kanrid_factory(config=CONF)
    k.wait_connected(["local"])
    k.wait_for(lambda: NAME in k.vms("local"), what="lab guest in inventory")
    v = k.vms("local")[NAME]
    assert v["uuid"] == guest and v["state"] == "shutoff"
    assert v["has_agent"] is True and v["balloon_model"] == "virtio"
    assert v["max_memory_bytes"] == 256 * 1048576

    def act(action, body=None, via_cli=None):
        if via_cli:
            p = k.cli(*via_cli)
            assert p.returncode == 0, p.stderr
            return None
        r = k.post(f"/api/v1/vms/{NAME}/actions/{action}", body)
        assert r.status == 200, r
        return r.json

    def state():
        return k.vms("local")[NAME]["state"]

    act("start", via_cli=["vm", "start", NAME])
    assert state() == "running" and labvm.state(NAME) == "running"
    labvm.wait_agent(NAME, timeout=180)

    act("suspend")
    assert state() == "paused" and labvm.state(NAME) == "paused"
    act("resume", via_cli=["vm", "resume", NAME])
    assert state() == "running" and labvm.state(NAME) == "running"

    # Balloon the guest down: the guest's balloon driver gives the memory
    # back, and the inventory follows what libvirt reports.
    r = act("setmem", {"memory_mib": 160})
    assert r["reached"] is True and abs(r["actual_bytes"] - 160 * 1048576) <= 4 * 1048576
    k.wait_for(lambda: abs(k.vms("local")[NAME]["memory_bytes"] - 160 * 1048576) <= 4 * 1048576,
               timeout=60, what="balloon at 160 MiB")
    dominfo = labvm.virsh("dominfo", NAME)
    used_kib = int(next(line.split()[2] for line in dominfo.splitlines() if line.startswith("Used memory")))
    assert abs(used_kib - 160 * 1024) <= 4 * 1024
    ch = k.get(f"/api/v1/changes?vm={NAME}&limit=20").json["changes"]
    assert any(c["cause"] == "action" and c["audit_id"] == r["audit_id"] for c in ch)

    act("destroy", via_cli=["vm", "destroy", NAME])
    assert state() == "shutoff" and labvm.state(NAME) == "shut off"

    act("start")
    labvm.wait_agent(NAME, timeout=180)
    # Graceful shutdown goes through the guest agent and waits for the end.
    r = act("shutdown", {"timeout": 120})
    assert "forced" not in r
    assert state() == "shutoff" and labvm.state(NAME) == "shut off"
    k.wait_for(lambda: k.vms("local")[NAME]["state_reason"] == "shutdown", what="shutdown reason")

    everything = k.get(f"/api/v1/audit?vm={NAME}&limit=50").json["audit"]
    # kanrid itself sets the balloon statistics period of each running
    # domain (an audited action of actor "kanrid"); the rest is ours.
    assert any(a["actor"] == "kanrid" and a["action"] == "set-balloon-period" for a in everything)
    audit = [a for a in everything if a["actor"] != "kanrid"]
    assert [a["action"] for a in reversed(audit)] == [
        "start", "suspend", "resume", "setmem", "destroy", "start", "shutdown"]
    assert all(a["result"] == "ok" for a in audit)
