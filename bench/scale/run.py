#!/usr/bin/env python3
"""bench/scale: a simulated fleet on one kanrid instance, on SQLite and on
PostgreSQL, against the raw baseline of each database.

The fleet: HOSTS libvirt test-driver hosts of VMS running domains each,
collected every INTERVAL seconds, plus kanri-guestd documents pushed over
the ingest API at GUEST_RATE per second (one enrolled agent per VM of the
first hosts, each under the ingest rate limit).  For each backend the
script measures, over a window of SECONDS after the first full rounds:

  - VM-samples stored per second: host-view, guest-view and reconciled
    rows, counted in the store before and after the window;
  - the collection round's wall time (kanri_collect_round_seconds, the
    median over hosts);
  - GET /api/v1/vms?limit=100 latency, p50 and p99, asked in a loop
    during the window;
  - the round writes' capacity: the host-view and reconciled rows stored
    over the time kanrid spent storing rounds
    (kanri_store_round_group_seconds_total),
    which is what the store could sustain whatever load is offered;

and prints them beside the raw baseline (build/bench/scale/bench-scale-raw:
the same wide rows appended with SQLite's prepared inserts in
transactions and PostgreSQL's COPY), with the ratio.

With --instances 1,2,3 PostgreSQL is measured again with that many kanrid
instances sharing the hosts by leases (docs/scale-out.md), once the hosts
are shared out evenly: rows stored per second in all, and the capacity of
the round writes as the rows stored over the busiest instance's time
spent writing.  Guest documents are pushed to the first instance; each
holder reads those of its VMs from the store.

The round path at full speed (--parts feed, build/bench/scale/
bench-scale-feed): an engine on each store fed by a scripted driver with
HOSTS threads of VMS VMs each (host figures and a balloon guest sample per
VM) and no pause between rounds, so that what is measured is what the
engine and the store sustain, not what the test driver offers: rounds
and VM-samples stored per second, once with every round in a transaction
of its own and once with the group commit (several hosts' rounds per
transaction, src/engine/writer.c), against the raw baseline.

    python3 bench/scale/run.py [--hosts 200] [--vms 100] [--interval 10]
        [--seconds 60] [--guest-rate 1000] [--backends sqlite,postgresql]
        [--instances 1,2,3] [--parts fleet,feed] [--feed-seconds 20]

Standard library only; loopback only; the PostgreSQL server is a
throw-away one (tools/pg-server.sh) under the temporary directory.
"""
import argparse
import json
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

TABLES = ("host_samples", "guest_samples", "reconciled_samples")


def out(line=""):
    print(line, flush=True)


def fleet_config(tmp, hosts, vms, interval):
    import kanri_harness
    conf = [f"[manager]\ncollect_interval = {interval}\n"]
    for h in range(hosts):
        path = os.path.join(tmp, f"h{h}.xml")
        with open(path, "w") as f:
            f.write(kanri_harness.node_xml(f"h{h}", vms, 0))
        conf.append(f"[hypervisor:h{h}]\nuri = test://{path}\n")
    return "".join(conf)


class Store:
    """Counts rows in the store kanrid writes, read-only."""

    def __init__(self, sqlite_path=None, pg_url=None):
        self.sqlite_path, self.pg_url = sqlite_path, pg_url

    def count(self):
        # One row, its columns in TABLES' order.
        sql = "SELECT " + ", ".join(f"(SELECT count(*) FROM {t})" for t in TABLES)
        if self.sqlite_path:
            db = sqlite3.connect(f"file:{self.sqlite_path}?mode=ro", uri=True, timeout=30)
            try:
                return list(db.execute(sql).fetchone())
            finally:
                db.close()
        p = subprocess.run(["psql", self.pg_url, "-XAt", "-F", " ", "-c", sql], check=True,
                           capture_output=True, text=True)
        return [int(x) for x in p.stdout.split()]


