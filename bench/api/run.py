#!/usr/bin/env python3
"""bench/api: what GET /api/v1/vms costs at 1 000 VMs (libvirt's test
driver): latency p50/p99 and requests per second for the whole list, a
100-VM page, the whole list gzip-compressed and a conditional request
answered 304, with 1 and 8 concurrent clients; kanrid's RSS idle and
under 32 clients.  Each client keeps one connection (HTTP/1.1 keep-alive).

Usage: KANRI_BUILD_DIR=build bench/api/run.py [--vms 1000] [--seconds 5]
A build without pages or ETags (an older kanrid) answers those requests
with the whole list; the script says so."""
import argparse
import http.client
import os
import statistics
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def client(port, token, path, headers, seconds, out):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    h = {"Authorization": "Bearer " + token, **headers}
    lat = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.monotonic()
        c.request("GET", path, headers=h)
        r = c.getresponse()
        r.read()
        lat.append((time.monotonic() - t0) * 1000)
        if r.status not in (200, 304):
            raise SystemExit(f"{path}: {r.status}")
    c.close()
    out.extend(lat)


def run(k, path, headers, clients, seconds, peak=None):
    lat, threads = [], []
    for _ in range(clients):
        t = threading.Thread(target=client, args=(k.port, k.token, path, headers, seconds, lat))
        t.start()
        threads.append(t)
    while peak is not None and any(t.is_alive() for t in threads):
        peak[0] = max(peak[0], rss_kib(k.proc.pid))
        time.sleep(0.05)
    for t in threads:
        t.join()
    lat.sort()
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    return statistics.median(lat), p99, len(lat) / seconds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vms", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=5)
    a = ap.parse_args()
    import kanri_harness
    tmp = tempfile.mkdtemp(prefix="kanri-bench-api-")
    node = os.path.join(tmp, "node.xml")
    with open(node, "w") as f:
        f.write(kanri_harness.node_xml("api", n_running=a.vms, n_shutoff=0))
    k = kanri_harness.Kanrid(args=["--connect", "test://" + node],
                             config="[manager]\ncollect_interval = 0\n")
    try:
        k.wait_for(lambda: len(k.get("/api/v1/vms").json["vms"]) == a.vms, timeout=300,
                   interval=0.5, what="inventory")
        full = k.get("/api/v1/vms")
        etag = full.headers.get("ETag")
        paged = "next_cursor" in k.get("/api/v1/vms?limit=100").json
        print(f"# bench/api  {time.strftime('%Y-%m-%d %H:%M:%S')}  {os.cpu_count()} CPUs, "
              f"{a.vms} VMs, {a.seconds:.0f} s per row, build {kanri_harness.BUILD}")
        print(f"# whole list {len(full.body)} bytes; pages {'yes' if paged else 'no (whole list)'}; "
              f"ETag {'yes' if etag else 'no'}")
        idle = rss_kib(k.proc.pid)
        rows = [("whole list", "/api/v1/vms", {}),
                ("page of 100", "/api/v1/vms?limit=100", {}),
                ("whole list, gzip", "/api/v1/vms", {"Accept-Encoding": "gzip"}),
                ("whole list, If-None-Match", "/api/v1/vms", {"If-None-Match": etag or '"none"'})]
        for label, path, headers in rows:
            for clients in (1, 8):
                p50, p99, rps = run(k, path, headers, clients, a.seconds)
                print(f"{label:<28} {clients:>2} clients: p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  "
                      f"{rps:7.0f} req/s")
        peak = [idle]
        run(k, "/api/v1/vms", {}, 32, a.seconds, peak)
        print(f"RSS idle {idle / 1024:.0f} MiB, under 32 clients (whole list) peak "
              f"{peak[0] / 1024:.0f} MiB: {peak[0] / idle:.2f}x idle")
    finally:
        k.stop()


if __name__ == "__main__":
    main()
