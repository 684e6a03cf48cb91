"""Monitoring end to end on libvirt's test driver: the collector runs on its
own connections, stores host-view rows, host and pool figures, marks the
guest views unavailable with a reason (the test driver has no balloon
statistics and no agent), and serves history and Prometheus text.

Real guests (both views with figures, agent loss, balloon resize) are in
tests/lab/test_monitoring.py."""
from datetime import datetime
import os
import re
import tempfile
import time

import pytest

from kanri_harness import Kanrid, node_xml

CONF = "[manager]\ncollect_interval = 1\nballoon_period = 5\n"


@pytest.fixture(scope="module")
def node_file():
    d = tempfile.TemporaryDirectory(prefix="kanri-metrics-")
    path = os.path.join(d.name, "node.xml")
    with open(path, "w") as f:
        f.write(node_xml("mon", n_running=40, n_shutoff=2))
    yield path
    d.cleanup()


@pytest.fixture(scope="module")
def k(node_file):
    k = Kanrid(args=["--connect", "test://" + node_file], config=CONF)
    k.wait_connected(["node"])
    yield k
    k.stop()


def host_metric(k, metric, since="5m"):
    r = k.get(f"/api/v1/hosts/node/metrics?metric={metric}&from={since}")
    assert r.status == 200, r
    return r.json["series"][0]["points"]


def test_rounds_collect_every_running_domain(k):
    # 40 running domains: several chunks over several stats connections.
    def full_round():
        pts = host_metric(k, "domains_collected")
        return pts and pts[-1]["v"] == 40 and pts
    k.wait_for(full_round, timeout=20, what="a round with all 40 domains")
    missed = host_metric(k, "domains_missed")
    assert missed and missed[-1]["v"] == 0
    running = host_metric(k, "domains_running")
    assert running[-1]["v"] == 40
    rounds = host_metric(k, "round_us")
    assert all(p["v"] < 1e6 for p in rounds), rounds


def test_interval_is_honoured(k):
    pts = k.wait_for(lambda: len(host_metric(k, "domains_running")) >= 4 and
                     host_metric(k, "domains_running"), timeout=20, what="4 rounds")
    # Point times are whole seconds, so two 1 s rounds may share one when a
    # round starts late; what must hold is about one round per second: no
    # burst of rounds, none skipped wholesale.
    secs = [datetime.fromisoformat(p["t"].replace("Z", "+00:00")).timestamp() for p in pts]
    assert secs == sorted(secs)
    span = secs[-1] - secs[0]
    assert len(secs) - 2 <= span <= 2 * (len(secs) - 1) + 1, secs


def test_pool_history(k):
    def pool():
        r = k.get("/api/v1/pools/mon-pool/metrics?metric=capacity,available&from=5m")
        assert r.status == 200, r
        return r.json["series"][0]["points"] and r.json
    o = k.wait_for(pool, timeout=15, what="pool samples")
    assert o["series"][0]["points"][-1]["v"] == 107374182400
    assert o["series"][0]["unit"] == "bytes"
    assert k.get("/api/v1/pools/node:mon-pool/metrics").status == 200
    assert k.get("/api/v1/pools/nope/metrics").status == 404


def test_guest_view_unavailable_with_reason_never_filled_from_host(k):
    vm = "mon-vm0"

    def avail():
        r = k.get(f"/api/v1/vms/{vm}/metrics?view=guest")
        assert r.status == 200, r
        a = r.json["availability"]
        return "guest-memory" in a and "guest-agent" in a and r.json
    o = k.wait_for(avail, timeout=20, what="availability of the guest view")
    mem = o["availability"]["guest-memory"]
    assert mem["available"] is False
    assert "balloon" in mem["reason"]
    agent = o["availability"]["guest-agent"]
    assert agent["available"] is False and "agent" in agent["reason"]
    # No guest memory figure at all: the host's balloon size is not a
    # substitute.
    for src in o["sources"]:
        for s in src["series"]:
            assert s["points"] == [], (src["source"], s)
    # The host view of the same VM has its own series.
    r = k.get(f"/api/v1/vms/{vm}/metrics?view=host&metric=cpu_time_ns,balloon_current")
    assert r.status == 200
    assert r.json["view"] == "host" and r.json["sources"][0]["source"] == "libvirt"
    assert [s["type"] for s in r.json["sources"][0]["series"]] == ["rate", "gauge"]


def test_test_driver_domains_are_left_alone(k):
    # The test driver has no guest and keeps no stats period: kanrid sets
    # none there (the lab test covers setting it on real guests).
    k.wait_for(lambda: k.get("/api/v1/vms/mon-vm1/metrics?view=guest").json["availability"],
               timeout=15, what="the guest view probed")
    acts = [a["action"] for a in k.get("/api/v1/audit?vm=mon-vm1").json["audit"]]
    assert "set-balloon-period" not in acts
    assert all(c["cause"] == "created" for c in k.get("/api/v1/changes?vm=mon-vm1").json["changes"])


