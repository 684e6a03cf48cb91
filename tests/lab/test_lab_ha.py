"""High availability on real QEMU guests (docs/ha.md): two libvirt "hosts"
on this machine (tests/lab/second-host.sh, each in its own namespaces with
its own virtlockd), an HA guest on host a whose disk is in a shared
directory, the lab's fence agent (tests/lab/fence_lab) and probe
(tests/lab/ha-host.sh probe: a marker file stands for the network cut).

While a test runs, halab.CopyWatcher samples every QEMU process of the
guest on the whole machine every 20 ms: the guest must never have run
twice (a start refused by the disk lease leaves a QEMU that never ran guest
code, which is not a copy).

- a partition: a's libvirtd is killed and its probe fails while its QEMU
  keeps running; kanri fences a (the QEMU dies), restarts the guest on b,
  and cleans a's stale definition when a comes back;
- a crash: everything of a dies at once; same;
- a fence that lies ("off" without killing): the disk's lease refuses the
  restart on b, kanri gives the VM up rather than retry, and the guest
  keeps running on a only; a's return keeps it there;
- a's libvirtd alone dead for a while: a answers its probe, nothing is
  fenced.

Each test prints its detection, fence and restart times."""
import os
import signal
import time

import pytest

import halab
import labvm

PREFIX = halab.PREFIX + f"t{os.getpid()}-"
NAME = PREFIX + "g1"


@pytest.fixture(scope="module")
def hosts(lab_images):
    if os.geteuid() != 0:
        pytest.skip("the HA lab needs root (namespaces, system-mode libvirtd)")
    try:
        a, b = halab.start_hosts(2, lockd=True)
    except labvm.LabError as e:
        pytest.skip(f"the HA lab hosts cannot start on this machine: {e}")
    yield a, b
    halab.cleanup(prefix=PREFIX, hosts=[a, b])
    halab.stop_hosts([a, b])


@pytest.fixture
def guest(hosts):
    """The HA guest running on host a (defined there only), a healthy
    pair of hosts, and their cleanup afterwards."""
    a, b = hosts
    for h in hosts:
        halab.heal(h)
        halab.fence_mode(h, None)
        halab.remove_guest(h, NAME)
    disk = halab.make_shared_disk(PREFIX + "disk.raw")
    uuid = halab.define_guest(a, NAME, disk=disk, memory_mib=256)
    halab.start_guest(a, NAME)
    yield uuid
    for h in hosts:
        halab.heal(h)
        halab.fence_mode(h, None)
        halab.remove_guest(h, NAME)


def conf(a, b):
    c = ("[manager]\ncollect_interval = 2\n"
         f"[ha]\ndetect_after = 3s\nvm.{NAME} = priority=10\n")
    for h in (a, b):
        c += (f"[hypervisor:{h.name}]\nuri = {h.uri}\n"
              "keepalive_interval = 1\nkeepalive_count = 3\nreconnect_max = 2\n"
              "fence_timeout = 20\n" + "\n".join(h.conf_lines()) + "\n")
    return c


def ha_host(k, name):
    return {h["host"]: h for h in k.get("/api/v1/ha").json["hosts"]}[name]


def ha_vm(k):
    return {v["name"]: v for v in k.get("/api/v1/ha").json["vms"]}.get(NAME)


def running_on(k, host):
    return k.vms(host).get(NAME, {}).get("state") == "running"


class Timeline:
    """Times (from the injection) at which kanri's HA state of host A
    first reached each state, and the guest first ran on host B."""

    def __init__(self, k, a, b):
        self.k, self.a, self.b = k, a, b
        self.t0 = time.monotonic()
        self.at = {}

    def poll(self):
        now = time.monotonic() - self.t0
        st = ha_host(self.k, self.a.name)["state"]
        self.at.setdefault(st, now)
        if running_on(self.k, self.b.name):
            self.at.setdefault("running-on-b", now)
        return st

    def wait(self, what, timeout=90):
        self.k.wait_for(lambda: self.poll() == what or what in self.at, timeout=timeout,
                        interval=0.05, what=f"HA state {what} (seen: {self.at})")

    def report(self, label):
        det = self.at.get("fencing")
        fenced = self.at.get("fenced")
        up = self.at.get("running-on-b")
        parts = []
        if det is not None:
            parts.append(f"detected (fencing) {det:.1f} s after the failure")
        if fenced is not None and det is not None:
            parts.append(f"fenced {fenced - det:.1f} s later")
        if up is not None and fenced is not None:
            parts.append(f"running on b {up - fenced:.1f} s after the fence")
        print(f"{label}: " + ", ".join(parts))


