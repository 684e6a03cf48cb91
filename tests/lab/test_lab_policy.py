"""The autonomic policies on real QEMU guests (docs/policies.md).

Memory: with a free-memory target far above what this machine has free,
an idle guest's balloon is left alone in recommend mode (the decision is
recorded), shrunk in enforce mode to no less than its reconciled use plus
margin, and grown back to its maximum once the target is lowered.

Balancing and maintenance, across the two-libvirtd lab (the system
libvirtd as host a, tests/lab/second-host.sh's as host b): two busy guests
sharing host a are separated by one live migration chosen by the
balancing policy, and putting host a in maintenance moves the other one.
Both hosts are this one machine, so what balancing evens out is kanri's
accounting of each host's demand, which is what it decides on."""
import os
import time

import pytest

import labvm
from test_lab_migrate import host_b, on_host, virsh_b  # noqa: F401 (host_b is a fixture)

MIB = 1024 * 1024
INTERVAL = 2
PREFIX = f"kanri-lab-pol-{os.getpid()}-"


def patch(k, policy, settings):
    r = k.request("PATCH", f"/api/v1/policies/{policy}", {"settings": settings})
    assert r.status == 200, r
    return r.json


def decisions(k, query):
    r = k.get("/api/v1/decisions?" + query)
    assert r.status == 200, r
    return r.json["decisions"]


def balloon_bytes(name):
    """The balloon's size as libvirt reads it from QEMU."""
    return int(labvm.domstats(name, "balloon")["balloon.current"]) * 1024


# ---- memory ------------------------------------------------------------------

MEM_NAME = PREFIX + "mem"
MEM_MIB = 384


@pytest.fixture
def idle_guest(lab_images):
    labvm.cleanup_all(prefix=PREFIX)
    uuid = labvm.define_guest(MEM_NAME, memory_mib=MEM_MIB, vcpus=1)
    labvm.start(MEM_NAME)
    labvm.wait_agent(MEM_NAME, timeout=180)
    yield uuid
    labvm.cleanup_all(prefix=PREFIX)


