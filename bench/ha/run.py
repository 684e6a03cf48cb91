#!/usr/bin/env python3
"""bench/ha: failure trials on the HA lab (docs/ha.md, docs/lab.md).

Two namespaced libvirt hosts with virtlockd (tests/lab/second-host.sh), one
HA guest on a disk in a shared directory, one kanrid watching both.  Each
trial fails the host the guest runs on — crash (everything of it killed),
partition (its libvirtd killed, its probe failing, its QEMU still running),
or hang (its libvirtd and QEMU stopped) — in turn, and records:

  detection  failure -> kanri declares the host dead (HA state fencing)
  fence      fencing -> fenced (the lab's fence agent ran off and status)
  restart    fenced  -> the guest running on the other host (kanri's inventory)
  copies     the most QEMU processes of the guest that ever ran guest code at
             once, sampled every 20 ms on the whole machine (must be 1)

then brings the failed host back (kanri cleans its stale definition) and
fails the other one next.  Prints every trial and the distribution per kind.

Usage (root, after tests/lab/setup-host.sh and build-guest.sh):
  KANRI_BUILD_DIR=build bench/ha/run.py [--trials 50] [--detect-after 3]
      [--keepalive 1] [--keepalive-count 3]
Exits 1 if two copies ever ran, or a trial did not recover."""
import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
sys.path.insert(0, os.path.join(TOP, "tests", "lab"))
import halab  # noqa: E402
import kanri_harness  # noqa: E402
import labvm  # noqa: E402

NAME = halab.PREFIX + "bench"
KINDS = ("crash", "partition", "hang")


def conf(hosts, args):
    c = ("[manager]\ncollect_interval = 2\n"
         f"[ha]\ndetect_after = {args.detect_after}s\nvm.{NAME} = on\n")
    for h in hosts:
        c += (f"[hypervisor:{h.name}]\nuri = {h.uri}\n"
              f"keepalive_interval = {args.keepalive}\nkeepalive_count = {args.keepalive_count}\n"
              "reconnect_max = 2\nfence_timeout = 20\n" + "\n".join(h.conf_lines()) + "\n")
    return c


def ha_state(k, host):
    return {h["host"]: h for h in k.get("/api/v1/ha").json["hosts"]}[host]["state"]


def running_on(k, host):
    return k.vms(host).get(NAME, {}).get("state") == "running"


def wait(pred, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.05)
    raise TimeoutError(what)


def trial(k, src, dst, kind, uuid):
    at = {}
    with halab.CopyWatcher(uuid) as w:
        t0 = time.monotonic()
        halab.inject(src, kind)

        def poll():
            now = time.monotonic() - t0
            at.setdefault(ha_state(k, src.name), now)
            if running_on(k, dst.name):
                at.setdefault("running", now)
            return "running" in at and "fenced" in at

        wait(poll, 120, f"{kind} of {src.name}: recovery (seen {at})")
        halab.heal(src)
        wait(lambda: ha_state(k, src.name) == "up", 120, f"{src.name} rejoined")
    det = at.get("fencing")
    return {"kind": kind, "from": src.name, "detection": det,
            "fence": at["fenced"] - det if det is not None else None,
            "restart": at["running"] - at["fenced"],
            "copies": w.max_started, "processes": w.max_copies}


def dist(values):
    v = sorted(x for x in values if x is not None)
    if not v:
        return "-"
    p90 = v[min(len(v) - 1, int(round(0.9 * (len(v) - 1))))]
    return (f"min {v[0]:5.2f}  median {statistics.median(v):5.2f}  p90 {p90:5.2f}  "
            f"max {v[-1]:5.2f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--detect-after", type=int, default=3)
    ap.add_argument("--keepalive", type=int, default=1)
    ap.add_argument("--keepalive-count", type=int, default=3)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/ha: needs root (the lab's namespaced libvirt hosts)")
    hosts = halab.start_hosts(2, lockd=True)
    k = None
    failures = 0
    try:
        disk = halab.make_shared_disk(halab.PREFIX + "bench.raw")
        uuid = halab.define_guest(hosts[0], NAME, disk=disk, memory_mib=256)
        halab.start_guest(hosts[0], NAME)
        k = kanri_harness.Kanrid(config=conf(hosts, args))
        k.wait_connected([h.name for h in hosts])
        wait(lambda: running_on(k, hosts[0].name), 60, "the guest in kanri's inventory")
        results = []
        src, dst = hosts
        print(f"{'trial':>5} {'kind':10} {'from':4} {'detect s':>9} {'fence s':>8} "
              f"{'restart s':>9} {'copies':>6}")
        for i in range(args.trials):
            kind = KINDS[i % len(KINDS)]
            try:
                r = trial(k, src, dst, kind, uuid)
            except TimeoutError as e:
                failures += 1
                print(f"{i + 1:5} {kind:10} {src.name:4} did not recover: {e}")
                break
            results.append(r)
            print(f"{i + 1:5} {kind:10} {src.name:4} {r['detection']:9.2f} {r['fence']:8.2f} "
                  f"{r['restart']:9.2f} {r['copies']:6}", flush=True)
            src, dst = dst, src
        print()
        for kind in KINDS + ("all",):
            rs = [r for r in results if kind in ("all", r["kind"])]
            if not rs:
                continue
            print(f"{kind} ({len(rs)} trials)")
            for key in ("detection", "fence", "restart"):
                print(f"  {key:9} {dist(r[key] for r in rs)}")
        two = sum(1 for r in results if r["copies"] > 1)
        print(f"\ntrials where two copies of the guest ran at once: {two} of {len(results)}"
              f" (a QEMU refused by the disk lock never runs guest code; at most "
              f"{max((r['processes'] for r in results), default=0)} QEMU processes were seen "
              "at once)")
        failures += two
    finally:
        if k:
            k.stop()
        halab.cleanup(hosts=hosts)
        halab.stop_hosts(hosts)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
