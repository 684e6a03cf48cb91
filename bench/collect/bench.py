#!/usr/bin/env python3
"""bench/collect: what one collection round costs kanrid, per host and per
domain, on libvirt test-driver hosts of 1 to 10 000 domains and on the real
lab guests, with and without one guest frozen (SIGSTOP on its QEMU); and the
same connections collected by Debian's collectd (virt plugin) and
prometheus-libvirt-exporter, with the ratios.

Each test-driver size runs kanrid twice in this script: with the
reconciliation stage off ("collection only": rounds collected and stored)
and on (the whole pipeline), and prints the ratio of the two, so the cost
of the engine's stages is measured against a baseline taken on the same
machine in the same run.  Standard library only; loopback only.  Run
through bench/collect/run.sh."""
import argparse
import json
import os
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "tests", "lab"))

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def out(line=""):
    print(line, flush=True)


def prom_value(text, name, labels=""):
    m = re.search(re.escape(name) + r"\{[^}]*" + re.escape(labels) + r"[^}]*\} (\S+)", text)
    return float(m.group(1)) if m else None


class Run:
    """kanrid collecting one URI; measures rounds through its own API."""

    def __init__(self, build, uri, interval, host, reconcile=True):
        """RECONCILE None leaves the [reconcile] group out, for kanrid
        builds older than the switch (--modes full)."""
        os.environ["KANRI_BUILD_DIR"] = build
        import kanri_harness
        self.host = host
        self.interval = interval
        group = "" if reconcile is None else \
            f"[reconcile]\nenabled = {'yes' if reconcile else 'no'}\n"
        self.k = kanri_harness.Kanrid(
            args=["--connect", uri],
            config=f"[manager]\ncollect_interval = {interval}\nballoon_period = 0\n"
                   f"resync_interval = 3600\n{group}",
            ready=False)

    def wait_ready(self, timeout):
        """/readyz where kanrid has it; otherwise (an older build) every
        domain in the inventory."""
        if self.k.get("/readyz", token=None).status in (200, 503):
            return self.k.wait_ready(timeout=timeout)
        if not self.host.startswith("node"):
            return self.k.wait_connected([self.host], timeout=timeout)
        n = int(self.host[4:])
        return self.k.wait_for(lambda: self.k.hosts()[self.host]["domains_total"] >= n,
                               timeout=timeout, interval=1, what="inventory")

    def _db(self):
        """kanrid's own SQLite file, opened read-only: the rounds are read
        from the history kanrid writes anyway, so measuring costs kanrid
        nothing (polling its API would be counted as its CPU)."""
        if getattr(self, "db", None) is None:
            path = os.path.join(self.k.state_dir, "kanri.db")
            self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
            self.host_id = self.db.execute("SELECT id FROM hosts WHERE name = ?",
                                           (self.host,)).fetchone()[0]
        return self.db

    def rounds_after(self, t_us):
        """Rounds of this host that started after T_US (µs since the epoch),
        oldest first."""
        return self._db().execute(
            "SELECT t, round_us, domains_collected, domains_missed, domains_running, round_cut "
            "FROM node_samples WHERE host_id = ? AND t > ? ORDER BY t",
            (self.host_id, t_us)).fetchall()

    def last_round(self):
        row = self._db().execute("SELECT max(t) FROM node_samples WHERE host_id = ?",
                                 (self.host_id,)).fetchone()
        return row[0] or 0

    def wait_rounds(self, after_us, n, timeout):
        deadline = time.time() + timeout
        while True:
            rows = self.rounds_after(after_us)
            if len(rows) >= n or time.time() > deadline:
                return rows
            time.sleep(0.05)

    def measure(self, n_rounds, timeout, after_us=None):
        """kanrid's CPU over N_ROUNDS rounds: the window opens when a round
        is written and closes when the N_ROUNDS-th after it is.  AFTER_US
        (µs since the epoch): the first round to report is the first that
        started after it, and it is reported too (its CPU is not counted)."""
        m0 = self.k.get("/metrics").body
        first = self.wait_rounds(max(self.last_round(), after_us or 0), 1, timeout)
        if not first:
            raise RuntimeError(f"{self.host}: no round within {timeout} s")
        c0 = cpu_seconds(self.k.proc.pid)
        rows = self.wait_rounds(first[0][0], n_rounds, timeout)[:n_rounds]
        c1 = cpu_seconds(self.k.proc.pid)
        m1 = self.k.get("/metrics").body
        cpu_rounds = len(rows)
        if after_us is not None:
            rows = first[:1] + rows
        rounds = [r[1] / 1000 for r in rows if r[1] is not None]
        ws = (prom_value(m1, "kanri_store_write_seconds_sum") or 0) - \
             (prom_value(m0, "kanri_store_write_seconds_sum") or 0)
        wc = (prom_value(m1, "kanri_store_write_seconds_count") or 0) - \
             (prom_value(m0, "kanri_store_write_seconds_count") or 0)
        return {
            "rounds": len(rows),
            "round_ms_median": statistics.median(rounds) if rounds else None,
            "round_ms_max": max(rounds) if rounds else None,
            "collected": [r[2] for r in rows],
            "missed": [r[3] for r in rows],
            "running": rows[-1][4] if rows else None,
            "store_ms_per_round": 1000 * ws / wc if wc else None,
            "cpu_ms_per_round": 1000 * (c1 - c0) / max(cpu_rounds, 1),
            "cut": sum(r[5] or 0 for r in rows),
        }

    def stop(self):
        self.k.stop()


