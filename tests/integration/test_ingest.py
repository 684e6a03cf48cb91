"""kanri-guestd -> kanrid: enrolment, the ingest endpoint's security and
bounds, idempotency, rate limiting, and the agent's spool surviving a
manager outage with every sample arriving exactly once."""
import json
import os
import re
import socket
import subprocess
import time

import pytest

from kanri_harness import BUILD, run, stop_agent, store_query

GUESTD = os.path.join(BUILD, "src", "guest", "kanri-guestd")
DATA = os.path.join(os.path.dirname(__file__), "..", "data", "guest")
BUSY_ROOT = os.path.join(DATA, "busy", "root")
BUSY_UUID = "4c4c4544-0042-3910-8052-b7c04f4a4d32"  # its SMBIOS product_uuid, lower-cased


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_doc(root=BUSY_ROOT, state=None):
    args = [GUESTD, "--once", "--root", root]
    if state:
        args += ["--state-dir", state]
    p = run(args, capture_output=True, text=True, check=True)
    return json.loads(p.stdout)


def enroll(k, machine, name=None):
    body = {"machine": machine}
    if name:
        body["name"] = name
    r = k.post("/api/v1/agents", body)
    assert r.status == 201, r
    return r.json["token"]


def ingest(k, token, doc=None, raw=None):
    data = raw if raw is not None else json.dumps(doc).encode()
    return k.request("POST", "/api/v1/ingest/guest", raw=data, token=token)


def guest_pusher(k, vm, state=None):
    """A function that has kanri-guestd push one document (BUSY_ROOT's
    figures) to K for VM, a name or UUID kanrid knows, as its enrolled
    agent: the guest view the test driver cannot give."""
    vms = k.vms()
    uuid = vms[vm]["uuid"] if vm in vms else vm
    token = enroll(k, vm)
    state = str(state or os.path.join(k.state_dir, "guestd-state"))
    os.makedirs(state, exist_ok=True)

    def push():
        p = run([GUESTD, "--once", "--root", BUSY_ROOT, "--state-dir", state],
                capture_output=True, text=True, check=True)
        r = ingest(k, token, dict(json.loads(p.stdout), machine_id=uuid))
        assert r.status == 200, r
    return push


def guest_rows(k, machine):
    return store_query(k.state_dir, "SELECT seq, source, t, cpu_steal_ns, mem_total"
                       " FROM guest_samples WHERE machine_uuid = ? ORDER BY seq", (machine,))


def spool_backlogs(k, machine):
    """The spool backlog each stored kanri-guestd sample reported, in order."""
    return [json.loads(x)["spool"]["backlog"] for (x,) in store_query(
        k.state_dir, "SELECT extra FROM guest_samples WHERE machine_uuid = ?"
        " AND source = 'kanri-guestd' ORDER BY seq", (machine,))]


def agent(k, machine):
    return next(a for a in k.get("/api/v1/agents").json["agents"] if a["machine_uuid"] == machine)


@pytest.fixture
def k(kanrid_factory):
    kd = kanrid_factory(args=["--connect", "test:///default"])
    kd.wait_connected(["test-default"])
    return kd


def test_enrol_and_ingest_bound_to_the_machine(k):
    doc = one_doc()
    assert doc["machine_id"] == BUSY_UUID and doc["id_source"] == "smbios"
    token = enroll(k, BUSY_UUID, name="busy-box")
    r = ingest(k, token, doc)
    assert r.status == 200 and r.json == {"accepted": True, "duplicate": False, "seq": doc["seq"]}
    rows = guest_rows(k, BUSY_UUID)
    assert len(rows) == 1 and rows[0][1] == "kanri-guestd"
    # CPU ticks (USER_HZ) become nanoseconds; memory stays bytes.
    assert rows[0][3] == doc["cpu"]["total"]["steal"] * 10_000_000
    assert rows[0][4] == doc["memory"]["total_bytes"]
    a = agent(k, BUSY_UUID)
    assert a["name"] == "busy-box" and a["vm"] is None  # standalone: no libvirt domain
    assert a["agent_name"] == "kanri-guestd" and a["accepted"] == 1 and a["rejected"] == 0

    # Same sample again, and an older one after a newer one: stored once each.
    assert ingest(k, token, doc).json["duplicate"] is True
    newer = dict(doc, seq=doc["seq"] + 5, time=doc["time"] + 50)
    older = dict(doc, seq=doc["seq"] + 2, time=doc["time"] + 20)
    assert ingest(k, token, newer).status == 200
    assert ingest(k, token, older).status == 200
    assert [r[0] for r in guest_rows(k, BUSY_UUID)] == [doc["seq"], doc["seq"] + 2, doc["seq"] + 5]
    a = agent(k, BUSY_UUID)
    assert a["accepted"] == 3 and a["duplicates"] == 1 and a["last_seq"] == doc["seq"] + 5


