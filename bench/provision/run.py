#!/usr/bin/env python3
"""bench/provision: VMs made from a template on real QEMU guests.

A lab guest with a data disk of SIZE MiB of real (random) data in a
storage pool becomes a template; then COUNT linked clones are created and
started through kanrid, each timed from the request until its guest agent
answers, and COUNT full copies are created (not started), each timed to
the answer.  Printed: the times, and the disk space the clones' images
take (allocated blocks) against the full copies'.

    KANRI_BUILD_DIR=build python3 bench/provision/run.py [--count 3] [--size 128]

Needs what the lab tests need (tests/lab/setup-host.sh, the lab kernel:
make lab-kernel) and runs as root.  Standard library only.
"""
import argparse
import os
import statistics
import sys
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
sys.path.insert(0, os.path.join(TOP, "tests", "lab"))

import kanri_harness  # noqa: E402
import labvm  # noqa: E402

PREFIX = f"kanri-lab-bprov-{os.getpid()}"
CONF = """[manager]
collect_interval = 5
[hypervisor:local]
uri = qemu:///system
"""


def allocated(path):
    return os.stat(path).st_blocks * 512


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=3, help="clones of each kind")
    ap.add_argument("--size", type=int, default=128, help="MiB of data on the template's disk")
    a = ap.parse_args()

    labvm.cleanup_all(prefix=PREFIX)
    pool = PREFIX + "-pool"
    labvm.make_small_pool(pool, size_mib=a.size * (a.count + 3) + 128)
    disk = labvm.make_disk("golden.img", a.size, fmt="raw", pool=pool, mkfs=False)
    with open(disk, "r+b") as f:  # real data: a copy has to copy it
        for _ in range(a.size):
            f.write(os.urandom(1 << 20))
    labvm.virsh("pool-refresh", pool)
    golden = PREFIX + "-golden"
    labvm.define_guest(golden, memory_mib=192, vcpus=1, disk=disk)
    k = kanri_harness.Kanrid(config=CONF)
    try:
        k.wait_connected(["local"])
        k.wait_for(lambda: golden in k.vms("local"), what="the golden guest")
        t0 = time.monotonic()
        r = k.post("/api/v1/templates", {"name": PREFIX, "vm": golden})
        assert r.status == 201, r
        t_template = time.monotonic() - t0

        linked, full = [], []
        for i in range(a.count):
            name = f"{PREFIX}-l{i}"
            t0 = time.monotonic()
            r = k.post("/api/v1/vms", {"template": PREFIX, "name": name})
            assert r.status == 201, r
            t_made = time.monotonic() - t0
            labvm.wait_agent(name, timeout=300)
            booted = time.monotonic() - t0
            linked.append((t_made, booted, allocated(r.json["vm"]["disks"][0]["source"])))
            # One running at a time: the measure is a boot, not a crowd.
            assert k.post(f"/api/v1/vms/{name}/actions/destroy", {}).status == 200
        for i in range(a.count):
            name = f"{PREFIX}-f{i}"
            t0 = time.monotonic()
            r = k.post("/api/v1/vms", {"template": PREFIX, "name": name, "linked": False,
                                       "start": False})
            assert r.status == 201, r
            full.append((time.monotonic() - t0, None,
                         allocated(r.json["vm"]["disks"][0]["source"])))
    finally:
        k.stop()
        labvm.cleanup_all(prefix=PREFIX)

    def ms(v):
        return f"{v * 1000:.0f} ms"

    print(f"# {a.count} clones of each kind of a template with {a.size} MiB of data; "
          f"template made in {ms(t_template)}")
    print()
    print("| clone | POST /vms answered (median; linked clones started too) "
          "| created and booted, agent answering (median) "
          "| disk space of all | per clone |")
    print("|---|---|---|---|---|")
    for label, xs in (("linked (qcow2 overlay)", linked), ("full copy", full)):
        made = statistics.median(x[0] for x in xs)
        booted = statistics.median(x[1] for x in xs) if xs[0][1] is not None else None
        total = sum(x[2] for x in xs)
        print(f"| {label} | {ms(made)} | {ms(booted) if booted else '-'} "
              f"| {total / 2**20:.1f} MiB | {total / len(xs) / 2**20:.1f} MiB |")


if __name__ == "__main__":
    main()
