"""POST /api/v1/containers and `kanri ct` without a container host.

kanrid runs on libvirt's test driver here: its host runs VMs, so a valid
request is refused with 501, and everything the API and the CLI check before
a driver is asked (the body, the host, the role, the CLI's arguments) is
tested.  Creating real containers is tests/lab's (a liblxc host).

Run: KANRI_BUILD_DIR=$PWD/build /usr/bin/python3 -m pytest tests/integration/test_containers.py
"""
import json
import os

import pytest

from kanri_harness import KANRI, KANRID

HOST = "test-default"


@pytest.fixture(scope="module")
def k():
    if not os.path.exists(KANRID):
        pytest.skip(f"{KANRID} is not built (set KANRI_BUILD_DIR)")
    from kanri_harness import Kanrid
    kd = Kanrid(args=["--connect", "test:///default"])
    kd.wait_connected([HOST])
    yield kd
    kd.stop()


def audit_creates(k):
    return [a for a in k.get("/api/v1/audit?limit=1000").json["audit"] if a["action"] == "create"]


def test_vm_host_answers_501(k):
    before = len(audit_creates(k))
    r = k.post("/api/v1/containers", {"host": HOST, "name": "ct1"})
    assert r.status == 501, r
    assert r.headers["Content-Type"] == "application/problem+json"
    assert "runs VMs" in r.json["detail"], r.json
    # With every optional member too: the host decides, not the body.
    r = k.post("/api/v1/containers", {"host": HOST, "name": "ct1", "template": "busybox",
                                      "memory_bytes": 128 << 20, "cpu_millicores": 500,
                                      "cpu_weight": 100, "pids": 64, "start": True})
    assert r.status == 501, r
    # Refused before anything was done: nothing to audit, nothing created.
    assert len(audit_creates(k)) == before
    assert "ct1" not in k.vms()


def test_unknown_host_is_404(k):
    r = k.post("/api/v1/containers", {"host": "nosuchhost", "name": "ct1"})
    assert r.status == 404, r
    assert "nosuchhost" in r.json["detail"]


@pytest.mark.parametrize("body,field", [
    ({}, "host"),
    ({"name": "ct1"}, "host"),
    ({"host": HOST}, "name"),
    ({"host": 7, "name": "ct1"}, "host"),
    ({"host": HOST, "name": 7}, "name"),
    ({"host": HOST, "name": ""}, "name"),
    ({"host": HOST, "name": "bad name"}, "name"),
    ({"host": HOST, "name": "-dash"}, "name"),
    ({"host": HOST, "name": ".dot"}, "name"),
    ({"host": HOST, "name": "a/b"}, "name"),
    ({"host": HOST, "name": "x" * 65}, "name"),
    ({"host": HOST, "name": "ct1", "template": "../busybox"}, "template"),
    ({"host": HOST, "name": "ct1", "template": ""}, "template"),
    ({"host": HOST, "name": "ct1", "start": "yes"}, "start"),
    ({"host": HOST, "name": "ct1", "memory_bytes": -1}, "memory_bytes"),
    ({"host": HOST, "name": "ct1", "memory_bytes": "1G"}, "memory_bytes"),
    ({"host": HOST, "name": "ct1", "memory_bytes": 2 ** 62}, "memory_bytes"),
    ({"host": HOST, "name": "ct1", "cpu_millicores": 1024 * 1000 + 1}, "cpu_millicores"),
    ({"host": HOST, "name": "ct1", "cpu_millicores": 0.5}, "cpu_millicores"),
    ({"host": HOST, "name": "ct1", "cpu_weight": 10001}, "cpu_weight"),
    ({"host": HOST, "name": "ct1", "pids": 4194305}, "pids"),
    ({"host": HOST, "name": "ct1", "pids": -1}, "pids"),
    ({"host": HOST, "name": "ct1", "memory": 1}, "memory"),
    ({"host": HOST, "name": "ct1", "xml": "<domain/>"}, "xml"),
], ids=lambda v: repr(v) if not isinstance(v, dict) else "-".join(f"{k}={v[k]!r}"[:24] for k in v))
def test_bad_bodies_are_400(k, body, field):
    r = k.post("/api/v1/containers", body)
    assert r.status == 400, (body, r)
    assert r.json["field"] == field, (body, r.json)