def test_prometheus(k):
    r = k.get("/metrics")
    assert r.status == 200
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = r.body
    # Every sample line belongs to a family declared once with HELP and TYPE.
    types = {}
    for line in text.splitlines():
        m = re.match(r"# TYPE (\S+) (counter|gauge|histogram)$", line)
        if m:
            assert m.group(1) not in types, "family declared twice: " + m.group(1)
            types[m.group(1)] = m.group(2)
        elif line and not line.startswith("#"):
            m = re.match(r'([a-z_]+)(\{[^}]*\})? (\S+)$', line)
            assert m, line
            name = m.group(1)
            # A histogram's lines are its _bucket, _sum and _count.
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            assert name in types or types.get(base) == "histogram", line
            float(m.group(3))
    assert 'kanri_collect_rounds_total{host="node"}' in text
    assert re.search(r'kanri_host_connected\{host="node"\} 1', text)
    assert re.search(r'kanri_vm_view_available\{host="node",vm="mon-vm0",uuid="[0-9a-f-]+",'
                     r'kind="vm",view="guest",part="memory"\} 0', text)
    # Every VM series says the VM's kind (test-driver domains are VMs).
    for line in text.splitlines():
        if line.startswith("kanri_vm_"):
            assert ',kind="vm",' in line, line
    assert 'kanri_vm_view_unavailable_info{' in text
    for name in ("kanri_collect_round_seconds", "kanri_collect_rounds_cut_total",
                 "kanri_collect_rounds_dropped_total", "kanri_store_write_seconds",
                 "kanri_store_write_last_seconds", "kanri_engine_stages_seconds",
                 "kanri_store_round_groups_total", "kanri_store_round_group_rounds_total",
                 "kanri_store_round_group_seconds_total", "kanri_store_ingest_groups_total",
                 "kanri_store_ingest_group_documents_total",
                 "kanri_store_ingest_group_seconds_total"):
        assert name in types
    # Every round stored goes through the group commit, one transaction
    # holding one round or more.
    def group_counts():
        body = k.get("/metrics").body
        return [int(re.search(rf"^{name} (\d+)$", body, re.M).group(1))
                for name in ("kanri_store_round_groups_total",
                             "kanri_store_round_group_rounds_total")]
    groups, grouped = k.wait_for(lambda: (c := group_counts())[0] and c, timeout=20,
                                 what="a round stored")
    assert 1 <= groups <= grouped, (groups, grouped)
    assert k.get("/metrics", token=None).status == 401


def test_bad_arguments(k):
    base = "/api/v1/vms/mon-vm0/metrics"
    cases = {
        "?view=both": "view",
        "?metric=cpu_time_ns,nope": "metric",
        "?view=guest&metric=vcpu_delay_ns": "metric",   # a host metric asked of the guest view
        "?step=fast": "step",
        "?from=yesterday": "from",
        "?from=1h&to=2h": "to",
        # Near 2^63: refused before any arithmetic could overflow.
        "?from=9223372036854&to=9223372036855": "from",
        "?from=0&to=9223372036854": "to",
        "?from=9223372036854775807s": "from",
        "?from=1969-12-31T23:59:59Z": "from",
        "?to=10000-01-01T00:00:00Z": "to",
        "?from=30d&step=1s": "step",
        "?view=host&source=qga": "source",
        "?tier=1m": "tier",
    }
    for q, field in cases.items():
        r = k.get(base + q)
        assert r.status == 400, (q, r)
        assert r.json["field"] == field, (q, r.json)
    assert k.get("/api/v1/vms/no-such-vm/metrics").status == 404
    assert k.get("/api/v1/hosts/nope/metrics").status == 404


def test_step_and_tiers(k):
    k.wait_for(lambda: len(host_metric(k, "cpu_idle_ns")) >= 3, timeout=20, what="rates")
    r = k.get("/api/v1/hosts/node/metrics?metric=cpu_idle_ns,mem_total&from=10m&step=1m")
    assert r.status == 200
    assert r.json["tier"] == "raw" and r.json["step_s"] == 60
    r = k.get("/api/v1/hosts/node/metrics?metric=cpu_idle_ns&from=7d&step=1h")
    assert r.json["tier"] == "1h"
    r = k.get("/api/v1/hosts/node/metrics?from=2d&step=10m")
    assert r.json["tier"] == "5m"


def test_cli_vm_stats(k):
    p = k.cli("vm", "stats", "mon-vm0", "--since", "10m", check=True)
    assert "HOST VIEW" in p.stdout and "GUEST VIEW" in p.stdout
    assert re.search(r"guest-memory\s+UNAVAILABLE since .*balloon", p.stdout), p.stdout
    p = k.cli("--json", "vm", "stats", "mon-vm0", check=True)
    assert '"guest"' in p.stdout and '"host"' in p.stdout
    p = k.cli("vm", "stats", "no-such-vm")
    assert p.returncode != 0


def test_collection_can_be_disabled(node_file):
    k2 = Kanrid(args=["--connect", "test:///default"], config="[manager]\ncollect_interval = 0\n")
    try:
        k2.wait_connected(["test-default"])
        time.sleep(1.5)
        assert "kanri_collect_rounds_total" not in k2.get("/metrics").body
    finally:
        k2.stop()
