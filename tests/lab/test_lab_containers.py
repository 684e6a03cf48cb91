"""Real LXC system containers (liblxc, the busybox template, no network)
managed by kanrid's container driver on an LXC path of the test's own:
created, started, limited, frozen, thawed, stopped and removed through
kanri; a stop behind kanri's back and a hand edit of the configuration are
external changes; kanri-guestd inside a container limited to 128 MiB sees
the host's memory, and kanri says so (container-sees-host-memory, R = the
limit); a busy container under a CPU quota is found throttled."""
import os
import shutil
import socket
import subprocess

import pytest

from kanri_harness import BUILD

HOST = "cts"
INTERVAL = 2
GUESTD = os.path.join(BUILD, "src", "guest", "kanri-guestd")
MIB = 1024 * 1024


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lxc(*args, check=True, path):
    return subprocess.run([args[0], "-P", path, *args[1:]], capture_output=True, text=True,
                          timeout=120, check=check)


def host_network():
    """The machine's own addresses and routes (veths of containers aside)."""
    addrs = subprocess.run(["ip", "-o", "addr", "show"], capture_output=True, text=True).stdout
    routes = subprocess.run(["ip", "route", "show"], capture_output=True, text=True).stdout
    # Interface, family and address only: lifetimes count down.
    seen = [" ".join(line.split()[1:4]) for line in addrs.splitlines()]
    return sorted(line for line in seen + routes.splitlines() if "veth" not in line)


@pytest.fixture
def lxcpath():
    if not shutil.which("lxc-start"):
        pytest.fail("lxc is not installed (make test-deps installs it)")
    path = f"/var/lib/kanri-lab/lxc-{os.getpid()}"
    os.makedirs(path, exist_ok=True)
    before = host_network()
    yield path
    for name in os.listdir(path):
        if os.path.isfile(os.path.join(path, name, "config")):
            lxc("lxc-stop", "-n", name, "-k", path=path, check=False)
            lxc("lxc-destroy", "-n", name, "-f", path=path, check=False)
    shutil.rmtree(path, ignore_errors=True)
    # A container sharing the machine's network must not have changed it
    # (the busybox template's udhcpc flushes eth0's addresses: see below).
    assert host_network() == before


def start_kanrid(kanrid_factory, path, tls=False):
    port = free_port()
    conf = (f"[manager]\ncollect_interval = {INTERVAL}\n" + ("tls = on\n" if tls else "") +
            f"[hypervisor:{HOST}]\ndriver = lxc\nuri = liblxc://{path}\n")
    k = kanrid_factory(args=["--listen", f"127.0.0.1:{port}"], config=conf)
    k.wait_connected([HOST])
    return k


def create(k, name, **spec):
    r = k.post("/api/v1/containers", {"host": HOST, "name": name, **spec})
    assert r.status == 201, r
    return k.wait_for(lambda: k.vms(HOST).get(name), what=f"{name} in the inventory")


def act(k, name, action, body=None, status=200):
    r = k.post(f"/api/v1/vms/{HOST}:{name}/actions/{action}", body or {})
    assert r.status == status, r
    return r


def state(k, name):
    return k.vms(HOST).get(name, {}).get("state")


def changes(k, uuid):
    return k.get(f"/api/v1/changes?vm={uuid}&limit=50").json["changes"]


