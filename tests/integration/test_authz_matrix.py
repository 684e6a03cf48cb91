"""The authorization matrix, generated from docs/openapi.json: every
operation asked by every identity (no token, an unknown token, a guest,
viewer, operator and admin token).  An identity below the operation's
x-kanri-role gets 401 (no or unknown token) or 403; one at or above it gets
past authorization (the requests are built to stop at validation or at an
unknown object, so nothing changes)."""
import json
import os
import re

import pytest

from kanri_harness import Kanrid, Response

DOC = json.load(open(os.path.join(os.path.dirname(__file__), "..", "..", "docs",
                                  "openapi.json")))
RANK = {"none": -1, "guest": 0, "viewer": 1, "operator": 2, "admin": 3}
IDENTITIES = ["no token", "unknown token", "guest", "viewer", "operator", "admin"]
GUEST_UUID = "4c4c4544-0042-3910-8052-b7c04f4a4d32"
# Path parameters: real objects of test:///default, or ones that do not
# exist where using them would change something.
PARAMS = {"host": "test-default", "vm": "test", "action": "no-such-action", "id": "999999",
          "pool": "default-pool", "item": "host:test-default", "name": "no-such-rule",
          "machine": "no-such-machine", "step": "submit"}


def operations():
    for path, item in DOC["paths"].items():
        for method, op in item.items():
            if method in ("get", "post", "put", "delete", "patch"):
                yield method.upper(), path, op["x-kanri-role"]


def is_stream(method, path):
    """An operation whose answer does not end (server-sent events): asked
    on a connection of its own and closed once its status is known."""
    op = DOC["paths"][path][method.lower()]
    return "text/event-stream" in op["responses"].get("200", {}).get("content", {})


CASES = [(m, p, role, who) for m, p, role in operations() for who in IDENTITIES]


@pytest.fixture(scope="module")
def k():
    kd = Kanrid(args=["--connect", "test:///default"])
    kd.wait_ready()
    kd.tokens = {"admin": kd.token, "unknown token": "kanri_" + "x" * 43, "no token": None}
    for role in ("viewer", "operator"):
        kd.tokens[role] = kd.post("/api/v1/tokens", {"name": role, "role": role}).json["token"]
    kd.tokens["guest"] = kd.post("/api/v1/agents", {"machine": GUEST_UUID}).json["token"]
    yield kd
    kd.stop()


def expected(role, who):
    """The status class the matrix demands: 'allowed', 401 or 403."""
    if role == "none":
        return "allowed"
    if who in ("no token", "unknown token"):
        return 401
    rank = RANK[who]
    if role == "guest":
        return "allowed" if who == "guest" else 403
    return "allowed" if rank >= RANK[role] and who != "guest" else 403


@pytest.mark.parametrize("method,path,role,who", CASES,
                         ids=[f"{m} {p} as {w}" for m, p, _, w in CASES])
def test_matrix(k, method, path, role, who):
    url = re.sub(r"\{(\w+)\}", lambda m: PARAMS[m.group(1)], path)
    body = {} if method == "POST" else None
    if is_stream(method, path):
        s = k.stream(token=k.tokens[who])
        s.close()
        r = Response(s.status, {"Content-Type": s.headers.get("content-type")}, s.body or "")
    else:
        r = k.request(method, url, body=body, token=k.tokens[who])
    want = expected(role, who)
    if want == "allowed":
        assert r.status not in (401, 403), (method, url, who, r)
        assert r.status < 500, (method, url, who, r)
    else:
        assert r.status == want, (method, url, who, r)
        assert r.headers["Content-Type"] == "application/problem+json"
