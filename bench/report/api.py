#!/usr/bin/env python3
"""bench/report/api.py: the report endpoints answering over a live store.

HOSTS test-driver hosts of VMS VMs each (one in ten shut off) run under
kanrid for SECONDS with a 1-second collection interval, every VM tagged
into one of ten groups; a tenth of the running VMs are destroyed through
kanri halfway (planned outages).  Then each report is asked for ROUNDS
times and the median and worst answer times printed, beside GET /vms (the
API's plain list of the same VMs) as the baseline in the same run.

    KANRI_BUILD_DIR=build python3 bench/report/api.py [--hosts 10] [--vms 50]
        [--seconds 60] [--rounds 5]

The computations alone, on 90 days of history: build/bench/report/bench-report.
Standard library only; a benchmark, not a test: it always exits 0.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))

import kanri_harness  # noqa: E402


def timed(k, path, rounds):
    times = []
    for _ in range(rounds):
        t0 = time.monotonic()
        r = k.get(path)
        times.append(time.monotonic() - t0)
        assert r.status == 200, (path, r)
    return statistics.median(times), max(times), len(r.body)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=10)
    ap.add_argument("--vms", type=int, default=50)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="kanri-bench-report-")
    conf = "[manager]\ncollect_interval = 1\n"
    for h in range(a.hosts):
        path = os.path.join(tmp, f"h{h}.xml")
        n_off = max(a.vms // 10, 1)
        with open(path, "w") as f:
            f.write(kanri_harness.node_xml(f"h{h}", a.vms - n_off, n_off,
                                           memory_kib=262144, vcpus=1))
        conf += f"[hypervisor:h{h}]\nuri = test://{path}\n"
    k = kanri_harness.Kanrid(state_dir=os.path.join(tmp, "state"), config=conf)
    try:
        k.wait_connected([f"h{h}" for h in range(a.hosts)], timeout=120)
        vms = [(h, f"h{h}-vm{i}") for h in range(a.hosts) for i in range(a.vms)]
        for n, (_, name) in enumerate(vms):
            k.request("PUT", f"/api/v1/vms/{name}/tags", {"tags": [f"g{n % 10}"]})
        time.sleep(a.seconds / 2)
        for n, (_, name) in enumerate(vms):
            if n % 10 == 1:
                k.post(f"/api/v1/vms/{name}/actions/destroy", {})
        time.sleep(a.seconds / 2)
        total = a.hosts * a.vms
        print(f"bench/report/api.py: {a.hosts} hosts x {a.vms} VMs ({total}), "
              f"{a.seconds} s of 1-second rounds, {a.rounds} asks each\n")
        rows = [
            ("GET /vms (baseline)", "/api/v1/vms"),
            ("availability, all VMs", "/api/v1/reports/availability?from=1h"),
            ("availability, one group + SLO", "/api/v1/reports/availability?from=1h&group=g1&slo=99.9"),
            ("availability, html", "/api/v1/reports/availability?from=1h&format=html"),
            ("capacity (5-minute steps)", "/api/v1/reports/capacity?history=1h&horizon=1h"),
            ("capacity (1-second steps)", "/api/v1/reports/capacity?history=2m&horizon=1m&step=1s"),
            ("capacity, html", "/api/v1/reports/capacity?history=2m&horizon=1m&step=1s&format=html"),
        ]
        base = None
        print(f"{'request':34} {'median':>9} {'worst':>9} {'bytes':>9} {'x baseline':>11}")
        for label, path in rows:
            med, worst, size = timed(k, path, a.rounds)
            base = base or med
            print(f"{label:34} {med * 1e3:7.1f}ms {worst * 1e3:7.1f}ms {size:9d} {med / base:10.1f}x")
        rep = k.get("/api/v1/reports/availability?from=1h").json
        print(f"\nplanned outages seen: {sum(o['planned'] for o in rep['outages'])} "
              f"(of {sum(1 for n in range(total) if n % 10 == 1)} destroyed); "
              f"availability {rep['totals']['availability']}")
    finally:
        k.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