def test_lifecycle_limits_and_external_changes(kanrid_factory, lxcpath):
    k = start_kanrid(kanrid_factory, lxcpath)
    vm = create(k, "c1", memory_bytes=128 * MIB)
    assert vm["domain_type"] == "lxc" and vm["kind"] == "container", vm
    assert vm["state"] == "shutoff", vm
    assert [v["name"] for v in k.get("/api/v1/vms?kind=container").json["vms"]] == ["c1"]
    assert vm["max_memory_bytes"] == 128 * MIB, vm
    with open(os.path.join(lxcpath, "c1", "config")) as f:
        text = f.read()
    # kanri's identity line, and no network (the default bridge is absent).
    assert f"lxc.environment = KANRI_CONTAINER_UUID={vm['uuid']}" in text, text
    assert "lxc.net.0.type = empty" in text, text

    act(k, "c1", "start")
    assert state(k, "c1") == "running"
    assert lxc("lxc-info", "-n", "c1", "-s", "-H", path=lxcpath).stdout.strip() == "RUNNING"
    cg = "/sys/fs/cgroup/memory/lxc.payload.c1/memory.limit_in_bytes"
    if os.path.exists(cg):  # this machine's hybrid layout
        with open(cg) as f:
            assert int(f.read()) == 128 * MIB

    act(k, "c1", "suspend")
    assert state(k, "c1") == "paused"
    assert lxc("lxc-info", "-n", "c1", "-s", "-H", path=lxcpath).stdout.strip() == "FROZEN"
    act(k, "c1", "resume")
    assert state(k, "c1") == "running"

    # Limits, live and in the configuration, as a change caused by the action.
    r = act(k, "c1", "set-limits", {"memory_bytes": 256 * MIB, "pids": 100})
    audit = r.json["audit_id"]
    if os.path.exists(cg):
        with open(cg) as f:
            assert int(f.read()) == 256 * MIB
    ch = changes(k, vm["uuid"])[0]
    assert ch["cause"] == "action" and ch["audit_id"] == audit, ch
    assert "+lxc.cgroup.memory.limit_in_bytes = 268435456" in ch["diff"] or \
        "+lxc.cgroup2.memory.max = 268435456" in ch["diff"], ch["diff"]
    assert k.vms(HOST)["c1"]["max_memory_bytes"] == 256 * MIB
    # A VM-only action is refused in words.
    r = act(k, "c1", "setvcpus", {"vcpus": 2}, status=501)
    assert "containers have no setvcpus action" in r.body, r

    # Killed behind kanri's back: an external stop, an incident.
    lxc("lxc-stop", "-n", "c1", "-k", path=lxcpath)
    k.wait_for(lambda: state(k, "c1") == "shutoff", timeout=10, what="external stop seen")
    ev = k.wait_for(lambda: [e for e in k.get("/api/v1/events?limit=50").json["events"]
                             if e["item_name"] == "c1" and e["kind"] == "vm.stopped"],
                    what="vm.stopped event")[0]
    assert "not by kanri" in ev["message"], ev

    # Edited by hand: an external change of the configuration.
    with open(os.path.join(lxcpath, "c1", "config"), "a") as f:
        f.write("lxc.start.auto = 1\n")
    ch = k.wait_for(lambda: [c for c in changes(k, vm["uuid"])
                             if "+lxc.start.auto = 1" in c["diff"]],
                    timeout=10, what="hand edit recorded")[0]
    assert ch["cause"] == "external" and not ch.get("audit_id"), ch
    k.wait_for(lambda: k.vms(HOST)["c1"]["autostart"], what="autostart seen")

    # Started, frozen and shut down through kanri: a frozen container is
    # thawed to take the halt signal, not killed after the timeout.
    act(k, "c1", "start")
    act(k, "c1", "suspend")
    r = act(k, "c1", "shutdown", {"timeout": 30, "force": True})
    assert not r.json.get("forced"), r
    assert state(k, "c1") == "shutoff"

    # Snapshots where liblxc has them (a stopped, directory-backed one).
    r = act(k, "c1", "snapshot-create")
    assert r.json.get("snapshot") == "snap0", r
    snaps = k.get(f"/api/v1/vms/{vm['uuid']}/snapshots").json["snapshots"]
    assert [x["name"] for x in snaps] == ["snap0"], snaps
    act(k, "c1", "snapshot-revert", {"name": "snap0"})
    act(k, "c1", "snapshot-delete", {"name": "snap0"})
    assert k.get(f"/api/v1/vms/{vm['uuid']}/snapshots").json["snapshots"] == []
    act(k, "c1", "snapshot-delete", {"name": "snap0"}, status=404)

    act(k, "c1", "undefine")
    assert "c1" not in k.vms(HOST)
    assert not os.path.exists(os.path.join(lxcpath, "c1"))
    audit = k.get(f"/api/v1/audit?limit=50").json
    audit = audit.get("audit", audit.get("entries", []))
    done = [a["action"] for a in audit if a.get("target") == "c1"]
    for a in ("create", "start", "suspend", "resume", "set-limits", "shutdown", "undefine"):
        assert a in done, (a, done)