def push_loop(url, cafile, machines, rate, doc, stop, accepted, refused):
    """A pusher process's loop: one kept-alive connection, documents for
    MACHINES (uuid -> token) in turn at RATE per second."""
    import http.client
    import ssl
    import urllib.parse
    u = urllib.parse.urlsplit(url)
    if u.scheme == "https":
        conn = http.client.HTTPSConnection(u.hostname, u.port,
                                           context=ssl.create_default_context(cafile=cafile))
    else:
        conn = http.client.HTTPConnection(u.hostname, u.port)
    items = list(machines.items())
    seq = {m: 0 for m, _ in items}
    period = 1.0 / rate
    next_t = time.monotonic()
    i = 0
    while not stop.is_set():
        m, token = items[i % len(items)]
        i += 1
        seq[m] += 1
        body = json.dumps(dict(doc, machine_id=m, seq=seq[m], time=time.time()))
        try:
            conn.request("POST", "/api/v1/ingest/guest", body=body,
                         headers={"Authorization": f"Bearer {token}",
                                  "Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            ok = r.status == 200
        except (OSError, http.client.HTTPException):
            conn.close()
            ok = False
        with (accepted if ok else refused).get_lock():
            (accepted if ok else refused).value += 1
        next_t += period
        delay = next_t - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        elif delay < -1:
            next_t = time.monotonic()  # behind: do not burst to catch up


class Pusher:
    """Pushes guest documents for MACHINES (uuid -> token) at RATE per
    second in total until stopped, from a process of its own (a thread's
    share of one interpreter could not offer 1 000 a second); counts what
    was accepted."""

    def __init__(self, k, machines, rate, doc):
        import multiprocessing as mp
        self.stop_flag = mp.Event()
        self._accepted, self._refused = mp.Value("q", 0), mp.Value("q", 0)
        cafile = os.path.join(k.state_dir, "tls-cert.pem") if k.scheme == "https" else None
        self.proc = mp.Process(target=push_loop, daemon=True,
                               args=(k.url, cafile, machines, rate, doc, self.stop_flag,
                                     self._accepted, self._refused))

    @property
    def accepted(self):
        return self._accepted.value

    @property
    def refused(self):
        return self._refused.value

    def start(self):
        self.proc.start()

    def join(self, timeout=None):
        self.proc.join(timeout)


class Asker(threading.Thread):
    """Asks GET /api/v1/vms?limit=100 in a loop, keeping the latencies."""

    def __init__(self, k):
        super().__init__(daemon=True)
        self.k = k
        self.stop_flag = threading.Event()
        self.lat = []

    def run(self):
        while not self.stop_flag.is_set():
            t = time.monotonic()
            r = self.k.get("/api/v1/vms?limit=100")
            if r.status == 200:
                self.lat.append(time.monotonic() - t)


def percentile(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def store_write_seconds(k):
    """The time kanrid has spent storing rounds: its group commit's
    transactions (a host's own kanri_store_write_seconds counts the wait
    for the group its round went in, so the hosts' overlap)."""
    text = k.get("/metrics").body
    return float(re.search(r"^kanri_store_round_group_seconds_total (\S+)$", text, re.M).group(1))


def round_seconds(k):
    text = k.get("/metrics").body
    vals = [float(x) for x in re.findall(r"^kanri_collect_round_seconds\{[^}]*\} (\S+)$", text,
                                         re.M)]
    return statistics.median(vals) if vals else float("nan")


def shared_evenly(k, n, hosts):
    r = k.get("/api/v1/cluster")
    if r.status != 200:
        return False
    holders = [le["holder_name"] for le in r.json["leases"]]
    if len(holders) != hosts or None in holders or not r.json["leader"]:
        return False
    # The leader's lease counts as one more host.
    counts = sorted((holders + [r.json["leader"]]).count(h) for h in set(holders))
    return len(counts) == n and counts[-1] - counts[0] <= 1


def measure(args, backend, tmp, pg_server, instances=1):
    import kanri_harness
    conf = fleet_config(tmp, args.hosts, args.vms, args.interval)
    state = os.path.join(tmp, f"state-{backend}-{instances}")
    extra = []
    store = None
    if backend == "postgresql":
        schema = f"bench_{os.getpid()}_{instances}"
        subprocess.run(["psql", pg_server, "-qXc", f"DROP SCHEMA IF EXISTS {schema} CASCADE"],
                       check=True, capture_output=True)
        url = kanri_harness.pg_schema_url(pg_server, schema)
        extra = ["--db", url]
        store = Store(pg_url=url)
    else:
        store = Store(sqlite_path=os.path.join(state, "kanri.db"))
    ks = [kanri_harness.Kanrid(args=extra, config=conf, state_dir=state + (f"-{i}" if i else ""),
                               ready=False) for i in range(instances)]
    k = ks[0]
    try:
        if instances > 1:
            k.wait_for(lambda: shared_evenly(k, instances, args.hosts), timeout=600,
                       interval=0.5, what="the hosts shared out evenly")
        for x in ks:
            x.wait_for(lambda: x.get("/readyz").status == 200, timeout=600,
                       what="every host loaded")
        # Agents for the VMs of the first hosts, enough that each stays
        # under the ingest rate limit (20/s).
        doc = json.loads(subprocess.run(
            [os.path.join(args.build, "src", "guest", "kanri-guestd"), "--once", "--root",
             os.path.join(ROOT, "tests", "data", "guest", "busy", "root")],
            check=True, capture_output=True, text=True).stdout)
        machines = {}
        if args.guest_rate > 0:
            want = max(1, args.guest_rate // 10)
            for v in k.get("/api/v1/vms").json["vms"][:want]:
                r = k.post("/api/v1/agents", {"machine": v["uuid"]})
                machines[v["uuid"]] = r.json["token"]
        pushers = []
        if machines:
            per = max(1, len(machines) // args.pushers)
            groups = [dict(list(machines.items())[i:i + per])
                      for i in range(0, len(machines), per)]
            pushers = [Pusher(k, g, args.guest_rate / len(groups), doc) for g in groups]
        # Two full rounds first, then the window.
        time.sleep(2 * args.interval)
        for p in pushers:
            p.start()
        asker = Asker(k)
        asker.start()
        time.sleep(args.interval)
        before, t0 = store.count(), time.monotonic()
        w0 = [store_write_seconds(x) for x in ks]
        accepted0 = sum(p.accepted for p in pushers)
        time.sleep(args.seconds)
        after, t1 = store.count(), time.monotonic()
        w1 = [store_write_seconds(x) for x in ks]
        accepted1 = sum(p.accepted for p in pushers)
        for th in pushers + [asker]:
            th.stop_flag.set()
        for th in pushers + [asker]:
            th.join(timeout=30)
        rates = [(a - b) / (t1 - t0) for a, b in zip(after, before)]
        busiest = max(b - a for a, b in zip(w0, w1))
        return {
            "backend": backend, "instances": instances,
            "host_rows": rates[0], "guest_rows": rates[1], "reconciled_rows": rates[2],
            "vm_samples": sum(rates),
            # What the rounds' writes could sustain: their rows over the
            # time spent writing them.
            # With several instances: over the busiest one's writing time.
            "capacity": (after[0] - before[0] + after[2] - before[2]) / max(busiest, 1e-9),
            "guest_pushed": (accepted1 - accepted0) / (t1 - t0),
            "refused": sum(p.refused for p in pushers),
            "round": statistics.median(round_seconds(x) for x in ks),
            "api_p50": percentile(asker.lat, 50), "api_p99": percentile(asker.lat, 99),
            "api_n": len(asker.lat),
        }
    finally:
        for x in ks:
            x.stop()


def raw_baseline(args, tmp, pg_server):
    cmd = [os.path.join(args.build, "bench", "scale", "bench-scale-raw"), "--rows",
           str(args.raw_rows), "--sqlite", os.path.join(tmp, "raw.db")]
    if pg_server:
        cmd += ["--pg", pg_server]
    p = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return {line.split("\t")[0]: float(line.split("\t")[3].split()[0])
            for line in p.stdout.splitlines()}


def feed(args, backend, tmp, pg_server, group):
    """bench-scale-feed: the engine's round path at full speed, GROUP
    rounds per transaction at most (0: kanrid's default)."""
    import kanri_harness
    if backend == "postgresql":
        schema = f"feed_{os.getpid()}_{group}"
        subprocess.run(["psql", pg_server, "-qXc", f"DROP SCHEMA IF EXISTS {schema} CASCADE"],
                       check=True, capture_output=True)
        target = kanri_harness.pg_schema_url(pg_server, schema)
        store = Store(pg_url=target)
    else:
        target = os.path.join(tmp, f"feed-{group}.db")
        store = Store(sqlite_path=target)
    p = subprocess.run([os.path.join(args.build, "bench", "scale", "bench-scale-feed"),
                        "--db", target, "--hosts", str(args.hosts), "--vms", str(args.vms),
                        "--seconds", str(args.feed_seconds), "--group", str(group)],
                       check=True, capture_output=True, text=True)
    f = dict((k, float(v)) for k, v in (x.split(" ") for x in p.stdout.strip().split("\t")))
    # Every round stores one row of each kind per VM: checked in the store.
    counts = store.count()
    want = int(f["all_rounds"]) * args.vms
    if counts != [want] * len(TABLES):
        raise SystemExit(f"bench-scale-feed: {counts} rows in {TABLES}, not {want} each")
    rows = f["rounds"] * args.vms * len(TABLES) / f["seconds"]
    return {"backend": backend, "group": group, "rounds": f["rounds"] / f["seconds"],
            "rows": rows, "per_group": f["rounds"] / max(f["groups"], 1),
            "busy": f["group_seconds"] / f["seconds"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.environ.get("KANRI_BUILD_DIR",
                                                      os.path.join(ROOT, "build")))
    ap.add_argument("--hosts", type=int, default=200)
    ap.add_argument("--vms", type=int, default=100, help="running VMs per host")
    ap.add_argument("--interval", type=int, default=10, help="collection interval, seconds")
    ap.add_argument("--seconds", type=int, default=60, help="the measured window")
    ap.add_argument("--guest-rate", type=int, default=1000, help="guest documents per second")
    ap.add_argument("--pushers", type=int, default=8,
                    help="processes pushing the guest documents")
    ap.add_argument("--raw-rows", type=int, default=200000)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--instances", default="1",
                    help="kanrid instances sharing the PostgreSQL store, e.g. 1,2,3")
    ap.add_argument("--parts", default="fleet,feed",
                    help="fleet (kanrid on test-driver hosts), feed (the round path at full "
                         "speed)")
    ap.add_argument("--feed-seconds", type=int, default=20)
    args = ap.parse_args()
    counts = [int(n) for n in args.instances.split(",") if n]
    os.environ["KANRI_BUILD_DIR"] = args.build
    backends = [b for b in args.backends.split(",") if b]
    with tempfile.TemporaryDirectory(prefix="kanri-bench-scale-") as tmp:
        os.chmod(tmp, 0o755)
        pg_server = None
        if "postgresql" in backends:
            pg_server = subprocess.run(["bash", os.path.join(ROOT, "tools", "pg-server.sh"),
                                        "start", os.path.join(tmp, "pg")], check=True,
                                       capture_output=True, text=True).stdout.strip()
        try:
            out(f"# {args.hosts} test-driver hosts x {args.vms} running VMs, every "
                f"{args.interval} s; {args.guest_rate} guest documents/s; window "
                f"{args.seconds} s")
            raw = raw_baseline(args, tmp, pg_server)
            parts = args.parts.split(",")
            fed = [feed(args, b, tmp, pg_server, g) for b in backends for g in (1, 0)
                   if "feed" in parts]
            rows = [measure(args, b, tmp, pg_server, n) for b in backends
                    for n in (counts if b == "postgresql" else [1]) if "fleet" in parts]
        finally:
            if pg_server:
                subprocess.run(["bash", os.path.join(ROOT, "tools", "pg-server.sh"), "wipe",
                                os.path.join(tmp, "pg")], capture_output=True)
    if fed:
        out()
        out(f"The round path at full speed (bench-scale-feed: {args.hosts} hosts x {args.vms}"
            f" VMs, no pause between rounds, {args.feed_seconds} s after two rounds each):")
        out()
        out("| store | rounds per transaction | rounds/s | VM-samples/s stored (host + guest +"
            " reconciled) | rounds per transaction, mean | writer busy | raw baseline rows/s |"
            " stored / raw |")
        out("|---|---|---|---|---|---|---|---|")
        for r in fed:
            base = raw.get(r["backend"], float("nan"))
            out(f"| {r['backend']} | {'1' if r['group'] == 1 else 'group commit'} | "
                f"{r['rounds']:.0f} | {r['rows']:.0f} | {r['per_group']:.1f} | "
                f"{r['busy'] * 100:.0f} % | {base:.0f} | {r['rows'] / base:.2f} |")
    if not rows:
        return
    out()
    out("| store | instances | VM-samples/s stored (host + guest + reconciled) | guest docs/s"
        " accepted | round (median) | GET /vms p50 / p99 | round writes' capacity, rows/s"
        " | raw baseline rows/s | capacity / raw |")
    out("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        base = raw.get(r["backend"], float("nan"))
        out(f"| {r['backend']} | {r['instances']} | {r['vm_samples']:.0f} ({r['host_rows']:.0f} + "
            f"{r['guest_rows']:.0f} + {r['reconciled_rows']:.0f}) | {r['guest_pushed']:.0f} "
            f"({r['refused']} refused) | {r['round'] * 1000:.0f} ms | "
            f"{r['api_p50'] * 1000:.1f} / {r['api_p99'] * 1000:.1f} ms ({r['api_n']} asked) | "
            f"{r['capacity']:.0f} | {base:.0f} | {r['capacity'] / base:.2f} |")


if __name__ == "__main__":
    main()
