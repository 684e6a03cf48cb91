"""kanrid and a real Prometheus: /metrics passes `promtool check metrics`,
the shipped rules pass `promtool check rules` and their unit tests
(`promtool test rules`), and Debian's Prometheus server, configured from
the shipped dist/prometheus/prometheus.yml (bearer token in a file),
scrapes kanrid on loopback and answers a query with the VM series and
their view labels, and evaluates the shipped rules.

The Prometheus tools come from Debian's `prometheus` package (make
test-deps installs it); see required_tool() in kanri_harness.py."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

import pytest

from kanri_harness import Kanrid, node_xml, promtool_check_metrics, required_tool
from test_ingest import free_port, guest_pusher

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
DIST = os.path.join(ROOT, "dist", "prometheus")
RULES = os.path.join(DIST, "kanri.rules.yml")
RULES_TEST = os.path.join(ROOT, "tests", "prometheus", "kanri.rules.test.yml")
CONF = "[manager]\ncollect_interval = 1\n"


def tool(name):
    return required_tool(name, "prometheus")


@pytest.fixture(scope="module")
def k():
    """kanrid on a test-driver host of 3 running VMs, one of which has a
    guest view from kanri-guestd (so /metrics has host, guest and
    reconciled series, and findings on the others)."""
    d = tempfile.TemporaryDirectory(prefix="kanri-prom-")
    node = os.path.join(d.name, "node.xml")
    with open(node, "w") as f:
        f.write(node_xml("prom", n_running=3, n_shutoff=1))
    kd = Kanrid(args=["--connect", "test://" + node], config=CONF)
    try:
        kd.wait_connected(["node"])
        push_doc = guest_pusher(kd, "prom-vm0")

        def push():
            push_doc()
            return 'view="guest"' in kd.get("/metrics").body
        kd.wait_for(push, timeout=30, interval=0.5, what="a guest view on /metrics")
        kd.wait_for(lambda: "kanri_vm_finding_open{" in kd.get("/metrics").body, timeout=30,
                    what="a finding on /metrics")
        yield kd
    finally:
        kd.stop()
        d.cleanup()


def test_metrics_pass_promtool(k):
    text = k.get("/metrics").body
    # Every kind of family is there: counters, gauges, histograms; all
    # three views of a VM.
    for want in ("# TYPE kanri_store_write_seconds histogram",
                 'kanri_store_write_seconds_bucket{host="node",le="+Inf"}',
                 "# TYPE kanri_collect_rounds_total counter", 'view="host"', 'view="guest"',
                 'view="reconciled"', "kanri_vm_finding_open{"):
        assert want in text, want
    # The histogram's buckets are cumulative and end at its count.
    buckets = [float(v) for v in re.findall(
        r'^kanri_store_write_seconds_bucket\{host="node",le="[^"]+"\} (\S+)$', text, re.M)]
    count = float(re.search(r'^kanri_store_write_seconds_count\{host="node"\} (\S+)$', text,
                            re.M).group(1))
    assert len(buckets) == 13 and buckets == sorted(buckets), buckets
    assert buckets[-1] == count >= 1, (buckets, count)
    assert promtool_check_metrics(text) == ""


def test_shipped_rules_check_and_unit_tests():
    promtool = tool("promtool")
    p = subprocess.run([promtool, "check", "rules", RULES], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "SUCCESS" in p.stdout
    p = subprocess.run([promtool, "test", "rules", os.path.basename(RULES_TEST)],
                       cwd=os.path.dirname(RULES_TEST), capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0 and "SUCCESS" in p.stdout, p.stdout + p.stderr


def shipped_config(target, token_file, rules):
    """dist/prometheus/prometheus.yml as an operator adapts it: the target,
    the token file and the rules file where they are, scraped every
    second."""
    with open(os.path.join(DIST, "prometheus.yml")) as f:
        text = f.read()
    for old, new in (('["127.0.0.1:8470"]', f'["{target}"]'),
                     ("/etc/prometheus/kanri.token", token_file),
                     ("/etc/prometheus/kanri.rules.yml", rules),
                     ("scrape_interval: 15s", "scrape_interval: 1s"),
                     ("evaluation_interval: 15s", "evaluation_interval: 1s")):
        assert old in text, old
        text = text.replace(old, new)
    return text


class Prometheus:
    def __init__(self, config_text, tmp):
        self.binary = tool("prometheus")
        self.config = os.path.join(tmp, "prometheus.yml")
        with open(self.config, "w") as f:
            f.write(config_text)
        p = subprocess.run([tool("promtool"), "check", "config", self.config],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stdout + p.stderr
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(tmp, "prometheus.log"), "w+")
        self.proc = subprocess.Popen(
            [self.binary, "--config.file", self.config,
             "--storage.tsdb.path", os.path.join(tmp, "data"),
             "--web.listen-address", f"127.0.0.1:{self.port}"],
            stdout=self.log, stderr=subprocess.STDOUT)

    def api(self, path, **query):
        url = self.url + path + ("?" + urllib.parse.urlencode(query) if query else "")
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                return r.status, r.read().decode()
        except OSError:
            if self.proc.poll() is not None:
                raise AssertionError("prometheus exited:\n" + self.output())
            return None, None

    def query(self, q):
        status, body = self.api("/api/v1/query", query=q)
        assert status == 200, body
        o = json.loads(body)
        assert o["status"] == "success", o
        return o["data"]["result"]

    def output(self):
        self.log.seek(0)
        return self.log.read()[-4000:]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def test_real_prometheus_scrapes_kanrid_with_the_shipped_config(k):
    p = k.cli("token", "create", "prometheus", "--role", "viewer")
    assert p.returncode == 0, p.stderr
    tmp = tempfile.TemporaryDirectory(prefix="kanri-prometheus-")
    token_file = os.path.join(tmp.name, "kanri.token")
    with open(token_file, "w") as f:
        f.write(p.stdout.strip() + "\n")
    os.chmod(token_file, 0o400)
    prom = Prometheus(shipped_config(f"127.0.0.1:{k.port}", token_file, RULES), tmp.name)
    try:
        def ready():
            status, _ = prom.api("/-/ready")
            return status == 200
        k.wait_for(ready, timeout=60, interval=0.2, what="prometheus ready")

        def target_up():
            _, body = prom.api("/api/v1/targets")
            if not body:
                return None
            active = json.loads(body)["data"]["activeTargets"]
            return active and active[0]["health"] == "up" and active[0]
        try:
            t = k.wait_for(target_up, timeout=60, interval=0.2, what="kanrid's target up")
        except AssertionError:
            raise AssertionError("targets: " + str(prom.api("/api/v1/targets")[1]) + "\n" +
                                 prom.output())
        assert t["labels"]["job"] == "kanri" and t["scrapeUrl"].endswith("/metrics"), t

        # The VM's series with their view labels, through Prometheus (the
        # test driver gives no host figures of a VM: the lab's real guests
        # have them, tests/lab/test_monitoring.py).
        def views():
            res = prom.query('{__name__=~"kanri_vm_.+",vm="prom-vm0"}')
            return {r["metric"].get("view") for r in res} >= {"guest", "reconciled"} and res
        res = k.wait_for(views, timeout=30, interval=0.5, what="the VM's series scraped")
        for r in res:
            assert r["metric"]["job"] == "kanri" and r["metric"]["host"] == "node", r
            assert r["metric"]["kind"] == "vm" and r["metric"]["uuid"], r
        used = {r["metric"]["view"]: float(r["value"][1]) for r in res
                if r["metric"]["__name__"] == "kanri_vm_memory_used_bytes"}
        assert used.get("reconciled", 0) > 0, used
        total = [r for r in res if r["metric"]["__name__"] == "kanri_vm_memory_total_bytes"]
        assert total and total[0]["metric"]["view"] == "guest" and \
            total[0]["metric"]["source"] == "kanri-guestd", total
        host = prom.query('kanri_host_domains_running{view="host"}')
        assert host and host[0]["metric"]["host"] == "node" and host[0]["value"][1] == "3", host
        assert prom.query('up{job="kanri"}')[0]["value"][1] == "1"

        # The shipped rules are loaded and evaluated on kanrid's series.
        status, body = prom.api("/api/v1/rules")
        groups = json.loads(body)["data"]["groups"]
        assert {g["name"] for g in groups} == {"kanri.records", "kanri.alerts"}, groups
        rules = [r for g in groups for r in g["rules"]]
        assert len(rules) == 17 and all(r["health"] in ("ok", "unknown") for r in rules), rules
        counted = k.wait_for(lambda: prom.query("kanri:vm_findings_open:count"), timeout=30,
                             interval=0.5, what="a recording rule's series")
        assert all(r["metric"]["rule"] and r["metric"]["severity"] for r in counted), counted
        p99 = k.wait_for(lambda: prom.query("host:kanri_store_write_seconds:p99_5m"),
                         timeout=30, interval=0.5, what="the store latency's p99")
        assert p99[0]["metric"]["host"] == "node" and float(p99[0]["value"][1]) >= 0, p99
    finally:
        prom.stop()
        tmp.cleanup()