def test_guestd_inside_sees_the_hosts_memory(kanrid_factory, lxcpath):
    assert os.path.exists(GUESTD), GUESTD
    k = start_kanrid(kanrid_factory, lxcpath, tls=True)
    pin = k.get("/api/v1/server").json["tls"]["pin"]
    vm = create(k, "g1", memory_bytes=128 * MIB)
    # The container shares the host's network here so that kanri-guestd
    # reaches kanrid's loopback port (an external change, recorded as such).
    # The busybox template's start-up script runs udhcpc, whose "deconfig"
    # flushes the addresses of the interface it is given: in the machine's
    # own network namespace that would be the machine's eth0, so it goes.
    cfg = os.path.join(lxcpath, "g1", "config")
    with open(cfg) as f:
        text = f.read().replace("lxc.net.0.type = empty", "lxc.net.0.type = none")
    with open(cfg, "w") as f:
        f.write(text)
    rcs = os.path.join(lxcpath, "g1", "rootfs", "etc", "init.d", "rcS")
    with open(rcs) as f:
        script = f.read()
    assert "/bin/udhcpc" in script, script
    with open(rcs, "w") as f:
        f.write(script.replace("/bin/udhcpc", ": no DHCP client in the machine's network"))
    r = k.post("/api/v1/agents", {"machine": vm["uuid"]})
    assert r.status == 201, r
    rootfs = os.path.join(lxcpath, "g1", "rootfs")
    shutil.copy(GUESTD, os.path.join(rootfs, "bin", "kanri-guestd"))
    with open(os.path.join(rootfs, "etc", "kanri-guestd.token"), "w") as f:
        f.write(r.json["token"] + "\n")
    act(k, "g1", "start")
    log = open(os.path.join(lxcpath, "guestd.log"), "w+")
    agent = subprocess.Popen(
        ["lxc-attach", "-P", lxcpath, "-n", "g1", "--", "/bin/kanri-guestd",
         "--url", f"https://127.0.0.1:{k.port}/api/v1/ingest/guest", "--pin", pin,
         "--token-file", "/etc/kanri-guestd.token", "--interval", "2",
         "--state-dir", "/tmp/kanri-guestd"],
        stdout=log, stderr=subprocess.STDOUT)
    try:
        def finding():
            fs = k.get(f"/api/v1/findings?vm={vm['uuid']}&state=open").json["findings"]
            return [f for f in fs if f["rule"] == "container-sees-host-memory"]
        f = k.wait_for(finding, timeout=60, interval=0.5,
                       what="container-sees-host-memory")[0]
        assert "128" in f["message"], f
        view = k.get(f"/api/v1/vms/{vm['uuid']}/reconciled").json
        mem = [r for r in view["resources"] if r["resource"] == "mem.total"]
        assert mem, view
        mem = mem[0]
        assert mem["r"] == 128 * MIB and mem["provenance"] == "host", mem
        assert mem["g"] > 128 * MIB, mem  # the host's memory, seen inside
        # Its disk: the container's own files as the host measures them,
        # not the whole filesystem df shows inside.
        used = [r for r in view["resources"] if r["resource"] == "disk.used"][0]
        print(used)
        assert used["provenance"] == "host" and used["r"] == used["h"], used
        assert used["g"] is not None and used["g"] > used["r"], used
        k.wait_for(lambda: [f for f in k.get(f"/api/v1/findings?vm={vm['uuid']}&state=open")
                            .json["findings"] if f["rule"] == "container-sees-host-disk"],
                   timeout=30, interval=0.5, what="container-sees-host-disk")
        # The agent identified itself by kanri's line in the configuration.
        ag = [a for a in k.get("/api/v1/agents").json["agents"]
              if a.get("machine_uuid") == vm["uuid"]]
        assert ag and ag[0].get("id_source") == "container", ag
    finally:
        # The agent runs on inside when lxc-attach is killed: stopping the
        # container (the fixture) ends it.
        agent.kill()
        agent.wait(timeout=10)
        log.seek(0)
        print(log.read()[-2000:])
        log.close()


