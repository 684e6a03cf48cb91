"""Several kanrid instances on one PostgreSQL store share the hosts by
leases (docs/scale-out.md): each host is collected by exactly one of them,
an instance that joins gets its share, and the hosts of one killed with
SIGKILL are taken over by the others once its leases expire; one that
stops cleanly hands its hosts over at once.  Needs the tests' PostgreSQL
server (KANRI_TEST_PG; make check starts one)."""
import json
import signal
import subprocess
import threading
import time

import pytest

from kanri_harness import node_xml, run
from test_ingest import guest_pusher

HOSTS = 30
LEASE = 3  # seconds: the shortest kanri.conf allows, for a quick failover


def fleet(tmp_path, pg_url, hosts=HOSTS):
    """kanri.conf of HOSTS test-driver hosts (2 VMs each) on PG_URL."""
    conf = [f"[manager]\ncollect_interval = 1\n"
            f"[store]\nbackend = postgresql\nurl = {pg_url}\nlease = {LEASE}s\n"]
    for h in range(hosts):
        path = tmp_path / f"h{h:02d}.xml"
        path.write_text(node_xml(f"h{h:02d}", 2, 0))
        conf.append(f"[hypervisor:h{h:02d}]\nuri = test://{path}\n")
    return "".join(conf)


def psql(url, sql):
    p = subprocess.run(["psql", url, "-XAt", "-F", " ", "-c", sql], check=True,
                       capture_output=True, text=True)
    return [line.split() for line in p.stdout.splitlines()]


def cluster(k):
    r = k.get("/api/v1/cluster")
    assert r.status == 200, r
    return r.json


def holders(k):
    """Host -> the name of the instance holding it now (None: free)."""
    return {le["host"]: le["holder_name"] for le in cluster(k)["leases"]}


def shared_evenly(k, names):
    """Every host held, by the instances NAMES only, evenly (the leader's
    lease counting as one more host)."""
    c = cluster(k)
    h = {le["host"]: le["holder_name"] for le in c["leases"]}
    if len(h) != HOSTS or set(h.values()) != set(names) or c["leader"] not in names:
        return False
    held = list(h.values()) + [c["leader"]]
    counts = sorted(held.count(n) for n in names)
    return counts[-1] - counts[0] <= 1


def name_of(k):
    return next(i["name"] for i in cluster(k)["instances"] if i["this"])


def rounds_per_host(url, since_us):
    """Host name -> the rounds stored for it since SINCE_US."""
    rows = psql(url, "SELECT h.name, count(*) FROM node_samples n JOIN hosts h ON h.id = n.host_id"
                     f" WHERE n.t >= {since_us} GROUP BY h.name")
    return {name: int(n) for name, n in rows}


