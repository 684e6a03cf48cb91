"""The web dashboard in a real browser: Debian's Chromium driven by
Playwright (tests/browser/scenarios.mjs), against kanrid with libvirt's
test driver.  Screenshots of every page land in BUILD/browser-screenshots.
The lab guest's browser test is tests/lab/test_lab_browser.py."""
import copy
import gzip
import json
import os
import sys
import time
import urllib.request

import pytest

from kanri_harness import node_xml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from browser_harness import scenario  # noqa: E402

UNREACHABLE = "qemu+tcp://127.0.0.1:1/system"  # refused at once
# A document kanri-guestd wrote (tests/data/guest: its golden output for a
# captured busy machine), the template of the pushes below.
GUEST_DOC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "guest", "busy.out")
SERVER_UUID = "5e7e0001-0000-4000-8000-00000000beef"


@pytest.fixture
def fleet(kanrid_factory, tmp_path):
    conf = "[manager]\ncollect_interval = 2\n"
    names = []
    for host, n in (("alpha", 6), ("beta", 4)):
        node = tmp_path / f"{host}.xml"
        node.write_text(node_xml(host, n_running=n - 1, n_shutoff=1))
        conf += f"[hypervisor:{host}]\nuri = test://{node}\n"
        names += [f"{host}-vm{i}" for i in range(n)]
    conf += f"[hypervisor:gone]\nuri = {UNREACHABLE}\n"
    k = kanrid_factory(config=conf)
    vms = k.vms("alpha")
    vm = vms["alpha-vm1"]
    # The VM page's charts need a reconciled round or two.
    k.wait_for(lambda: k.get(f"/api/v1/vms/{vm['uuid']}/reconciled").status == 200,
               what="first reconciled round")
    args = {"hosts": ["alpha", "beta", "gone"], "unreachable": "gone", "host": "alpha",
            "vm": "alpha-vm1", "vm_uuid": vm["uuid"], "n_vms": len(names), "vm_names": names}
    return k, args


def enroll(k, machine, name=None):
    """Enrols MACHINE (a VM's name or a UUID) as tests/integration/test_ingest.py
    does; returns its agent token."""
    body = {"machine": machine}
    if name:
        body["name"] = name
    r = k.post("/api/v1/agents", body)
    assert r.status == 201, r
    return r.json["token"]


def push(k, token, uuid, pushes=1, gap=3.0, hostname=None):
    """Pushes PUSHES documents of machine UUID, GAP seconds apart, timed now,
    its CPU counters growing between them (busy 45 % of the ticks): two
    give a CPU figure.  Returns the last document."""
    with open(GUEST_DOC) as f:
        base = json.load(f)
    doc = None
    for i in range(pushes):
        if i:
            time.sleep(gap)
        doc = copy.deepcopy(base)
        doc.update(machine_id=uuid, seq=base["seq"] + i, time=round(time.time(), 3))
        if hostname:
            doc["hostname"] = hostname
        cpu = doc["cpu"]["total"]
        for key, ticks in (("user", 150), ("system", 30), ("idle", 200), ("iowait", 20)):
            cpu[key] += i * ticks
        r = k.request("POST", "/api/v1/ingest/guest", raw=json.dumps(doc).encode(), token=token)
        assert r.status == 200 and r.json["accepted"], r
    return doc


def add_server(k, name="rack7-db", hostname="db1.rack7"):
    """A physical server: no hypervisor knows its UUID; two pushes."""
    doc = push(k, enroll(k, SERVER_UUID, name=name), SERVER_UUID, pushes=2, hostname=hostname)
    return {"machine_uuid": SERVER_UUID, "machine": name, "hostname": hostname,
            "agent_version": doc["agent"]["version"]}


@pytest.fixture
def fleet_with_server(fleet):
    """The fleet, and a server whose kanri-guestd pushed two documents."""
    k, args = fleet
    return k, dict(args, **add_server(k))


def test_tour_every_page_accessible(fleet_with_server):
    k, args = fleet_with_server
    scenario(k, "tour", args)


def test_kind_column_and_container_page(kanrid_factory, tmp_path):
    # libvirt's test driver takes an lxc-type domain: kanri calls it a container.
    ct = """
  <domain type='lxc'>
    <name>kinds-ct0</name>
    <uuid>c0c0c0c0-0000-4000-8000-0000000000b1</uuid>
    <memory unit='KiB'>262144</memory>
    <vcpu placement='static'>1</vcpu>
    <os><type>exe</type><init>/sbin/init</init></os>
    <devices/>
    <test:runstate xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>1</test:runstate>
  </domain>"""
    node = tmp_path / "kinds.xml"
    node.write_text(node_xml("kinds", n_running=2, n_shutoff=0).replace("  <network>", ct + "\n  <network>", 1))
    k = kanrid_factory(config=f"[manager]\ncollect_interval = 2\n[hypervisor:kinds]\nuri = test://{node}\n")
    vms = k.vms()
    assert vms["kinds-ct0"]["kind"] == "container"
    scenario(k, "kinds", {"host": "kinds", "n_vms": 3, "container": "kinds-ct0",
                          "container_uuid": vms["kinds-ct0"]["uuid"],
                          "vm": "kinds-vm1", "vm_uuid": vms["kinds-vm1"]["uuid"]})


