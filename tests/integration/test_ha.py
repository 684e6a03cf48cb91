"""High availability end to end on libvirt's test driver (docs/ha.md),
with real fence commands and probes.

A test-driver connection never fails, so a failed host is made the way
kanrid meets one after a restart: a first kanrid learns host a's running
VMs, then a second one, on the same store, finds a's URI unreachable
(qemu+tcp to a closed port).  The fence agent is a shell script that logs
its calls and answers as fence-agents do (off: exit 0; status: exit 2 for
off), or fails when told to.  Real QEMU guests, partitions and storage
leases are the lab's (tests/lab/test_lab_ha.py); the state machine's
every branch is the golden tests' (tests/unit/policy/test_ha.c)."""
import os
import re

from kanri_harness import node_xml

UNREACHABLE = "qemu+tcp://127.0.0.1:1/system"

FENCE = """#!/bin/sh
# A fence agent for the tests: logs each call; fails while $DIR/fail exists.
DIR=$(dirname "$0")
echo "$*" >> "$DIR/fence.log"
[ -e "$DIR/fail" ] && { echo "cannot reach the BMC" >&2; exit 1; }
case "$*" in
*--action=off*) exit 0 ;;
*--action=status*) echo "Status: OFF"; exit 2 ;;
esac
exit 1
"""


class Lab:
    """Host a (two running HA VMs, a-vm0 with the higher priority) and host
    b, both test-driver node files, and a fence script."""

    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.state = str(tmp_path / "state")
        for name in ("a", "b"):
            (tmp_path / f"{name}.xml").write_text(node_xml(name, n_running=2, n_shutoff=1))
        self.fence = tmp_path / "fence.sh"
        self.fence.write_text(FENCE)
        self.fence.chmod(0o755)
        self.log = tmp_path / "fence.log"

    def conf(self, a_uri=None, fence=True, probe="exec:/bin/false", extra=""):
        a_uri = a_uri or f"test://{self.tmp / 'a.xml'}"
        c = ("[manager]\ncollect_interval = 1\n"
             "[ha]\ndetect_after = 2s\nfence_retry = 5s\n"
             "vm.a-vm0 = priority=10\nvm.a-vm1 = on\n" + extra +
             f"[hypervisor:a]\nuri = {a_uri}\nprobe = {probe}\n")
        if fence:
            c += f"fence = {self.fence} --plug=a\nfence_timeout = 10\n"
        return c + f"[hypervisor:b]\nuri = test://{self.tmp / 'b.xml'}\n"

    def b_running_a_vms(self):
        """Host b's file as it would be after the failover: a-vm0 and a-vm1
        run there too (a test-driver host forgets what was defined on it
        when kanrid reconnects)."""
        a = node_xml("a", n_running=2, n_shutoff=0)
        doms = a[a.index("  <domain"):a.index("  <network>")]
        b = node_xml("b", n_running=2, n_shutoff=1)
        (self.tmp / "b.xml").write_text(b.replace("  <network>", doms + "  <network>", 1))

    def learn(self, kanrid_factory):
        """A first kanrid stores a's inventory (its VMs running)."""
        k = kanrid_factory(state_dir=self.state, config=self.conf())
        k.wait_connected(["a", "b"])
        k.wait_for(lambda: {"a-vm0", "a-vm1"} <= set(k.vms("a")), what="a's VMs")
        assert k.stop() == 0

    def fence_calls(self):
        return self.log.read_text().splitlines() if self.log.exists() else []


def ha(k):
    r = k.get("/api/v1/ha")
    assert r.status == 200, r
    return r.json


def host(k, name):
    return {h["host"]: h for h in ha(k)["hosts"]}[name]


def vm(k, name):
    return {v["name"]: v for v in ha(k)["vms"]}[name]


def events(k, kind):
    r = k.get(f"/api/v1/events?kind={kind}&limit=100")
    assert r.status == 200, r
    return r.json["events"]


def running_on(k, hostname):
    return {n for n, v in k.vms(hostname).items() if v["state"] == "running"}