def test_instances_share_the_hosts_and_take_over_a_killed_ones(kanrid_factory, tmp_path,
                                                               pg_url):
    conf = fleet(tmp_path, pg_url)
    a = kanrid_factory(config=conf, state_dir=str(tmp_path / "a"))
    # Alone, it holds every host, and is ready once each has synced.
    assert set(holders(a).values()) == {name_of(a)}
    assert len(a.get("/api/v1/vms?limit=1000").json["vms"]) == 2 * HOSTS

    b = kanrid_factory(config=conf, state_dir=str(tmp_path / "b"))
    c = kanrid_factory(config=conf, state_dir=str(tmp_path / "c"))
    names = [name_of(k) for k in (a, b, c)]
    a.wait_for(lambda: shared_evenly(a, names), timeout=60, interval=0.5,
               what="the hosts shared out 10/10/10")
    # One leader among them, named alike by all.
    assert len({cluster(k)["leader"] for k in (a, b, c)}) == 1
    assert cluster(a)["leader"] in names
    for k in (a, b, c):
        k.wait_ready()
        # Any instance serves the whole fleet's inventory from the store.
        assert len(k.get("/api/v1/vms?limit=1000").json["vms"]) == 2 * HOSTS
        status = k.cli("cluster", "status", check=True).stdout
        assert all(n in status for n in names), status

    # Exactly one instance collects each host: one round a second, not two.
    t0 = int(time.time() * 1e6)
    a.wait_for(lambda: min(rounds_per_host(pg_url, t0).values() or [0]) >= 5
               and len(rounds_per_host(pg_url, t0)) == HOSTS,
               timeout=60, interval=0.5, what="five rounds of every host")
    span_s = (int(time.time() * 1e6) - t0) / 1e6
    per_host = rounds_per_host(pg_url, t0)
    assert max(per_host.values()) <= span_s + 2, (span_s, per_host)

    # SIGKILL: its hosts stay its own until their leases expire, then the
    # other two take them, each under a new epoch, and collect them.
    before = {le["host"]: le for le in cluster(a)["leases"]}
    cs = [h for h, n in holders(a).items() if n == names[2]]
    # The survivors' API answers throughout, the whole fleet each time.
    answers, stop = [], threading.Event()

    def ask():
        while not stop.is_set():
            for k in (a, b):
                r = k.get("/api/v1/vms?limit=1000")
                answers.append((r.status, len(r.json["vms"]) if r.status == 200 else r))
    asker = threading.Thread(target=ask, daemon=True)
    asker.start()
    c.proc.send_signal(signal.SIGKILL)
    c.proc.wait()
    c._checked = True  # killed on purpose
    killed = time.time()
    a.wait_for(lambda: shared_evenly(a, names[:2]), timeout=60, interval=0.25,
               what="the killed instance's hosts taken over")
    took = time.time() - killed
    print(f"\ntaken over {took:.1f} s after the SIGKILL (lease {LEASE} s)")
    after = {le["host"]: le for le in cluster(a)["leases"]}
    assert all(after[h]["epoch"] > before[h]["epoch"] for h in cs)
    t1 = int(time.time() * 1e6)
    a.wait_for(lambda: all(rounds_per_host(pg_url, t1).get(h, 0) >= 2 for h in cs),
               timeout=60, interval=0.5, what="rounds of the taken-over hosts")
    stop.set()
    asker.join(timeout=30)
    # Taken over, not started again: one open finding per VM and rule, one
    # open incident per item and condition, whoever opened them.
    open_f = [(f["uuid"], f["rule"]) for f in
              a.get("/api/v1/findings?state=open&limit=1000").json["findings"]]
    assert open_f and len(open_f) == len(set(open_f)), open_f
    open_i = [(i["item"], i["condition"]) for i in
              a.get("/api/v1/incidents?state=open&limit=1000").json["incidents"]]
    assert open_i and len(open_i) == len(set(open_i)), open_i
    assert answers and all(x == (200, 2 * HOSTS) for x in answers), answers
    live = {i["name"]: i["live"] for i in cluster(b)["instances"]}
    assert live.get(names[2]) in (False, None)
    # The leader's lease is taken over like a host's.
    a.wait_for(lambda: cluster(a)["leader"] in names[:2], timeout=60, interval=0.25,
               what="a live leader")

    # A clean stop hands its hosts over at once (no lease left to expire):
    # well within the lease time, whatever the machine's pace.
    b.stop()
    a.wait_for(lambda: set(holders(a).values()) == {names[0]}, timeout=60, interval=0.1,
               what="b's hosts handed to a")
    # b is gone; the killed one is shown dead (for a while: an instance
    # silent for ten lease times is forgotten).
    assert {i["name"]: i["live"] for i in cluster(a)["instances"]} == {names[0]: True,
                                                                       names[2]: False}
    a.wait_for(lambda: cluster(a)["leader"] == names[0], timeout=60, interval=0.1,
               what="a, alone, the leader")
    a.wait_ready()


def test_cluster_status_on_a_single_store(kanrid_factory, tmp_path):
    """On SQLite (or alone) the API and the CLI say there is no cluster."""
    k = kanrid_factory(args=["--connect", "test:///default", "--db",
                             str(tmp_path / "one.db")], state_dir=str(tmp_path / "s"))
    assert k.get("/api/v1/cluster").json == {"enabled": False}
    out = k.cli("cluster", check=True).stdout
    assert "no instances share hosts" in out


