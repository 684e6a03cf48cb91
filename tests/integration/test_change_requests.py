"""Change requests end to end on libvirt's test driver (docs/provisioning.md):
drafted, submitted, approved by another token (the requester's own refused),
run by kanrid inside their window (not before it, never after it), each VM's
actions audited as the request and rolled back when a check fails; a staged
rollout stops at its canary."""
import time

import pytest

from kanri_harness import node_xml

MIB = 1 << 20


@pytest.fixture
def k(kanrid_factory, tmp_path):
    node = tmp_path / "rack.xml"
    node.write_text(node_xml("cr", n_running=4, n_shutoff=1))
    kd = kanrid_factory(args=["--connect", f"test://{node}"])
    kd.wait_connected(["rack"])
    kd.wait_for(lambda: len(kd.vms()) == 5, what="inventory of 5 VMs")
    r = kd.post("/api/v1/tokens", {"name": "approver", "role": "operator"})
    assert r.status == 201, r
    kd.approver = r.json["token"]
    r = kd.post("/api/v1/tokens", {"name": "watcher", "role": "viewer"})
    kd.viewer = r.json["token"]
    return kd


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def create(k, **body):
    body.setdefault("reason", "more memory for the season")
    r = k.post("/api/v1/change-requests", body)
    assert r.status == 201, r
    assert r.json["state"] == "draft"
    return r.json["id"]


def step(k, cid, name, token="admin"):
    return k.post(f"/api/v1/change-requests/{cid}/{name}", {}, token=token)


def approved(k, cid):
    assert step(k, cid, "submit").json["state"] == "submitted"
    r = step(k, cid, "approve", token=k.approver)
    assert r.status == 200 and r.json["state"] == "approved", r


def show(k, cid):
    r = k.get(f"/api/v1/change-requests/{cid}")
    assert r.status == 200, r
    return r.json


def wait_state(k, cid, states, timeout=60):
    return k.wait_for(lambda: show(k, cid)["state"] in states and show(k, cid), timeout=timeout,
                      interval=0.2, what=f"change request {cid} {states}")


def test_approved_request_runs_in_its_window_audited_as_the_request(k):
    cid = create(k, vm="cr-vm0", risk="low", actions=[{"action": "setmem", "memory": "256M"}])
    # The requester's own token cannot approve; nor can a draft be.
    assert step(k, cid, "approve", token=k.approver).status == 409
    assert step(k, cid, "submit").status == 200
    r = step(k, cid, "approve")
    assert r.status == 403 and "another token" in r.json["detail"], r
    assert step(k, cid, "approve", token=k.viewer).status == 403
    assert show(k, cid)["state"] == "submitted"
    r = step(k, cid, "approve", token=k.approver)
    assert r.status == 200

    done = wait_state(k, cid, ("done", "failed", "rolled-back"))
    assert done["state"] == "done", done
    assert done["approver"] == "approver" and done["error"] is None
    assert done["started"] and done["ended"]
    vm = done["vms"][0]
    assert vm["vm"] == "cr-vm0" and vm["state"] == "done" and vm["saved"] == "snapshot cr-%d" % cid
    assert k.vms()["cr-vm0"]["memory_bytes"] == 256 * MIB

    # The audit trail and the change history name the request.
    audit = k.get("/api/v1/audit?vm=cr-vm0&limit=10").json["audit"]
    setmem = [a for a in audit if a["action"] == "setmem"][0]
    assert setmem["actor"] == f"change-request #{cid}" and setmem["result"] == "ok"
    assert setmem["id"] in vm["audit_ids"]
    # The request's snapshot was removed once the checks passed.
    snaps = k.get("/api/v1/vms/cr-vm0/snapshots").json["snapshots"]
    assert not [s for s in snaps if s["name"] == f"cr-{cid}"]
    # A finished request takes no more steps.
    assert step(k, cid, "cancel").status == 409


def test_outside_its_window_not_run(k):
    later = create(k, vm="cr-vm1", actions=[{"action": "setmem", "memory_bytes": 300 * MIB}],
                   window={"from": iso(time.time() + 3600), "to": iso(time.time() + 7200)})
    past = create(k, vm="cr-vm1", actions=[{"action": "setmem", "memory_bytes": 300 * MIB}],
                  window={"from": iso(time.time() - 7200), "to": iso(time.time() - 3600)})
    approved(k, later)
    approved(k, past)
    assert wait_state(k, later, ("scheduled",))["started"] is None
    exp = wait_state(k, past, ("expired",))
    assert "window passed" in exp["error"]
    assert k.vms()["cr-vm1"]["memory_bytes"] != 300 * MIB
    # A scheduled request may still be cancelled.
    assert step(k, later, "cancel").json["state"] == "cancelled"