def test_a_vm_agent_binds_to_its_domain(k):
    uuid = k.vms()["test"]["uuid"]
    token = enroll(k, "test")
    doc = dict(one_doc(), machine_id=uuid)
    assert ingest(k, token, doc).status == 200
    a = agent(k, uuid)
    assert a["vm"] == "test" and a["host"] == "test-default"


def test_token_for_machine_a_cannot_write_machine_b(k):
    token_a = enroll(k, "11111111-2222-4333-8444-555555555555")
    doc_b = one_doc()
    r = ingest(k, token_a, doc_b)
    assert r.status == 403 and BUSY_UUID in r.json["detail"]
    assert guest_rows(k, BUSY_UUID) == []
    # Viewer, operator and admin tokens may not ingest at all.
    assert ingest(k, k.token, doc_b).status == 403
    viewer = k.post("/api/v1/tokens", {"name": "v", "role": "viewer"}).json["token"]
    assert ingest(k, viewer, doc_b).status == 403
    # And a guest token can do nothing else.
    assert k.get("/api/v1/vms", token=token_a).status == 403
    assert k.post("/api/v1/agents", {"machine": "test"}, token=token_a).status == 403
    assert ingest(k, None, doc_b).status == 401


def test_reenrolling_rotates_the_token(k):
    old = enroll(k, BUSY_UUID)
    new = enroll(k, BUSY_UUID)
    doc = one_doc()
    assert ingest(k, old, doc).status == 401
    assert ingest(k, new, doc).status == 200


