"""The web dashboard in a real browser: Debian's Chromium driven by
Playwright (tests/browser/scenarios.mjs), against kanrid with libvirt's
test driver.  Screenshots of every page land in BUILD/browser-screenshots.
The lab guest's browser test is tests/lab/test_lab_browser.py."""
import gzip
import os
import sys
import urllib.request

import pytest

from kanri_harness import node_xml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from browser_harness import scenario  # noqa: E402

UNREACHABLE = "qemu+tcp://127.0.0.1:1/system"  # refused at once


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


def test_tour_every_page_accessible(fleet):
    k, args = fleet
    scenario(k, "tour", args)


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