def test_notifications_go_out_once_from_the_leader(kanrid_factory, tmp_path, pg_url):
    """Every instance records incidents of the hosts it holds in the shared
    outbox; only the leader delivers, so each goes out once."""
    out = tmp_path / "sent"
    route = (f"[route:log]\ntype = command\ncommand = sh -c 'echo $KANRI_KEY >> {out}'\n"
             "min_severity = info\n")
    # Four hosts and the leader's lease: each instance holds a host.
    conf = fleet(tmp_path, pg_url, hosts=4) + route
    a = kanrid_factory(config=conf, state_dir=str(tmp_path / "a"))
    b = kanrid_factory(config=conf, state_dir=str(tmp_path / "b"))
    a.wait_for(lambda: {le["holder_name"] for le in cluster(a)["leases"]} ==
               {name_of(a), name_of(b)}, timeout=60, interval=0.5, what="both holding hosts")

    # The test domains have no guest view: each opens incidents.
    def delivered():
        incs = a.get("/api/v1/incidents?limit=1000").json["incidents"]
        if {i["host"] for i in incs} != {f"h{h:02d}" for h in range(4)}:
            return False
        ds = [d for i in incs for d in a.get(f"/api/v1/incidents/{i['id']}").json["deliveries"]]
        return ds and all(d["state"] == "delivered" for d in ds) and ds
    ds = a.wait_for(delivered, timeout=60, interval=0.5, what="every incident of every host sent")
    sent = out.read_text().split()
    assert len(sent) == len(set(sent)) == len(ds), sent


def test_a_guest_document_pushed_to_any_instance_reaches_the_holder(kanrid_factory, tmp_path,
                                                                   pg_url):
    """kanri-guestd may push to any instance: the one holding the VM's host
    reconciles with it."""
    # Three hosts and the leader's lease: each instance holds a host.
    conf = fleet(tmp_path, pg_url, hosts=3)
    a = kanrid_factory(config=conf, state_dir=str(tmp_path / "a"))
    b = kanrid_factory(config=conf, state_dir=str(tmp_path / "b"))
    a.wait_for(lambda: {le["holder_name"] for le in cluster(a)["leases"]} ==
               {name_of(a), name_of(b)}, timeout=60, interval=0.5, what="both holding a host")
    b.wait_ready()
    host = next(h for h, n in holders(a).items() if n == name_of(b))
    vm = next(v for v in a.get("/api/v1/vms?limit=100").json["vms"] if v["host"] == host)
    push = guest_pusher(a, vm["uuid"], state=tmp_path / "guestd-state")

    def pushed_to_a_seen_by_b():
        push()
        r = b.get(f"/api/v1/vms/{vm['uuid']}/reconciled")
        res = r.status == 200 and {e["resource"]: e for e in r.json["resources"]}
        return res and res["mem.used"]["g_source"] == "kanri-guestd" and res
    res = b.wait_for(pushed_to_a_seen_by_b, timeout=60, interval=1,
                     what="the document pushed to a in b's reconciled view")
    assert res["mem.used"]["provenance"] == "guest" and res["mem.used"]["g"] > 0

    # a shows the view b keeps in the store, not one of its own.
    def seen_from_a():
        r = a.get(f"/api/v1/vms/{vm['uuid']}/reconciled")
        return r.status == 200 and {e["resource"]: e for e in r.json["resources"]}[
            "mem.used"]["g_source"] == "kanri-guestd"
    a.wait_for(seen_from_a, timeout=30, interval=0.5, what="b's view of the VM from a")

    # a's fleet summary shows b's host as held elsewhere and its VMs with
    # the figures and open findings b keeps in the store: the same as a's
    # /reconciled and /findings of them.
    def fleet_from_a():
        f = a.get("/api/v1/fleet").json
        mine = [v for v in f["vms"] if v["host"] == host]
        views = {v["uuid"]: a.get(f"/api/v1/vms/{v['uuid']}/reconciled").json for v in mine}
        if not all(v["t"] and v["t"] == views[v["uuid"]]["time"] for v in mine):
            return None  # not yet, or a view kept between the two reads
        return f, mine, views
    f, mine, views = a.wait_for(fleet_from_a, timeout=60, interval=0.5,
                                what="b's VMs with their kept figures in a's /fleet")
    h = next(x for x in f["hosts"] if x["name"] == host)
    assert h["state"] == "elsewhere", h
    assert h["vms_running"] == len(mine) == 2 and h["mem_used_vms"] >= 1, h
    for v in mine:
        r = {e["resource"]: e["r"] for e in views[v["uuid"]]["resources"]}
        assert v["mem_used_bytes"] == (round(r["mem.used"]) if r["mem.used"] is not None
                                       else None), (v, r)
        if r["cpu.demand"] is None:
            assert v["cpu_demand_pct"] is None, (v, r)
        else:
            assert v["cpu_demand_pct"] == pytest.approx(r["cpu.demand"], abs=0.001), (v, r)
        opened = a.get(f"/api/v1/findings?state=open&vm={v['uuid']}").json["findings"]
        assert v["findings_open"] == len(opened), (v, opened)
    pushed = next(v for v in mine if v["uuid"] == vm["uuid"])
    assert pushed["mem_used_bytes"] > 0, pushed


