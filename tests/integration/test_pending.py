"""End-to-end: a change to the persistent definition of a running domain
(what `virsh desc VM "..." --config` does) is recorded on the "persistent"
track as pending, shown on the VM and by the CLI, and stops being pending
once the domain stops (its persistent definition is then the live one).

libvirt's test driver keeps a separate persistent definition for a running
persistent domain: redefining it while it runs changes only that, as
--config does.  kanri's define (POST /api/v1/vms) is how a test reaches the
in-process test:///default."""
import json
import re

import pytest


@pytest.fixture
def k(kanrid_factory):
    kd = kanrid_factory(args=["--connect", "test:///default"])
    kd.wait_connected(["test-default"])
    kd.wait_for(lambda: kd.vms().get("test", {}).get("state") == "running", what="domain test running")
    return kd


def persistent_changes(k, vm="test"):
    return [c for c in k.get(f"/api/v1/changes?vm={vm}&limit=100").json["changes"]
            if c["track"] == "persistent"]


def test_config_change_of_running_domain_is_pending_until_it_stops(k):
    vm = k.get("/api/v1/vms/test").json
    assert vm["pending_changes"] == 0
    before = k.get("/api/v1/changes?vm=test&limit=100").json["changes"]
    assert all(c["track"] == "live" and c["pending"] is False for c in before)

    # The persistent definition only: the live XML keeps no description.
    xml = re.sub(r"(</name>)", r"\1\n  <description>applies at next boot</description>",
                 vm["xml"], count=1)
    r = k.post("/api/v1/vms", {"host": "test-default", "xml": xml})
    assert r.status == 201, r
    assert r.json["vm"]["state"] == "running"
    k.wait_for(lambda: len(persistent_changes(k)) == 1, what="a persistent change")
    ch = persistent_changes(k)[0]
    assert ch["pending"] is True and ch["applied_at"] is None
    assert ch["cause"] == "action" and ch["audit_id"] == r.json["audit_id"]
    assert "+  <description>applies at next boot</description>" in ch["diff"]
    assert "<description>" not in k.get("/api/v1/vms/test").json["xml"]
    assert k.get("/api/v1/vms/test").json["pending_changes"] == 1
    # The live track did not change with it.
    live = [c for c in k.get("/api/v1/changes?vm=test&limit=100").json["changes"]
            if c["track"] == "live"]
    assert len(live) == len(before)

    out = k.cli("changes", "test")
    assert out.returncode == 0, out.stderr
    assert "pending" in out.stdout, out.stdout
    show = k.cli("vm", "show", "test")
    assert show.returncode == 0 and "pending" in show.stdout, show.stdout

    # Nothing new on a resync with the same definitions.
    r = k.post("/api/v1/vms/test/actions/suspend")
    assert r.status == 200, r
    assert len(persistent_changes(k)) == 1

    # Stopped: the persistent definition is the live one; the change is no
    # longer pending, and the next boot runs with it.
    assert k.post("/api/v1/vms/test/actions/destroy").status == 200
    ch = persistent_changes(k)[0]
    assert ch["pending"] is False and ch["applied_at"] is not None
    assert k.get("/api/v1/vms/test").json["pending_changes"] == 0
    assert k.post("/api/v1/vms/test/actions/start").status == 200
    vm = k.get("/api/v1/vms/test").json
    assert "<description>applies at next boot</description>" in vm["xml"]
    assert vm["pending_changes"] == 0
    assert len(persistent_changes(k)) == 1
    assert "pending" not in k.cli("changes", "test").stdout


def test_live_and_config_change_is_not_pending(k):
    # setvcpus with config changes both definitions at once (virsh's
    # --live --config): nothing waits for a boot.  (The test driver refuses
    # setmem with both flags.)
    r = k.post("/api/v1/vms/test/actions/setvcpus", {"vcpus": 1, "config": True})
    assert r.status == 200, r
    k.wait_for(lambda: len(persistent_changes(k)) == 1, what="a persistent change")
    ch = persistent_changes(k)[0]
    assert ch["pending"] is False and ch["cause"] == "action"
    assert "<vcpu" in ch["diff"]
    assert k.get("/api/v1/vms/test").json["pending_changes"] == 0


def test_pending_survives_restart(kanrid_factory):
    kd = kanrid_factory(args=["--connect", "test:///default"])
    kd.wait_connected(["test-default"])
    kd.wait_for(lambda: "test" in kd.vms(), what="domain test")
    xml = re.sub(r"(</name>)", r"\1\n  <description>later</description>",
                 kd.get("/api/v1/vms/test").json["xml"], count=1)
    assert kd.post("/api/v1/vms", {"host": "test-default", "xml": xml}).status == 201
    kd.wait_for(lambda: kd.get("/api/v1/vms/test").json["pending_changes"] == 1, what="pending")
    state = kd.state_dir
    kd.stop()
    # The pending change is loaded from the store.  A new test:///default
    # has the original definitions again, so the description is gone from
    # the persistent definition: a second persistent change, not pending
    # (the live XML has no description either), while the first is still
    # pending (the live XML does not have it).
    kd2 = kanrid_factory(args=["--connect", "test:///default"], state_dir=state)
    kd2.wait_connected(["test-default"])
    kd2.wait_for(lambda: "test" in kd2.vms(), what="domain test")
    pc = persistent_changes(kd2)
    assert [c["pending"] for c in pc] == [False, True], pc
    assert "-  <description>later</description>" in pc[0]["diff"]
    assert kd2.get("/api/v1/vms/test").json["pending_changes"] == 1
    assert kd2.post("/api/v1/vms/test/actions/destroy").status == 200
    assert kd2.get("/api/v1/vms/test").json["pending_changes"] == 0
    assert all(not c["pending"] for c in persistent_changes(kd2))
