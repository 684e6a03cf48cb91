"""Provisioning on real QEMU guests (docs/provisioning.md): a template of a
lab guest with a disk image in a storage pool, a linked clone created and
booted (its agent answers, its disk a qcow2 overlay backed by the
template's image, its NoCloud seed attached), a full copy (no backing file), a change request (setmem)
approved and run in its window, and one whose check fails rolled back to
the saved definition.

~3 minutes."""
import json
import os
import subprocess

import pytest

import labvm

PID = os.getpid()
POOL = f"kanri-lab-prov-{PID}"
GOLDEN = f"kanri-lab-prov-{PID}-golden"
LINKED = f"kanri-lab-prov-{PID}-linked"
FULL = f"kanri-lab-prov-{PID}-full"
TEMPLATE = f"lab-{PID}"
MIB = 1 << 20

CONF = """[manager]
collect_interval = 2
resync_interval = 30
[hypervisor:local]
uri = qemu:///system
"""


def image_info(path):
    out = subprocess.run(["qemu-img", "info", "-U", "--output=json", path], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


@pytest.fixture(scope="module")
def golden(lab_images):
    labvm.cleanup_all(prefix=f"kanri-lab-prov-{PID}")
    labvm.make_small_pool(POOL, size_mib=256)
    # A raw image: the linked clone is a qcow2 overlay on it, the full copy
    # raw again, where libvirt takes no snapshot (its definition is saved).
    disk = labvm.make_disk("golden.img", 48, fmt="raw", pool=POOL)
    labvm.define_guest(GOLDEN, memory_mib=256, vcpus=1, disk=disk)
    yield disk
    labvm.cleanup_all(prefix=f"kanri-lab-prov-{PID}")


def test_templates_clones_and_change_requests(kanrid_factory, golden):
    k = kanrid_factory(config=CONF)
    k.wait_connected(["local"])
    k.wait_for(lambda: GOLDEN in k.vms("local"), what="the golden guest in the inventory")
    approver = k.post("/api/v1/tokens", {"name": "approver", "role": "operator"}).json["token"]

    r = k.post("/api/v1/templates", {"name": TEMPLATE, "vm": GOLDEN})
    assert r.status == 201, r
    t = r.json["template"]
    assert t["pool"] == POOL and len(t["disks"]) == 1
    timg = t["disks"][0]["path"]
    assert os.path.dirname(timg) == os.path.dirname(golden) and timg != golden
    assert image_info(timg)["format"] == "raw"

    # A linked clone with a NoCloud seed, booted: its agent answers, its
    # disk is an overlay, and the seed is attached and holds the key.
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK4nri lab@kanri"
    r = k.post("/api/v1/vms", {"template": TEMPLATE, "name": LINKED, "memory_bytes": 224 * MIB,
                               "ssh_keys": [key], "user_data": "#cloud-config\nhostname: x\n"})
    assert r.status == 201, r
    seed = os.path.join(os.path.dirname(timg), f"{LINKED}-seed.iso")
    xml = labvm.virsh("dumpxml", LINKED)
    assert "device='cdrom'" in xml and seed in xml, xml
    meta = subprocess.run(["isoinfo", "-R", "-i", seed, "-x", "/meta-data"], check=True,
                          capture_output=True, text=True).stdout
    assert f'local-hostname: "{LINKED}"' in meta and key in meta, meta
    assert "cidata" in subprocess.run(["isoinfo", "-d", "-i", seed], check=True,
                                      capture_output=True, text=True).stdout
    vm = r.json["vm"]
    assert vm["state"] == "running" and vm["max_memory_bytes"] == 224 * MIB
    labvm.wait_agent(LINKED, timeout=180)
    src = vm["disks"][0]["source"]
    info = image_info(src)
    assert info["format"] == "qcow2" and info.get("backing-filename") == timg, info
    assert vm["uuid"] != k.vms("local")[GOLDEN]["uuid"]

    # A full copy, not started: a raw image of its own.
    r = k.post("/api/v1/vms", {"template": TEMPLATE, "name": FULL, "linked": False,
                               "start": False})
    assert r.status == 201, r
    full = image_info(r.json["vm"]["disks"][0]["source"])
    assert full["format"] == "raw" and "backing-filename" not in full

    def request(vm, actions, checks=None):
        body = {"vm": vm, "reason": "lab", "actions": actions}
        if checks:
            body["checks"] = checks
        r = k.post("/api/v1/change-requests", body)
        assert r.status == 201, r
        cid = r.json["id"]
        assert k.post(f"/api/v1/change-requests/{cid}/submit", {}).status == 200
        r = k.post(f"/api/v1/change-requests/{cid}/approve", {}, token=approver)
        assert r.status == 200, r
        return cid

    def finished(cid):
        c = k.get(f"/api/v1/change-requests/{cid}").json
        return c["state"] in ("done", "failed", "rolled-back") and c

    # setmem through a change request, checked by the agent's fresh view.
    cid = request(LINKED, [{"action": "setmem", "memory": "192M"}],
                  {"guest_fresh_s": 30, "timeout_s": 60})
    c = k.wait_for(lambda: finished(cid), timeout=120, interval=0.5, what="the request to end")
    assert c["state"] == "done", c
    assert c["vms"][0]["saved"] == f"snapshot cr-{cid}"
    k.wait_for(lambda: abs(k.vms("local")[LINKED]["memory_bytes"] - 192 * MIB) <= 4 * MIB,
               what="the balloon at 192 MiB")

    # The full copy (raw: its definition is saved) with its agent gone for
    # good: the check waits for a fresh guest view that never comes, and
    # the request is rolled back to the saved definition.
    # One guest at a time (both write the golden guest's console log).
    assert k.post(f"/api/v1/vms/{LINKED}/actions/destroy", {}).status == 200
    assert k.post(f"/api/v1/vms/{FULL}/actions/start", {}).status == 200
    labvm.wait_agent(FULL, timeout=180)

    def agent_figures():
        r = k.get(f"/api/v1/vms/{FULL}/reconciled")
        return [x for x in r.json["resources"] if x["g_source"] == "qga"] if r.status == 200 \
            else []
    # kanri has the agent's figures first: "old" below means stale.
    k.wait_for(agent_figures, timeout=60, interval=0.5, what="the agent's figures in the view")
    labvm.kill_agent(FULL)

    # Until the agent's last figures are older than the check allows
    # (they stay in the view, with their age, once it stops answering).
    def youngest():
        ages = [x["g_age_s"] for x in agent_figures() if x["g_age_s"] is not None]
        return min(ages) if ages else None
    k.wait_for(lambda: (youngest() or 0) > 6, timeout=60, interval=0.5,
               what="the agent's figures older than 6 s")

    before = k.vms("local")[FULL]["memory_bytes"]
    cid = request(FULL, [{"action": "setmem", "memory": "200M"}],
                  {"guest_fresh_s": 4, "timeout_s": 15})
    c = k.wait_for(lambda: finished(cid), timeout=120, interval=0.5, what="the request to end")
    assert c["state"] == "rolled-back", json.dumps(c)
    assert c["vms"][0]["saved"] == "definition" and c["vms"][0]["state"] == "rolled-back"
    assert "check failed" in c["error"]
    k.wait_for(lambda: abs(k.vms("local")[FULL]["memory_bytes"] - before) <= 4 * MIB,
               what="the memory set back")
    actions = [a["action"] for a in k.get(f"/api/v1/audit?vm={FULL}&limit=10").json["audit"]]
    assert "define" in actions and actions.count("setmem") >= 2