def failover(kanrid_factory, hosts, uuid, kind):
    a, b = hosts
    k = kanrid_factory(config=conf(a, b))
    k.wait_connected([a.name, b.name])
    k.wait_for(lambda: running_on(k, a.name), what="the guest running on a in the inventory")
    with halab.CopyWatcher(uuid) as w:
        halab.inject(a, kind)
        t = Timeline(k, a, b)
        t.wait("recovered")
        k.wait_for(lambda: t.poll() and running_on(k, b.name), timeout=30, interval=0.05,
                   what="the guest running on b")
        t.report(kind)
        copies = halab.qemu_copies(uuid, started_only=True)
        assert [c.host for c in copies] == [b.dir], copies
        # The guest answers on b: a real boot of the real disk, not a shell.
        with halab.on_host(b):
            labvm.wait_agent(NAME, timeout=180)
        # a comes back (powered on by hand): its stale definition goes,
        # the guest stays on b alone.
        halab.heal(a)
        k.wait_for(lambda: ha_host(k, a.name)["state"] == "up", timeout=90, what="a rejoined")
        assert NAME not in a.virsh("list", "--all", "--name").split()
        assert running_on(k, b.name) and NAME not in k.vms(a.name)
    assert w.max_started <= 1, w.report()
    rec = ha_vm(k)["recovery"]
    assert rec["from"] == a.name and rec["to"] == b.name and rec["state"] == "done", rec
    audit = k.get("/api/v1/audit?limit=200").json["audit"]
    done = {(e["action"], e["host"]) for e in audit if e["actor"] == "ha" and e["result"] == "ok"}
    assert {("fence", a.name), ("define", b.name), ("start", b.name),
            ("undefine", a.name)} <= done, done
    return t


def test_partition_fences_a_and_restarts_on_b(kanrid_factory, hosts, guest):
    failover(kanrid_factory, hosts, guest, "partition")


def test_crash_restarts_on_b(kanrid_factory, hosts, guest):
    failover(kanrid_factory, hosts, guest, "crash")


def test_a_lying_fence_meets_the_disk_lease(kanrid_factory, hosts, guest):
    a, b = hosts
    halab.fence_mode(a, "lies")
    k = kanrid_factory(config=conf(a, b))
    k.wait_connected([a.name, b.name])
    k.wait_for(lambda: running_on(k, a.name), what="the guest running on a in the inventory")
    with halab.CopyWatcher(guest) as w:
        halab.inject(a, "partition")
        k.wait_for(lambda: (ha_vm(k) or {}).get("recovery") and
                   ha_vm(k)["recovery"]["state"] == "failed", timeout=90,
                   what="the restart on b refused")
        rec = ha_vm(k)["recovery"]
        assert "lease" in rec["reason"] and "not retried" in rec["reason"], rec
        # Still running on a (behind the partition), and only there.
        copies = halab.qemu_copies(guest, started_only=True)
        assert [c.host for c in copies] == [a.dir], copies
        ev = k.get("/api/v1/events?kind=ha.vm.restart-failed&limit=10").json["events"]
        assert ev and ev[0]["severity"] == "critical" and "lease" in ev[0]["message"], ev
        halab.fence_mode(a, None)
        halab.heal(a)
        k.wait_for(lambda: ha_host(k, a.name)["state"] == "up", timeout=90, what="a rejoined")
        assert running_on(k, a.name)
    assert w.max_started <= 1, w.report()
    print(f"lying fence: {w.max_copies} QEMU process(es) at most at once, "
          f"{w.max_started} of them ever ran the guest")


def test_libvirtd_down_alone_is_not_a_failure(kanrid_factory, hosts, guest):
    """a's libvirtd is dead well past detect_after while a answers its
    probe: kanri says why it does not declare a dead, fences nothing, and a
    is up again once libvirtd is back."""
    a, b = hosts
    k = kanrid_factory(config=conf(a, b))
    k.wait_connected([a.name, b.name])
    k.wait_for(lambda: running_on(k, a.name), what="the guest running on a in the inventory")
    libvirtd = [pid for pid, role in halab.host_pids(a) if role == "libvirtd"]
    assert len(libvirtd) == 1, halab.host_pids(a)
    os.kill(libvirtd[0], signal.SIGKILL)
    k.wait_for(lambda: "answers its probe" in (ha_host(k, a.name)["reason"] or ""), timeout=60,
               what="a judged alive by its probe")
    assert ha_host(k, a.name)["state"] == "suspect"
    halab.heal(a)
    k.wait_for(lambda: ha_host(k, a.name)["state"] == "up" and
               k.hosts()[a.name]["state"] == "connected", timeout=60, what="a back")
    assert not k.get("/api/v1/events?kind=ha.host.failed").json["events"]
    assert not k.get("/api/v1/events?kind=ha.fence.started").json["events"]
    assert running_on(k, a.name)
    assert [c.host for c in halab.qemu_copies(guest, started_only=True)] == [a.dir]