def test_machines_pages(kanrid_factory):
    """A server pushing documents is on the Machines page with kind server
    and its figures, beside a VM kanri manages with its own kanri-guestd
    (kind vm, linked to the VM); the server's page has its filesystems and
    charts with points; the agents page links to it; once it stops pushing
    it is marked silent on the open page."""
    conf = ("[manager]\ncollect_interval = 2\n[ops]\nagent_silent_after = 30s\n"
            "[hypervisor:test]\nuri = test:///default\n")
    k = kanrid_factory(config=conf)
    k.wait_connected(["test"])
    vm = k.vms("test")["test"]
    push(k, enroll(k, "test"), vm["uuid"], hostname="test-guest")
    args = add_server(k)
    machines = {m["uuid"]: m for m in k.get("/api/v1/machines").json["machines"]}
    assert machines[SERVER_UUID]["kind"] == "server" and not machines[SERVER_UUID]["silent"], machines
    assert machines[vm["uuid"]]["kind"] == "vm", machines
    args.update(vm=vm["name"], vm_uuid=vm["uuid"])
    scenario(k, "machines", args)


def test_state_changes_appear_live(fleet):
    k, args = fleet
    out = scenario(k, "live", args)
    seen = [line for line in out.splitlines() if "suspend seen by the page" in line]
    assert seen
    print(seen[0])


def test_viewer_cannot_act(fleet):
    k, args = fleet
    scenario(k, "viewer", args)


def test_revoked_token_back_to_login(fleet):
    k, args = fleet
    scenario(k, "revoked", args)


def test_kanrid_down_said_in_words(fleet):
    k, args = fleet

    def on_line(line, proc):
        if line == "STOP-KANRID":
            k.stop()
            proc.stdin.write("stopped\n")
            proc.stdin.flush()
    scenario(k, "down", args, on_line=on_line)


def test_policies_decisions_and_maintenance(kanrid_factory):
    """An admin sets the memory policy to recommend and runs a dry run from
    the Policies page, the Decisions page renders, and host test2 goes into
    maintenance and out again from its page: kanrid has the mode set over
    the API and the two maintenance events."""
    conf = ("[manager]\ncollect_interval = 2\n"
            "[hypervisor:test]\nuri = test:///default\n"
            "[hypervisor:test2]\nuri = test:///default\n")
    k = kanrid_factory(config=conf)
    k.wait_connected(["test", "test2"])
    scenario(k, "policies", {"hosts": ["test", "test2"], "host": "test2"})
    r = k.get("/api/v1/policies")
    assert r.status == 200, r
    memory = next(p for p in r.json["policies"] if p["name"] == "memory")
    assert memory["mode"] == "recommend"
    assert memory["overridden"].get("mode") == "recommend"
    assert memory["settings"]["mode"] == "recommend"
    assert "test2" not in r.json["maintenance"]
    assert k.hosts()["test2"]["maintenance"] is False
    ev = k.get("/api/v1/events?item=host:test2&kind=host.maintenance.&limit=100")
    assert ev.status == 200, ev
    kinds = [e["kind"] for e in ev.json["events"]]
    assert "host.maintenance.on" in kinds and "host.maintenance.off" in kinds, kinds
    # Newest first: the last word is "off".
    assert kinds.index("host.maintenance.off") < kinds.index("host.maintenance.on"), kinds


def ha_conf(tmp_path, a_uri=None):
    """Hosts a and b of the test driver, a-vm0 an HA VM of kanri.conf and
    an HA group of both (tests/integration/test_ha.py's Lab, without a
    fence agent)."""
    for name in ("a", "b"):
        node = tmp_path / f"{name}.xml"
        if not node.exists():
            node.write_text(node_xml(name, n_running=2, n_shutoff=1))
    a_uri = a_uri or f"test://{tmp_path / 'a.xml'}"
    return ("[manager]\ncollect_interval = 1\n"
            "[ha]\ndetect_after = 2s\nvm.a-vm0 = priority=10\ngroup.front = a, b\n"
            f"[hypervisor:a]\nuri = {a_uri}\nprobe = exec:/bin/false\n"
            f"[hypervisor:b]\nuri = test://{tmp_path / 'b.xml'}\n")


def ha_vms(k):
    r = k.get("/api/v1/ha")
    assert r.status == 200, r
    return {v["name"]: v for v in r.json["vms"]}


