"""kanrid --migrate-to: a SQLite store kanrid has run on, copied into an
empty PostgreSQL database and verified by row counts; kanrid then started
on PostgreSQL serves the same inventory, audit trail and tokens.  Needs
the tests' PostgreSQL server (KANRI_TEST_PG; make check starts one)."""
import os
import subprocess

from kanri_harness import KANRID


def kanrid(*args):
    return subprocess.run([KANRID, *args], capture_output=True, text=True, timeout=120)


def test_migrated_store_serves_the_same_fleet(kanrid_factory, tmp_path, pg_url):
    state = str(tmp_path / "state")
    db = os.path.join(state, "kanri.db")
    k = kanrid_factory(args=["--connect", "test:///default", "--db", db], state_dir=state)
    k.wait_connected(["test-default"])
    assert k.post("/api/v1/vms/test/actions/suspend").status == 200
    viewer = k.post("/api/v1/tokens", {"name": "dash", "role": "viewer"}).json["token"]
    vms = k.get("/api/v1/vms").json["vms"]
    audit = k.get("/api/v1/audit").json["audit"]
    changes = k.get("/api/v1/changes?limit=50").json["changes"]
    k.stop()

    p = kanrid("--state-dir", state, "--db", db, "--migrate-to", pg_url)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].split() == ["TABLE", "SQLITE", "POSTGRESQL"]
    counts = {line.split()[0]: line.split()[1:] for line in lines[1:-1]}
    assert counts["domains"] == ["1", "1"] and counts["tokens"][0] == counts["tokens"][1]
    assert int(counts["audit"][0]) >= 1
    assert all(a == b for a, b in counts.values())
    assert "every count matches" in lines[-1]
    assert "password" not in p.stdout

    # The same fleet from PostgreSQL: the inventory (as stored: the host
    # is not reconnected), the audit trail, the changes, and the tokens:
    # the admin token file and the viewer's token still open the API.
    k2 = kanrid_factory(args=["--db", pg_url], state_dir=state, ready=False)
    got = {v["uuid"]: v for v in k2.get("/api/v1/vms").json["vms"]}
    assert set(got) == {v["uuid"] for v in vms}
    for v in vms:
        assert (got[v["uuid"]]["name"], got[v["uuid"]]["state"]) == (v["name"], v["state"])
    assert [a["id"] for a in k2.get("/api/v1/audit").json["audit"]] == [a["id"] for a in audit]
    assert [c["id"] for c in k2.get("/api/v1/changes?limit=50").json["changes"]] == \
        [c["id"] for c in changes]
    assert k2.get("/api/v1/vms", token=viewer).status == 200
    # New rows get new ids after the copied ones.
    r = k2.post("/api/v1/tokens", {"name": "after", "role": "viewer"})
    assert r.status == 201 and r.json["id"] > max(t["id"] for t in
                                                   k2.get("/api/v1/tokens").json["tokens"]
                                                   if t["name"] != "after")


def test_migration_refuses_what_it_cannot_do(kanrid_factory, tmp_path, pg_url):
    state = str(tmp_path / "state")
    db = os.path.join(state, "kanri.db")
    k = kanrid_factory(args=["--connect", "test:///default", "--db", db], state_dir=state)
    k.wait_connected(["test-default"])
    k.stop()
    assert kanrid("--state-dir", state, "--db", db, "--migrate-to", pg_url).returncode == 0
    # Twice: the target is no longer empty, and says which table shows it.
    p = kanrid("--state-dir", state, "--db", db, "--migrate-to", pg_url)
    assert p.returncode == 1
    assert "already holds data" in p.stderr and "migrate into an empty database" in p.stderr
    # Not a PostgreSQL URL; a PostgreSQL source; no store at all.
    p = kanrid("--state-dir", state, "--db", db, "--migrate-to", "mysql://db/kanri")
    assert p.returncode == 2 and "not a postgresql:// or postgres:// URL" in p.stderr
    p = kanrid("--state-dir", state, "--db", pg_url, "--migrate-to", pg_url)
    assert p.returncode == 2 and "copies a SQLite store" in p.stderr
    p = kanrid("--state-dir", state, "--db", str(tmp_path / "none.db"), "--migrate-to", pg_url)
    assert p.returncode == 1 and "no SQLite store at" in p.stderr
