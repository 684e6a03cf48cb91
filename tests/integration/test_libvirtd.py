"""kanrid against a real libvirtd (qemu:///system, started by
tests/lab/setup-host.sh): domain events reach the inventory within a second,
and a hung or dead daemon only ever affects its own host."""
import os
import signal
import subprocess
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SETUP = os.path.join(HERE, "..", "lab", "setup-host.sh")
PREFIX = f"kanri-it-{os.getpid()}"


def virsh(*args, check=True):
    p = subprocess.run(["virsh", "-c", "qemu:///system", *args], capture_output=True,
                       text=True, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError(f"virsh {' '.join(args)}: {p.stderr.strip()}")
    return p


def libvirtd_pid():
    p = subprocess.run(["pgrep", "-o", "-x", "libvirtd"], capture_output=True, text=True)
    return int(p.stdout.split()[0]) if p.stdout.strip() else None


@pytest.fixture(scope="module", autouse=True)
def libvirtd():
    subprocess.run(["bash", SETUP], check=True, capture_output=True, timeout=600)
    yield
    # Whatever a test did to the daemon, leave it running for the next suite.
    pid = libvirtd_pid()
    if pid:
        os.kill(pid, signal.SIGCONT)
    subprocess.run(["bash", SETUP], check=True, capture_output=True, timeout=600)
    for line in virsh("list", "--all", "--name").stdout.split():
        if line.startswith(PREFIX):
            virsh("destroy", line, check=False)
            virsh("undefine", line, check=False)


def domain_xml(name, memory_mib, uuid=None):
    uuid_el = f"<uuid>{uuid}</uuid>" if uuid else ""
    return f"""<domain type='qemu'>
  <name>{name}</name>{uuid_el}
  <memory unit='MiB'>{memory_mib}</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><kernel>/nonexistent/vmlinuz</kernel></os>
  <devices><emulator>/usr/bin/qemu-system-x86_64</emulator><memballoon model='none'/></devices>
</domain>"""


CONF = """[manager]
resync_interval = 3600
[hypervisor:local]
uri = qemu:///system
keepalive_interval = 1
keepalive_count = 2
reconnect_min = 1
reconnect_max = 2
[hypervisor:sim]
uri = test:///default
"""


def timed_wait(k, pred, what, timeout=10):
    t0 = time.monotonic()
    k.wait_for(pred, timeout=timeout, interval=0.02, what=what)
    return time.monotonic() - t0


def test_external_changes_reach_the_inventory_within_a_second(kanrid_factory, tmp_path):
    k = kanrid_factory(config=CONF)
    k.wait_connected(["local", "sim"])
    name = f"{PREFIX}-evt"
    xml = tmp_path / "d.xml"

    xml.write_text(domain_xml(name, 128))
    virsh("define", str(xml))
    dt = timed_wait(k, lambda: name in k.vms("local"), "defined domain in the inventory")
    assert dt < 1.0, f"define took {dt:.2f}s to show"
    v = k.vms("local")[name]
    assert v["state"] == "shutoff" and v["max_memory_bytes"] == 128 * 1048576
    ch = k.get(f"/api/v1/changes?vm={name}").json["changes"]
    assert [c["cause"] for c in ch] == ["created"]

    # Someone edits the definition outside kanri: an external change with a diff.
    xml.write_text(domain_xml(name, 192, uuid=v["uuid"]))
    virsh("define", str(xml))
    dt = timed_wait(k, lambda: k.vms("local")[name]["max_memory_bytes"] == 192 * 1048576,
                    "redefined memory")
    assert dt < 1.0, f"redefine took {dt:.2f}s to show"
    ch = k.get(f"/api/v1/changes?vm={name}&limit=1").json["changes"][0]
    assert ch["cause"] == "external" and ch["actor"] is None
    assert "-  <memory unit='KiB'>131072</memory>" in ch["diff"]
    assert "+  <memory unit='KiB'>196608</memory>" in ch["diff"]

    virsh("desc", name, "--config", "owned by team blue")
    timed_wait(k, lambda: "team blue" in k.get(f"/api/v1/vms/{name}").json["xml"], "description")

    virsh("undefine", name)
    dt = timed_wait(k, lambda: name not in k.vms("local"), "undefined domain gone")
    assert dt < 1.0, f"undefine took {dt:.2f}s to show"
    ch = k.get("/api/v1/changes?limit=1").json["changes"][0]
    assert ch["vm_name"] == name and ch["cause"] == "removed"


def test_hung_then_dead_daemon_affects_only_its_host(kanrid_factory):
    k = kanrid_factory(config=CONF)
    k.wait_connected(["local", "sim"])
    pid = libvirtd_pid()
    assert pid
    os.kill(pid, signal.SIGSTOP)
    try:
        # Keepalive (1 s x 2) notices the hung daemon.
        k.wait_for(lambda: k.hosts()["local"]["state"] != "connected", timeout=20,
                   what="hung libvirtd noticed")
        # Meanwhile the other host works at full speed.
        t0 = time.monotonic()
        for action in ("suspend", "resume"):
            r = k.post(f"/api/v1/vms/sim:test/actions/{action}")
            assert r.status == 200, r
        assert time.monotonic() - t0 < 2.0
        assert k.hosts()["sim"]["state"] == "connected"
        # An action on the hung host fails clearly instead of hanging.
        k.wait_for(lambda: k.hosts()["local"]["state"] == "unreachable", timeout=20,
                   what="local unreachable")
        h = k.hosts()["local"]
        assert h["reason"], h
    finally:
        os.kill(pid, signal.SIGCONT)
    k.wait_connected(["local"], timeout=30)

    # Now the daemon dies outright, and comes back.
    os.kill(pid, signal.SIGTERM)
    k.wait_for(lambda: k.hosts()["local"]["state"] == "unreachable", timeout=20,
               what="dead libvirtd noticed")
    assert k.hosts()["local"]["reason"]
    assert k.get("/api/v1/vms/sim:test").status == 200
    deadline = time.time() + 60
    while time.time() < deadline and os.path.exists(f"/proc/{pid}"):
        time.sleep(0.1)
    subprocess.run(["bash", SETUP], check=True, capture_output=True, timeout=600)
    k.wait_connected(["local"], timeout=30)
    assert k.hosts()["sim"]["state"] == "connected"
    assert "kanrid: notice: host local: connected" in k.log
