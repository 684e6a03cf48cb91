"""The reconciliation engine wired into kanrid, on libvirt's test driver:
it runs every collection round, stores R as history (view=reconciled), the
current H | G | R with provenance (GET /vms/{id}/reconciled), findings with
their lifecycle (GET /findings), exports view="reconciled" on /metrics, and
takes its tolerances from kanri.conf [reconcile].

The test driver has host figures but no guest agent, so the VM starts with
no guest view: guest-view-missing opens.  kanri-guestd documents pushed
for the domain then give it a guest view, and the finding closes.  Real
discrepancies on real guests are in tests/lab/test_reconcile_lab.py."""
import copy
import datetime
import json
import math
import time

import pytest

from kanri_harness import BUILD, KANRID, run
from test_ingest import enroll, guest_pusher, ingest, one_doc

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
    push = guest_pusher(k, "test")

    def push_and_check():
        push()
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


RESOURCES = ["cpu_busy", "cpu_wait", "cpu_demand", "mem_total", "mem_used", "mem_swap",
             "disk_used", "disk_free", "disk_io", "net_rx", "net_tx"]


def test_history_keeps_h_and_g_beside_r(kanrid_factory):
    """H and G are history beside R, in R's units; a side the round reports
    as null has no points, whatever R or the other side holds.  On the test
    driver the host side has no figures: R of cpu.demand (a host figure)
    and every H stay null while kanri-guestd gives G, and R of mem.used is
    the guest's figure."""
    k = kanrid_factory(args=["--connect", "test:///default"], config=CONF)
    k.wait_connected(["test-default"])
    uuid = k.vms()["test"]["uuid"]
    token = enroll(k, "test")
    base = one_doc()
    pushed = [0]

    def push_until_guest_cpu():
        # Each document adds 50 ticks user, 50 idle and 10 steal: the
        # guest's busy is 50/110 and its demand (busy + steal) 60/110.
        n = pushed[0] = pushed[0] + 1
        doc = copy.deepcopy(base)
        doc.update(machine_id=uuid, seq=n, time=time.time())
        for f, d in (("user", 50), ("idle", 50), ("steal", 10)):
            doc["cpu"]["total"][f] += d * n
        assert ingest(k, token, doc).status == 200
        o = reconciled(k)
        res = o and {e["resource"]: e for e in o["resources"]}
        return res if res and res["cpu.demand"]["g"] is not None else None
    res = k.wait_for(push_until_guest_cpu, timeout=30, interval=0.3,
                     what="a guest CPU figure in the reconciled view")
    demand_g = 100.0 * 60 / 110
    assert math.isclose(res["cpu.demand"]["g"], demand_g, abs_tol=1e-6)
    # What the history must not paper over: no host figures, so no R of
    # cpu.demand and no H anywhere.
    assert res["cpu.demand"]["h"] is None and res["cpu.demand"]["r"] is None
    assert res["mem.used"]["h"] is None and res["mem.used"]["g"] > 0
    assert res["mem.used"]["r"] == res["mem.used"]["g"]

    names = ["cpu_demand", "cpu_demand_h", "cpu_demand_g", "mem_used_h", "mem_used",
             "mem_used_g"]
    url = f"/api/v1/vms/test/metrics?view=reconciled&from=5m&metric={','.join(names)}"

    def history():
        r = k.get(url)
        assert r.status == 200, r
        s = {x["metric"]: x for x in r.json["sources"][0]["series"]}
        return len(s["cpu_demand_g"]["points"]) >= 2 and r.json
    o = k.wait_for(history, timeout=15, what="two rounds of cpu_demand_g history")
    assert o["view"] == "reconciled" and o["sources"][0]["source"] == "kanri"
    series = o["sources"][0]["series"]
    assert [x["metric"] for x in series] == names
    s = {x["metric"]: x for x in series}
    for m in names:
        assert s[m]["type"] == "gauge"
        assert s[m]["unit"] == ("%" if m.startswith("cpu_") else "bytes"), s[m]
    # G in percent as the view shows it (stored in milli-percent).
    assert all(math.isclose(p["v"], demand_g, abs_tol=1e-3) for p in s["cpu_demand_g"]["points"])
    # Null sides stay absent: neither R's nor the other side's value.
    assert s["cpu_demand"]["points"] == []
    assert s["cpu_demand_h"]["points"] == []
    assert s["mem_used_h"]["points"] == []
    # R of mem.used is the guest's figure, round by round.
    used = {p["t"]: p["v"] for p in s["mem_used"]["points"]}
    used_g = {p["t"]: p["v"] for p in s["mem_used_g"]["points"]}
    assert used and used_g
    assert all(used_g.get(t) == v for t, v in used.items()), (used, used_g)
    assert res["mem.used"]["g"] in used_g.values()

    # metric=all: R, then H and G of every resource; the default set is R.
    r = k.get("/api/v1/vms/test/metrics?view=reconciled&from=5m&metric=all")
    assert r.status == 200, r
    assert [x["metric"] for x in r.json["sources"][0]["series"]] == \
        RESOURCES + [f"{x}_{side}" for x in RESOURCES for side in "hg"]
    r = k.get("/api/v1/vms/test/metrics?view=reconciled&from=5m")
    assert r.status == 200, r
    assert [x["metric"] for x in r.json["sources"][0]["series"]] == \
        ["cpu_busy", "cpu_wait", "cpu_demand", "mem_total", "mem_used", "disk_used",
         "disk_free", "disk_io"]
    r = k.get("/api/v1/vms/test/metrics?view=reconciled&metric=cpu_demand_x")
    assert r.status == 400 and "cpu_demand_h" in r.body

    # format=columns: the same figures, one time array, values aligned on
    # it and null where a series has none then.
    q = "/api/v1/vms/test/metrics?view=reconciled&metric=mem_used,mem_used_g,cpu_demand_h&from=2026-01-01T00:00:00Z"
    pts = {x["metric"]: x["points"] for x in k.get(q).json["sources"][0]["series"]}
    col = k.get(q + "&format=columns").json["sources"][0]
    times = sorted({p["t"] for line in pts.values() for p in line})
    assert [round(t) for t in col["t"]] == [
        round(datetime.datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp()) for t in times]
    for x in col["series"]:
        got = dict(zip(times, x["v"]))
        want = {p["t"]: p["v"] for p in pts[x["metric"]]}
        assert {t: v for t, v in got.items() if v is not None} == want, x["metric"]
    assert all(v is None for v in next(x for x in col["series"] if x["metric"] == "cpu_demand_h")["v"])
    r = k.get(q + "&format=csv")
    assert r.status == 400 and "format" in r.body

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
