"""Dual-source monitoring against a real QEMU guest with qemu-guest-agent:
both views appear within two intervals, the guest's steal and the host's
vcpu.0.delay are both stored, a balloon resize shows in both views, and
killing the agent in the guest marks the guest view unavailable within
three intervals while the host view continues.

One guest, ~1 minute.  balloon_period is the lab domain's own (2 s), so the
collector changes nothing on other people's lab guests sharing libvirtd."""
import os
import time

import pytest

import labvm
from kanri_harness import promtool_check_metrics

NAME = f"kanri-lab-mon-{os.getpid()}"
INTERVAL = 2
CONF = f"""[manager]
collect_interval = {INTERVAL}
balloon_period = 2
agent_timeout = 2
resync_interval = 30
[hypervisor:local]
uri = qemu:///system
"""


@pytest.fixture(scope="module")
def guest(lab_images):
    labvm.cleanup_all(prefix=NAME)
    with labvm.guest(NAME, memory_mib=256, vcpus=1) as g:
        yield g


def points(k, view, metrics, source=None, since="10m"):
    q = f"/api/v1/vms/{NAME}/metrics?view={view}&metric={metrics}&from={since}"
    r = k.get(q)
    assert r.status == 200, r
    out = {}
    for src in r.json["sources"]:
        if source and src["source"] != source:
            continue
        for s in src["series"]:
            if s["points"]:
                out[s["metric"]] = s["points"]
    return out, r.json


def test_dual_source_monitoring(kanrid_factory, guest):
    # Our guest's balloon period differs from the configured one (the lab
    # default, which other lab guests keep): kanrid must set it back.
    labvm.virsh("dommemstat", NAME, "--period", "5", "--live")
    t0 = time.monotonic()
    k = kanrid_factory(config=CONF)
    k.wait_connected(["local"])

    # 1. Both views within two intervals (a gauge from each source).
    def both():
        h, _ = points(k, "host", "balloon_current,vcpu_count")
        q, _ = points(k, "guest", "cpu_count", source="qga")
        b, _ = points(k, "guest", "mem_total", source="balloon")
        return h and q and b
    k.wait_for(both, timeout=2 * INTERVAL + 3, interval=0.2, what="host and guest views")
    first = time.monotonic() - t0
    print(f"\nboth views after {first:.1f} s (interval {INTERVAL} s)")

    # 2. Guest steal (qga) and host vCPU delay are both stored, apart.
    def rates():
        h, _ = points(k, "host", "vcpu_delay_ns,cpu_time_ns")
        g, _ = points(k, "guest", "cpu_steal_ns,cpu_user_ns", source="qga")
        return "vcpu_delay_ns" in h and "cpu_steal_ns" in g and (h, g)
    h, g = k.wait_for(rates, timeout=6 * INTERVAL, what="delay and steal rates")
    print(f"host vcpu.0.delay {h['vcpu_delay_ns'][-1]['v'] / 1e7:.2f} % of a CPU; "
          f"guest steal {g['cpu_steal_ns'][-1]['v'] / 1e7:.2f} %")
    _, o = points(k, "guest", "cpu_steal_ns")
    assert o["availability"]["guest-agent"]["available"] is True
    assert o["availability"]["guest-memory"]["available"] is True

    # The period was set as kanrid's own audited action, and the change it
    # made to the live XML is attributed to that action.
    def audited():
        acts = [a for a in k.get(f"/api/v1/audit?vm={NAME}").json["audit"]
                if a["action"] == "set-balloon-period"]
        return acts and acts[0]
    a = k.wait_for(audited, timeout=10, what="set-balloon-period audit entry")
    assert a["actor"] == "kanrid" and a["result"] == "ok" and a["params"]["period"] == 2
    assert "period='2'" in labvm.virsh("dumpxml", NAME)
    ch = [c for c in k.get(f"/api/v1/changes?vm={NAME}").json["changes"] if c["audit_id"] == a["id"]]
    assert ch and ch[0]["cause"] == "action" and ch[0]["actor"] == "kanrid", ch

    # 3. A balloon resize shows in both views.
    labvm.virsh("setmem", NAME, "180M", "--live")

    def resized():
        h, _ = points(k, "host", "balloon_current", since="1m")
        b, _ = points(k, "guest", "mem_total", source="balloon", since="1m")
        hv = h.get("balloon_current", [{}])[-1].get("v", 0)
        gv = b.get("mem_total", [{}])[-1].get("v", 1e12)
        return abs(hv - 180 * 2**20) <= 4 * 2**20 and gv < 180 * 2**20 and (hv, gv)
    hv, gv = k.wait_for(resized, timeout=8 * INTERVAL, what="balloon resize in both views")
    print(f"after setmem 180M: host balloon {hv / 2**20:.0f} MiB, guest total {gv / 2**20:.0f} MiB")

    # 4. Kill the agent inside the guest, for good: its binary is replaced
    # by a sleeper first, so init's respawn does not bring it back.
    labvm.kill_agent(NAME)
    t_kill = time.monotonic() + 1

    def unavailable():
        _, o = points(k, "guest", "cpu_user_ns", since="1m")
        a = o["availability"].get("guest-agent", {})
        return a.get("available") is False and a
    a = k.wait_for(unavailable, timeout=3 * INTERVAL + 2, interval=0.2,
                   what="guest agent view unavailable")
    print(f"agent view unavailable {time.monotonic() - t_kill:.1f} s after the kill: {a['reason']}")
    assert time.monotonic() - t_kill <= 3 * INTERVAL + 1

    # The host view goes on.
    n0 = len(points(k, "host", "vcpu_count", since="1m")[0]["vcpu_count"])
    time.sleep(2 * INTERVAL + 0.5)
    n1 = len(points(k, "host", "vcpu_count", since="1m")[0]["vcpu_count"])
    assert n1 >= n0 + 1, (n0, n1)
    # Balloon statistics come from the balloon driver, not the agent: the
    # guest memory view is still there.
    _, o = points(k, "guest", "mem_total", since="1m")
    assert o["availability"]["guest-memory"]["available"] is True

    prom = k.get("/metrics").body
    assert f'vm="{NAME}"' in prom
    assert 'view="guest",source="qga"' in prom and 'view="host"' in prom
    # A real guest's every family, as a stock Prometheus reads them.
    assert promtool_check_metrics(prom) == ""
    p = k.cli("vm", "stats", NAME, "--since", "5m", check=True)
    print(p.stdout)
    assert "guest-agent   UNAVAILABLE" in p.stdout
