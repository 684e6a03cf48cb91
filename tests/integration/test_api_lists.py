"""Lists a client can afford at 1 000 VMs: pages (limit + an opaque
cursor), fields=, ETag with 304, gzip."""
import gzip
import json
import urllib.request

import pytest

from kanri_harness import node_xml

N = 250


@pytest.fixture
def k(kanrid_factory, tmp_path):
    node = tmp_path / "big.xml"
    node.write_text(node_xml("big", n_running=N, n_shutoff=0))
    kd = kanrid_factory(args=["--connect", f"test://{node}"])
    kd.wait_ready()
    assert len(kd.get("/api/v1/vms").json["vms"]) == N
    return kd


def test_pages_cover_the_list_once_in_order(k):
    whole = [v["uuid"] for v in k.get("/api/v1/vms").json["vms"]]
    seen, cursor, pages = [], None, 0
    while True:
        r = k.get("/api/v1/vms?limit=100" + (f"&cursor={cursor}" if cursor else ""))
        assert r.status == 200, r
        seen += [v["uuid"] for v in r.json["vms"]]
        pages += 1
        cursor = r.json.get("next_cursor")
        if not cursor:
            break
        assert len(r.json["vms"]) == 100
    assert pages == 3 and seen == whole
    # The whole list has no cursor; a page as large as the list neither.
    assert "next_cursor" not in k.get("/api/v1/vms").json
    assert "next_cursor" not in k.get(f"/api/v1/vms?limit={N}").json
    # Every paged list takes the same parameters.
    for path, member in [("/api/v1/hosts", "hosts"), ("/api/v1/tokens", "tokens"),
                         ("/api/v1/agents", "agents"), ("/api/v1/pools", "pools"),
                         ("/api/v1/networks", "networks")]:
        r = k.get(path + "?limit=1")
        assert r.status == 200 and len(r.json[member]) <= 1, (path, r)


def test_a_cursor_survives_a_removed_row(k):
    first = k.get("/api/v1/vms?limit=100").json
    last = first["vms"][-1]["name"]
    # The row the cursor points after goes away: the next page starts where
    # it would have, nothing repeated.
    assert k.post(f"/api/v1/vms/{last}/actions/destroy").status == 200
    assert k.post(f"/api/v1/vms/{last}/actions/undefine").status == 200
    k.wait_for(lambda: len(k.get("/api/v1/vms").json["vms"]) == N - 1, what="VM removed")
    second = k.get(f"/api/v1/vms?limit=100&cursor={first['next_cursor']}").json["vms"]
    names = {v["name"] for v in first["vms"]}
    assert not names & {v["name"] for v in second}
    assert second[0]["name"] == k.get("/api/v1/vms").json["vms"][99]["name"]


def test_fields_and_bad_parameters(k):
    r = k.get("/api/v1/vms?limit=2&fields=name,state")
    assert [set(v) for v in r.json["vms"]] == [{"name", "state"}] * 2
    for q, words in [("limit=0", "limit"), ("limit=1001", "limit"), ("limit=x", "limit"),
                     ("cursor=%21%21", "cursor"), ("cursor=bm90IGEgY3Vyc29y", "cursor"),
                     ("fields=name,password", "no field 'password'"), ("fields=", "fields")]:
        r = k.get("/api/v1/vms?" + q)
        assert r.status == 400 and words in r.json["detail"], (q, r)
        assert r.json["field"] in ("limit", "cursor", "fields"), r.json


def test_etag_and_304(k):
    r = k.get("/api/v1/vms")
    etag = r.headers["ETag"]
    assert etag.startswith('W/"') and "no-cache" in r.headers["Cache-Control"]
    again = k.get("/api/v1/vms", headers={"If-None-Match": etag})
    assert again.status == 304 and again.body == ""
    # A change makes a new ETag: the client gets the new list.
    name = r.json["vms"][0]["name"]
    assert k.post(f"/api/v1/vms/{name}/actions/suspend").status == 200
    k.wait_for(lambda: k.get("/api/v1/vms", headers={"If-None-Match": etag}).status == 200,
               what="a new ETag after a change")
    # Errors and actions carry none.
    assert "ETag" not in k.get("/api/v1/vms/nope").headers


def test_gzip_when_asked(k):
    req = urllib.request.Request(k.url + "/api/v1/vms",
                                 headers={"Authorization": "Bearer " + k.token,
                                          "Accept-Encoding": "gzip"})
    with urllib.request.urlopen(req) as resp:
        raw = resp.read()
        assert resp.headers["Content-Encoding"] == "gzip"
        assert "Accept-Encoding" in resp.headers["Vary"]
    plain = k.get("/api/v1/vms")
    assert "Content-Encoding" not in plain.headers
    assert json.loads(gzip.decompress(raw)) == plain.json
    assert len(raw) * 5 < len(plain.body.encode())
    # q=0 means no.
    req.add_header("Accept-Encoding", "gzip;q=0")
    with urllib.request.urlopen(req) as resp:
        assert resp.headers.get("Content-Encoding") is None
