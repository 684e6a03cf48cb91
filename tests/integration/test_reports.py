"""The availability report end to end on libvirt's test driver
(docs/reports.md): what the rounds recorded, read back as time up, down
and unknown; kanri's own stop counted as planned with the audit entry as
its cause; a kanrid stop shown as unknown, never up; groups made of tags;
CSV and HTML; the refusals."""
import csv
import io
import json
import time

import pytest

NODE = """<node>
  <cpu><mhz>2000</mhz><model>i686</model><active>4</active>
    <nodes>1</nodes><sockets>1</sockets><cores>4</cores><threads>1</threads></cpu>
  <memory>8388608</memory>
%s
</node>
"""

DOMAIN = """  <domain type='test'>
    <name>%s</name>
    <uuid>7e000000-0000-4000-8000-00000000000%d</uuid>
    <memory unit='KiB'>262144</memory>
    <vcpu>1</vcpu>
    <os><type arch='x86_64'>hvm</type></os>
    %s
  </domain>"""


# The test driver's run state 5: shut off.
SHUTOFF = ("<test:runstate xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>5"
           "</test:runstate>")


def node():
    doms = [DOMAIN % ("web1", 1, ""), DOMAIN % ("web2", 2, ""),
            DOMAIN % ("cold", 3, SHUTOFF)]
    return NODE % "\n".join(doms)


def conf(tmp_path):
    (tmp_path / "lab.xml").write_text(node())
    return ("[manager]\ncollect_interval = 1\n"
            f"[hypervisor:lab]\nuri = test://{tmp_path / 'lab.xml'}\n")


def report(k, query=""):
    r = k.get("/api/v1/reports/availability?from=1h" + query)
    assert r.status == 200, r
    return r.json


def vm_of(rep, name):
    return next((v for v in rep["vms"] if v["name"] == name), None)


@pytest.fixture
def k(kanrid_factory, tmp_path):
    kd = kanrid_factory(state_dir=tmp_path / "state", config=conf(tmp_path))
    kd.wait_connected(["lab"])
    kd.wait_for(lambda: len(kd.vms()) == 3, what="inventory of 3 VMs")
    return kd


def up_for(k, name, secs):
    """Waits until the report has NAME running (host view only: the test
    driver has no guest) for SECS seconds."""
    def ok():
        v = vm_of(report(k), name)
        return v and v["totals"]["host_only_s"] >= secs
    k.wait_for(ok, timeout=30, what=f"{name} up {secs} s in the report")


def test_kanri_stop_is_planned_down_time_with_its_cause(k):
    up_for(k, "web1", 2)
    rep = report(k)
    web1 = vm_of(rep, "web1")
    assert web1["host_view_only"] and "host view only" in web1["caveat"]
    assert web1["totals"]["availability"] == 1.0 and web1["outages"] == []

    r = k.post("/api/v1/vms/web1/actions/destroy", {})
    assert r.status == 200, r
    audit_id = r.json["audit_id"]

    def down_seen():
        v = vm_of(report(k), "web1")
        return v["totals"]["planned_down_s"] >= 2 and v["outages"]
    k.wait_for(down_seen, timeout=30, what="web1 down 2 s in the report")
    assert k.post("/api/v1/vms/web1/actions/start", {}).status == 200

    def back_up():
        v = vm_of(report(k), "web1")
        return v["outages"] and not v["outages"][0]["open"]
    k.wait_for(back_up, timeout=30, what="web1's outage over")
    web1 = vm_of(report(k, "&slo=99.9"), "web1")
    o = web1["outages"][0]
    assert o["kind"] == "down" and o["planned"]
    assert o["cause"].startswith("destroy by admin")
    assert o["cause"].endswith(f"(audit #{audit_id})")
    assert o["duration_s"] >= 2 and o["known_s"] == pytest.approx(o["duration_s"], abs=0.01)
    # Planned down time is not held against availability.
    assert web1["totals"]["unplanned_down_s"] == 0 and web1["totals"]["availability"] == 1.0
    # The shut-off VM: down all along, unplanned (nothing of kanri's stopped it).
    cold = vm_of(report(k), "cold")
    assert cold["totals"]["unplanned_down_s"] > 0 and cold["totals"]["availability"] == 0
    assert cold["outages"][0]["open"] and cold["outages"][0]["cause"]
    # One VM's report.
    one = report(k, "&vm=web2")
    assert [v["name"] for v in one["vms"]] == ["web2"]


