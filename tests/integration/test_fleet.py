"""GET /api/v1/fleet end to end: two hosts on libvirt's test driver with
known VMs and an unreachable third, one request for what the Fleet page
shows.  Its figures are checked against the endpoints a client would
otherwise ask one by one: each VM's R against /vms/{id}/reconciled, the
host sums against those, findings against /findings?state=open, incidents
against /incidents, counts and sizes against the node files.

The test driver reports no vCPU wait and no guest view, so R of CPU demand
is absent there (the sums say so: null, 0 VMs counted; the engine's unit
test covers present CPU shares) and kanri-guestd pushes give two VMs of h1
a guest memory view, so memory sums cover 2 VMs and say so."""
import json
import os

import pytest

from kanri_harness import node_xml, run
from test_ingest import BUSY_ROOT, GUESTD, enroll, ingest

MIB = 1024 * 1024
# host -> (running, shut off); node_xml gives each VM 512 MiB and 2 vCPUs,
# each node 4 CPUs, 8 GiB and one 100 GiB pool.
HOSTS = {"h1": (3, 1), "h2": (2, 2)}
DOWN = "qemu+tcp://127.0.0.1:1/system"  # nothing listens on port 1: fails fast
PUSHED = ["h1-vm0", "h1-vm1"]


@pytest.fixture(scope="module")
def k(tmp_path_factory):
    from kanri_harness import Kanrid
    d = tmp_path_factory.mktemp("fleet")
    conf = "[manager]\ncollect_interval = 1\n"
    for name, (running, off) in HOSTS.items():
        node = d / f"{name}.xml"
        node.write_text(node_xml(name, n_running=running, n_shutoff=off))
        conf += f"[hypervisor:{name}]\nuri = test://{node}\n"
    conf += f"[hypervisor:down]\nuri = {DOWN}\nreconnect_min = 1\n"
    kd = Kanrid(config=conf)
    kd.wait_connected(list(HOSTS))
    # kanri-guestd reports for two of h1's VMs: they get a guest memory view.
    vms = kd.vms()
    for name in PUSHED:
        token = enroll(kd, name)
        state = str(d / f"guestd-{name}")
        os.makedirs(state, exist_ok=True)
        p = run([GUESTD, "--once", "--root", BUSY_ROOT, "--state-dir", state],
                capture_output=True, text=True, check=True)
        r = ingest(kd, token, dict(json.loads(p.stdout), machine_id=vms[name]["uuid"]))
        assert r.status == 200, r
    # Every running VM reconciled, the pushed ones with memory used.
    kd.wait_for(lambda: (lambda f: all(v["t"] for v in f["vms"] if v["state"] == "running")
                         and host(f, "h1")["mem_used_vms"] == len(PUSHED))(fleet(kd)),
                timeout=30, what="every running VM reconciled, two with a guest view")
    yield kd
    kd.stop()


def fleet(k, query="", **kw):
    r = k.get("/api/v1/fleet" + query, **kw)
    assert r.status == 200, r
    assert r.headers["Content-Type"] == "application/json"
    return r.json


def host(f, name):
    return next(h for h in f["hosts"] if h["name"] == name)


def reconciled_r(k, uuid):
    """(round time, {resource: R}) of GET /vms/{uuid}/reconciled."""
    o = k.get(f"/api/v1/vms/{uuid}/reconciled").json
    return o["time"], {e["resource"]: e["r"] for e in o["resources"]}


def test_hosts_vms_and_sizes(k):
    f = fleet(k)
    assert [h["name"] for h in f["hosts"]] == ["h1", "h2", "down"]
    for name, (running, off) in HOSTS.items():
        h = host(f, name)
        assert h["state"] == "connected" and h["reason"] is None
        assert h["cpus"] == 4 and h["memory_bytes"] == 8 * 1024 * MIB
        assert (h["vms_total"], h["vms_running"]) == (running + off, running)
        assert h["mem_assigned_bytes"] == running * 512 * MIB
        assert h["pools"] == 1
        assert h["storage_capacity_bytes"] == 100 * 1024 * MIB
        assert h["storage_available_bytes"] == 100 * 1024 * MIB
        assert h["storage_allocation_bytes"] == 0
        # The same counts GET /hosts gives, and the same pools as /pools.
        assert (h["vms_total"], h["vms_running"]) == (k.hosts()[name]["domains_total"],
                                                      k.hosts()[name]["domains_running"])
    names = sorted(v["name"] for v in f["vms"])
    assert names == sorted(f"{n}-vm{i}" for n, (r, o) in HOSTS.items() for i in range(r + o))
    inventory = {v["uuid"]: v for v in k.get("/api/v1/vms").json["vms"]}
    for v in f["vms"]:
        inv = inventory[v["uuid"]]
        assert (v["name"], v["host"], v["state"]) == (inv["name"], inv["host"], inv["state"])
        assert v["vcpus"] == 2 and v["memory_bytes"] == 512 * MIB
        # R only for what ran since kanrid started.
        assert (v["t"] is not None) == (v["state"] == "running"), v