def test_dead_host_is_fenced_its_vms_restart_elsewhere_and_it_rejoins_clean(
        kanrid_factory, tmp_path):
    lab = Lab(tmp_path)
    lab.learn(kanrid_factory)

    k = kanrid_factory(state_dir=lab.state, config=lab.conf(a_uri=UNREACHABLE))
    k.wait_for(lambda: host(k, "a")["state"] == "recovered", timeout=30,
               what="a fenced and its VMs restarted")
    assert {"a-vm0", "a-vm1"} <= running_on(k, "b")
    a = host(k, "a")
    assert a["signals"]["connection"]["up"] is False
    assert a["signals"]["probe"]["answer"] == "failed"
    assert a["fence"]["configured"] and a["fence"]["agent"] == "fence.sh"
    assert a["fence"]["attempts"] == 1
    # Fenced first (off, then status confirming off), then restarted.
    assert lab.fence_calls() == ["--plug=a --action=off", "--plug=a --action=status"]
    for name in ("a-vm0", "a-vm1"):
        rec = vm(k, name)["recovery"]
        assert rec["state"] == "started" and rec["from"] == "a" and rec["to"] == "b", rec
    failed = events(k, "ha.host.failed")
    assert len(failed) == 1 and "probe fails" in failed[0]["message"], failed
    assert len(events(k, "ha.vm.restarted")) == 2
    # Every step is audited as actor "ha": the fence, the defines, the starts.
    audit = k.get("/api/v1/audit?limit=100").json["audit"]
    by_ha = [(e["action"], e["result"]) for e in audit if e["actor"] == "ha"]
    assert sorted(by_ha) == sorted([("declare-dead", "ok"), ("fence", "ok"), ("define", "ok"),
                                    ("define", "ok"), ("start", "ok"), ("start", "ok")]), by_ha
    metrics = k.get("/metrics").body
    assert 'kanri_ha_host_state{host="a",state="recovered"} 1' in metrics
    assert 'kanri_ha_host_state{host="a",state="up"} 0' in metrics
    assert 'kanri_ha_recoveries{state="started"} 2' in metrics
    assert k.stop() == 0

    # a comes back still running its old copies (the test driver reloads
    # its file): they are destroyed and undefined before a is up again,
    # since they run on b.
    lab.b_running_a_vms()
    k = kanrid_factory(state_dir=lab.state, config=lab.conf())
    k.wait_for(lambda: host(k, "a")["state"] == "up", timeout=30, what="a rejoined")
    assert not {"a-vm0", "a-vm1"} & set(k.vms("a"))
    assert {"a-vm0", "a-vm1"} <= running_on(k, "b")
    assert vm(k, "a-vm0")["recovery"]["state"] == "done"
    rejoined = events(k, "ha.host.rejoined")
    assert rejoined and "2 stale definitions removed (2 running, destroyed)" in \
        rejoined[0]["message"], rejoined
    # Nothing was fenced again.
    assert len(lab.fence_calls()) == 2


def test_without_a_fence_nothing_restarts_until_an_admin_confirms(kanrid_factory, tmp_path):
    lab = Lab(tmp_path)
    lab.learn(kanrid_factory)
    k = kanrid_factory(state_dir=lab.state, config=lab.conf(a_uri=UNREACHABLE, fence=False))
    k.wait_for(lambda: host(k, "a")["state"] == "fence-failed", timeout=30, what="a declared dead")
    assert "no fence agent is configured" in host(k, "a")["reason"]
    ev = events(k, "ha.fence.failed")
    assert ev and ev[0]["severity"] == "critical", ev
    assert not {"a-vm0", "a-vm1"} & set(k.vms("b"))

    # Only an admin may say a host is off; and only a host declared dead.
    viewer = k.post("/api/v1/tokens", {"name": "v", "role": "operator"}).json["token"]
    r = k.post("/api/v1/ha/hosts/a/fenced", {}, token=viewer)
    assert r.status == 403, r
    r = k.post("/api/v1/ha/hosts/b/fenced", {})
    assert r.status == 409 and "up" in r.json["detail"], r
    r = k.post("/api/v1/ha/hosts/nosuch/fenced", {})
    assert r.status == 404, r
    r = k.post("/api/v1/ha/hosts/a/fenced", {"comment": "pulled the plug in rack 4"})
    assert r.status == 202 and r.json["host"] == "a", r
    k.wait_for(lambda: {"a-vm0", "a-vm1"} <= running_on(k, "b"), timeout=30,
               what="a's VMs restarted on b")
    confirmed = events(k, "ha.fence.confirmed")
    assert confirmed and "pulled the plug in rack 4" in confirmed[0]["message"], confirmed
    audit = k.get("/api/v1/audit?limit=100").json["audit"]
    confirms = [e for e in audit if e["action"] == "confirm-fenced"]
    assert len(confirms) == 1 and confirms[0]["actor"].startswith("admin") and \
        confirms[0]["target"] == "a", confirms


