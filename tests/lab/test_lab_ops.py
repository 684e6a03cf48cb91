"""The operations record on a real QEMU guest: a guest destroyed behind
kanri's back (virsh destroy) opens an incident naming the external change
within two collection intervals; started again, the incident resolves; a
webhook receiver on loopback that was down for a while gets exactly one
accepted delivery per transition."""
import os
import socket
import sys
import time

import pytest

import labvm

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from test_ops import Receiver  # noqa: E402

NAME = f"kanri-lab-ops-{os.getpid()}"
INTERVAL = 2


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def guest(lab_images):
    labvm.undefine(NAME)
    uuid = labvm.define_guest(NAME, memory_mib=256, vcpus=1)
    yield uuid
    labvm.undefine(NAME)


def test_destroyed_behind_kanris_back_then_started(kanrid_factory, guest):
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    conf = (f"[manager]\ncollect_interval = {INTERVAL}\nresync_interval = 30\n"
            "[hypervisor:local]\nuri = qemu:///system\n"
            f"[route:hook]\ntype = webhook\nurl = {url}\nmin_severity = info\n"
            "conditions = vm-*\ntimeout = 5\n")
    k = kanrid_factory(config=conf)
    k.wait_connected(["local"])
    k.wait_for(lambda: NAME in k.vms("local"), what="lab guest in inventory")
    r = k.post(f"/api/v1/vms/{NAME}/actions/start", {})
    assert r.status == 200, r
    k.wait_for(lambda: k.vms("local")[NAME]["state"] == "running", what="running")

    # Behind kanri's back; the receiver is not up yet (a receiver that is
    # down: its deliveries wait in the outbox).
    labvm.virsh("destroy", NAME)
    t0 = time.time()

    def down():
        return [i for i in k.get("/api/v1/incidents?condition=vm-down").json["incidents"]
                if i["item_name"] == NAME]
    inc = k.wait_for(down, timeout=60, interval=0.2, what="vm-down incident")[0]
    took = time.time() - t0
    assert took <= 2 * INTERVAL + 1, f"incident after {took:.1f} s"
    assert inc["severity"] == "major" and "behind kanri's back" in inc["title"]
    shown = k.get(f"/api/v1/incidents/{inc['id']}").json
    ext = [c for c in shown["preceding_changes"] if c["cause"] == "external"]
    assert ext, shown["preceding_changes"]
    likely = [c for c in shown["preceding_changes"] if c["likely"]]
    assert likely and likely[0]["cause"] == "external", shown["preceding_changes"]

    # started again (by virsh too): the incident resolves
    labvm.start(NAME)
    k.wait_for(lambda: k.get(f"/api/v1/incidents/{inc['id']}").json["incident"]["state"]
               == "resolved", timeout=60, what="resolved")

    # The receiver comes up only now: both transitions arrive, each
    # accepted once with its own key, and once delivered nothing is sent
    # again (a delivered row is final).
    rcv = Receiver(port=port)
    try:
        def delivered():
            d = k.get(f"/api/v1/incidents/{inc['id']}").json["deliveries"]
            return len(d) == 2 and all(x["state"] == "delivered" for x in d) and d
        deliveries = k.wait_for(delivered, timeout=120, interval=0.5,
                                what="both deliveries done after the receiver came up")
        assert all(d["attempts"] >= 2 for d in deliveries), deliveries
        got = rcv.accepted()
        assert [b["transition"] for _, b in got] == ["opened", "resolved"]
        assert [key for key, _ in got] == [f"kanri-{inc['id']}-1", f"kanri-{inc['id']}-2"]
    finally:
        rcv.close()
