"""The autonomic policies end to end on libvirt's test driver
(docs/policies.md): settings over the API and their persistence, the kill
switch, a missing host view said once (never a guess), host maintenance
mode refusing what cannot be placed, the dry run and the CLI.

The test driver reports no host free memory, so the memory policy can only
say it cannot decide here; its actions on real balloons are the lab's
(tests/lab/test_lab_policy.py), its decisions the golden tests'
(tests/unit/policy)."""
import pytest

from kanri_harness import node_xml

MEMORY_RECOMMEND = "[policy:memory]\nmode = recommend\nhost_free_target = 99G\n"


def two_hosts(tmp_path, running_b=1):
    """Host a with two running VMs, host b with RUNNING_B (distinct UUIDs:
    node_xml derives them from the prefix)."""
    conf = "[manager]\ncollect_interval = 1\n"
    for name, running in (("a", 2), ("b", running_b)):
        node = tmp_path / f"{name}.xml"
        node.write_text(node_xml(name, n_running=running, n_shutoff=1))
        conf += f"[hypervisor:{name}]\nuri = test://{node}\n"
    return conf


def rounds(k, host):
    r = k.get(f"/api/v1/hosts/{host}/metrics?metric=round_us&from=10m")
    assert r.status == 200, r
    return len(r.json["series"][0]["points"])


def wait_rounds(k, host, n):
    """Waits until HOST has done N more collection rounds."""
    start = rounds(k, host)
    k.wait_for(lambda: rounds(k, host) >= start + n, timeout=30, what=f"{n} rounds of {host}")


def decisions(k, query="action=any"):
    r = k.get("/api/v1/decisions?" + query)
    assert r.status == 200, r
    return r.json["decisions"]


def patch(k, policy, settings, **kw):
    return k.request("PATCH", f"/api/v1/policies/{policy}", {"settings": settings}, **kw)


def test_settings_over_the_api_are_checked_kept_and_reset(kanrid_factory, tmp_path):
    k = kanrid_factory(config=two_hosts(tmp_path))
    p = k.get("/api/v1/policies").json
    assert p["enabled"] is True and p["maintenance"] == []
    memory = {x["name"]: x for x in p["policies"]}["memory"]
    assert memory["mode"] == "off" and memory["overridden"] == {} and memory["paused"] == []
    assert memory["settings"]["host_free_target"] == "10%"

    # A bad value anywhere in the request changes nothing.
    r = patch(k, "memory", {"mode": "enforce", "margin": "lots"})
    assert r.status == 400 and "margin" in r.json["detail"], r
    assert k.get("/api/v1/policies/memory").json["mode"] == "off"
    assert patch(k, "memory", {"colour": "blue"}).status == 400
    assert patch(k, "cpu", {"mode": "off"}).status == 404
    assert patch(k, "all", {"mode": "off"}).status == 400

    r = patch(k, "memory", {"mode": "recommend", "host_free_target": "2G"})
    assert r.status == 200, r
    assert r.json["mode"] == "recommend" and r.json["settings"]["host_free_target"] == "2GiB"
    assert r.json["overridden"] == {"mode": "recommend", "host_free_target": "2G"}

    # Kept over a restart, and back to kanri.conf's on reset.
    state = k.state_dir
    k.stop()
    k = kanrid_factory(config=two_hosts(tmp_path), state_dir=state)
    m = k.get("/api/v1/policies/memory").json
    assert m["mode"] == "recommend" and m["settings"]["host_free_target"] == "2GiB"
    r = patch(k, "memory", {"host_free_target": None, "mode": None})
    assert r.status == 200 and r.json["overridden"] == {}
    assert r.json["mode"] == "off" and r.json["settings"]["host_free_target"] == "10%"


def test_kill_switch_and_a_missing_host_view_said_once(kanrid_factory, tmp_path):
    k = kanrid_factory(config=two_hosts(tmp_path) + MEMORY_RECOMMEND + "[policy]\nenabled = no\n")
    assert k.get("/api/v1/policies").json["enabled"] is False
    wait_rounds(k, "a", 3)
    assert decisions(k) == [], "the kill switch is on: nothing may be decided"

    r = patch(k, "all", {"enabled": "yes"})
    assert r.status == 200 and r.json["enabled"] is True
    # The test driver has no host free memory: no guess, the reason said.
    k.wait_for(lambda: {d["host"] for d in decisions(k)} == {"a", "b"}, timeout=30,
               what="a decision per host")
    for d in decisions(k):
        assert d["rule"] == "host-view-missing" and d["action"] == "none", d
        assert d["state"] == "recorded" and d["mode"] == "recommend" and d["vm"] is None
        assert "free-memory" in d["reason"] and d["inputs"]["host_free"]["value"] is None
    # ... and said once, not every round.
    wait_rounds(k, "a", 3)
    assert len(decisions(k)) == 2
    # Without action=any the decisions to do nothing are left out.
    assert decisions(k, "") == []
    assert [d["host"] for d in decisions(k, "action=any&host=b")] == ["b"]