def test_a_kanrid_stop_is_unknown_never_up(kanrid_factory, tmp_path):
    c = conf(tmp_path)
    k = kanrid_factory(state_dir=tmp_path / "state", config=c)
    k.wait_connected(["lab"])
    up_for(k, "web2", 2)
    assert k.stop() == 0
    stopped = time.time()
    # kanrid stays down for a known stretch: the time it is not watching.
    time.sleep(5)
    k = kanrid_factory(state_dir=tmp_path / "state", config=c)
    k.wait_connected(["lab"])
    gap = time.time() - stopped

    def unknown_seen():
        v = vm_of(report(k), "web2")
        return v and v["totals"]["unknown_s"] >= 4
    k.wait_for(unknown_seen, timeout=30, what="kanrid's gap as unknown")
    t = vm_of(report(k), "web2")["totals"]
    # The gap (less the one interval a round's state holds) is unknown.
    assert gap - 2 <= t["unknown_s"] <= gap + 1
    assert t["unplanned_down_s"] == 0 and t["availability"] == 1.0
    # A period wholly inside the gap: nothing known.
    frm = int(stopped) + 2
    r = k.get(f"/api/v1/reports/availability?from={frm}&to={frm + 2}&vm=web2")
    assert r.status == 200, r
    v = r.json["vms"][0]["totals"]
    assert v["unknown_s"] == 2 and v["host_only_s"] == 0 and v["availability"] is None


def test_groups_of_tags_csv_and_html(k):
    r = k.request("PUT", "/api/v1/vms/web1/tags", {"tags": ["shop", "prod"]})
    assert r.status == 200 and r.json["tags"] == ["shop", "prod"], r
    assert k.request("PUT", "/api/v1/vms/web2/tags", {"tags": ["shop"]}).status == 200
    r = k.get("/api/v1/tags?tag=shop")
    assert sorted(t["vm"] for t in r.json["tags"]) == ["web1", "web2"]
    r = k.get("/api/v1/tags?vm=web1")
    assert sorted(t["tag"] for t in r.json["tags"]) == ["prod", "shop"]
    up_for(k, "web1", 1)

    rep = report(k, "&group=shop&slo=99.5")
    assert sorted(v["name"] for v in rep["vms"]) == ["web1", "web2"]
    assert rep["group"] == "shop"
    assert rep["slo"]["target"] == 0.995 and rep["slo"]["met"]
    assert rep["slo"]["budget_used"] == 0
    total = rep["totals"]
    assert total["host_only_s"] == pytest.approx(
        sum(v["totals"]["host_only_s"] for v in rep["vms"]), abs=0.02)
    assert [v["name"] for v in report(k, "&group=prod")["vms"]] == ["web1"]
    assert report(k, "&group=nobody")["vms"] == []

    r = k.get("/api/v1/reports/availability?from=1h&group=shop&format=csv")
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.body)))
    assert sorted(x["vm"] for x in rows) == ["web1", "web2"]
    assert float(rows[0]["availability"]) == 1.0 and rows[0]["host_view_only"] == "yes"

    r = k.get("/api/v1/reports/availability?from=1h&format=html&slo=99.9")
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/html")
    html = r.body
    assert "<svg" in html and "web1" in html and "SLO" in html
    assert "<script" not in html and "http" not in html.split("<body>")[1]

    # Tags replaced, and emptied.
    assert k.request("PUT", "/api/v1/vms/web1/tags", {"tags": []}).status == 200
    assert [v["name"] for v in report(k, "&group=shop")["vms"]] == ["web2"]


