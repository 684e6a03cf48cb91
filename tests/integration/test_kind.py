"""The kind of a domain end to end: a test-driver host with one lxc-type
domain (libvirt's test driver accepts <domain type='lxc'>) beside its VMs.
Every place that lists or shows VMs says which is a container: GET /vms
(and ?kind=), GET /vms/{id}, GET /fleet, /metrics' kind label and
`kanri vm list --kind` / `kanri vm show`."""
import json
import re

import pytest

from kanri_harness import node_xml

CT_UUID = "c0c0c0c0-0000-4000-8000-000000000001"
CONTAINER = f"""
  <domain type='lxc'>
    <name>kd-ct0</name>
    <uuid>{CT_UUID}</uuid>
    <memory unit='KiB'>262144</memory>
    <currentMemory unit='KiB'>262144</currentMemory>
    <vcpu placement='static'>1</vcpu>
    <os><type>exe</type><init>/sbin/init</init></os>
    <devices/>
    <test:runstate xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>1</test:runstate>
  </domain>"""


@pytest.fixture(scope="module")
def k(tmp_path_factory):
    from kanri_harness import Kanrid
    d = tmp_path_factory.mktemp("kind")
    node = d / "kd.xml"
    # One running VM, one shut off, and the container (running).
    node.write_text(node_xml("kd", n_running=1, n_shutoff=1).replace(
        "  <network>", CONTAINER + "\n  <network>", 1))
    kd = Kanrid(config=f"[manager]\ncollect_interval = 1\n[hypervisor:kd]\nuri = test://{node}\n")
    kd.wait_connected(["kd"])
    yield kd
    kd.stop()


def names(r):
    assert r.status == 200, r
    return sorted(v["name"] for v in r.json["vms"])


def test_vm_objects_say_their_kind(k):
    vms = k.vms()
    assert set(vms) == {"kd-vm0", "kd-vm1", "kd-ct0"}
    assert vms["kd-ct0"]["domain_type"] == "lxc" and vms["kd-ct0"]["kind"] == "container"
    for name in ("kd-vm0", "kd-vm1"):
        assert vms[name]["domain_type"] == "test" and vms[name]["kind"] == "vm"
    r = k.get("/api/v1/vms/kd-ct0")
    assert r.status == 200 and r.json["kind"] == "container" and "xml" in r.json
    assert k.get("/api/v1/vms/kd-vm0").json["kind"] == "vm"
    assert k.get("/api/v1/vms?fields=name,kind").json["vms"][0].keys() == {"name", "kind"}


def test_kind_filter(k):
    assert names(k.get("/api/v1/vms?kind=container")) == ["kd-ct0"]
    assert names(k.get("/api/v1/vms?kind=vm")) == ["kd-vm0", "kd-vm1"]
    assert names(k.get("/api/v1/vms?kind=container&host=kd")) == ["kd-ct0"]
    assert names(k.get("/api/v1/vms?kind=container&host=nope")) == []
    # Pages take the filter too.
    r = k.get("/api/v1/vms?kind=vm&limit=1")
    assert names(r) == ["kd-vm0"] and r.json["next_cursor"]
    r2 = k.get(f"/api/v1/vms?kind=vm&limit=1&cursor={r.json['next_cursor']}")
    assert names(r2) == ["kd-vm1"] and "next_cursor" not in r2.json
    assert names(k.get("/api/v1/vms?kind=container&limit=5")) == ["kd-ct0"]
    for bad in ("lxc", "VM", "", "containers"):
        r = k.get(f"/api/v1/vms?kind={bad}")
        assert r.status == 400, (bad, r)
        assert r.json["detail"].startswith("kind: expected vm or container"), r.json
    r = k.get("/api/v1/vms?kind=lxc&limit=1")
    assert r.status == 400


def test_fleet_says_the_kind(k):
    r = k.get("/api/v1/fleet")
    assert r.status == 200
    kinds = {v["name"]: v["kind"] for v in r.json["vms"]}
    assert kinds == {"kd-vm0": "vm", "kd-vm1": "vm", "kd-ct0": "container"}


def test_metrics_kind_label(k):
    # Both running domains are in the rounds: each has its series.
    k.wait_for(lambda: 'vm="kd-ct0"' in k.get("/metrics").body
               and 'vm="kd-vm0"' in k.get("/metrics").body,
               timeout=30, what="both running domains in /metrics")
    text = k.get("/metrics").body
    seen = {}
    for line in text.splitlines():
        if not line.startswith("kanri_vm_"):
            continue
        m = re.search(r'vm="([^"]*)",uuid="[^"]*",kind="([^"]*)"', line)
        assert m, line
        seen.setdefault(m.group(1), set()).add(m.group(2))
    assert seen["kd-ct0"] == {"container"}
    assert seen["kd-vm0"] == {"vm"}
    assert "kd-vm1" not in seen  # shut off: not in the rounds


def test_cli(k):
    p = k.cli("vm", "list", "--kind", "container", check=True)
    lines = [l for l in p.stdout.splitlines() if not l.startswith("---")]
    assert re.match(r"NAME\s+KIND\s+HOST", lines[0]), p.stdout
    assert len(lines) == 2 and lines[1].split()[:3] == ["kd-ct0", "container", "kd"], p.stdout
    p = k.cli("vm", "list", check=True)
    rows = {l.split()[0]: l.split()[1] for l in p.stdout.splitlines()[2:]}
    assert rows == {"kd-vm0": "vm", "kd-vm1": "vm", "kd-ct0": "container"}, p.stdout
    p = k.cli("vm", "list", "--kind", "vm", "--json", check=True)
    assert sorted(v["name"] for v in json.loads(p.stdout)["vms"]) == ["kd-vm0", "kd-vm1"]
    p = k.cli("vm", "list", "--kind", "lxc")
    assert p.returncode == 2 and "--kind" in p.stderr and "container" in p.stderr, p
    p = k.cli("vm", "show", "kd-ct0", check=True)
    assert re.search(r"^Kind:\s+container$", p.stdout, re.M), p.stdout
    p = k.cli("vm", "list", "--help", check=True)
    assert "--kind" in p.stdout


def test_set_limits_is_for_containers(k):
    # The libvirt driver runs no container limits: a VM answers 501, and
    # the parameters are checked first.
    r = k.post("/api/v1/vms/kd-vm0/actions/set-limits", {"pids": 100})
    assert r.status == 501 and "containers" in r.json["detail"], r
    r = k.post("/api/v1/vms/kd-vm0/actions/set-limits", {"pids": -1})
    assert r.status == 400 and r.json["field"] == "pids", r