def test_unreachable_host_says_why(k):
    h = host(fleet(k), "down")
    assert h["state"] == "unreachable"
    assert "127.0.0.1:1" in h["reason"], h["reason"]
    assert h["vms_total"] == 0 and h["vms_running"] == 0 and h["t"] is None
    assert h["cpus"] is None and h["memory_bytes"] is None
    assert h["cpu_demand_cores"] is None and h["mem_used_bytes"] is None
    assert h["pools"] == 0 and h["storage_capacity_bytes"] is None


def test_sums_match_each_vms_reconciled_view(k):
    def consistent():
        f = fleet(k)
        views = {v["uuid"]: reconciled_r(k, v["uuid"]) for v in f["vms"] if v["t"]}
        # A round may have run between the two reads: then read both again.
        if any(views[v["uuid"]][0] != v["t"] for v in f["vms"] if v["t"]):
            return None
        return f, views
    f, views = k.wait_for(consistent, timeout=30, what="/fleet and /reconciled of one round")
    for v in f["vms"]:
        if not v["t"]:
            assert v["cpu_demand_pct"] is None and v["mem_used_bytes"] is None
            continue
        r = views[v["uuid"]][1]
        for key, res in [("cpu_demand_pct", "cpu.demand"), ("mem_used_bytes", "mem.used"),
                         ("mem_total_bytes", "mem.total"), ("disk_used_bytes", "disk.used")]:
            if r[res] is None:
                assert v[key] is None, (v, res)
            elif key == "cpu_demand_pct":
                assert v[key] == pytest.approx(r[res], abs=0.001), (v, res)
            else:
                assert v[key] == round(r[res]), (v, res)
    for name in HOSTS:
        h = host(f, name)
        mine = [v for v in f["vms"] if v["host"] == name]
        cpu = [v["cpu_demand_pct"] * v["vcpus"] / 100 for v in mine
               if v["cpu_demand_pct"] is not None]
        mem = [v["mem_used_bytes"] for v in mine if v["mem_used_bytes"] is not None]
        assert h["cpu_demand_vms"] == len(cpu)
        assert h["cpu_demand_cores"] == (pytest.approx(sum(cpu), abs=0.002) if cpu else None)
        assert h["mem_used_vms"] == len(mem)
        assert h["mem_used_bytes"] == (pytest.approx(sum(mem), abs=len(mem)) if mem else None)
        assert h["t"] == max((v["t"] for v in mine if v["t"]), default=None)
    # What this driver gives: no CPU demand anywhere; memory used for the
    # two VMs kanri-guestd reports on, none for the others.
    h1 = host(f, "h1")
    assert h1["cpu_demand_cores"] is None and h1["cpu_demand_vms"] == 0
    assert h1["mem_used_vms"] == len(PUSHED) and h1["mem_used_bytes"] > 0
    assert host(f, "h2")["mem_used_bytes"] is None and host(f, "h2")["mem_used_vms"] == 0
    pushed = {v["name"]: v for v in f["vms"] if v["name"] in PUSHED}
    assert all(v["mem_used_bytes"] > 0 for v in pushed.values())


def by_severity(items, severities):
    counts = {s: 0 for s in severities}
    for i in items:
        counts[i["severity"]] += 1
    return counts


def test_findings_match_open_findings(k):
    def consistent():
        f = fleet(k)
        open_ = k.get("/api/v1/findings?state=open&limit=1000").json["findings"]
        again = fleet(k)
        # Findings open and close with rounds: a stable moment is one where
        # two reads of /fleet around /findings agree.
        return (f, open_) if f["findings_open"] == again["findings_open"] else None
    f, open_ = k.wait_for(consistent, timeout=30, what="a stable set of open findings")
    assert open_, "the test driver's VMs have open findings (no guest view)"
    sevs = ("critical", "warning", "info")
    assert f["findings_open"] == by_severity(open_, sevs)
    assert list(f["findings_open"]) == list(sevs)
    for v in f["vms"]:
        mine = [x for x in open_ if x["uuid"] == v["uuid"]]
        assert v["findings_open"] == len(mine), v
        worst = next((s for s in sevs if any(x["severity"] == s for x in mine)), None)
        assert v["worst_severity"] == worst, v
    for h in f["hosts"]:
        assert h["findings_open"] == by_severity([x for x in open_ if x["host"] == h["name"]], sevs)