def test_balloon_manager_reclaims_down_to_use_plus_margin_and_gives_back(kanrid_factory,
                                                                        idle_guest):
    k = kanrid_factory(config=f"""[manager]
collect_interval = {INTERVAL}
[hypervisor:local]
uri = qemu:///system
[policy:memory]
mode = recommend
host_free_target = 64G
vm_cooldown = 2s
""")
    k.wait_connected(["local"])
    q = f"vm={MEM_NAME}&policy=memory"

    # Recommend: the decision is recorded, the balloon is left alone.
    rec = k.wait_for(lambda: decisions(k, q), timeout=120, what="a recommendation")[0]
    assert rec["rule"] == "host-free-below-target" and rec["action"] == "set-memory", rec
    assert rec["mode"] == "recommend" and rec["state"] == "recorded" and rec["audit_id"] is None
    inputs = rec["inputs"]
    used, margin = inputs["mem_used"]["value"], inputs["margin"]
    # Decided on reconciled figures, with where they came from and how old.
    assert inputs["mem_used"]["provenance"] and inputs["mem_used"]["age_s"] is not None
    assert inputs["host_free"]["provenance"] == "host"
    target = rec["params"]["memory_bytes"]
    assert used + margin <= target < MEM_MIB * MIB, rec
    assert rec["params"]["previous_bytes"] == MEM_MIB * MIB
    # Two more rounds: still untouched, and nothing in the audit trail.
    k.wait_for(lambda: len(decisions(k, q)) >= 2, timeout=60, what="the recommendation again")
    assert balloon_bytes(MEM_NAME) == MEM_MIB * MIB
    assert not [a for a in k.get(f"/api/v1/audit?vm={MEM_NAME}").json["audit"]
                if a["actor"].startswith("policy:")]

    # Enforce: the same decision, carried out.
    t_enforce = time.monotonic()
    patch(k, "memory", {"mode": "enforce"})

    def done():
        d = [x for x in decisions(k, q) if x["mode"] == "enforce"]
        return d and d[-1]["state"] in ("done", "failed") and d[-1]
    enf = k.wait_for(done, timeout=120, what="an enforced decision carried out")
    assert enf["state"] == "done" and enf["rule"] == "host-free-below-target", enf
    # The same decision recommend mode recorded (the guest's use moves a
    # little between rounds).
    assert abs(enf["params"]["memory_bytes"] - target) <= 16 * MIB, (enf, rec)
    floor = enf["inputs"]["mem_used"]["value"] + enf["inputs"]["margin"]
    audit = [a for a in k.get(f"/api/v1/audit?vm={MEM_NAME}").json["audit"]
             if a["id"] == enf["audit_id"]]
    assert audit and audit[0]["actor"] == "policy:memory" and audit[0]["action"] == "setmem"
    assert audit[0]["result"] == "ok"
    # The balloon got there, and never below use plus margin.
    k.wait_for(lambda: abs(balloon_bytes(MEM_NAME) - enf["params"]["memory_bytes"]) <= MIB,
               timeout=60, what="the balloon at the decided size")
    print(f"\nenforce -> balloon {MEM_MIB} -> {enf['params']['memory_bytes'] / MIB:.1f} MiB "
          f"(use {enf['inputs']['mem_used']['value'] / MIB:.1f} + margin "
          f"{enf['inputs']['margin'] / MIB:.1f} MiB): {time.monotonic() - t_enforce:.1f} s")
    assert balloon_bytes(MEM_NAME) >= floor - MIB
    # Observed a round later: the guest is not worse off.
    obs = k.wait_for(lambda: (lambda d: d["verdict"] and d)(
        k.get(f"/api/v1/decisions/{enf['id']}").json["decision"]), timeout=60,
        what="the decision's observed effect")
    assert obs["verdict"] == "ok", obs
    assert obs["observed"]["balloon"] <= enf["params"]["memory_bytes"] + MIB
    # It stays: the host is still under its target, the guest at its floor.
    assert balloon_bytes(MEM_NAME) < MEM_MIB * MIB

    # A target the host meets with room to spare: memory goes back.
    t_lower = time.monotonic()
    patch(k, "memory", {"host_free_target": "1%"})

    def given_back():
        d = [x for x in decisions(k, q) if x["rule"] == "host-free-above-target"]
        return d and d[0]
    back = k.wait_for(given_back, timeout=120, what="memory given back")
    assert back["params"]["memory_bytes"] > back["params"]["previous_bytes"], back
    k.wait_for(lambda: balloon_bytes(MEM_NAME) == MEM_MIB * MIB, timeout=120,
               what="the balloon back at its maximum")
    print(f"target lowered -> balloon back at {MEM_MIB} MiB: {time.monotonic() - t_lower:.1f} s")

    # The dry run over this history, with the high target again: it would
    # have shrunk the guest as enforce mode did.
    r = k.post("/api/v1/policies/memory/simulate",
               {"from": "15m", "host": "local", "settings": {"host_free_target": "64G"}})
    assert r.status == 200, r
    sim = r.json
    acts = [d for d in sim["decisions"] if d["vm"] == MEM_NAME]
    assert sim["rounds"] > 0 and acts, sim
    assert acts[0]["rule"] == "host-free-below-target" and acts[0]["action"] == "set-memory"
    assert acts[0]["memory_bytes"] < MEM_MIB * MIB and sim["summary"]["reclaimed_bytes"] > 0


# ---- balancing and maintenance -------------------------------------------------

BUSY = [PREFIX + "busy1", PREFIX + "busy2"]


@pytest.fixture
def busy_guests(host_b):  # noqa: F811 (the fixture imported above)
    def remove():
        labvm.cleanup_all(prefix=PREFIX)
        with on_host(host_b):
            labvm.cleanup_all(prefix=PREFIX, pools=False)

    remove()
    for name in BUSY:
        labvm.define_guest(name, memory_mib=256, vcpus=1)
        labvm.start(name)
    for name in BUSY:
        labvm.wait_agent(name, timeout=180)
        rc, _ = labvm.exec_in_guest(name, ["/bin/sh", "-c",
                                           "while :; do :; done </dev/null >/dev/null 2>&1 &"])
        assert rc == 0
    yield
    remove()


