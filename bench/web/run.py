#!/usr/bin/env python3
"""The dashboard's speed in a real browser (Debian's Chromium, Playwright):
the fleet page with 1 000 VMs (4 test-driver hosts of 250) and one VM's
90-day chart over 90 days of history (one reconciled row a minute, 129 600
rows written into the store before kanrid starts, then downsampled by
kanrid into its 5-minute and hourly tiers as it would have been).

Prints each figure beside its baseline, the API request the page makes
fetched alone in the same browser, and the ratio.  Goals (issue 9): the
fleet page under 1 s, the 90-day chart under 300 ms.

usage: KANRI_BUILD_DIR=build bench/web/run.py [HOSTS [VMS_PER_HOST]]
"""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))
from kanri_harness import Kanrid, node_xml  # noqa: E402

HOSTS = int(sys.argv[1]) if len(sys.argv) > 1 else 4
PER = int(sys.argv[2]) if len(sys.argv) > 2 else 250
DAYS = 90
STEP = 60


def seed_history(db, uuid, host_id, now):
    """90 days of reconciled rows (R, H and G) for one VM, a daily wave."""
    import math
    con = sqlite3.connect(db)
    cols = [r[1] for r in con.execute("PRAGMA table_info(reconciled_samples)")]
    names = [c for c in cols if c not in ("host_id", "uuid", "t")]
    rows = []
    t0 = now - DAYS * 86400
    for i in range(DAYS * 86400 // STEP):
        t = t0 + i * STEP
        wave = 0.5 + 0.4 * math.sin(2 * math.pi * t / 86400)
        vals = []
        for c in names:
            scale = 100000 if c.startswith("cpu") else 1 << 30  # milli-percent, bytes
            side = 1.1 if c.endswith("_h") else 0.9 if c.endswith("_g") else 1.0
            vals.append(int(scale * wave * side))
        rows.append((host_id, uuid, t * 1000000, *vals))
    ph = ",".join("?" * (3 + len(names)))
    con.executemany(f"INSERT OR REPLACE INTO reconciled_samples(host_id, uuid, t, {', '.join(names)})"
                    f" VALUES ({ph})", rows)
    # The first kanrid may have downsampled past these times already: it
    # starts the reconciled view's tiers over, as after a restore.
    con.execute("DELETE FROM samples_progress WHERE kind = 'vm-reconciled'")
    con.commit()
    con.close()
    return len(rows)


def main():
    tmp = tempfile.mkdtemp(prefix="kanri-bench-web-")
    state = os.path.join(tmp, "state")
    conf = "[manager]\ncollect_interval = 5\n"
    for h in range(HOSTS):
        path = os.path.join(tmp, f"h{h}.xml")
        with open(path, "w") as f:
            f.write(node_xml(f"h{h}", n_running=PER, n_shutoff=0))
        conf += f"[hypervisor:h{h}]\nuri = test://{path}\n"
    # First start: the schema and the inventory; then the history goes in.
    k = Kanrid(state_dir=state, config=conf)
    vm = k.vms("h0")["h0-vm0"]
    host_id = vm["host_id"]
    k.stop()
    n = seed_history(os.path.join(state, "kanri.db"), vm["uuid"], host_id, int(time.time()) - 600)
    print(f"seeded {n} reconciled rows over {DAYS} days for {vm['name']}", file=sys.stderr)
    k = Kanrid(state_dir=state, config=conf)
    try:
        def tiers_done():
            r = k.get(f"/api/v1/vms/{vm['uuid']}/metrics?view=reconciled&metric=cpu_demand&from=90d")
            pts = r.json["sources"][0]["series"][0]["points"] if r.status == 200 else []
            return len(pts) > 1000 and pts
        k.wait_for(tiers_done, timeout=300, interval=2, what="90 days downsampled")
        k.wait_for(lambda: len(k.get("/api/v1/fleet").json["vms"]) == HOSTS * PER, what="every VM")
        env = dict(os.environ, KANRI_URL=k.url, KANRI_TOKEN=k.token,
                   KANRI_ARGS=json.dumps({"n_vms": HOSTS * PER, "vm_uuid": vm["uuid"]}))
        out = subprocess.run(["node", os.path.join(HERE, "bench.mjs")], env=env, check=True,
                             capture_output=True, text=True, timeout=900).stdout
        res = json.loads(out.strip().splitlines()[-1])
    finally:
        k.stop()
    print(f"fleet page, {res['vms']} VMs: {res['fleet_ms']:.0f} ms "
          f"(GET /fleet alone {res['fleet_api_ms']:.0f} ms, ratio {res['fleet_ms'] / res['fleet_api_ms']:.1f}x; goal < 1000 ms)")
    print(f"VM 90-day charts (H, G, R; {res['charts_on_screen']} of 11 on the screen): {res['chart_90d_ms']:.0f} ms click to drawn, "
          f"{res['chart_90d_fetch_ms']:.0f} ms its two requests, {res['chart_90d_draw_ms']:.0f} ms drawing (the history request alone {res['chart_90d_api_ms']:.0f} ms, "
          f"ratio {res['chart_90d_ms'] / res['chart_90d_api_ms']:.1f}x; goal < 300 ms); points per series {res['chart_points_h_g_r']}")
    print(json.dumps(res))


if __name__ == "__main__":
    main()