def test_incidents_match_open_incidents(k):
    sevs = ("critical", "major", "warning", "info")
    # The unreachable host's incident opens through the ops thread.
    k.wait_for(lambda: host(fleet(k), "down")["incidents_open"]["critical"] == 1, timeout=30,
               what="host-unreachable counted on its host")

    def consistent():
        f = fleet(k)
        inc = k.get("/api/v1/incidents?state=open&limit=1000").json["incidents"]
        return (f, inc) if fleet(k)["incidents_open"] == f["incidents_open"] else None
    f, inc = k.wait_for(consistent, timeout=30, what="a stable set of open incidents")
    assert f["incidents_open"] == by_severity(inc, sevs)
    for h in f["hosts"]:
        mine = [i for i in inc if i["host"] == h["name"] or i["item"] == f"host:{h['name']}"]
        assert h["incidents_open"] == by_severity(mine, sevs), h["name"]


def test_host_restricts(k):
    f = fleet(k, "?host=h2")
    assert [h["name"] for h in f["hosts"]] == ["h2"]
    assert {v["host"] for v in f["vms"]} == {"h2"} and len(f["vms"]) == sum(HOSTS["h2"])
    assert f["findings_open"] == f["hosts"][0]["findings_open"]
    assert f["incidents_open"] == f["hosts"][0]["incidents_open"]
    d = fleet(k, "?host=down")
    assert [h["name"] for h in d["hosts"]] == ["down"] and d["vms"] == []
    r = k.get("/api/v1/fleet?host=nosuchhost")
    assert r.status == 404 and "nosuchhost" in r.json["detail"], r
    # By name only, as /vms?host= takes it: a host id is not a name.
    assert k.get(f"/api/v1/fleet?host={host(fleet(k), 'h1')['id']}").status == 404


def test_needs_a_viewer_token(k):
    r = k.get("/api/v1/fleet", token=None)
    assert r.status == 401, r
    assert k.get("/api/v1/fleet", token="kanri_nonsense").status == 401
    viewer = k.post("/api/v1/tokens", {"name": "fleet-viewer", "role": "viewer"}).json["token"]
    assert fleet(k, token=viewer)["hosts"]
    guest = enroll(k, "h2-vm0")  # a guest token may push, not read
    assert k.get("/api/v1/fleet", token=guest).status == 403


def test_etag(k):
    # The server core's reply path: a weak ETag, like every GET.
    r = k.get("/api/v1/fleet")
    assert r.status == 200 and r.headers.get("ETag", "").startswith('W/"')


def test_cli_fleet(k):
    def table():
        before = fleet(k)["vms"]
        p = k.cli("fleet")
        assert p.returncode == 0, p.stderr
        # Findings close as rounds run: compare with a moment they held still.
        return (p.stdout, before) if fleet(k)["vms"] == before else None
    out, vms = k.wait_for(table, timeout=30, what="kanri fleet between two equal /fleet")
    assert out.startswith("HOST ") and "CPU DEMAND" in out and "INCIDENTS" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.split()}
    for v in vms:
        cells = rows[v["name"]]
        assert cells[1:3] == [v["host"], v["state"]], cells
        assert cells[-1] == (v["worst_severity"] or "-"), cells
    # Memory used is shown for the VMs kanri-guestd reports on, "-" for the others.
    assert rows["h1-vm0"][4] != "-" and rows["h1-vm2"][4] == "-"
    h1 = " ".join(rows["h1"])
    assert rows["h1"][1] == "connected" and rows["h1"][2] == "3/4" and "- of 4" in h1
    assert "(2 VMs)" in h1, h1  # memory used covers 2 of its 3 running VMs
    assert "down: unreachable: " in out and "127.0.0.1:1" in out
    assert "Open findings: " in out and "Open incidents: " in out
    p = k.cli("fleet", "--host", "h2")
    assert p.returncode == 0, p.stderr
    assert "h1" not in p.stdout and "h2-vm0" in p.stdout
    p = k.cli("fleet", "--json")
    assert p.returncode == 0 and set(json.loads(p.stdout)) == {
        "time", "hosts", "vms", "findings_open", "incidents_open"}
    assert k.cli("fleet", "--host", "nosuchhost").returncode == 5



def test_removed_vm_leaves(k):
    before = host(fleet(k), "h2")
    gone = next(v["name"] for v in fleet(k)["vms"] if v["host"] == "h2" and v["state"] == "shutoff")
    assert k.post(f"/api/v1/vms/{gone}/actions/undefine").status == 200
    f = k.wait_for(lambda: (lambda f: gone not in {v["name"] for v in f["vms"]} and f)(fleet(k)),
                   timeout=15, what="the undefined VM gone from /fleet")
    assert host(f, "h2")["vms_total"] == before["vms_total"] - 1
    assert host(f, "h2")["vms_running"] == before["vms_running"]

