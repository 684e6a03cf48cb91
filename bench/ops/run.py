#!/usr/bin/env python3
"""An event storm through the operations record: HOSTS test-driver hosts of
VMS VMs each (200 x 100 by default), every host lost at once, then restored.

The hosts are libvirt test-driver files served by the local libvirtd
(test+unix:///FILE) through a unix-socket proxy this script runs: cutting
the proxy drops every host's connection at the same moment, as a network
partition would; reopening it lets them reconnect.  A webhook receiver on
loopback records when notifications arrive.

Prints: events recorded and events/s through correlation, the time from the
outage to the first notification, incidents opened (one per host is right:
200, not 20 000), and kanrid's CPU time and peak memory.

usage: KANRI_BUILD_DIR=build bench/ops/run.py [HOSTS [VMS]]   (libvirtd must run)
"""
import http.server
import json
import os
import selectors
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "tests", "integration"))
from kanri_harness import Kanrid, node_xml  # noqa: E402

HOSTS = int(sys.argv[1]) if len(sys.argv) > 1 else 200
VMS = int(sys.argv[2]) if len(sys.argv) > 2 else 100
LIBVIRT_SOCK = "/var/run/libvirt/libvirt-sock"


class Proxy:
    """Forwards unix connections to libvirtd; cut() drops them all and
    refuses new ones until restore()."""

    def __init__(self, path):
        self.path = path
        self.open = True
        self.lock = threading.Lock()
        self.pairs = []
        self.sel = selectors.DefaultSelector()
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(path)
        self.listener.listen(1024)
        self.listener.setblocking(False)
        self.sel.register(self.listener, selectors.EVENT_READ, None)
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while True:
            for key, _ in self.sel.select(timeout=0.2):
                if key.data is None:
                    try:
                        c, _ = self.listener.accept()
                    except BlockingIOError:
                        continue
                    with self.lock:
                        if not self.open:
                            c.close()
                            continue
                    u = socket.socket(socket.AF_UNIX)
                    try:
                        u.connect(LIBVIRT_SOCK)
                    except OSError:
                        c.close()
                        continue
                    c.setblocking(False)
                    u.setblocking(False)
                    with self.lock:
                        self.pairs.append((c, u))
                    self.sel.register(c, selectors.EVENT_READ, u)
                    self.sel.register(u, selectors.EVENT_READ, c)
                    continue
                src, dst = key.fileobj, key.data
                try:
                    data = src.recv(1 << 16)
                except OSError:
                    data = b""
                if data:
                    try:
                        dst.setblocking(True)
                        dst.sendall(data)
                        dst.setblocking(False)
                    except OSError:
                        data = b""
                if not data:
                    self.drop(src, dst)

    def drop(self, a, b):
        for s in (a, b):
            try:
                self.sel.unregister(s)
            except (KeyError, ValueError):
                pass
            s.close()

    def cut(self):
        with self.lock:
            self.open = False
            pairs, self.pairs = self.pairs, []
        for c, u in pairs:
            # shutdown, not close: the selector thread closes them
            for s in (c, u):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def restore(self):
        with self.lock:
            self.open = True


class Receiver:
    def __init__(self):
        self.times = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(n))
                outer.times.append((time.monotonic(), body["transition"], body["key"]))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def proc_stats(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    rss = hwm = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) * 1024
    return cpu, rss, hwm


def metric(k, name):
    text = k.get("/metrics").body
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name):
            total += float(line.rsplit(" ", 1)[1])
    return total


def count_incidents(k, state):
    n, cursor = 0, None
    while True:
        q = f"/api/v1/incidents?state={state}&condition=host-unreachable&limit=1000"
        r = k.get(q + (f"&cursor={cursor}" if cursor else "")).json
        n += len(r["incidents"])
        cursor = r.get("next_cursor")
        if not cursor:
            return n


def wait(pred, timeout, what):
    print(f"... waiting for {what}", file=sys.stderr, flush=True)
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