def fmt_result(label, n, r):
    per = r["round_ms_median"] * 1000 / n if r["round_ms_median"] is not None and n else None
    out(f"{label:<34} {n:>6} domains: round {r['round_ms_median']:.1f} ms median "
        f"(max {r['round_ms_max']:.1f}), {per:.1f} us/domain, "
        f"kanrid CPU {r['cpu_ms_per_round']:.1f} ms/round, store {r['store_ms_per_round'] or 0:.1f} ms/round, "
        f"collected {int(min(r['collected'] or [0]))}-{int(max(r['collected'] or [0]))}, "
        f"cut rounds {int(r['cut'])}" if per is not None else f"{label}: no rounds")


# ---- the other tools --------------------------------------------------------


def exporter_scrapes(uri, n, port=19177, timeout=120):
    """prometheus-libvirt-exporter: wall time of N scrapes (one scrape = one
    round of its libvirt calls)."""
    p = subprocess.Popen(["prometheus-libvirt-exporter", f"--web.listen-address=127.0.0.1:{port}",
                          f"--libvirt.uri={uri}"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        times, ok = [], 0
        c0 = cpu_seconds(p.pid)
        for _ in range(n):
            t0 = time.monotonic()
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics",
                                              timeout=timeout).read().decode()
                ok += 'libvirt_up 1' in body
            except OSError:
                pass
            times.append((time.monotonic() - t0) * 1000)
        cpu = (cpu_seconds(p.pid) - c0) * 1000 / n
        return {"scrape_ms_median": statistics.median(times), "scrape_ms_max": max(times),
                "ok": ok, "cpu_ms_per_scrape": cpu}
    finally:
        p.terminate()
        p.wait()


def collectd_run(uri, seconds, interval=2):
    """collectd with the virt plugin on URI for SECONDS: CPU per interval and
    how many values it wrote per domain (rounds it completed)."""
    d = tempfile.mkdtemp(prefix="kanri-collectd-")
    conf = os.path.join(d, "collectd.conf")
    with open(conf, "w") as f:
        f.write(f"""Interval {interval}
BaseDir "{d}"
PIDFile "{d}/collectd.pid"
PluginDir "/usr/lib/collectd"
LoadPlugin virt
LoadPlugin csv
<Plugin virt>
  Connection "{uri}"
  RefreshInterval 60
  HostnameFormat name
</Plugin>
<Plugin csv>
  DataDir "{d}/csv"
</Plugin>
""")
    p = subprocess.Popen(["collectd", "-f", "-C", conf], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        time.sleep(interval)  # let it start and read the domain list
        c0 = cpu_seconds(p.pid)
        time.sleep(seconds)
        c1 = cpu_seconds(p.pid)
    finally:
        p.terminate()
        p.wait()
    rows = {}
    for root, _, files in os.walk(os.path.join(d, "csv")):
        for fn in files:
            if fn.startswith("virt_cpu_total"):
                with open(os.path.join(root, fn)) as fh:
                    rows[root] = sum(1 for _ in fh) - 1
    subprocess.run(["rm", "-rf", d])
    return {"cpu_ms_per_interval": (c1 - c0) * 1000 / (seconds / interval),
            "rounds_seen_per_domain": statistics.median(rows.values()) if rows else 0,
            "domains": len(rows), "expected_rounds": seconds / interval}


# ---- main -------------------------------------------------------------------


def container_rows(a, sizes):
    """kanrid's round on a container host (liblxc) of N running busybox
    containers: one made by the template, the others copies of it (a
    template run takes seconds; a copy of its small root file system
    does not), all without network."""
    path = tempfile.mkdtemp(prefix="kanri-bench-lxc-", dir="/var/lib")
    lxc = lambda *args: subprocess.run([args[0], "-P", path, *args[1:]], check=True,  # noqa: E731
                                       capture_output=True, text=True, timeout=300)
    try:
        lxc("lxc-create", "-n", "c0", "-t", "busybox")
        cfg = os.path.join(path, "c0", "config")
        with open(cfg) as f:
            text = "".join(line for line in f if not line.startswith("lxc.net."))
        with open(cfg, "w") as f:
            f.write(text + "lxc.net.0.type = empty\n")
        made = 1
        for n in sizes:
            for i in range(made, n):
                name = f"c{i}"
                subprocess.run(["cp", "-a", os.path.join(path, "c0"), os.path.join(path, name)],
                               check=True)
                with open(os.path.join(path, name, "config"), "w") as f:
                    f.write(text.replace("/c0/", f"/{name}/").replace('"c0"', f'"{name}"') +
                            "lxc.net.0.type = empty\n")
            made = max(made, n)
            for i in range(n):
                if lxc("lxc-info", "-n", f"c{i}", "-s", "-H").stdout.strip() != "RUNNING":
                    lxc("lxc-start", "-n", f"c{i}")
            run = Run(a.build, "liblxc://" + path, 2, os.path.basename(path))
            try:
                run.wait_ready(300)
                run.wait_rounds(run.last_round(), 2, 120)
                r = run.measure(a.rounds, (a.rounds + 2) * 2 + 120)
                fmt_result("kanrid containers (liblxc, 2 s)", n, r)
            finally:
                run.stop()
    finally:
        for name in os.listdir(path):
            subprocess.run(["lxc-stop", "-P", path, "-n", name, "-k"], capture_output=True)
            subprocess.run(["lxc-destroy", "-P", path, "-n", name, "-f"], capture_output=True)
        subprocess.run(["rm", "-rf", path])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("KANRI_BUILD_DIR", os.path.join(ROOT, "build")))
    ap.add_argument("--sizes", default="1,100,1000,10000")
    ap.add_argument("--lab", type=int, default=3, help="real lab guests (0: skip)")
    ap.add_argument("--containers", default="1,50,200",
                    help="running busybox LXC containers per container-host run ('': skip)")
    ap.add_argument("--compare", type=int, default=1, help="run collectd and the exporter too")
    ap.add_argument("--rounds", type=int, default=6, help="rounds measured per run")
    ap.add_argument("--lab-rounds", type=int, default=15,
                    help="rounds measured per kanrid lab run (2 s each)")
    ap.add_argument("--lab-seconds", type=int, default=60,
                    help="seconds collectd is measured on the lab guests")
    ap.add_argument("--modes", choices=("both", "full"), default="both",
                    help="both: collection only and with reconciliation; full: one run with "
                         "kanrid's defaults (for builds without [reconcile] enabled)")
    a = ap.parse_args()
    import kanri_harness

    out(f"# bench/collect  {time.strftime('%Y-%m-%d %H:%M:%S')}  {os.cpu_count()} CPUs, "
        f"libvirt {subprocess.run(['virsh', '--version'], capture_output=True, text=True).stdout.strip()}")
    out("# kanrid rounds read from its own SQLite file (node_samples), never through its API,")
    out("# so measuring costs kanrid nothing; CPU from /proc over whole rounds")
    tmp = tempfile.mkdtemp(prefix="kanri-bench-")
    for n in [int(x) for x in a.sizes.split(",") if x]:
        node = os.path.join(tmp, f"node{n}.xml")
        with open(node, "w") as f:
            f.write(kanri_harness.node_xml(f"b{n}", n_running=n, n_shutoff=0, memory_kib=65536))
        interval = 2 if n <= 1000 else 10
        cpu = {}
        modes = (("collection only", False), ("with reconciliation", True)) \
            if a.modes == "both" else (("full pipeline", None),)
        for mode, rec in modes:
            run = Run(a.build, "test://" + node, interval, f"node{n}", reconcile=rec)
            try:
                # Measure once the inventory is in (the sync has its own
                # thread, sharing the two CPUs): readiness says so.
                run.wait_ready(1800)
                run.wait_rounds(run.last_round(), 2, 120)
                r = run.measure(a.rounds, (a.rounds + 2) * interval + 120)
                fmt_result(f"kanrid {mode} ({interval} s)", n, r)
                cpu[mode] = r["cpu_ms_per_round"]
            finally:
                run.stop()
        if a.modes == "both":
            base = cpu["collection only"]
            out(f"{'':<34} {n:>6} domains: reconciliation costs "
                f"{cpu['with reconciliation'] / max(base, 0.01):.2f}x the collection-only CPU "
                f"({cpu['with reconciliation']:.1f} vs {base:.1f} ms/round)")
        if a.compare and n in (100, 1000):
            e = exporter_scrapes("test://" + node, 4)
            out(f"{'prometheus-libvirt-exporter':<34} {n:>6} domains: scrape {e['scrape_ms_median']:.1f} ms "
                f"median, CPU {e['cpu_ms_per_scrape']:.1f} ms/scrape; ratio to kanrid round "
                f"{e['scrape_ms_median'] / r['round_ms_median']:.1f}x wall, "
                f"{e['cpu_ms_per_scrape'] / max(r['cpu_ms_per_round'], 0.01):.1f}x CPU")
            c = collectd_run("test://" + node, 10)
            out(f"{'collectd virt plugin':<34} {n:>6} domains: CPU {c['cpu_ms_per_interval']:.1f} ms/interval, "
                f"{c['domains']} domains, {c['rounds_seen_per_domain']} of {c['expected_rounds']:.0f} "
                f"rounds per domain; ratio to kanrid {c['cpu_ms_per_interval'] / max(r['cpu_ms_per_round'], 0.01):.1f}x CPU")

    if a.containers:
        container_rows(a, [int(x) for x in a.containers.split(",")])

    if a.lab:
        import labvm
        prefix = f"kanri-lab-bench-{os.getpid()}-"
        names = [f"{prefix}{i}" for i in range(a.lab)]
        try:
            for nm in names:
                labvm.define_guest(nm, memory_mib=192, vcpus=1)
                labvm.start(nm)
            for nm in names:
                labvm.wait_agent(nm, timeout=240)
            total = len(labvm.list_domains(prefix=""))
            run = Run(a.build, "qemu:///system", 2, "local",
                      reconcile=None if a.modes == "full" else True)
            try:
                run.wait_ready(120)
                run.wait_rounds(run.last_round(), 2, 60)
                r = run.measure(a.lab_rounds, 2 * a.lab_rounds + 60)
                n_run = int(r["running"] or a.lab)
                fmt_result("kanrid lab (qemu:///system, 2 s)", n_run, r)
                if a.compare:
                    e = exporter_scrapes("qemu:///system", 5)
                    out(f"{'prometheus-libvirt-exporter lab':<34} {n_run:>6} domains: scrape "
                        f"{e['scrape_ms_median']:.1f} ms median; ratio to kanrid round "
                        f"{e['scrape_ms_median'] / r['round_ms_median']:.1f}x wall, "
                        f"{e['cpu_ms_per_scrape'] / max(r['cpu_ms_per_round'], 0.01):.1f}x CPU")
                    c = collectd_run("qemu:///system", a.lab_seconds)
                    out(f"{'collectd virt plugin lab':<34} {n_run:>6} domains: CPU "
                        f"{c['cpu_ms_per_interval']:.1f} ms/interval, {c['rounds_seen_per_domain']} of "
                        f"{c['expected_rounds']:.0f} rounds per domain; ratio to kanrid "
                        f"{c['cpu_ms_per_interval'] / max(r['cpu_ms_per_round'], 0.01):.1f}x CPU")
                # One guest frozen: SIGSTOP on its QEMU.
                with open(f"/run/libvirt/qemu/{names[0]}.pid") as f:
                    qpid = int(f.read().strip())
                frozen_us = time.time_ns() // 1000
                os.kill(qpid, signal.SIGSTOP)
                try:
                    r2 = run.measure(5, 70, after_us=frozen_us)
                    fmt_result("kanrid lab, one QEMU frozen", n_run, r2)
                    out(f"{'':<34} missed per round: {[int(x) for x in r2['missed']]} "
                        f"(the frozen guest only: {all(int(x) == 1 for x in r2['missed'])})")
                    if a.compare:
                        e2 = exporter_scrapes("qemu:///system", 2, timeout=90)
                        out(f"{'exporter, one QEMU frozen':<34} {n_run:>6} domains: scrape "
                            f"{e2['scrape_ms_median']:.0f} ms median (max {e2['scrape_ms_max']:.0f}), "
                            f"{e2['ok']} of 2 scrapes complete")
                        c2 = collectd_run("qemu:///system", 20)
                        out(f"{'collectd, one QEMU frozen':<34} {n_run:>6} domains: "
                            f"{c2['rounds_seen_per_domain']} of {c2['expected_rounds']:.0f} rounds per domain "
                            f"({c2['domains']} domains wrote values)")
                finally:
                    os.kill(qpid, signal.SIGCONT)
            finally:
                run.stop()
        finally:
            labvm.cleanup_all(prefix=prefix)
    subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