def test_an_action_asked_of_any_instance_is_done_by_the_holder(kanrid_factory, tmp_path,
                                                               pg_url):
    """Every instance serves the whole API: an action on a VM whose host
    another instance holds is forwarded there with the caller's token, and
    its answer relayed; the audit trail names the caller."""
    conf = fleet(tmp_path, pg_url, hosts=3)
    a = kanrid_factory(config=conf, state_dir=str(tmp_path / "a"))
    b = kanrid_factory(config=conf, state_dir=str(tmp_path / "b"))
    a.wait_for(lambda: {le["holder_name"] for le in cluster(a)["leases"]} ==
               {name_of(a), name_of(b)}, timeout=60, interval=0.5, what="both holding a host")
    b.wait_ready()
    host = next(h for h, n in holders(a).items() if n == name_of(b))
    vm = next(v for v in a.get("/api/v1/vms?limit=100").json["vms"] if v["host"] == host)
    # Asked of a, with a viewer's token made on b: refused by the holder.
    viewer = b.post("/api/v1/tokens", {"name": "dash", "role": "viewer"}).json["token"]
    r = a.post(f"/api/v1/vms/{vm['uuid']}/actions/suspend", {}, token=viewer)
    assert r.status == 403, r
    r = a.post(f"/api/v1/vms/{vm['uuid']}/actions/suspend", {})
    assert r.status == 200, r
    assert r.json["vm"]["state"] == "paused"
    # (kanrid's log is read by another thread: its line may come later.)
    a.wait_for(lambda: "forwarded to kanrid instance" in a.log, timeout=30, what="the log line")
    entry = next(e for e in b.get("/api/v1/audit?limit=100").json["audit"]
                 if e["target_uuid"] == vm["uuid"] and e["action"] == "suspend")
    assert entry["result"] == "ok" and entry["actor"].startswith("admin"), entry
    # A read that needs the hypervisor is forwarded too.
    assert a.get(f"/api/v1/vms/{vm['uuid']}/snapshots").status == 200
    # Never forwarded twice: a request marked forwarded meets a host the
    # instance does not hold, and says so.
    r = a.request("POST", f"/api/v1/vms/{vm['uuid']}/actions/resume", body={},
                  headers={"X-Kanri-Forwarded": "1"})
    assert r.status == 503 and "leases are moving" in r.json["detail"], r


def test_a_host_taken_over_starts_from_the_inventory_its_holder_left(kanrid_factory, tmp_path,
                                                                    pg_url):
    """An instance that started before another changed a VM's definition
    takes that VM's host over knowing the change: the versions it records
    next follow the store's, none is numbered twice."""
    # Three hosts and the leader's lease: a, first, keeps @leader and h00.
    conf = fleet(tmp_path, pg_url, hosts=3)
    a = kanrid_factory(config=conf, state_dir=str(tmp_path / "a"))
    b = kanrid_factory(config=conf, state_dir=str(tmp_path / "b"))
    a.wait_for(lambda: holders(a).get("h00") == name_of(a) and
               set(holders(a).values()) == {name_of(a), name_of(b)}, timeout=60, interval=0.5,
               what="a holding h00 and b another host")
    b.wait_ready()
    vm = "h00-vm0"
    assert a.post(f"/api/v1/vms/{vm}/actions/setmem", {"memory_mib": 256}).status == 200

    # a stops: b takes h00 over, then changes the VM itself.
    a.stop()
    # Held in the store first, then here: connected once b has synced it.
    b.wait_for(lambda: b.get("/api/v1/fleet?host=h00").json["hosts"][0]["state"] == "connected",
               timeout=60, interval=0.2, what="b holding h00, synced")
    assert holders(b)["h00"] == name_of(b)
    assert b.post(f"/api/v1/vms/{vm}/actions/setmem", {"memory_mib": 300}).status == 200
    changes = b.get(f"/api/v1/changes?vm={vm}&limit=100").json["changes"]
    versions = [c["to_version"] for c in changes]
    assert len(versions) == len(set(versions)) and changes[0]["cause"] == "action", changes
    assert "already exists" not in b.log, b.log