def test_failed_check_rolled_back(k):
    before = k.vms()["cr-vm2"]["memory_bytes"]
    # The test driver has no guest agent: a guest view fresh within 2 s
    # never comes, and the change is rolled back.
    cid = create(k, vm="cr-vm2", actions=[{"action": "setmem", "memory_bytes": 200 * MIB}],
                 checks={"guest_fresh_s": 2, "timeout_s": 2})
    approved(k, cid)
    end = wait_state(k, cid, ("done", "failed", "rolled-back"))
    assert end["state"] == "rolled-back", end
    assert "check failed" in end["error"] and "no guest view" in end["error"]
    assert end["vms"][0]["state"] == "rolled-back"
    assert k.vms()["cr-vm2"]["memory_bytes"] == before
    actions = [a["action"] for a in k.get("/api/v1/audit?vm=cr-vm2&limit=10").json["audit"]]
    assert "snapshot-revert" in actions and "setmem" in actions


def test_staged_rollout_stops_at_its_canary(k):
    cid = create(k, vms=["cr-vm0", "cr-vm1", "cr-vm3"], canary=True, batch=1,
                 actions=[{"action": "setvcpus", "vcpus": 1}],
                 checks={"guest_fresh_s": 1, "timeout_s": 1})
    got = show(k, cid)
    assert [(v["vm"], v["batch"], v["state"]) for v in got["vms"]] == \
        [("cr-vm0", 0, "pending"), ("cr-vm1", 1, "pending"), ("cr-vm3", 2, "pending")]
    approved(k, cid)
    end = wait_state(k, cid, ("done", "failed", "rolled-back"))
    assert end["state"] == "rolled-back", end
    assert [v["state"] for v in end["vms"]] == ["rolled-back", "skipped", "skipped"]
    assert k.vms()["cr-vm1"]["vcpus"] == 2 and k.vms()["cr-vm3"]["vcpus"] == 2

    # Without a failing check the batches all run, canary first.
    cid = create(k, vms=["cr-vm0", "cr-vm1"], canary=True,
                 actions=[{"action": "setmem", "memory": "384M"}])
    approved(k, cid)
    end = wait_state(k, cid, ("done", "failed", "rolled-back"))
    assert end["state"] == "done", end
    assert [v["state"] for v in end["vms"]] == ["done", "done"]
    assert k.vms()["cr-vm1"]["memory_bytes"] == 384 * MIB


@pytest.mark.parametrize("body, detail", [
    ({"vm": "cr-vm0", "actions": [{"action": "setmem", "memory": "1G"}]}, "reason"),
    ({"vm": "cr-vm0", "reason": "x", "actions": []}, "actions"),
    ({"vm": "cr-vm0", "reason": "x", "actions": [{"action": "undefine"}]}, "not an action"),
    ({"vm": "cr-vm0", "reason": "x", "actions": [{"action": "setmem", "memory": "lots"}]},
     "memory"),
    ({"vm": "cr-vm0", "reason": "x", "actions": [{"action": "setvcpus"}]}, "needs"),
    ({"vm": "cr-vm0", "reason": "x", "actions": [{"action": "setvcpus", "vcpus": 2, "x": 1}]},
     "no parameter"),
    ({"vm": "cr-vm0", "vms": ["cr-vm1"], "reason": "x", "actions": [{"action": "start"}]},
     "not both"),
    ({"vms": ["cr-vm1", "cr-vm1"], "reason": "x", "actions": [{"action": "start"}]}, "twice"),
    ({"vm": "cr-vm0", "reason": "x", "risk": "extreme", "actions": [{"action": "start"}]},
     "risk"),
    ({"vm": "cr-vm0", "reason": "x", "window": {"from": "soon"}, "actions": [{"action": "start"}]},
     "window.from"),
    ({"vm": "cr-vm0", "reason": "x", "actions": [{"action": "start"}], "approver": "me"},
     "unknown"),
])
def test_bad_requests_refused(k, body, detail):
    r = k.post("/api/v1/change-requests", body)
    assert r.status == 400 and detail in r.json["detail"], r
    assert k.get("/api/v1/change-requests").json["change_requests"] == []