def test_refusals(k):
    for q, word in [("from=yesterday", "from"), ("from=1h&to=2h", "period"),
                    ("format=pdf", "format"), ("slo=100", "slo"), ("slo=abc", "slo")]:
        r = k.get("/api/v1/reports/availability?" + q)
        assert r.status == 400 and word in r.json["detail"], (q, r)
    assert k.get("/api/v1/reports/availability?vm=nope").status == 404
    for body in [{"tags": "shop"}, {"tags": ["a b"]}, {"tags": [""]}, {"tags": [1]},
                 {"tags": ["x" * 65]}, {"tags": [f"t{i}" for i in range(33)]}, {}]:
        r = k.request("PUT", "/api/v1/vms/web1/tags", body)
        assert r.status == 400, (body, r)
    assert k.request("PUT", "/api/v1/vms/nope/tags", {"tags": []}).status == 404
    viewer = k.post("/api/v1/tokens", {"name": "watcher", "role": "viewer"}).json["token"]
    assert k.request("PUT", "/api/v1/vms/web1/tags", {"tags": ["a"]},
                     token=viewer).status == 403
    assert k.get("/api/v1/reports/availability", token=viewer).status == 200


def test_cli(k):
    up_for(k, "web1", 1)
    p = k.cli("vm", "tag", "web1", "shop", check=True)
    assert "shop" in p.stdout
    p = k.cli("report", "availability", "--from", "1h", "--group", "shop", "--slo", "99.9",
              check=True)
    assert "web1" in p.stdout and "availability" in p.stdout.lower()
    assert "SLO 99.9" in p.stdout
    p = k.cli("report", "availability", "--from", "1h", "--format", "csv", check=True)
    assert p.stdout.startswith("vm,uuid,host")


# ---- capacity ----

GIB = 1 << 30
MIB = 1 << 20


def capacity(k, query=""):
    r = k.get("/api/v1/reports/capacity?history=2m&horizon=30s&step=1s" + query)
    assert r.status == 200, r
    return r.json


def lab(rep):
    return next(h for h in rep["hosts"] if h["name"] == "lab")


def test_capacity_headroom_and_what_if(k):
    # web1 and web2 run (1 vCPU, 256 MiB each); the test driver gives no
    # reconciled figure, so they count at their allocation.
    k.wait_for(lambda: lab(capacity(k))["demand"]["vcpus"] == 2, what="2 running VMs' demand")
    h = lab(capacity(k, "&vcpus=1&memory=1G&disk=1G"))
    assert h["capacity"]["cpus"] == 4 and h["capacity"]["memory_bytes"] == 8 * GIB
    d = h["demand"]
    assert d["vcpus"] == 2 and d["memory_bytes"] == 512 * MIB
    assert d["cpu_cores_used"] == 2 and d["memory_bytes_used"] == 512 * MIB
    # 2 cores left for 1-vCPU VMs; 7.5 GiB for 1 GiB ones; no pool here.
    assert h["fits"] == {"n": 2, "limited_by": "cpu", "cpu": 2, "memory": 7, "disk": None}

    rep = capacity(k, "&like=web1")
    assert rep["size"]["like"] == "web1" and rep["size"]["memory_bytes"] == 256 * MIB
    assert lab(rep)["fits"]["memory"] == (8 * GIB - 512 * MIB) // (256 * MIB)

    rep = capacity(k, "&vcpus=1&memory=1G&add=1")
    assert rep["whatif"]["placed"] == 1 and rep["whatif"]["fits"] == 1
    assert rep["totals"]["fits"] == 2
    rep = capacity(k, "&remove=lab&add=1")
    w = rep["whatif"]
    assert w["remove_host"] == "lab" and not w["moved_fits"] and w["placed"] == 0
    assert w["hosts"][0]["usable"] is False

    # A VM stopped: its demand goes.
    assert k.post("/api/v1/vms/web2/actions/destroy", {}).status == 200
    k.wait_for(lambda: lab(capacity(k))["demand"]["vcpus"] == 1, what="1 running VM's demand")
    assert lab(capacity(k))["demand"]["memory_bytes_used"] == 256 * MIB