def where(k, name):
    """The host kanri's inventory has NAME running on, or None."""
    for host in ("a", "b"):
        v = k.vms(host).get(name)
        if v and v["state"] == "running":
            return host
    return None


def test_balancing_separates_busy_guests_and_maintenance_empties_a_host(
        kanrid_factory, host_b, busy_guests):  # noqa: F811
    k = kanrid_factory(config=f"""[manager]
collect_interval = {INTERVAL}
resync_interval = 30
[hypervisor:a]
uri = qemu:///system
[hypervisor:b]
uri = {host_b}
[policy:balance]
mode = enforce
threshold_pct = 25
sustain_rounds = 2
vm_cooldown = 0s
""")
    k.wait_connected(["a", "b"])
    k.wait_for(lambda: all(where(k, n) == "a" for n in BUSY), timeout=60,
               what="both busy guests running on a")
    t0 = time.monotonic()

    # One of them moves to b, chosen by the balancing policy.
    def moved():
        d = [x for x in decisions(k, "policy=balance&action=migrate")
             if x["state"] in ("done", "failed")]
        return d and d[0]
    mv = k.wait_for(moved, timeout=240, what="a balancing migration carried out")
    assert mv["state"] == "done" and mv["host"] == "a" and mv["to_host"] == "b", mv
    assert mv["rule"] in ("cpu-imbalance", "memory-imbalance") and mv["vm"] in BUSY, mv
    assert mv["expected"]["spread_after"] < mv["expected"]["spread_before"], mv
    k.wait_for(lambda: where(k, mv["vm"]) == "b", timeout=60, what="the moved guest on b")
    print(f"\nbalancing: {mv['reason']}\n  connected -> moved: {time.monotonic() - t0:.1f} s")
    other = [n for n in BUSY if n != mv["vm"]][0]
    assert where(k, other) == "a"
    assert virsh_b(host_b, "domstate", mv["vm"]).stdout.strip() == "running"
    audit = [a for a in k.get(f"/api/v1/audit?vm={mv['vm']}&limit=20").json["audit"]
             if a["id"] == mv["audit_id"]]
    assert audit and audit[0]["actor"] == "policy:balance" and audit[0]["action"] == "migrate"
    # Observed a round later: the spread did not grow.
    obs = k.wait_for(lambda: (lambda d: d["verdict"] and d)(
        k.get(f"/api/v1/decisions/{mv['id']}").json["decision"]), timeout=60,
        what="the move's observed effect")
    assert obs["verdict"] == "ok", obs

    # Maintenance: a is emptied, the guest left there goes to b.
    t1 = time.monotonic()
    r = k.post("/api/v1/hosts/a/maintenance", {"on": True, "reason": "lab"})
    assert r.status == 200, r
    plan = r.json["plan"]
    assert [(d["vm"], d["action"], d["to_host"]) for d in plan] == [(other, "migrate", "b")], plan

    def evacuated():
        d = [x for x in decisions(k, "policy=maintenance&action=migrate")
             if x["state"] in ("done", "failed")]
        return d and d[0]
    ev = k.wait_for(evacuated, timeout=240, what="the evacuation carried out")
    assert ev["state"] == "done" and ev["vm"] == other and ev["evacuation"] is True, ev
    k.wait_for(lambda: where(k, other) == "b", timeout=60, what="host a empty")
    print(f"maintenance on -> host a empty: {time.monotonic() - t1:.1f} s")
    assert not [n for n in labvm.list_domains(prefix=PREFIX) if labvm.state(n) == "running"]
    assert k.hosts()["a"]["maintenance"] is True
    r = k.post("/api/v1/hosts/a/maintenance", {"on": False})
    assert r.status == 200 and k.hosts()["a"]["maintenance"] is False
