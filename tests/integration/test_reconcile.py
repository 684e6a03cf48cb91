"""The reconciliation engine wired into kanrid, on libvirt's test driver:
it runs every collection round, stores R as history (view=reconciled), the
current H | G | R with provenance (GET /vms/{id}/reconciled), findings with
their lifecycle (GET /findings), exports view="reconciled" on /metrics, and
takes its tolerances from kanri.conf [reconcile].

The test driver has host figures but no guest agent, so the VM starts with
no guest view: guest-view-missing opens.  kanri-guestd documents pushed
for the domain then give it a guest view, and the finding closes.  Real
discrepancies on real guests are in tests/lab/test_reconcile_lab.py."""
import json
import os
import time

import pytest

from kanri_harness import BUILD, KANRID, run
from test_ingest import BUSY_ROOT, GUESTD, enroll, ingest

CONF = ("[manager]\ncollect_interval = 1\n"
        "[reconcile]\nguest-view-missing.close_after = 2\n")


@pytest.fixture(scope="module")
def k():
    from kanri_harness import Kanrid
    kd = Kanrid(args=["--connect", "test:///default"], config=CONF)
    kd.wait_connected(["test-default"])
    yield kd
    kd.stop()


def reconciled(k, vm="test"):
    r = k.get(f"/api/v1/vms/{vm}/reconciled")
    return r.json if r.status == 200 else None


def open_rules(k, vm="test"):
    r = k.get(f"/api/v1/findings?state=open&vm={vm}")
    assert r.status == 200, r
    return {f["rule"] for f in r.json["findings"]}


def test_reconciled_view_every_round_with_provenance(k):
    o = k.wait_for(lambda: reconciled(k), timeout=20, what="a reconciled round")
    assert o["vm"]["name"] == "test"
    res = {e["resource"]: e for e in o["resources"]}
    assert list(res) == ["cpu.busy", "cpu.wait", "cpu.demand", "mem.total", "mem.used",
                         "mem.swap", "disk.used", "disk.free", "disk.io", "net.rx", "net.tx"]
    for e in o["resources"]:
        assert e["provenance"] in ("guest", "host", "host-run+wait", "guest+host-backing",
                                   "none")
        assert e["reason"]
    # No guest view on the test driver: guest figures are absent and R of a
    # guest-side resource says so, never falls back to the host's figure.
    assert res["mem.used"]["provenance"] == "none" and res["mem.used"]["r"] is None
    assert res["mem.used"]["g"] is None
    # The test driver reports no balloon size either: the memory that backs
    # the guest is unknown, and the guest's total would not be a substitute.
    assert res["mem.total"]["provenance"] == "none" and res["mem.total"]["r"] is None
    assert "not a substitute" in res["mem.total"]["reason"]
    assert o["age_s"] < 10
    t0 = o["time"]
    k.wait_for(lambda: reconciled(k)["time"] != t0, timeout=10, what="the next round")


def test_guest_view_missing_opens_then_closes_with_a_guest_view(k):
    k.wait_for(lambda: "guest-view-missing" in open_rules(k), timeout=20,
               what="guest-view-missing open")
    o = reconciled(k)
    assert "guest-view-missing" in {f["rule"] for f in o["findings"]}
    f = next(f for f in k.get("/api/v1/findings?rule=guest-view-missing").json["findings"]
             if f["vm"] == "test")
    assert f["state"] == "open" and f["severity"] in ("info", "warning", "critical")
    assert f["opened"] and f["closed"] is None and f["message"] and f["host"] == "test-default"

    # kanri-guestd pushes for the domain: the guest view exists from now on.
    uuid = k.vms()["test"]["uuid"]
    token = enroll(k, "test")
    state = os.path.join(k.state_dir, "guestd-state")
    os.makedirs(state, exist_ok=True)

    def push_and_check():
        p = run([GUESTD, "--once", "--root", BUSY_ROOT, "--state-dir", state],
                capture_output=True, text=True, check=True)
        doc = dict(json.loads(p.stdout), machine_id=uuid)
        assert ingest(k, token, doc).status == 200
        return "guest-view-missing" not in open_rules(k)
    k.wait_for(push_and_check, timeout=30, interval=0.5, what="guest-view-missing closed")
    closed = k.get("/api/v1/findings?state=closed&rule=guest-view-missing&vm=test").json
    assert closed["findings"] and closed["findings"][0]["closed"]
    # The guest's memory view now comes from kanri-guestd.
    res = {e["resource"]: e for e in reconciled(k)["resources"]}
    assert res["mem.used"]["g_source"] == "kanri-guestd" and res["mem.used"]["g"] > 0
    assert res["mem.used"]["provenance"] == "guest" and res["mem.used"]["r"] == res["mem.used"]["g"]
    assert res["mem.used"]["g_age_s"] is not None