def test_hostile_bodies_are_rejected_and_counted(k):
    token = enroll(k, BUSY_UUID)
    good = one_doc()
    text = json.dumps(good).encode()
    cases = [
        (b"x" * (300 * 1024), 413),                      # over the parser's 256 KiB
        (b"[" * 5000 + b"]" * 5000, 400),                # deep nesting
        (text.replace(b'"kanri-guestd"', b'"kanri-\xff"'), 400),  # not UTF-8
        (text[: len(text) // 2], 400),                   # truncated
        (b"", 400),
        (json.dumps(dict(good, seq=-1)).encode(), 400),  # negative counter
        (json.dumps(dict(good, memory={"total_bytes": "lots"})).encode(), 400),
        (json.dumps(dict(good, hostname="web\x1b[2J")).encode(), 400),  # terminal escape
        (json.dumps(dict(good, seq=1, seq2=1)).replace('"seq2"', '"seq"').encode(), 400),  # key twice
    ]
    for body, status in cases:
        r = ingest(k, token, raw=body)
        assert r.status == status, (body[:60], r)
        assert r.headers["Content-Type"] == "application/problem+json"
    r = ingest(k, token, raw=json.dumps(dict(good, memory={"total_bytes": "lots"})).encode())
    assert r.json["detail"].startswith("memory.total_bytes")
    # Over the server's 1 MiB: refused from the headers, before the body
    # (none is sent here, so an answer proves it was not awaited).
    st, _, body, _ = k.raw((f"POST /api/v1/ingest/guest HTTP/1.1\r\nHost: x\r\n"
                            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                            f"Content-Length: {1024 * 1024 + 10}\r\n\r\n").encode())
    assert st == 413 and json.loads(body)["status"] == 413, (st, body)
    a = agent(k, BUSY_UUID)
    # Oversized bodies the server refuses before reading are not agent faults it can see.
    assert a["rejected"] >= 8 and a["accepted"] == 0 and a["last_error"]
    assert guest_rows(k, BUSY_UUID) == []
    assert ingest(k, token, good).status == 200
    assert k.get("/api/v1/healthz", token=None).status == 200


def test_rate_limit(k):
    token = enroll(k, BUSY_UUID)
    doc = one_doc()
    statuses = []
    # The burst (200) and then the refill (20/s): however slow the machine,
    # the bucket empties as long as a push takes under 50 ms.
    for i in range(3000):
        r = ingest(k, token, dict(doc, seq=i, time=doc["time"] + i))
        statuses.append(r.status)
        if r.status == 429:
            assert int(r.headers["Retry-After"]) >= 1
            break
    assert statuses[-1] == 429 and statuses.count(200) >= 200
    # Counted, and the counters say since when they count.
    m = k.get("/metrics").body
    assert re.search(r"^kanri_ingest_rate_limited_total 1$", m, re.M), m
    started = float(re.search(r"^kanri_start_time_seconds (\d+)$", m, re.M).group(1))
    assert abs(started - time.time()) < 3600


def test_agents_pushing_at_once_each_stored_once(k):
    """Documents arriving together share a commit (the group commit): every
    one is acknowledged only once stored, each exactly once, and each
    agent's bookkeeping counts its own."""
    import threading
    machines = [f"0b7e1d2a-0000-4000-8000-{i:012x}" for i in range(8)]
    tokens = {m: enroll(k, m) for m in machines}
    base = one_doc()
    docs = {m: [dict(base, machine_id=m, seq=s, time=base["time"] + s) for s in range(1, 11)]
            for m in machines}
    results = {m: [] for m in machines}

    def push(m):
        for d in docs[m] + docs[m]:  # each twice: the second is a duplicate
            r = ingest(k, tokens[m], d)
            results[m].append((r.status, r.json and r.json.get("duplicate")))

    threads = [threading.Thread(target=push, args=(m,)) for m in machines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for m in machines:
        assert results[m] == [(200, False)] * 10 + [(200, True)] * 10, (m, results[m])
        assert [r[0] for r in guest_rows(k, m)] == list(range(1, 11))
        a = agent(k, m)
        assert a["accepted"] == 10 and a["duplicates"] == 10 and a["last_seq"] == 10
    body = k.get("/metrics").body
    groups, docs_written = (int(re.search(rf"^{n} (\d+)$", body, re.M).group(1))
                            for n in ("kanri_store_ingest_groups_total",
                                      "kanri_store_ingest_group_documents_total"))
    assert docs_written == 160 and 1 <= groups <= docs_written, (groups, docs_written)


def test_cli_agent_enroll_and_list(k):
    p = k.cli("agent", "enroll", BUSY_UUID, "--name", "rack7")
    assert p.returncode == 0, p.stderr
    token = p.stdout.strip()
    assert token.startswith("kanri_") and "shown only this once" in p.stderr
    assert ingest(k, token, one_doc()).status == 200
    p = k.cli("agent", "list")
    assert p.returncode == 0 and "rack7" in p.stdout and "standalone" in p.stdout
    assert k.cli("agent", "enroll", "no-such-vm").returncode == 1


def test_spooled_samples_arrive_exactly_once_after_an_outage(kanrid_factory, tmp_path):
    port = free_port()
    state = str(tmp_path / "kanri")
    k = kanrid_factory(args=["--listen", f"127.0.0.1:{port}", "--connect", "test:///default"],
                       state_dir=state)
    token_file = tmp_path / "token"
    token_file.write_text(enroll(k, BUSY_UUID) + "\n")
    agent_state = tmp_path / "agent"
    proc = subprocess.Popen([GUESTD, "--url", f"http://127.0.0.1:{port}/api/v1/ingest/guest",
                             "--token-file", str(token_file), "--interval", "1",
                             "--state-dir", str(agent_state), "--root", BUSY_ROOT],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        k.wait_for(lambda: len(guest_rows(k, BUSY_UUID)) >= 3, timeout=30, what="3 samples")
        k.stop()
        # Counted once kanrid is gone: it serves until it exits, which can
        # take seconds under ThreadSanitizer, and the agent keeps pushing.
        before = len(guest_rows(k, BUSY_UUID))
        # The agent spools while the manager is away: wait for 5 documents
        # in its spool directory.
        spool = agent_state / "spool"
        k.wait_for(lambda: spool.is_dir() and len(list(spool.iterdir())) >= 5, timeout=30,
                   what="5 spooled documents")
        k2 = kanrid_factory(args=["--listen", f"127.0.0.1:{port}", "--connect", "test:///default"],
                            state_dir=state)

        def drained():
            a = agent(k2, BUSY_UUID)
            rows = guest_rows(k2, BUSY_UUID)
            return len(rows) >= before + 5 and a["spool_backlog"] == 0 and rows
        rows = k2.wait_for(drained, timeout=60, what="spool drained")
        seqs = [r[0] for r in rows]
        # No gap and nothing twice: every sample taken arrived exactly once.
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs
        # The documents sent from the spool said how many were still queued
        # behind them: the backlog was reported, and it went down to 0.
        backlogs = spool_backlogs(k2, BUSY_UUID)
        assert max(backlogs) >= 4, backlogs
        assert backlogs[-1] == 0, backlogs
        a = agent(k2, BUSY_UUID)
        assert a["duplicates"] == 0 and a["spool_dropped"] == 0
    finally:
        stop_agent(proc)


def test_once_and_identity_report_the_id_the_daemon_keeps(k, tmp_path):
    """Without SMBIOS (a container), the generated id that --once shows and
    --identity prints is the one kept for the daemon: enrolling it works."""
    root = os.path.join(DATA, "container", "root")
    state = str(tmp_path / "agent")
    first = one_doc(root, state)
    assert first["id_source"] == "generated"
    assert one_doc(root, state)["machine_id"] == first["machine_id"]
    p = run([GUESTD, "--identity", "--root", root, "--state-dir", state],
            capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.strip() == first["machine_id"], p
    assert "kanri agent enroll " + first["machine_id"] in p.stderr
    with open(os.path.join(state, "machine-id")) as f:
        assert f.read().strip() == first["machine_id"]
    token = enroll(k, first["machine_id"])
    assert ingest(k, token, one_doc(root, state)).status == 200
    # Where the id cannot be kept, --once says so and --identity fails.
    bad = str(tmp_path / "file")
    open(bad, "w").close()
    p = run([GUESTD, "--once", "--root", root, "--state-dir", os.path.join(bad, "agent")],
            capture_output=True, text=True)
    assert p.returncode == 0 and json.loads(p.stdout)["id_source"] == "generated"
    assert "is not kept" in p.stderr, p.stderr
    p = run([GUESTD, "--identity", "--root", root, "--state-dir", os.path.join(bad, "agent")],
            capture_output=True, text=True)
    assert p.returncode == 1 and p.stdout == "" and "is not kept" in p.stderr, p


def test_a_guest_clock_ahead_once_pins_nothing(k):
    """A document dated a year ahead (a guest clock wrong once) must not hide
    the later ones, nor show a negative lag."""
    token = enroll(k, BUSY_UUID)
    doc = one_doc()
    now = time.time()
    assert ingest(k, token, dict(doc, seq=1, time=now + 365 * 86400)).status == 200
    a = agent(k, BUSY_UUID)
    assert a["lag_seconds"] == 0, a
    assert ingest(k, token, dict(doc, seq=2, time=now)).status == 200
    a = agent(k, BUSY_UUID)
    assert a["last_seq"] == 2 and 0 <= a["lag_seconds"] < 60, a
    assert a["last_sample_time"].startswith(time.strftime("%Y-", time.gmtime(now))), a


def test_container_identity(k, tmp_path):
    """In an LXC container the agent names its machine by KANRI_CONTAINER_UUID
    (PID 1's environment, or its own under lxc-attach) with id_source
    "container", which kanrid accepts; without it, its generated id, never
    the host's SMBIOS UUID that the container's /sys still shows."""
    ident = os.path.join(DATA, "identity")
    ct_uuid = "6f1c2b9e-3d4a-4e5f-8a7b-9c0d1e2f3a4b"
    doc = one_doc(os.path.join(ident, "lxc-uuid"), str(tmp_path / "a"))
    assert doc["machine_id"] == ct_uuid and doc["id_source"] == "container"
    token = enroll(k, ct_uuid)
    r = ingest(k, token, doc)
    assert r.status == 200, r.json
    assert agent(k, ct_uuid)["id_source"] == "container"

    doc = one_doc(os.path.join(ident, "lxc-only"), str(tmp_path / "b"))
    assert doc["id_source"] == "generated" and doc["machine_id"] != BUSY_UUID

    env = dict(os.environ, KANRI_CONTAINER_UUID=ct_uuid.upper())
    p = run([GUESTD, "--once", "--root", os.path.join(ident, "none"),
             "--state-dir", str(tmp_path / "c")], capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["machine_id"] == ct_uuid and d["id_source"] == "container"

    p = run([GUESTD, "--once", "--root", os.path.join(ident, "lxc-bad-uuid"),
             "--state-dir", str(tmp_path / "d")], capture_output=True, text=True)
    assert p.returncode == 0
    assert json.loads(p.stdout)["id_source"] == "generated"
    assert 'KANRI_CONTAINER_UUID="web-1"' in p.stderr and "not a UUID" in p.stderr, p.stderr
