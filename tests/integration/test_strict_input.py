"""Strict input at the HTTP edge: what a hostile client sends in the URL or
the JSON body to make a checked value differ from the one used is refused
with a problem+json 400, and nothing happens."""
import http.client

import pytest


@pytest.fixture
def k(kanrid_factory):
    kd = kanrid_factory(args=["--connect", "test:///default"])
    kd.wait_ready()
    return kd


def raw_request(k, method, target, body=None):
    """The request line exactly as given (urllib would normalise it)."""
    c = http.client.HTTPConnection("127.0.0.1", k.port, timeout=30)
    try:
        c.putrequest(method, target, skip_accept_encoding=True)
        c.putheader("Authorization", "Bearer " + k.token)
        data = body.encode() if body is not None else b""
        c.putheader("Content-Type", "application/json")
        c.putheader("Content-Length", str(len(data)))
        c.endheaders(data)
        r = c.getresponse()
        return r.status, r.getheader("Content-Type"), r.read().decode()
    finally:
        c.close()


def assert_problem(resp, status, field, words):
    st, ctype, body = resp
    assert st == status, resp
    assert ctype == "application/problem+json", resp
    import json
    p = json.loads(body)
    assert p["status"] == status and words in p["detail"], p
    assert p.get("field") == field, p


def test_nul_and_bad_escapes_in_the_url_are_refused(k):
    # Once cut at the NUL, this destroyed the VM.
    assert_problem(raw_request(k, "POST", "/api/v1/vms/test/actions/destroy%00.txt"),
                   400, "path", "NUL")
    assert k.get("/api/v1/vms/test").json["state"] == "running"
    # ... and this listed the tokens.
    assert_problem(raw_request(k, "GET", "/api/v1/tokens%00/../vms"), 400, "path", "NUL")
    assert_problem(raw_request(k, "GET", "/api/v1/vms/te%zzst"), 400, "path", "percent")
    assert_problem(raw_request(k, "GET", "/api/v1/vms?host=test-default%00x"), 400, "query",
                   "NUL")
    assert_problem(raw_request(k, "GET", "/api/v1/vms?host=a&host=test-default"), 400, "query",
                   "'host' is given twice")
    # Percent-encoding itself still works, in the path and in the query.
    assert k.get("/api/v1/vms/t%65st").json["name"] == "test"
    assert [v["name"] for v in k.get("/api/v1/vms?host=test%2Ddefault").json["vms"]] == ["test"]
    assert k.get("/api/v1/vms?host=elsewhere").json["vms"] == []


def test_duplicate_keys_and_nul_in_json_are_refused(k):
    before = {t["name"] for t in k.get("/api/v1/tokens").json["tokens"]}
    # json-c keeps the last of two keys: this once made an admin token.
    assert_problem(raw_request(k, "POST", "/api/v1/tokens",
                               '{"name": "dup", "role": "viewer", "role": "admin"}'),
                   400, "body", "a key twice")
    assert_problem(raw_request(k, "POST", "/api/v1/tokens",
                               '{"name": "a\\u0000b", "role": "viewer"}'), 400, "body", "NUL")
    assert {t["name"] for t in k.get("/api/v1/tokens").json["tokens"]} == before
    assert_problem(raw_request(k, "POST", "/api/v1/vms/test/actions/setmem",
                               '{"memory_mib": 64, "memory_mib": 1000000}'), 400, "body",
                   "a key twice")
    assert k.get("/api/v1/vms/test").json["state"] == "running"