def test_ha_page(kanrid_factory, tmp_path):
    """The High availability page shows both hosts up and the HA VM of
    kanri.conf; an admin edits its settings (the API refusing a priority
    out of range first), resets them, makes b-vm0 an HA VM and resets it;
    the VM and host pages show HA; a viewer has no control."""
    k = kanrid_factory(config=ha_conf(tmp_path))
    k.wait_connected(["a", "b"])
    a, b = k.vms("a"), k.vms("b")
    scenario(k, "ha", {"hosts": ["a", "b"], "vm": "a-vm0", "vm_uuid": a["a-vm0"]["uuid"],
                       "other": "b-vm0", "other_uuid": b["b-vm0"]["uuid"]})
    # What the page did is what kanrid has, and audited under the token.
    vms = ha_vms(k)
    assert vms["a-vm0"]["source"] == "kanri.conf" and vms["a-vm0"]["priority"] == 10
    assert "b-vm0" not in vms


def test_ha_confirm_off_page(kanrid_factory, tmp_path):
    """A host declared dead with no fence agent (a first kanrid learns its
    VMs, a second finds it unreachable) is fence-failed on the page; an
    admin confirms it is off there, with a comment, and its HA VM is
    restarted on the other host."""
    state = str(tmp_path / "state")
    k = kanrid_factory(state_dir=state, config=ha_conf(tmp_path))
    k.wait_connected(["a", "b"])
    k.wait_for(lambda: "a-vm0" in k.vms("a"), what="a's VMs")
    uuid = k.vms("a")["a-vm0"]["uuid"]
    assert k.stop() == 0
    k = kanrid_factory(state_dir=state, config=ha_conf(tmp_path, a_uri=UNREACHABLE))
    comment = "pulled its power cords (browser test)"
    scenario(k, "haFenced", {"host": "a", "vm": "a-vm0", "vm_uuid": uuid, "comment": comment})
    k.wait_for(lambda: k.vms("b").get("a-vm0", {}).get("state") == "running", timeout=30,
               what="a-vm0 restarted on b")
    r = k.get("/api/v1/events?kind=ha.fence.confirmed&limit=10")
    assert r.status == 200, r
    assert r.json["events"] and comment in r.json["events"][0]["message"], r.json


def test_assets_served_with_policy(fleet):
    """The page and its bundle come from kanrid itself (no CDN), cacheable
    by ETag, gzip-compressed, under a Content-Security-Policy."""
    k, _ = fleet
    r = k.request("GET", "/", token=None)
    assert r.status == 200 and "/ui/app.js" in r.body
    csp = r.headers.get("Content-Security-Policy")
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    req = urllib.request.Request(k.url + "/ui/app.js", headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(req, timeout=30) as js:
        assert js.headers.get("Content-Encoding") == "gzip"
        assert js.headers.get("Content-Type").startswith("text/javascript")
        etag = js.headers["ETag"]
        assert b"kanri.token" in gzip.decompress(js.read())
    again = k.request("GET", "/ui/app.js", token=None, headers={"If-None-Match": etag})
    assert again.status == 304
    assert k.request("GET", "/ui/nothing.js", token=None).status == 404


CT_NODE = """<node>
  <cpu><mhz>2000</mhz><model>i686</model><active>4</active>
    <nodes>1</nodes><sockets>1</sockets><cores>4</cores><threads>1</threads></cpu>
  <memory>8388608</memory>
  <domain type='lxc'>
    <name>ct0</name>
    <uuid>c0c0c0c0-0000-4000-8000-000000000001</uuid>
    <memory unit='KiB'>262144</memory>
    <os><type>exe</type><init>/sbin/init</init></os>
    <test:runstate xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>1</test:runstate>
  </domain>
</node>
"""


def test_container_page(kanrid_factory, tmp_path):
    """A domain of type lxc (libvirt's test driver keeps the type) is shown
    as a container: Freeze/Thaw, no VM-only controls, a Limits form."""
    node = tmp_path / "ct.xml"
    node.write_text(CT_NODE)
    k = kanrid_factory(config=f"[hypervisor:cthost]\nuri = test://{node}\n")
    ct = k.vms("cthost")["ct0"]
    assert ct["domain_type"] == "lxc", ct
    scenario(k, "container", {"ct_uuid": ct["uuid"]})


def test_change_requests_and_templates_pages(fleet):
    """A change request stepped through its page (its requester refused the
    approval, an operator approving it) and run; a template listed."""
    k, args = fleet
    r = k.post("/api/v1/vms", {"host": "beta", "xml": "<domain type='test'><name>bare</name>"
                               "<memory>65536</memory><os><type>hvm</type></os></domain>"})
    assert r.status == 201, r
    r = k.post("/api/v1/templates", {"name": "ui-template", "vm": "bare"})
    assert r.status == 201, r
    scenario(k, "changeRequests", dict(args, template="ui-template"))


def test_reports_page(fleet):
    """The reports page: kanri's own stop is planned down time with its
    cause, a tagged group judged by an SLO, capacity per host, and the
    printable report."""
    k, args = fleet
    scenario(k, "reports", args)
