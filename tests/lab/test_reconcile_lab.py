"""Reconciliation against a real QEMU guest: the balloon takes memory the
guest still believes it has, and kanrid's engine says so.

The guest's balloon is defined with autodeflate='on' (the virtio
deflate-on-OOM feature): Linux then keeps ballooned pages in MemTotal (and
in the balloon statistics' "available"), exactly the "guest believes it has
more memory than backs it" case of docs/reconciliation.md.  `virsh setmem`
shrinks the balloon to 160 MiB; guest-memory-overstated must open, the
reconciled mem.total must be the host's balloon size with provenance
"host", and after the balloon goes back up the finding must close.

One guest, about a minute."""
import os
import tempfile
import time

import pytest

import labvm

NAME = f"kanri-lab-rec-{os.getpid()}"
INTERVAL = 2
CONF = f"""[manager]
collect_interval = {INTERVAL}
balloon_period = 2
agent_timeout = 2
resync_interval = 30
[hypervisor:local]
uri = qemu:///system
[reconcile]
guest-memory-overstated.close_after = 2
"""
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def guest(lab_images):
    labvm.cleanup_all(prefix=NAME)
    xml = labvm.domain_xml(NAME, memory_mib=256, vcpus=1)
    xml = xml.replace("<memballoon model='virtio'>", "<memballoon model='virtio' autodeflate='on'>")
    with tempfile.NamedTemporaryFile("w", suffix=".xml", delete=False) as f:
        f.write(xml)
    try:
        labvm.virsh("define", f.name)
    finally:
        os.unlink(f.name)
    try:
        labvm.start(NAME)
        labvm.wait_agent(NAME, timeout=180)
        yield NAME
    finally:
        labvm.cleanup_all(prefix=NAME)


def resources(k):
    r = k.get(f"/api/v1/vms/{NAME}/reconciled")
    return r.status == 200 and ({e["resource"]: e for e in r.json["resources"]}, r.json)


def open_rules(k):
    r = k.get(f"/api/v1/findings?state=open&vm={NAME}")
    assert r.status == 200, r
    return {f["rule"] for f in r.json["findings"]}


def test_balloon_down_opens_guest_memory_overstated(kanrid_factory, guest):
    k = kanrid_factory(config=CONF)
    k.wait_connected(["local"])

    def full_view():
        got = resources(k)
        return got and got[0]["mem.total"]["g"] is not None and got[0]["mem.total"]["h"] and got
    res, _ = k.wait_for(full_view, timeout=60, what="host and guest memory figures")
    assert res["mem.total"]["provenance"] == "host"
    assert "guest-memory-overstated" not in open_rules(k)

    labvm.virsh("setmem", NAME, "160M", "--live")
    t0 = time.monotonic()
    k.wait_for(lambda: "guest-memory-overstated" in open_rules(k), timeout=60, interval=0.5,
               what="guest-memory-overstated open")
    opened_after = time.monotonic() - t0
    res, o = resources(k)
    m = res["mem.total"]
    # R is what backs the guest: the host's balloon size, not the guest's belief.
    assert m["provenance"] == "host" and m["r"] == m["h"]
    assert abs(m["h"] - 160 * MIB) < 8 * MIB, m
    assert m["g"] > m["h"] * 1.2, m
    assert m["g_source"] == "balloon" and m["h_age_s"] is not None and m["g_age_s"] is not None
    f = next(f for f in o["findings"] if f["rule"] == "guest-memory-overstated")
    assert f["severity"] in ("warning", "critical") and f["message"]
    print(f"guest-memory-overstated opened {opened_after:.1f}s after setmem: {f['message']}")

    labvm.virsh("setmem", NAME, "256M", "--live")
    k.wait_for(lambda: "guest-memory-overstated" not in open_rules(k), timeout=60, interval=0.5,
               what="guest-memory-overstated closed")
    closed = k.get(f"/api/v1/findings?state=closed&rule=guest-memory-overstated&vm={NAME}").json
    assert closed["findings"] and closed["findings"][0]["closed"]
    text = k.get("/metrics").body
    assert 'view="reconciled"' in text and NAME in text