def test_busy_container_under_a_cpu_quota_is_throttled(kanrid_factory, lxcpath):
    k = start_kanrid(kanrid_factory, lxcpath)
    vm = create(k, "b1", cpu_millicores=200, start=True)
    k.wait_for(lambda: state(k, "b1") == "running", what="b1 running")
    busy = subprocess.Popen(["lxc-attach", "-P", lxcpath, "-n", "b1", "--", "sh", "-c",
                             "while :; do :; done"])
    try:
        def finding():
            fs = k.get(f"/api/v1/findings?vm={vm['uuid']}&state=open").json["findings"]
            return [f for f in fs if f["rule"] == "container-cpu-throttled"]
        f = k.wait_for(finding, timeout=60, interval=0.5, what="container-cpu-throttled")[0]
        assert f["measure"] >= 50, f  # one core's worth of work under 0.2 of a core
    finally:
        busy.kill()
        busy.wait(timeout=10)


def test_traffic_read_from_the_containers_veth(kanrid_factory, lxcpath):
    k = start_kanrid(kanrid_factory, lxcpath)
    vm = create(k, "n1")
    # A veth whose host end is on no bridge (lxcbr0 need not exist).
    cfg = os.path.join(lxcpath, "n1", "config")
    with open(cfg) as f:
        text = f.read().replace("lxc.net.0.type = empty",
                                "lxc.net.0.type = veth\nlxc.net.0.flags = up")
    with open(cfg, "w") as f:
        f.write(text)
    act(k, "n1", "start")

    def traffic():
        m = k.get(f"/api/v1/vms/{vm['uuid']}/metrics?view=host&format=columns").json
        series = {s["metric"]: s["v"] for src in m["sources"] for s in src["series"]}
        got = [v for v in series.get("net_rx_bytes", []) + series.get("net_tx_bytes", [])
               if v is not None]
        return got
    assert min(k.wait_for(traffic, timeout=30, interval=0.5, what="veth counters")) >= 0


def test_connected_only_once_every_container_is_known(kanrid_factory, lxcpath):
    # Containers made before kanrid starts: one by the template, two copies
    # (one of them running), on an LXC path kanrid has never seen.
    lxc("lxc-create", "-n", "r0", "-t", "busybox", path=lxcpath)
    cfg = os.path.join(lxcpath, "r0", "config")
    with open(cfg) as f:
        text = "".join(line for line in f if not line.startswith("lxc.net."))
    text += "lxc.net.0.type = empty\n"
    with open(cfg, "w") as f:
        f.write(text)
    for name in ("r1", "r2"):
        subprocess.run(["cp", "-a", os.path.join(lxcpath, "r0"), os.path.join(lxcpath, name)],
                       check=True)
        with open(os.path.join(lxcpath, name, "config"), "w") as f:
            f.write(text.replace("/r0/", f"/{name}/").replace('"r0"', f'"{name}"'))
    lxc("lxc-start", "-n", "r1", path=lxcpath)

    port = free_port()
    k = kanrid_factory(args=["--listen", f"127.0.0.1:{port}"],
                       config=f"[hypervisor:{HOST}]\nuri = liblxc://{lxcpath}\n")
    # The first answer that says connected is followed by an inventory that
    # has every container, in its state.
    k.wait_for(lambda: k.hosts().get(HOST, {}).get("state") == "connected",
               interval=0.01, what="host connected")
    vms = k.vms(HOST)
    assert sorted(vms) == ["r0", "r1", "r2"], vms
    assert vms["r1"]["state"] == "running" and vms["r0"]["state"] == "shutoff", vms
    # Derived identities: stable, distinct, version 5.
    uuids = {v["uuid"] for v in vms.values()}
    assert len(uuids) == 3 and all(u[14] == "5" for u in uuids), uuids


def test_frozen_right_after_start_every_time(kanrid_factory, lxcpath):
    """busybox's init forks its children as the container starts; a freeze
    that lands then leaves cgroup v1's freezer FREEZING until FROZEN is
    written again (liblxc writes it once and waits for ever: about one
    start in twenty hung here).  Each of these freezes must finish."""
    k = start_kanrid(kanrid_factory, lxcpath)
    create(k, "f1")
    for i in range(40):
        act(k, "f1", "start")
        r = k.post(f"/api/v1/vms/{HOST}:f1/actions/suspend", {})
        assert r.status == 200, (i, r)
        assert state(k, "f1") == "paused", i
        act(k, "f1", "resume")
        assert state(k, "f1") == "running", i
        act(k, "f1", "destroy")
        assert state(k, "f1") == "shutoff", i
