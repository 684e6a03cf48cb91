#!/usr/bin/env python3
"""bench/crash: kanrid killed with SIGKILL, again and again, while guest
agents push documents and rounds are collected.  Every document kanrid
acknowledged (200, accepted) must be in the database afterwards, and the
database must pass PRAGMA integrity_check.

Usage: KANRI_BUILD_DIR=build bench/crash/run.py [--kills 100] [--agents 4] [--vms 100]
Prints the number of kills, acknowledged documents, lost ones (must be 0),
collected rounds and the integrity check's answer; exits 1 on any loss."""
import argparse
import http.client
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))
import kanri_harness  # noqa: E402

BUSY_ROOT = os.path.join(HERE, "..", "..", "tests", "data", "guest", "busy", "root")


def pusher(port, token, template, first_seq, acked, stop):
    """Posts documents with growing seq until the connection fails; records
    the seqs kanrid acknowledged."""
    seq = first_seq
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while not stop.is_set():
            doc = dict(template, seq=seq, time=template["time"] + seq)
            c.request("POST", "/api/v1/ingest/guest", body=json.dumps(doc),
                      headers={"Authorization": "Bearer " + token,
                               "Content-Type": "application/json"})
            r = c.getresponse()
            body = r.read()
            if r.status == 200 and json.loads(body).get("accepted"):
                acked.append(seq)
            elif r.status != 429:
                raise SystemExit(f"ingest answered {r.status}: {body[:200]!r}")
            seq += 1
    except (OSError, http.client.HTTPException):
        pass  # kanrid was killed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kills", type=int, default=100)
    ap.add_argument("--agents", type=int, default=4)
    ap.add_argument("--vms", type=int, default=100)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="kanri-bench-crash-")
    state = os.path.join(tmp, "state")
    node = os.path.join(tmp, "node.xml")
    with open(node, "w") as f:
        f.write(kanri_harness.node_xml("cr", n_running=a.vms, n_shutoff=0))
    args = ["--connect", "test://" + node]
    # Collection every second.  Each agent is held to kanrid's ingest rate
    # (20 documents a second, then 429, which is not an acknowledgement).
    config = "[manager]\ncollect_interval = 1\n"
    k = kanri_harness.Kanrid(args=args, state_dir=state, config=config)
    out = subprocess.run([os.path.join(kanri_harness.BUILD, "src", "guest", "kanri-guestd"),
                          "--once", "--root", BUSY_ROOT, "--state-dir", os.path.join(tmp, "g")],
                         capture_output=True, text=True, check=True).stdout
    template = json.loads(out)
    agents = []
    for i in range(a.agents):
        machine = f"00000000-0000-4000-8000-{i:012d}"
        r = k.post("/api/v1/agents", {"machine": machine, "name": f"crash-{i}"})
        assert r.status == 201, r
        agents.append((machine, r.json["token"], []))
    print(f"# bench/crash  {time.strftime('%Y-%m-%d %H:%M:%S')}  {os.cpu_count()} CPUs, "
          f"{a.vms} VMs collected every second, {a.agents} agents pushing, build "
          f"{kanri_harness.BUILD}")
    rng = random.Random(1)
    seq = 1
    t0 = time.monotonic()
    for n in range(a.kills):
        if n:
            k = kanri_harness.Kanrid(args=args, state_dir=state, config=config)
        stop = threading.Event()
        threads = []
        for machine, token, acked in agents:
            t = threading.Thread(target=pusher,
                                 args=(k.port, token, dict(template, machine_id=machine),
                                       seq, acked, stop))
            t.start()
            threads.append(t)
        time.sleep(rng.uniform(0.3, 1.5))
        k.proc.kill()
        k.proc.wait()
        stop.set()
        for t in threads:
            t.join()
        seq = max([seq] + [max(acked, default=0) for _, _, acked in agents]) + 1000
    elapsed = time.monotonic() - t0
    db = sqlite3.connect(os.path.join(state, "kanri.db"))
    acked_total = lost = 0
    for machine, _, acked in agents:
        stored = {s for (s,) in db.execute(
            "SELECT seq FROM guest_samples WHERE machine_uuid = ?", (machine,))}
        acked_total += len(acked)
        lost += len(set(acked) - stored)
    rounds = db.execute("SELECT count(DISTINCT t) FROM host_samples").fetchone()[0]
    check = db.execute("PRAGMA integrity_check").fetchone()[0]
    db.close()
    print(f"kills {a.kills} in {elapsed:.0f} s: acknowledged documents {acked_total}, "
          f"lost {lost}; collection rounds stored {rounds}; integrity_check {check}")
    sys.exit(1 if lost or check != "ok" else 0)


if __name__ == "__main__":
    main()
