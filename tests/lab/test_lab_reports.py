"""The availability report against a real QEMU guest (docs/reports.md):
destroyed behind kanri's back for a measured while, it shows that much
unplanned down time, to within one collection interval, with libvirt's
reason as the cause; its guest agent killed, it is "up, guest view lost"
(unresponsive), never down.

One guest, about a minute and a half."""
import os
import time

import pytest

import labvm

NAME = f"kanri-lab-rep-{os.getpid()}"
INTERVAL = 2
CONF = f"""[manager]
collect_interval = {INTERVAL}
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


def vm_report(k):
    r = k.get(f"/api/v1/reports/availability?from=1h&vm={NAME}")
    assert r.status == 200, r
    return r.json["vms"][0] if r.json["vms"] else None


def test_real_downtime_and_a_lost_agent(kanrid_factory, guest):
    k = kanrid_factory(config=CONF)
    k.wait_connected(["local"])

    # Up with its agent's view: plain "up", not the host's word alone.
    def up_with_agent():
        v = vm_report(k)
        return v and v["totals"]["up_s"] >= 2 * INTERVAL
    k.wait_for(up_with_agent, timeout=60, interval=0.5, what="up with a guest view")
    assert not vm_report(k)["host_view_only"]

    # Destroyed outside kanri for a measured while, then started again.
    # The guest went down somewhere inside `virsh destroy` and came up
    # somewhere inside `virsh start`: its down time lies between the time
    # from the one's end to the other's start and the time from the one's
    # start to the other's end.
    t0 = time.monotonic()
    labvm.destroy(NAME)
    t1 = time.monotonic()
    k.wait_for(lambda: [o for o in vm_report(k)["outages"] if o["kind"] == "down"],
               timeout=30, interval=0.2, what="the outage in the report")
    # It stays down a few intervals: the length the report must show.
    time.sleep(4 * INTERVAL)
    t2 = time.monotonic()
    labvm.start(NAME)
    t3 = time.monotonic()
    shortest, longest = t2 - t1, t3 - t0

    def outage_over():
        o = [o for o in vm_report(k)["outages"] if o["kind"] == "down"]
        return o and not o[0]["open"] and o[0]
    o = k.wait_for(outage_over, timeout=30, interval=0.2, what="the outage over")
    assert not o["planned"] and o["cause"] == "destroyed", o
    # Seen by the rounds: to within one collection interval either way.
    assert shortest - INTERVAL - 0.5 <= o["duration_s"] <= longest + INTERVAL + 0.5, \
        (o, shortest, longest)
    t = vm_report(k)["totals"]
    assert t["unplanned_down_s"] == pytest.approx(o["duration_s"], abs=0.01)
    assert t["availability"] < 1

    # Its agent killed for good once it answers again: running, guest view
    # lost — unresponsive, and no more down time.
    labvm.wait_agent(NAME, timeout=180)

    def agent_view_fresh():
        r = k.get(f"/api/v1/vms/{NAME}/reconciled")
        ages = [x["g_age_s"] for x in r.json.get("resources", [])
                if x.get("g_source") == "qga" and x["g_age_s"] is not None] \
            if r.status == 200 else []
        return ages and min(ages) < INTERVAL * 2
    k.wait_for(agent_view_fresh, timeout=60, interval=0.5, what="the agent's fresh view")
    labvm.kill_agent(NAME)

    def lost():
        v = vm_report(k)
        spells = [o for o in v["outages"] if o["kind"] == "unresponsive" and o["open"]]
        return spells and v
    v = k.wait_for(lost, timeout=60, interval=0.5, what="an open unresponsive spell")
    spell = [o for o in v["outages"] if o["kind"] == "unresponsive" and o["open"]][0]
    assert spell["cause"] == "guest view lost" and not spell["planned"]
    assert v["totals"]["unplanned_down_s"] == pytest.approx(o["duration_s"], abs=0.01)
    assert v["totals"]["unresponsive_s"] > 0
    # Unresponsive time counts as up; responsive is the stricter figure.
    assert v["totals"]["responsive"] < v["totals"]["availability"]