def test_bad_json_is_400(k):
    for raw in (b"{", b"[]", b'"x"'):
        r = k.request("POST", "/api/v1/containers", raw=raw)
        assert r.status == 400, (raw, r)


def test_roles(k):
    viewer = k.post("/api/v1/tokens", {"name": "ct-viewer", "role": "viewer"}).json["token"]
    operator = k.post("/api/v1/tokens", {"name": "ct-op", "role": "operator"}).json["token"]
    body = {"host": HOST, "name": "ct1"}
    assert k.post("/api/v1/containers", body, token=None).status == 401
    r = k.post("/api/v1/containers", body, token=viewer)
    assert r.status == 403, r
    assert k.post("/api/v1/containers", body, token=operator).status == 501
    # GET is not a method of this path.
    r = k.get("/api/v1/containers")
    assert r.status == 405 and r.headers["Allow"] == "POST"


# ---- kanri ct ------------------------------------------------------------------

def test_cli_create_on_vm_host_fails_clearly(k):
    r = k.cli("ct", "create", HOST, "ct1", "--memory", "128M", "--cpus", "0.5")
    assert r.returncode == 1, r
    assert r.stdout == ""
    assert "runs VMs" in r.stderr, r.stderr
    r = k.cli("ct", "create", "nosuchhost", "ct1")
    assert r.returncode == 5, r
    r = k.cli("ct", "create", HOST, "bad name")
    assert r.returncode == 1 and "name" in r.stderr, r


@pytest.mark.parametrize("args,word", [
    (["--memory", "lots"], "--memory"),
    (["--memory", "12Q"], "--memory"),
    (["--memory", "-5"], "--memory"),
    (["--cpus", "half"], "--cpus"),
    (["--cpus", "1.2345"], "--cpus"),
    (["--cpu-weight", "x"], "--cpu-weight"),
    (["--pids", "1e3"], "--pids"),
])
def test_cli_create_bad_arguments(k, args, word):
    """Refused before anything is sent: exit 2, the option named."""
    before = len(k.get("/api/v1/audit?limit=1000").json["audit"])
    r = k.cli("ct", "create", HOST, "ct1", *args)
    assert r.returncode == 2, r
    assert r.stdout == ""
    assert r.stderr.startswith(f"kanri: invalid {word} "), r.stderr
    assert "kanri ct create --help" in r.stderr
    assert len(k.get("/api/v1/audit?limit=1000").json["audit"]) == before


def test_cli_list_shows_only_containers(k):
    r = k.cli("ct", "list", check=True)
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["NAME", "HOST", "STATE", "MEMORY", "UUID"], r.stdout
    assert len(lines) == 2 and set(lines[1]) == {"-"}, r.stdout
    r = k.cli("ct", "list", "--json", check=True)
    assert json.loads(r.stdout) == {"vms": []}
    # The VM is there for vm list.
    assert "test" in k.cli("vm", "list", check=True).stdout


def test_cli_actions_reach_the_vm_api(k):
    """ct verbs are the /vms actions: on the test driver's VM they act (the
    server, not the CLI, decides what a domain can do)."""
    r = k.cli("ct", "freeze", "test", check=True)
    assert r.stdout.startswith("Container 'test' frozen (audit #"), r.stdout
    assert k.vms()["test"]["state"] == "paused"
    r = k.cli("ct", "thaw", "test", "--json", check=True)
    assert json.loads(r.stdout)["vm"]["state"] == "running"
    r = k.cli("ct", "limits", "test", "--pids", "64")
    assert r.returncode == 1 and "set-limits is for containers on a container host" in r.stderr, r
    r = k.cli("ct", "show", "test", check=True)
    assert "Domain type" in r.stdout