def test_capacity_forecast_from_history(k):
    # One-second steps: a few seconds of rounds are a history to learn from.
    def forecast_ready():
        f = lab(capacity(k))["forecasts"]["memory"]
        return f["backtest"] is not None and f["points"] >= 8
    k.wait_for(forecast_ready, timeout=60, what="a memory forecast with a backtest")
    f = lab(capacity(k))["forecasts"]["memory"]
    assert f["method"] == "holt" and f["step_s"] == 1 and f["limit"] == 8 * GIB
    # Flat demand: the forecast stays where it is, far from the limit.
    assert all(abs(p[1] - 512 * MIB) < 64 * MIB for p in f["forecast"])
    assert all(p[2] <= p[1] <= p[3] for p in f["forecast"])
    assert f["exhausted"] is None
    assert set(f["backtest"]) >= {"mae", "mae_last_value", "mae_seasonal_naive",
                                  "beats_baselines"}
    assert f["verdict"]
    # The pool-less host has no disk limit to run into.
    assert lab(capacity(k))["forecasts"]["disk"]["limit"] is None

    r = k.get("/api/v1/reports/capacity?history=2m&horizon=30s&step=1s&format=csv")
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.body)))
    assert rows[0]["host"] == "lab" and rows[0]["memory_exhausted"] == ""
    r = k.get("/api/v1/reports/capacity?history=2m&horizon=30s&step=1s&format=html")
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/html")
    assert "<polyline" in r.body and "<polygon" in r.body and "<script" not in r.body


def test_capacity_group_and_refusals(k):
    assert k.request("PUT", "/api/v1/vms/web1/tags", {"tags": ["shop"]}).status == 200
    k.wait_for(lambda: lab(capacity(k))["demand"]["vcpus"] == 2, what="2 running VMs' demand")
    g = capacity(k, "&group=shop")["group"]
    assert g["name"] == "shop" and g["vms_tagged"] == 1
    assert g["demand"]["vcpus"] == 1 and g["demand"]["memory_bytes"] == 256 * MIB
    assert capacity(k)["group"] is None
    for q, word in [("history=soon", "history"), ("step=0", "step"), ("format=pdf", "format"),
                    ("memory=-1", "memory"), ("vcpus=0", "vcpus"), ("add=-1", "add"),
                    ("history=400d&step=1s", "step")]:
        r = k.get("/api/v1/reports/capacity?" + q)
        assert r.status == 400 and word in r.json["detail"], (q, r)
    for q in ["like=nope", "host=nope", "remove=nope"]:
        assert k.get("/api/v1/reports/capacity?" + q).status == 404, q


def test_capacity_cli(k):
    k.wait_for(lambda: lab(capacity(k))["demand"]["vcpus"] == 2, what="2 running VMs' demand")
    p = k.cli("report", "capacity", "--history", "1m", "--horizon", "30s", "--step", "1s",
              "--vcpus", "1", "--memory", "1G", "--add", "1", check=True)
    assert "lab" in p.stdout and "Forecasts:" in p.stdout and "What-if:" in p.stdout
    assert "cpu" in p.stdout and "limited by" in p.stdout.lower()
    p = k.cli("report", "capacity", "--format", "csv", check=True)
    assert p.stdout.startswith("host,usable,cpus")


# ---- scheduled reports and SLO targets ----