def test_history_view_reconciled(k):
    def pts():
        r = k.get("/api/v1/vms/test/metrics?view=reconciled&metric=mem_used,cpu_busy&from=5m")
        assert r.status == 200, r
        return r.json["sources"][0]["series"][0]["points"] and r.json
    o = k.wait_for(pts, timeout=15, what="reconciled history")
    assert o["view"] == "reconciled"
    s = {x["metric"]: x for x in o["sources"][0]["series"]}
    assert s["mem_used"]["unit"] == "bytes" and s["mem_used"]["points"][-1]["v"] > 0
    assert s["cpu_busy"]["unit"] == "%"
    assert k.get("/api/v1/vms/test/metrics?view=mixed").status == 400
    assert k.get("/api/v1/vms/test/metrics?view=reconciled&metric=cpu_time_ns").status == 400


def test_prometheus_reconciled(k):
    text = k.get("/metrics").body
    assert 'view="reconciled"' in text
    assert "kanri_vm_memory_used_bytes{" in text
    if open_rules(k):
        assert "kanri_vm_finding_open{" in text


def test_findings_arguments(k):
    assert k.get("/api/v1/findings").status == 200
    assert k.get("/api/v1/findings?state=maybe").status == 400
    assert k.get("/api/v1/findings?rule=no-such-rule").status == 400
    assert k.get("/api/v1/findings?vm=no-such-vm").status == 404
    assert k.get("/api/v1/findings?limit=0").status == 400
    assert k.get("/api/v1/vms/no-such-vm/reconciled").status == 404


def test_cli_findings_and_vm_show(k):
    k.wait_for(lambda: reconciled(k), timeout=20, what="a reconciled round")
    p = k.cli("vm", "show", "test")
    assert p.returncode == 0, p.stderr
    assert "Reconciled" in p.stdout and "mem.total" in p.stdout and "PROVENANCE" in p.stdout
    p = k.cli("findings")
    assert p.returncode == 0, p.stderr
    assert "RULE" in p.stdout
    p = k.cli("findings", "--open", "--vm", "test", "--json")
    assert p.returncode == 0, p.stderr
    assert isinstance(json.loads(p.stdout)["findings"], list)
    p = k.cli("findings", "--rule", "nope")
    assert p.returncode != 0


def test_check_config_reconcile_errors_with_lines(tmp_path):
    conf = tmp_path / "kanri.conf"
    conf.write_text("[reconcile]\n"
                    "steal-invisible-to-guest.open_at = 7\n"
                    "no-such-rule.open_at = 1\n"
                    "guest-memory-overstated.severity = loud\n"
                    "cpu-busy-mismatch.close_at = 99\n")
    p = run([KANRID, "--config", str(conf), "--check-config"], capture_output=True, text=True)
    assert p.returncode != 0
    err = p.stderr + p.stdout
    assert f"{conf}:3:" in err and "no-such-rule" in err
    assert f"{conf}:4:" in err and "loud" in err
    assert f"{conf}:5:" in err
    assert f"{conf}:2:" not in err