def main():
    tmp = tempfile.mkdtemp(prefix="kanri-bench-ops-")
    proxy = Proxy(os.path.join(tmp, "proxy.sock"))
    rcv = Receiver()
    conf = ["[manager]\ncollect_interval = 30\ncollect_connections = 1\nresync_interval = 3600\n"
            "[reconcile]\nenabled = no\n",
            f"[route:hook]\ntype = webhook\nurl = {rcv.url}\nmin_severity = critical\n"]
    for i in range(HOSTS):
        path = os.path.join(tmp, f"h{i}.xml")
        with open(path, "w") as f:
            f.write(node_xml(f"h{i}", n_running=VMS, n_shutoff=0, memory_kib=65536, vcpus=1))
        conf.append(f"[hypervisor:h{i}]\nuri = test+unix://{path}?socket={proxy.path}\n"
                    "keepalive_interval = 1\nkeepalive_count = 2\nreconnect_min = 1\n"
                    "reconnect_max = 2\n")
    k = Kanrid(config="".join(conf), ready=False)
    try:
        k.wait_ready(timeout=600)
        wait(lambda: len(k.get("/api/v1/vms?limit=1000").json["vms"]) >= min(1000, HOSTS * VMS),
             300, "inventory")
        hosts = k.hosts()
        assert len(hosts) == HOSTS and all(h["state"] == "connected" for h in hosts.values()), \
            {n: h["state"] for n, h in hosts.items() if h["state"] != "connected"}
        pid = k.proc.pid
        ev0 = metric(k, "kanri_events_total")
        cpu0, rss0, _ = proc_stats(pid)

        # ---- every host lost at once ----
        t0 = time.monotonic()
        proxy.cut()
        want = HOSTS * (VMS + 1)
        wait(lambda: metric(k, "kanri_events_total") - ev0 >= want, 600, "the storm's events")
        t_events = time.monotonic() - t0
        wait(lambda: count_incidents(k, "open") >= HOSTS, 600, "one incident per host")
        t_incidents = time.monotonic() - t0
        wait(lambda: rcv.times, 600, "the first notification")
        first = rcv.times[0][0] - t0
        cpu1, rss1, _ = proc_stats(pid)
        ev1 = metric(k, "kanri_events_total")
        opened = metric(k, "kanri_incidents_open")

        # ---- and restored ----
        t1 = time.monotonic()
        proxy.restore()
        wait(lambda: count_incidents(k, "open") == 0, 900, "every host back")
        t_back = time.monotonic() - t1
        wait(lambda: len(rcv.times) >= 2 * HOSTS, 300, "the resolutions notified")
        cpu2, rss2, hwm = proc_stats(pid)
        ev2 = metric(k, "kanri_events_total")

        storm = ev1 - ev0
        print(f"fleet: {HOSTS} hosts x {VMS} VMs; each loss is 1 host event + {VMS} VM events")
        print(f"outage: {storm:.0f} events recorded in {t_events:.2f} s from the cut "
              f"({storm / t_events:.0f} events/s, detection included)")
        print(f"outage: {count_incidents(k, 'all')} host-unreachable incidents after "
              f"{t_incidents:.2f} s; open incidents of any kind: {opened:.0f} "
              f"(not {HOSTS * VMS})")
        print(f"outage: first notification {first * 1000:.0f} ms after the cut; "
              f"{sum(1 for _, t, _ in rcv.times if t == 'opened')} 'opened' delivered")
        print(f"restore: {ev2 - ev1:.0f} events, every incident resolved {t_back:.2f} s after "
              f"the proxy reopened; {sum(1 for _, t, _ in rcv.times if t == 'resolved')} "
              "'resolved' delivered")
        keys = [key for _, _, key in rcv.times]
        print(f"deliveries: {len(keys)}, distinct keys {len(set(keys))}")
        print(f"kanrid CPU: {cpu1 - cpu0:.2f} s during the outage, {cpu2 - cpu1:.2f} s during "
              f"the restore; RSS {rss0 / 1048576:.0f} MiB before, {rss1 / 1048576:.0f} MiB "
              f"after the outage, peak {hwm / 1048576:.0f} MiB")
    finally:
        k.stop()


if __name__ == "__main__":
    main()
