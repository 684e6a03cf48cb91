"""Machines: what kanri-guestd reports on, as first-class items (docs/api.md).

A physical server running kanri-guestd used to be known only to `kanri
agent list`: its documents were stored, and nothing showed them.  Here a
server (the captured /proc tree of tests/data/guest/busy, through the real
kanri-guestd) enrolls and pushes; it is listed with kind server and its
newest figures, shown with its filesystems, its history is queryable, and
/metrics has its series.  An agent bound to a VM is a machine of kind vm."""
import json
import os

from kanri_harness import BUILD, run

GUESTD = os.path.join(BUILD, "src", "guest", "kanri-guestd")
BUSY_ROOT = os.path.join(os.path.dirname(__file__), "..", "data", "guest", "busy", "root")
BUSY_UUID = "4c4c4544-0042-3910-8052-b7c04f4a4d32"


def doc(state):
    p = run([GUESTD, "--once", "--root", BUSY_ROOT, "--state-dir", state],
            capture_output=True, text=True, check=True)
    return json.loads(p.stdout)


def test_a_server_is_a_first_class_machine(kanrid_factory, tmp_path):
    k = kanrid_factory(args=["--connect", "test:///default"])
    k.wait_connected(["test-default"])
    assert k.get("/api/v1/machines").json == {"machines": []}

    r = k.post("/api/v1/agents", {"machine": BUSY_UUID, "name": "rack1-db"})
    assert r.status == 201, r
    token = r.json["token"]
    # Before its first document: listed, with no figures (never zeros).
    m = k.get("/api/v1/machines").json["machines"]
    assert [(x["name"], x["kind"], x["latest"]) for x in m] == [("rack1-db", "server", None)]

    d = doc(str(tmp_path))
    r = k.request("POST", "/api/v1/ingest/guest", raw=json.dumps(d).encode(), token=token)
    assert r.status == 200, r
    m = k.get("/api/v1/machines").json["machines"][0]
    assert m["uuid"] == BUSY_UUID and m["vm"] is None and m["host"] is None
    assert m["silent"] is False and m["last_contact"]
    latest = m["latest"]
    assert latest["mem_total_bytes"] == d["memory"]["total_bytes"], (latest, d["memory"])
    assert latest["fs_total_bytes"] > 0 and 0 < latest["fs_used_bytes"] < latest["fs_total_bytes"]
    assert latest["cpu_busy_pct"] is None  # one sample: no rate yet, not 0

    one = k.get("/api/v1/machines/rack1-db").json["machine"]
    assert one["uuid"] == BUSY_UUID
    fs = one["filesystems"]
    assert fs and fs[0]["path"] == "/" and fs[0]["type"] == "ext4", fs
    assert fs[0]["used_bytes"] == fs[0]["total_bytes"] - d["filesystems"][0]["free_bytes"]
    assert k.get(f"/api/v1/machines/{BUSY_UUID.upper()}").json["machine"]["name"] == "rack1-db"
    assert k.get("/api/v1/machines/nosuch").status == 404

    h = k.get("/api/v1/machines/rack1-db/metrics?metric=mem_total,fs_used&from=1h")
    assert h.status == 200, h
    assert h.json["machine"] == {"uuid": BUSY_UUID, "name": "rack1-db"}
    src = h.json["sources"][0]
    assert src["source"] == "kanri-guestd"
    points = {s["metric"]: s["points"] for s in src["series"]}
    assert points["mem_total"][-1]["v"] == d["memory"]["total_bytes"], points
    assert k.get("/api/v1/machines/rack1-db/metrics?metric=nosuch").status == 400

    metrics = k.get("/metrics").body
    line = next(l for l in metrics.splitlines()
                if l.startswith("kanri_machine_memory_total_bytes{"))
    assert 'machine="rack1-db"' in line and 'kind="server"' in line and f'uuid="{BUSY_UUID}"' \
        in line, line
    assert line.endswith(" " + str(d["memory"]["total_bytes"])), line

    # Its own rules: a filesystem 95 % full and 4 % of memory available open
    # findings (critical for memory); a healthy report closes them.
    full = json.loads(json.dumps(d))
    fs0 = full["filesystems"][0]
    fs0["free_bytes"] = fs0["avail_bytes"] = fs0["total_bytes"] // 20
    full["memory"]["available_bytes"] = full["memory"]["total_bytes"] * 4 // 100
    full["seq"] = d["seq"] + 1
    full["time"] = d["time"] + 1
    r = k.request("POST", "/api/v1/ingest/guest", raw=json.dumps(full).encode(), token=token)
    assert r.status == 200, r
    found = {f["rule"]: f for f in k.get("/api/v1/machines/rack1-db").json["machine"]["findings"]}
    assert set(found) == {"machine-filesystem-filling", "machine-memory-pressure"}, found
    assert found["machine-memory-pressure"]["severity"] == "critical"
    assert found["machine-filesystem-filling"]["severity"] == "warning"
    assert "/ is 95.0 % full" in found["machine-filesystem-filling"]["message"], found
    open_rows = k.get(f"/api/v1/findings?state=open").json["findings"]
    assert {f["rule"] for f in open_rows if f["uuid"] == BUSY_UUID} == set(found)
    assert 'kanri_machine_finding_open{machine="rack1-db"' in k.get("/metrics").body
    # They open incidents on the machine's item, as a VM's findings do.
    k.wait_for(lambda: any(i["condition"] == "finding/machine-memory-pressure" and
                           i["item"] == "agent:" + BUSY_UUID
                           for i in k.get("/api/v1/incidents").json["incidents"]),
               what="an incident for the memory pressure")
    healthy = json.loads(json.dumps(d))
    healthy["seq"] = d["seq"] + 2
    healthy["time"] = d["time"] + 2
    r = k.request("POST", "/api/v1/ingest/guest", raw=json.dumps(healthy).encode(), token=token)
    assert r.status == 200, r
    assert k.get("/api/v1/machines/rack1-db").json["machine"]["findings"] == []
    closed = k.get(f"/api/v1/findings?state=closed").json["findings"]
    assert {f["rule"] for f in closed if f["uuid"] == BUSY_UUID} == set(found)

    # An agent inside a VM kanri manages is a machine of kind vm.
    r = k.post("/api/v1/agents", {"machine": "test"})
    assert r.status == 201, r
    vm = {x["name"]: x for x in k.get("/api/v1/machines").json["machines"]}["test"]
    assert vm["kind"] == "vm" and vm["vm"] == "test" and vm["host"] == "test-default", vm

    p = k.cli("machine", "list", check=True)
    rows = [l.split() for l in p.stdout.splitlines()]
    assert any(r[:2] == ["rack1-db", "server"] for r in rows), p.stdout
    assert any(r[:3] == ["test", "vm", "test"] for r in rows), p.stdout
    p = k.cli("machine", "show", "rack1-db", check=True)
    assert "Kind:          server" in p.stdout and "ext4" in p.stdout, p.stdout
    p = k.cli("machine", "stats", "rack1-db", check=True)
    assert "Memory" in p.stdout and "rack1-db" in p.stdout, p.stdout
    p = k.cli("machine", "show", "nosuch")
    assert p.returncode != 0 and "no machine" in p.stderr, p.stderr