def test_unknown_vm_and_request(k):
    r = k.post("/api/v1/change-requests",
               {"vm": "nope", "reason": "x", "actions": [{"action": "start"}]})
    assert r.status == 404
    assert k.get("/api/v1/change-requests/99").status == 404
    assert k.post("/api/v1/change-requests/99/submit", {}).status == 404
    cid = create(k, vm="cr-vm4", actions=[{"action": "start"}])
    assert k.post(f"/api/v1/change-requests/{cid}/explode", {}).status == 404
    lst = k.get("/api/v1/change-requests?state=draft").json["change_requests"]
    assert [c["id"] for c in lst] == [cid]
    assert k.get("/api/v1/change-requests?state=done").json["change_requests"] == []


def test_cli(k):
    out = k.cli("change", "create", "--vm", "cr-vm3", "--why", "bigger", "--risk", "low",
                "--action", "setmem memory=320M", "--action", "setvcpus vcpus=1",
                check=True).stdout
    assert "drafted" in out
    cid = int(out.split()[2])
    assert "is submitted" in k.cli("change", "submit", str(cid), check=True).stdout
    mine = k.cli("change", "approve", str(cid))
    assert mine.returncode != 0 and "another token" in mine.stderr
    assert "is approved" in k.cli("change", "approve", str(cid), token=k.approver,
                                  check=True).stdout
    wait_state(k, cid, ("done",))
    show = k.cli("change", "show", str(cid), check=True).stdout
    assert "done" in show and "cr-vm3" in show and "checks passed" in show
    assert str(cid) in k.cli("change", "list", "--state", "done", check=True).stdout
    v = k.vms()["cr-vm3"]
    assert v["memory_bytes"] == 320 * MIB and v["vcpus"] == 1
    bad = k.cli("change", "create", "--vm", "cr-vm3", "--why", "x", "--action", "setmem 2G")
    assert bad.returncode == 2 and "KEY=VALUE" in bad.stderr
    bad = k.cli("change", "create", "--vm", "cr-vm3", "--action", "start")
    assert bad.returncode == 2 and "--why" in bad.stderr


def test_interrupted_by_a_stop_is_failed_not_rerun(kanrid_factory, tmp_path):
    node = tmp_path / "rack.xml"
    node.write_text(node_xml("cr", n_running=2, n_shutoff=0))
    state = str(tmp_path / "state")
    k = kanrid_factory(args=["--connect", f"test://{node}"], state_dir=state)
    k.wait_connected(["rack"])
    approver = k.post("/api/v1/tokens", {"name": "approver", "role": "operator"}).json["token"]
    # Checks that wait (no guest view on the test driver) while kanrid stops.
    cid = create(k, vm="cr-vm0", actions=[{"action": "setvcpus", "vcpus": 1}],
                 checks={"guest_fresh_s": 5, "timeout_s": 600})
    assert step(k, cid, "submit").status == 200
    assert step(k, cid, "approve", token=approver).status == 200
    k.wait_for(lambda: show(k, cid)["vms"][0]["result"] == "actions done; checking",
               timeout=30, what="the request's checks under way")
    assert k.stop() == 0
    k2 = kanrid_factory(args=["--connect", f"test://{node}"], state_dir=state)
    end = wait_state(k2, cid, ("failed",))
    assert "interrupted" in end["error"]
    # Not run again: its VM's record is as the first kanrid left it.
    assert end["vms"][0]["result"] == "actions done; checking"


def test_edit_of_the_domain_xml_recorded_as_the_request(k):
    v = k.vms()["cr-vm4"]
    assert v["state"] == "shutoff"
    xml = f"""<domain type='test'>
  <name>cr-vm4</name>
  <uuid>{v['uuid']}</uuid>
  <memory unit='KiB'>262144</memory>
  <currentMemory unit='KiB'>262144</currentMemory>
  <vcpu placement='static'>2</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
</domain>"""
    cid = create(k, vm="cr-vm4", actions=[{"action": "define", "xml": xml}])
    approved(k, cid)
    end = wait_state(k, cid, ("done", "failed", "rolled-back"))
    assert end["state"] == "done", end
    assert k.vms()["cr-vm4"]["max_memory_bytes"] == 256 * MIB
    # The change history names the request as what made the change.
    ch = k.get("/api/v1/changes?vm=cr-vm4").json["changes"]
    newest = max(ch, key=lambda c: c["id"])
    assert newest["cause"] == "action" and newest["actor"] == f"change-request #{cid}", newest