def test_a_host_answering_its_probe_is_not_declared_dead(kanrid_factory, tmp_path):
    lab = Lab(tmp_path)
    lab.learn(kanrid_factory)
    k = kanrid_factory(state_dir=lab.state,
                       config=lab.conf(a_uri=UNREACHABLE, probe="exec:/bin/true"))
    # The reason says so once detect_after has passed.
    k.wait_for(lambda: "answers its probe" in (host(k, "a")["reason"] or ""), timeout=30,
               what="a judged alive by its probe")
    assert host(k, "a")["state"] == "suspect"
    assert host(k, "a")["signals"]["probe"]["answer"] == "ok"
    assert lab.fence_calls() == []
    assert not events(k, "ha.host.failed")


def test_a_failing_fence_is_retried_and_nothing_restarts_before_it_works(
        kanrid_factory, tmp_path):
    lab = Lab(tmp_path)
    lab.learn(kanrid_factory)
    (tmp_path / "fail").write_text("")
    k = kanrid_factory(state_dir=lab.state, config=lab.conf(a_uri=UNREACHABLE))
    k.wait_for(lambda: host(k, "a")["state"] == "fence-failed", timeout=30, what="fence failed")
    assert "cannot reach the BMC" in host(k, "a")["reason"]
    assert not {"a-vm0", "a-vm1"} & set(k.vms("b"))
    os.unlink(tmp_path / "fail")
    k.wait_for(lambda: host(k, "a")["state"] == "recovered", timeout=30, what="fenced on retry")
    assert host(k, "a")["fence"]["attempts"] == 2
    assert {"a-vm0", "a-vm1"} <= running_on(k, "b")


def test_vm_ha_settings_over_the_api_and_cli(kanrid_factory, tmp_path):
    lab = Lab(tmp_path)
    k = kanrid_factory(state_dir=lab.state,
                       config=lab.conf(extra="group.front = a, b\n"))
    k.wait_connected(["a", "b"])
    v = vm(k, "a-vm0")
    assert v["ha"] and v["priority"] == 10 and v["source"] == "kanri.conf"
    r = k.request("PUT", "/api/v1/vms/b-vm0/ha",
                  {"ha": True, "priority": 5, "restart": "in-place", "group": "front"})
    assert r.status == 200, r
    assert r.json["ha"] and r.json["restart"] == "in-place" and r.json["source"] == "api"
    for body, what in (({"priority": 5}, "ha"), ({"ha": True, "priority": 5000}, "priority"),
                       ({"ha": True, "restart": "never"}, "restart"),
                       ({"ha": True, "group": "back"}, "group"),
                       ({"ha": True, "colour": "red"}, "colour")):
        r = k.request("PUT", "/api/v1/vms/b-vm0/ha", body)
        assert r.status == 400 and what in r.json["detail"], (body, r)
    viewer = k.post("/api/v1/tokens", {"name": "v", "role": "viewer"}).json["token"]
    assert k.request("PUT", "/api/v1/vms/b-vm0/ha", {"ha": False}, token=viewer).status == 403
    # Kept over a restart.
    assert k.stop() == 0
    k = kanrid_factory(state_dir=lab.state, config=lab.conf(extra="group.front = a, b\n"))
    assert vm(k, "b-vm0")["group"] == "front"
    k.wait_connected(["a", "b"])
    k.wait_for(lambda: host(k, "a")["state"] == "up", what="HA's first look at a")
    p = k.cli("ha", "status", check=True)
    assert re.search(r"^a\s+up\s", p.stdout, re.M), p.stdout
    assert re.search(r"^b-vm0\s+b\s+running\s+on\s+5\s+in-place\s+front\s", p.stdout, re.M), p.stdout
    p = k.cli("ha", "set", "b-vm0", "off", check=True)
    assert vm(k, "b-vm0")["ha"] is False
    p = k.cli("ha", "set", "b-vm0", "reset", check=True)
    assert "b-vm0" not in {v["name"] for v in ha(k)["vms"]}
    p = k.cli("ha", "set", "b-vm0", "priority=x")
    assert p.returncode == 2 and "priority" in p.stderr, p.stderr
