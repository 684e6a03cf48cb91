#!/usr/bin/env python3
"""bench/ingest: guest documents accepted per second by POST
/api/v1/ingest/guest at saturation, on SQLite and on PostgreSQL.

AGENTS enrolled machines; PUSHERS processes, each with one kept-alive
connection, push kanri-guestd documents (tests/data/guest/busy) for their
share of the machines as fast as kanrid answers, for SECONDS.  Every
document is answered only once it is durable, so what is measured is how
many durable commits' worth of documents the store takes: with the group
commit (src/engine/writer.c) the documents arriving together share one.
Printed per backend: documents accepted per second, and from /metrics
the documents per transaction and the share of the window the
transactions took.  The agents' rate limit (20/s each, a burst of 200)
is kept under by enough agents (default 256).

    KANRI_BUILD_DIR=build python3 bench/ingest/run.py [--seconds 10]
        [--pushers 8] [--agents 256] [--backends sqlite,postgresql]

The load generator shares the machine with kanrid and the database.
Standard library only; loopback only; the PostgreSQL server is a
throw-away one (tools/pg-server.sh) under a temporary directory.
"""
import argparse
import http.client
import json
import multiprocessing as mp
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))


def push(port, machines, doc, seconds, q):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    seq = {m: 0 for m, _ in machines}
    accepted = other = 0
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        m, token = machines[i % len(machines)]
        i += 1
        seq[m] += 1
        body = json.dumps(dict(doc, machine_id=m, seq=seq[m], time=time.time()))
        c.request("POST", "/api/v1/ingest/guest", body=body,
                  headers={"Authorization": f"Bearer {token}",
                           "Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        if r.status == 200:
            accepted += 1
        else:
            other += 1
    q.put((accepted, other))


def metric(body, name):
    m = re.search(rf"^{name} ([0-9.e+]+)$", body, re.M)
    return float(m.group(1)) if m else 0.0


def measure(args, backend, pg_server):
    import kanri_harness
    extra = []
    if backend == "postgresql":
        schema = f"ingest_{os.getpid()}"
        extra = ["--db", kanri_harness.pg_schema_url(pg_server, schema)]
    k = kanri_harness.Kanrid(args=extra + ["--connect", "test:///default"])
    try:
        doc = json.loads(subprocess.run(
            [os.path.join(args.build, "src", "guest", "kanri-guestd"), "--once", "--root",
             os.path.join(ROOT, "tests", "data", "guest", "busy", "root")],
            check=True, capture_output=True, text=True).stdout)
        machines = [f"0b7e1d2a-0000-4000-8000-{i:012x}" for i in range(args.agents)]
        tokens = [(m, k.post("/api/v1/agents", {"machine": m}).json["token"]) for m in machines]
        shares = [tokens[i::args.pushers] for i in range(args.pushers)]
        before = k.get("/metrics").body
        q = mp.Queue()
        procs = [mp.Process(target=push, args=(k.port, s, doc, args.seconds, q)) for s in shares]
        t0 = time.monotonic()
        for p in procs:
            p.start()
        counts = [q.get() for _ in procs]
        for p in procs:
            p.join()
        took = time.monotonic() - t0
        after = k.get("/metrics").body
        d = {n: metric(after, n) - metric(before, n)
             for n in ("kanri_store_ingest_groups_total",
                       "kanri_store_ingest_group_documents_total",
                       "kanri_store_ingest_group_seconds_total")}
        return {"backend": backend, "accepted": sum(a for a, _ in counts) / took,
                "other": sum(o for _, o in counts),
                "per_group": d["kanri_store_ingest_group_documents_total"]
                / max(d["kanri_store_ingest_groups_total"], 1),
                "busy": d["kanri_store_ingest_group_seconds_total"] / took}
    finally:
        k.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.environ.get("KANRI_BUILD_DIR",
                                                      os.path.join(ROOT, "build")))
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--pushers", type=int, default=8)
    ap.add_argument("--agents", type=int, default=256)
    ap.add_argument("--backends", default="sqlite,postgresql")
    args = ap.parse_args()
    os.environ["KANRI_BUILD_DIR"] = args.build
    backends = [b for b in args.backends.split(",") if b]
    with tempfile.TemporaryDirectory(prefix="kanri-bench-ingest-") as tmp:
        os.chmod(tmp, 0o755)
        pg = tools = None
        if "postgresql" in backends:
            tools = os.path.join(ROOT, "tools", "pg-server.sh")
            pg = subprocess.run(["bash", tools, "start", os.path.join(tmp, "pg")], check=True,
                                capture_output=True, text=True).stdout.strip()
        try:
            print(f"# {args.pushers} pushers, {args.agents} agents, {args.seconds:g} s")
            print("| store | documents/s accepted | not accepted | documents per transaction |"
                  " transactions' share of the window |")
            print("|---|---|---|---|---|")
            for b in backends:
                r = measure(args, b, pg)
                print(f"| {b} | {r['accepted']:.0f} | {r['other']} | {r['per_group']:.2f} |"
                      f" {r['busy']:.2f} |", flush=True)
        finally:
            if pg:
                subprocess.run(["bash", tools, "wipe", os.path.join(tmp, "pg")],
                               capture_output=True)


if __name__ == "__main__":
    main()
