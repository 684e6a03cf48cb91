"""The dashboard on a real QEMU guest with the real qemu-guest-agent: its VM
page draws the host view H, the guest view G and the reconciled value R of
its memory on one time axis (Chromium driven by Playwright,
tests/browser/scenarios.mjs), and shows a state change made behind kanri's
back (virsh suspend) without a reload."""
import os
import sys

import pytest

import labvm

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "browser"))
from browser_harness import scenario  # noqa: E402

NAME = f"kanri-lab-ui-{os.getpid()}"
CONF = """[manager]
collect_interval = 2
balloon_period = 2
agent_timeout = 2
resync_interval = 30
[hypervisor:local]
uri = qemu:///system
"""


@pytest.fixture
def guest(lab_images):
    with labvm.guest(NAME, memory_mib=256, vcpus=1) as g:
        yield g.uuid


def test_vm_page_draws_h_g_r_of_a_real_guest(kanrid_factory, guest):
    k = kanrid_factory(config=CONF)
    k.wait_connected(["local"])

    def rounds_with_both_sides():
        r = k.get(f"/api/v1/vms/{NAME}/metrics?view=reconciled&metric=mem_total,mem_total_h,mem_total_g&from=10m")
        if r.status != 200:
            return False
        series = {s["metric"]: s["points"] for s in r.json["sources"][0]["series"]}
        return all(sum(p["v"] is not None for p in series.get(m, [])) >= 2
                   for m in ("mem_total", "mem_total_h", "mem_total_g"))
    k.wait_for(rounds_with_both_sides, timeout=90, interval=0.5, what="H, G and R history of mem_total")

    def on_line(line, proc):
        if line == "SUSPEND-GUEST":
            labvm.virsh("suspend", NAME)
            proc.stdin.write("suspended\n")
            proc.stdin.flush()
    scenario(k, "labGuest", {"vm_uuid": guest, "resource": "mem_total"}, on_line=on_line)