def test_maintenance_refuses_what_cannot_be_placed_and_takes_nothing(kanrid_factory, tmp_path):
    k = kanrid_factory(config=two_hosts(tmp_path))
    r = k.post("/api/v1/hosts/a/maintenance", {"on": True, "reason": "new disks"})
    assert r.status == 200, r
    plan = r.json["plan"]
    assert r.json["host"] == "a" and r.json["maintenance"] is True
    # Both running VMs of a, and neither can go anywhere: b's free memory
    # is not known, so it is not known to have room.
    assert sorted(d["vm"] for d in plan) == ["a-vm0", "a-vm1"], plan
    for d in plan:
        assert d["action"] == "none" and d["rule"] == "cannot-place", d
        assert d["reason"], d

    h = k.hosts()["a"]
    assert h["maintenance"] is True and h["maintenance_reason"] == "new disks"
    assert h["maintenance_by"] and h["maintenance_since"]
    assert k.hosts()["b"]["maintenance"] is False
    assert k.get("/api/v1/policies").json["maintenance"] == ["a"]
    fleet = {h["name"]: h for h in k.get("/api/v1/fleet").json["hosts"]}
    assert fleet["a"]["maintenance"] is True and fleet["b"]["maintenance"] is False

    # Nothing is placed on a host in maintenance: no migration to it, no
    # new VM defined on it.
    r = k.post("/api/v1/vms/b-vm0/actions/migrate", {"to_host": "a"})
    assert r.status == 409 and "maintenance" in r.json["detail"], r
    xml = "<domain type='test'><name>new1</name><memory>65536</memory><os><type>hvm</type></os></domain>"
    r = k.post("/api/v1/vms", {"host": "a", "xml": xml})
    assert r.status == 409 and "maintenance" in r.json["detail"], r

    # The policies record the evacuation they could not do, with the reason.
    k.wait_for(lambda: {d["vm"] for d in decisions(k, "action=any&policy=maintenance")}
               == {"a-vm0", "a-vm1"}, timeout=30, what="the evacuation recorded")
    for d in decisions(k, "action=any&policy=maintenance"):
        assert d["rule"] == "cannot-place" and d["evacuation"] is True and d["host"] == "a", d

    evs = k.get("/api/v1/events?kind=host.maintenance.").json["events"]
    assert [e["kind"] for e in evs] == ["host.maintenance.on"] and evs[0]["item"] == "host:a"
    assert "new disks" in evs[0]["message"]

    r = k.post("/api/v1/hosts/a/maintenance", {"on": False})
    assert r.status == 200 and r.json["maintenance"] is False and "plan" not in r.json
    h = k.hosts()["a"]
    assert h["maintenance"] is False and h["maintenance_reason"] is None
    assert k.post("/api/v1/hosts/nope/maintenance", {"on": True}).status == 404
    assert k.post("/api/v1/hosts/a/maintenance", {"on": "yes"}).status == 400


def test_dry_run_over_history(kanrid_factory, tmp_path):
    k = kanrid_factory(config=two_hosts(tmp_path))
    wait_rounds(k, "a", 3)
    r = k.post("/api/v1/policies/memory/simulate", {"from": "10m", "host": "a"})
    assert r.status == 200, r
    s = r.json
    assert s["policy"] == "memory" and s["rounds"] >= 3 and s["decisions"] == []
    assert s["summary"]["actions"] == 0
    # Every replayed round of a said why it could not decide.
    assert s["summary"]["no_action"] == {"host-view-missing": s["rounds"]}
    # The dry run records nothing.
    assert decisions(k) == []

    assert k.post("/api/v1/policies/cpu/simulate", {"from": "1h"}).status == 404
    assert k.post("/api/v1/policies/memory/simulate", {"from": "soon"}).status == 400
    assert k.post("/api/v1/policies/memory/simulate",
                  {"from": "1h", "to": "2h"}).status == 400
    assert k.post("/api/v1/policies/memory/simulate",
                  {"from": "1h", "settings": {"margin": "lots"}}).status == 400
    assert k.post("/api/v1/policies/memory/simulate",
                  {"from": "1h", "host": "nope"}).status == 404


def test_cli(kanrid_factory, tmp_path):
    k = kanrid_factory(config=two_hosts(tmp_path) + MEMORY_RECOMMEND)
    out = k.cli("policy", check=True).stdout
    assert "memory" in out and "recommend" in out and "balance" in out
    out = k.cli("policy", "set", "memory", "mode=enforce", "step_min=32M", check=True).stdout
    assert "enforce" in out and "32MiB  (set over the API)" in out
    p = k.cli("policy", "set", "memory", "margin=lots")
    assert p.returncode != 0 and "margin" in p.stderr
    p = k.cli("policy", "set", "memory", "margin")
    assert p.returncode != 0 and "KEY=VALUE" in p.stderr
    out = k.cli("policy", "reset", "memory", "step_min", check=True).stdout
    assert "16MiB" in out
    k.wait_for(lambda: "host-view-missing" in k.cli("decisions", "--all", check=True).stdout,
               timeout=30, what="a decision in kanri decisions --all")
    out = k.cli("host", "maintenance", "a", "on", "--why", "disks", check=True).stdout
    assert "in maintenance" in out and "cannot-place" in out and "a-vm0" in out
    assert "(maintenance)" in k.cli("host", "list", check=True).stdout
    out = k.cli("policy", "simulate", "memory", "--from", "10m", check=True).stdout
    assert "rounds of history" in out
    out = k.cli("policy", "set", "all", "enabled=no", check=True).stdout
    assert "kill switch on" in out
    out = k.cli("host", "maintenance", "a", "off", check=True).stdout
    assert "out of maintenance" in out
