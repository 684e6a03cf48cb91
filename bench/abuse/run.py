#!/usr/bin/env python3
"""bench/abuse: a legitimate client's latency while one address holds
thousands of idle, trickling or half-sent connections; kanrid's threads and
RSS before and under it.

Usage: KANRI_BUILD_DIR=build bench/abuse/run.py [--idle 5000] [--slow 1000]
Baseline and abuse are measured in the same run.  An older kanrid (a thread
per connection, 256 connections) may not answer at all under abuse: the
script then prints the number of requests that timed out."""
import argparse
import http.client
import os
import resource
import socket
import statistics
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))


def status_of(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def latencies(port, token, path, n, timeout=5):
    lat, failed = [], 0
    for _ in range(n):
        t0 = time.monotonic()
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
            c.request("GET", path, headers={"Authorization": "Bearer " + token})
            r = c.getresponse()
            r.read()
            c.close()
            if r.status != 200:
                failed += 1
                continue
        except OSError:
            failed += 1
            continue
        lat.append((time.monotonic() - t0) * 1000)
    lat.sort()
    if not lat:
        return None, None, failed
    return statistics.median(lat), lat[min(len(lat) - 1, int(len(lat) * 0.99))], failed


def trickle(socks, stop):
    i = 0
    while not stop.is_set():
        for s in socks:
            try:
                s.send(b"GET /healthz HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaa"[i % 40:i % 40 + 1])
            except OSError:
                pass
        i += 1
        stop.wait(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--idle", type=int, default=5000)
    ap.add_argument("--slow", type=int, default=1000)
    ap.add_argument("--vms", type=int, default=1000)
    ap.add_argument("--requests", type=int, default=200)
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    import kanri_harness
    tmp = tempfile.mkdtemp(prefix="kanri-bench-abuse-")
    node = os.path.join(tmp, "node.xml")
    with open(node, "w") as f:
        f.write(kanri_harness.node_xml("ab", n_running=a.vms, n_shutoff=0))
    try:  # a build without these keys refuses them: run it without
        k = kanri_harness.Kanrid(args=["--connect", "test://" + node],
                                 config="[manager]\ncollect_interval = 0\n"
                                        "max_connections_per_address = 100000\n"
                                        "header_timeout = 3600\n")
    except RuntimeError:
        k = kanri_harness.Kanrid(args=["--connect", "test://" + node],
                                 config="[manager]\ncollect_interval = 0\n")
    try:
        k.wait_for(lambda: len(k.get("/api/v1/vms").json["vms"]) == a.vms, timeout=300,
                   interval=0.5, what="inventory")
        pid = k.proc.pid
        print(f"# bench/abuse  {time.strftime('%Y-%m-%d %H:%M:%S')}  {os.cpu_count()} CPUs, "
              f"{a.vms} VMs, build {kanri_harness.BUILD}")
        rows = [("GET /healthz", "/healthz"), ("GET /api/v1/vms?limit=100", "/api/v1/vms?limit=100")]

        def measure(label):
            for name, path in rows:
                p50, p99, failed = latencies(k.port, k.token, path, a.requests)
                if p50 is None:
                    print(f"{label:<10} {name:<28} no answer ({failed} of {a.requests} failed)")
                else:
                    print(f"{label:<10} {name:<28} p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  "
                          f"failed {failed}")
            print(f"{label:<10} kanrid threads {status_of(pid, 'Threads')}, "
                  f"RSS {status_of(pid, 'VmRSS') / 1024:.0f} MiB")
        measure("baseline")
        socks = []
        t0 = time.monotonic()
        for i in range(a.idle + a.slow):
            s = socket.socket()
            s.setblocking(True)
            s.bind(("127.0.0.2", 0))
            try:
                s.connect(("127.0.0.1", k.port))
            except OSError:
                s.close()
                continue
            socks.append(s)
        print(f"# {len(socks)} connections opened from 127.0.0.2 in {time.monotonic() - t0:.1f} s "
              f"({a.idle} idle, {a.slow} trickling one header byte a second)")
        stop = threading.Event()
        tr = threading.Thread(target=trickle, args=(socks[a.idle:], stop))
        tr.start()
        time.sleep(2)  # the trickle under way
        measure("abused")
        stop.set()
        tr.join()
        for s in socks:
            s.close()
    finally:
        k.stop()


if __name__ == "__main__":
    main()