def test_scheduled_reports_written_once_with_slo_targets(kanrid_factory, tmp_path):
    out = tmp_path / "reports"
    got = tmp_path / "got"
    got.mkdir()
    c = conf(tmp_path) + (f"[reports]\ndirectory = {out}\nschedule = daily\n"
                          "formats = html, csv, json\nslo = 99.5\nslo.shop = 99.9\n"
                          f"[route:mail]\ntype = command\nreports = yes\n"
                          f"command = sh -c 'cat > {got}/$KANRI_KEY.json'\n"
                          "[route:pager]\ntype = command\n"
                          f"command = sh -c 'cat > {got}/pager-$KANRI_KEY.json'\n")
    k = kanrid_factory(state_dir=tmp_path / "state", config=c)
    k.wait_connected(["lab"])
    # At start the last whole day is written: the fleet's, the group with
    # a target, and capacity, in every format asked.
    day = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86400))
    names = [f"availability-{day}", f"availability-shop-{day}", f"capacity-{day}"]
    want = {f"{n}.{f}" for n in names for f in ("html", "csv", "json")}

    def written():
        ev = k.get("/api/v1/events?kind=report.written").json["events"]
        return ev and want <= {p.name for p in out.iterdir()} and ev
    ev = k.wait_for(written, timeout=30, what="the scheduled reports and their event")
    assert len(ev) == 1 and str(out) in ev[0]["message"]
    # The route that asks for reports gets one delivery naming them; the
    # other gets none (both get the incidents, which are not this test's).
    key = f"kanri-report-daily-{day}"
    k.wait_for(lambda: (got / f"{key}.json").exists() and (got / f"{key}.json").stat().st_size,
               what="the report's delivery")
    note = json.loads((got / f"{key}.json").read_text())
    assert note["kind"] == "report" and note["period"] == day and note["directory"] == str(out)
    assert sorted(note["reports"]) == sorted(names)
    assert not list(got.glob("pager-kanri-report-*"))
    assert "<svg" in (out / f"capacity-{day}.html").read_text()
    fleet = json.loads((out / f"availability-{day}.json").read_text())
    assert fleet["from"].startswith(day) and fleet["slo"]["target"] == 0.995
    shop = json.loads((out / f"availability-shop-{day}.json").read_text())
    assert shop["group"] == "shop" and shop["slo"]["target"] == 0.999
    # The configured targets judge the API's reports too.
    assert report(k)["slo"]["target"] == 0.995
    assert report(k, "&group=shop")["slo"]["target"] == 0.999
    assert report(k, "&group=shop&slo=90")["slo"]["target"] == 0.9
    assert report(k, "&group=other")["slo"] is None
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert k.stop() == 0

    # A restart writes nothing already there, and says nothing.
    k = kanrid_factory(state_dir=tmp_path / "state", config=c)
    k.wait_connected(["lab"])
    s = k.wait_for(lambda: k.get("/api/v1/reports").json["checked"] and
                   k.get("/api/v1/reports").json, what="the schedule's check after the restart")
    assert s["last_period"] == day and s["schedule"] == "daily" and s["directory"] == str(out)
    assert s["formats"] == ["html", "csv", "json"] and s["slo"] == 0.995
    assert s["slo_groups"] == {"shop": 0.999} and s["next"] > s["checked"]
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == mtimes
    assert len(k.get("/api/v1/events?kind=report.written").json["events"]) == 1
    assert [p.name for p in got.glob("*kanri-report-*")] == [f"{key}.json"]


def test_reports_config_refused(tmp_path):
    import subprocess
    from kanri_harness import KANRID
    for bad, word in [("directory = relative/path", "absolute"),
                      ("schedule = hourly", "schedule"), ("formats = pdf", "formats"),
                      ("slo = 100", "slo"), ("slo.bad tag = 99", "tag"),
                      ("capacity = maybe", "capacity"), ("colour = red", "unknown key")]:
        path = tmp_path / "k.conf"
        path.write_text(f"[reports]\n{bad}\n")
        p = subprocess.run([KANRID, "--check-config", "--config", str(path)],
                           capture_output=True, text=True)
        assert p.returncode != 0 and word in p.stderr, (bad, p.stderr)


def test_route_reports_option_refused(tmp_path):
    import subprocess
    from kanri_harness import KANRID
    path = tmp_path / "k.conf"
    path.write_text("[route:x]\ntype = syslog\nreports = sometimes\n")
    p = subprocess.run([KANRID, "--check-config", "--config", str(path)],
                       capture_output=True, text=True)
    assert p.returncode != 0 and "reports: expected yes or no" in p.stderr, p.stderr
