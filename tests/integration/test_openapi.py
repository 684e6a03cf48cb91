"""docs/openapi.json against the running kanrid and the route table.

The document is checked three ways:

* as served: GET /api/v1/openapi.json needs no token and returns the
  committed file byte for byte;
* against src/api/routes.c: every route in api_routes[] is documented with
  its method and least role (x-kanri-role), and every documented operation
  exists;
* against live answers of a kanrid on libvirt's test driver: every
  documented GET answers 200 with exactly the documented keys, and each
  body validates against its schema (a small JSON Schema reader below, so
  the test needs only the standard library); error answers are problem
  documents with a status the operation documents; action parameter bounds
  taken from the document are enforced by the server.

Run: KANRI_BUILD_DIR=$PWD/build /usr/bin/python3 -m pytest tests/integration/test_openapi.py
"""

import json
import os
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from kanri_harness import KANRID, Response

ROOT = Path(__file__).resolve().parents[2]
DOC_PATH = ROOT / "docs" / "openapi.json"
API_SRC = ROOT / "src" / "api"
ARGS = ["--connect", "test:///default"]
HOST = "test-default"  # the name kanrid derives from test:///default
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
ROLE_RANK = {"none": -1, "guest": 0, "viewer": 1, "operator": 2, "admin": 3}
# Statuses the server may give on any path, whatever the operation lists.
GLOBAL_STATUSES = {404, 405, 413, 415}
# Routes added by their owners before their part of docs/openapi.json.
# Each owner documents theirs and removes it from here; the test fails when
# an entry is documented but still listed, so this list can only shrink.
UNDOCUMENTED_YET = set()
ROUTE_CONF = "[route:log]\ntype = syslog\n[ha]\nvm.test = priority=5\n"
# Lists that leave some entries out unless asked: what the check reads.
LIST_QUERY = {"/api/v1/decisions": "?action=any"}
# An API rule that never fires (no guest has that much memory).
RULE = {"kind": "threshold", "metric": "mem_total", "view": "guest", "op": ">", "value": 1e18}


def load_doc():
    with open(DOC_PATH, "rb") as f:
        return json.loads(f.read())


DOC = load_doc()


@pytest.fixture
def kanrid(kanrid_factory):
    if not os.path.exists(KANRID):
        pytest.skip(f"{KANRID} is not built (set KANRI_BUILD_DIR)")
    # A route, so that GET /routes lists one (syslog: no receiver needed),
    # an HA VM, so that GET /ha does, and an enrolled agent, so that GET
    # /machines does.
    k = kanrid_factory(args=ARGS, config=ROUTE_CONF)
    k.wait_connected([HOST])
    assert k.post("/api/v1/agents", {"machine": "test"}).status == 201
    return k


# ---- a small JSON Schema (2020-12 subset) reader ----------------------------

def resolve(ref):
    assert ref.startswith("#/"), f"only local references are used: {ref}"
    node = DOC
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert part in node, f"dangling $ref {ref}"
        node = node[part]
    return node


def deref(schema):
    while isinstance(schema, dict) and "$ref" in schema:
        extra = {k: v for k, v in schema.items() if k not in ("$ref", "description")}
        target = resolve(schema["$ref"])
        if not extra:
            schema = target
        else:
            schema = {"allOf": [target, extra]}
    return schema


def documented_properties(schema):
    """Every property name the schema (and its allOf parts) documents."""
    schema = deref(schema)
    props = set(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        props |= documented_properties(part)
    return props


def required_properties(schema):
    schema = deref(schema)
    req = set(schema.get("required", []))
    for part in schema.get("allOf", []):
        req |= required_properties(part)
    return req


def branch(schema, inst):
    """The branch of SCHEMA's oneOf that INST matches (SCHEMA itself when it
    has none), whose properties are then checked like any schema's."""
    schema = deref(schema)
    for part in schema.get("oneOf", []):
        if not validate(inst, part):
            return deref(part)
    return schema


TYPE_CHECK = {
    "null": lambda v: v is None,
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def validate(inst, schema, where="$", strict=True):
    """Errors of INST against SCHEMA.  STRICT: an object may hold only the
    properties its schema documents (what makes this a conformance check
    rather than a tolerant reader)."""
    errors = []
    schema = deref(schema)
    if schema is True or schema == {}:
        return errors
    for part in schema.get("allOf", []):
        errors += validate(inst, part, where, strict=False)
    if "anyOf" in schema:
        if not any(not validate(inst, s, where) for s in schema["anyOf"]):
            errors.append(f"{where}: matches none of anyOf")
    if "oneOf" in schema:
        n = sum(1 for s in schema["oneOf"] if not validate(inst, s, where, strict=False))
        if n != 1:
            errors.append(f"{where}: matches {n} of oneOf, expected 1")
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(TYPE_CHECK[t](inst) for t in types):
            return errors + [f"{where}: {inst!r} is not of type {types}"]
    if "const" in schema and inst != schema["const"]:
        errors.append(f"{where}: {inst!r} is not {schema['const']!r}")
    if "enum" in schema and inst not in schema["enum"]:
        errors.append(f"{where}: {inst!r} is not one of {schema['enum']}")
    if isinstance(inst, str):
        if "minLength" in schema and len(inst) < schema["minLength"]:
            errors.append(f"{where}: shorter than {schema['minLength']}")
        if "maxLength" in schema and len(inst) > schema["maxLength"]:
            errors.append(f"{where}: longer than {schema['maxLength']}")
        if "pattern" in schema and not re.search(schema["pattern"], inst):
            errors.append(f"{where}: {inst!r} does not match {schema['pattern']}")
        fmt = schema.get("format")
        if fmt == "date-time" and not RFC3339.match(inst):
            errors.append(f"{where}: {inst!r} is not RFC 3339 UTC with seconds")
        if fmt == "uuid" and not UUID_RE.match(inst):
            errors.append(f"{where}: {inst!r} is not a UUID")
    if TYPE_CHECK["number"](inst):
        if "minimum" in schema and inst < schema["minimum"]:
            errors.append(f"{where}: {inst} < {schema['minimum']}")
        if "maximum" in schema and inst > schema["maximum"]:
            errors.append(f"{where}: {inst} > {schema['maximum']}")
    if isinstance(inst, list) and "items" in schema:
        for n, item in enumerate(inst):
            errors += validate(item, schema["items"], f"{where}[{n}]")
    if isinstance(inst, dict):
        for key in schema.get("required", []):
            if key not in inst:
                errors.append(f"{where}: missing required '{key}'")
        props = schema.get("properties", {})
        for key, sub in props.items():
            if key in inst:
                errors += validate(inst[key], sub, f"{where}.{key}")
        if strict and (props or "allOf" in schema):
            extra = set(inst) - documented_properties(schema)
            if extra:
                errors.append(f"{where}: undocumented properties {sorted(extra)}")
    return errors


def assert_valid(inst, schema, what):
    errors = validate(inst, schema)
    assert not errors, f"{what} does not match its schema:\n  " + "\n  ".join(errors[:20])


# ---- helpers over the document ----------------------------------------------

def operations():
    for path, item in DOC["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def find_operation(method, path):
    """The documented operation serving a concrete request path."""
    path = path.split("?", 1)[0]
    for pattern, m, op in operations():
        if m != method.lower():
            continue
        rx = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(pattern)) + "$"
        if re.match(rx, path):
            return op
    raise AssertionError(f"{method} {path} is not documented")


def response_schema(op, status):
    resp = deref(op["responses"][str(status)])
    content = resp.get("content", {})
    media = content.get("application/json") or content.get("application/problem+json")
    return media["schema"] if media else None


def is_stream(op):
    """Whether the operation answers a server-sent event stream."""
    return "text/event-stream" in deref(op["responses"].get("200", {})).get("content", {})


def check_stream(k, path, op):
    """A live stream against the document: its media type, and each frame
    type's data against the schema x-kanri-frames gives it (the test driver's
    VM is suspended and resumed for events)."""
    frames = deref(op["responses"]["200"])["x-kanri-frames"]
    s = k.stream()
    try:
        assert s.status == 200, s.body
        assert s.headers["content-type"].split(";")[0] == "text/event-stream"
        hello = s.next()
        assert hello["event"] == "hello"
        action(k, "test", "suspend")
        action(k, "test", "resume")
        seen = set()
        while not {"event", "round"} <= seen:
            f = s.next(timeout=30)
            if "event" in f:
                seen.add(f["event"])
                assert f["event"] in frames, f"{path}: undocumented frame {f['event']}"
                assert_valid(f["data"], frames[f["event"]], f"{path} {f['event']} frame")
        assert_valid(hello["data"], frames["hello"], f"{path} hello frame")
    finally:
        s.close()


def normalize(path):
    return re.sub(r"\{[^}]*\}", "{}", path)


def parse_routes():
    """(METHOD, pattern, min_role) of every entry of every route table in
    src/api (api_routes[] in routes.c, and the tables other files add)."""
    rows = []
    for src in sorted(API_SRC.glob("*.c")):
        text = src.read_text()
        for m in re.finditer(r"const struct route \w+\[\] = \{(.*?)\n\};", text, re.S):
            rows += re.findall(r'\{"([A-Z]+)",\s*"(/[^"]*)",\s*(-?\d+),', m.group(1))
    assert any(p == "/api/v1/vms" for _, p, _ in rows), "no routes found in src/api/*.c"
    return [(m, p, int(role)) for m, p, role in rows]


# ---- HTTP -------------------------------------------------------------------

def raw_get(url, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def check_answer(k, method, path, resp):
    """Checks a live answer against the document: its status is one the
    operation lists, and its body matches that status's schema."""
    op = find_operation(method, path)
    documented = {int(s) for s in op["responses"]}
    assert resp.status in documented or resp.status in GLOBAL_STATUSES, \
        f"{method} {path} answered {resp.status}, documented: {sorted(documented)}: {resp.body}"
    if resp.status >= 400:
        assert resp.headers.get("Content-Type") == "application/problem+json", resp.headers
        assert_valid(resp.json, {"$ref": "#/components/schemas/Problem"}, f"{method} {path}")
        assert resp.json["status"] == resp.status
        return
    schema = response_schema(op, resp.status)
    if schema is None:
        assert resp.body == "", f"{method} {path}: {resp.status} documents no body"
        return
    assert resp.headers.get("Content-Type") == "application/json"
    assert_valid(resp.json, schema, f"{method} {path} ({resp.status})")


def action(k, vm, name, params=None):
    path = f"/api/v1/vms/{vm}/actions/{name}"
    r = k.post(path, params)
    check_answer(k, "POST", path, r)
    return r


# ---- the document itself ------------------------------------------------------

def test_document_is_well_formed():
    assert DOC["openapi"].startswith("3.1.")
    assert DOC["components"]["securitySchemes"]["bearer"] == {
        **DOC["components"]["securitySchemes"]["bearer"], "type": "http", "scheme": "bearer"}
    assert DOC["security"] == [{"bearer": []}]

    # Every reference resolves.
    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                resolve(node["$ref"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(DOC)

    tags = {t["name"] for t in DOC["tags"]}
    ids = set()
    for path, method, op in operations():
        assert op["operationId"] not in ids, f"duplicate operationId {op['operationId']}"
        ids.add(op["operationId"])
        assert set(op["tags"]) <= tags, f"{method} {path}: undeclared tag"
        assert op["responses"], f"{method} {path}: no responses"
        assert op["x-kanri-role"] in ROLE_RANK
        declared = {deref(p)["name"] for p in op.get("parameters", []) if deref(p)["in"] == "path"}
        assert declared == set(re.findall(r"\{([^}]+)\}", path)), f"{method} {path}: path parameters"
        for status, resp in op["responses"].items():
            resp = deref(resp)
            if int(status) >= 400:
                assert list(resp["content"]) == ["application/problem+json"], f"{method} {path} {status}"

    # The error statuses of docs/api.md, each with a problem response.
    responses = DOC["components"]["responses"]
    by_status = {}
    for name, resp in responses.items():
        schema = resp["content"]["application/problem+json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Problem"}, name
        by_status[name] = resp
    used = {int(s) for _, _, op in operations() for s in op["responses"] if int(s) >= 400}
    assert {400, 401, 403, 404, 409, 413, 501, 502, 503, 504} <= used
    assert "MethodNotAllowed" in responses and "Allow" in responses["MethodNotAllowed"]["headers"]
    assert "WWW-Authenticate" in responses["Unauthorized"]["headers"]

    # Every action has a parameter schema, and the path parameter lists them all.
    op = DOC["paths"]["/api/v1/vms/{vm}/actions/{action}"]["post"]
    enum = next(deref(p)["schema"]["enum"] for p in op["parameters"] if deref(p)["name"] == "action")
    assert set(op["requestBody"]["x-kanri-action-params"]) == set(enum)


def test_every_route_is_documented():
    routes = parse_routes()
    in_code = {(m.lower(), normalize(p)) for m, p, _ in routes}
    in_doc = {(m, normalize(p)) for p, m, _ in operations()}
    # Every /api/v1 route (the REST API; /metrics is Prometheus text).
    api_v1 = {(m, p) for m, p in in_code if p.startswith("/api/v1/")}
    assert len(api_v1) >= 16
    missing = api_v1 - in_doc - UNDOCUMENTED_YET
    assert missing == set(), "routes missing from docs/openapi.json"
    assert UNDOCUMENTED_YET & in_doc == set(), "documented now: remove from UNDOCUMENTED_YET"
    assert UNDOCUMENTED_YET - in_code == set(), "no such route: remove from UNDOCUMENTED_YET"
    assert in_doc - in_code == set(), "documented operations kanrid does not route"
    for method, pattern, min_role in routes:
        if (method.lower(), pattern) not in in_doc:
            continue
        op = find_operation(method, pattern.replace("{}", "x"))
        assert ROLE_RANK[op["x-kanri-role"]] == min_role, f"{method} {pattern}: role"
        assert (op.get("security") == []) == (min_role < 0), f"{method} {pattern}: security"


# ---- live conformance -------------------------------------------------------

def test_openapi_is_served_without_token_byte_for_byte(kanrid):
    status, headers, body = raw_get(kanrid.url + "/api/v1/openapi.json")
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert body == DOC_PATH.read_bytes()
    assert json.loads(body) == DOC
    # With a bad token too: the route needs no authentication at all.
    status, _, body2 = raw_get(kanrid.url + "/api/v1/openapi.json",
                               {"Authorization": "Bearer kanri_nonsense"})
    assert status == 200 and body2 == body


def test_parameterless_gets_conform(kanrid):
    k = kanrid
    # Make every list non-empty so item schemas are exercised too.
    action(k, "test", "snapshot-create", {"name": "s1", "description": "conformance"})
    r = k.post("/api/v1/tokens", {"name": "viewer1", "role": "viewer"})
    check_answer(k, "POST", "/api/v1/tokens", r)
    assert r.status == 201
    r = k.post("/api/v1/agents", {"machine": "test"})
    check_answer(k, "POST", "/api/v1/agents", r)
    assert r.status == 201
    # A template, of a shut-off VM without disks (the test driver's pool
    # has no images to copy).
    r = k.post("/api/v1/vms", {"host": HOST, "xml": "<domain type='test'><name>bare</name>"
                               "<memory>65536</memory><os><type>hvm</type></os></domain>"})
    check_answer(k, "POST", "/api/v1/vms", r)
    assert r.status == 201
    r = k.post("/api/v1/templates", {"name": "conformance", "vm": "bare"})
    check_answer(k, "POST", "/api/v1/templates", r)
    assert r.status == 201 and r.json["template"]["disks"] == []
    r = k.post("/api/v1/change-requests", {"vm": "bare", "reason": "conformance",
                                           "actions": [{"action": "setvcpus", "vcpus": 1}]})
    check_answer(k, "POST", "/api/v1/change-requests", r)
    assert r.status == 201
    # The first collection round opens guest-view-missing (no agent on the
    # test driver), so /findings has an item to check.
    k.wait_for(lambda: k.get("/api/v1/findings").json["findings"], timeout=30,
               what="a reconciliation finding")
    # That finding opens an incident (/incidents lists the open ones).
    k.wait_for(lambda: k.get("/api/v1/incidents").json["incidents"], timeout=30,
               what="an open incident")
    # A problem, a maintenance window that covers nothing, an API rule.
    r = k.post("/api/v1/problems", {"title": "conformance"})
    check_answer(k, "POST", "/api/v1/problems", r)
    assert r.status == 201 and r.json["problem"]["state"] == "open"
    r = k.post("/api/v1/maintenance", {"scope": "vm:nomatch*", "for": "1h", "why": "conformance"})
    check_answer(k, "POST", "/api/v1/maintenance", r)
    assert r.status == 201 and r.json["maintenance"]["active"] is True
    r = k.request("PUT", "/api/v1/rules/conformance", body=RULE)
    check_answer(k, "PUT", "/api/v1/rules/conformance", r)
    assert r.status == 201 and r.json["rule"]["origin"] == "api"
    # The host in maintenance mode: its VM has nowhere to go, which the
    # policies record (a decision without an action: ?action=any lists it).
    r = k.post(f"/api/v1/hosts/{HOST}/maintenance", {"on": True, "reason": "conformance"})
    check_answer(k, "POST", f"/api/v1/hosts/{HOST}/maintenance", r)
    assert r.status == 200 and r.json["plan"][0]["rule"] == "cannot-place"
    k.wait_for(lambda: k.get("/api/v1/decisions?action=any").json["decisions"], timeout=30,
               what="a policy decision")
    # A tag, and an outage in the availability report (bare is shut off).
    r = k.request("PUT", "/api/v1/vms/bare/tags", {"tags": ["conformance"]})
    check_answer(k, "PUT", "/api/v1/vms/bare/tags", r)
    assert r.status == 200
    k.wait_for(lambda: k.get("/api/v1/reports/availability").json["outages"], timeout=30,
               what="an outage in the availability report")

    checked = 0
    for path, method, op in operations():
        if method != "get" or "{" in path:
            continue
        if is_stream(op):
            check_stream(k, path, op)
            checked += 1
            continue
        r = k.get(path + LIST_QUERY.get(path, ""))
        assert r.status == 200, f"GET {path}: {r}"
        body = r.json
        schema = response_schema(op, 200)
        if path == "/api/v1/openapi.json":
            assert body == DOC
            continue
        schema = branch(schema, body)
        required = required_properties(schema)
        assert required, f"GET {path}: the 200 schema names no required properties"
        assert set(body) == required, f"GET {path}: keys {sorted(body)} != documented {sorted(required)}"
        assert_valid(body, schema, f"GET {path}")
        for key, value in body.items():
            if isinstance(value, list):
                assert value, f"GET {path}: '{key}' is empty, so its items went unchecked"
                item = deref(deref(schema)["properties"][key]["items"])
                for n, entry in enumerate(value):
                    if not isinstance(entry, dict):  # a list of names: assert_valid saw them
                        continue
                    assert required_properties(item) <= set(entry) <= documented_properties(item), \
                        f"GET {path}: {key}[{n}] keys {sorted(entry)}"
        checked += 1
    assert checked >= 16


def test_parameterised_gets_conform(kanrid):
    k = kanrid
    action(k, "test", "snapshot-create", {"name": "s1"})
    k.wait_for(lambda: k.get("/api/v1/vms/test/reconciled").status == 200, timeout=30,
               what="a reconciled round")
    hosts = k.hosts()
    host_id = hosts[HOST]["id"]
    vm = k.vms()["test"]
    for path in [f"/api/v1/hosts/{HOST}", f"/api/v1/hosts/{host_id}", "/api/v1/vms/test",
                 f"/api/v1/vms/{vm['uuid'].upper()}", f"/api/v1/vms/{HOST}:test",
                 "/api/v1/vms/test/snapshots", f"/api/v1/vms?host={HOST}",
                 "/api/v1/vms?host=nosuchhost", f"/api/v1/pools?host={HOST}",
                 f"/api/v1/networks?host={HOST}", "/api/v1/changes?vm=test&limit=1",
                 "/api/v1/changes?limit=1000", "/api/v1/audit?vm=test&limit=5",
                 "/api/v1/vms/test/reconciled", "/api/v1/findings?state=open&vm=test",
                 "/api/v1/findings?rule=guest-view-missing&limit=5"]:
        r = k.get(path + LIST_QUERY.get(path, ""))
        assert r.status == 200, f"GET {path}: {r}"
        check_answer(k, "GET", path, r)

    # The operations record: an incident (opened by guest-view-missing) with
    # a comment, an acknowledgement and a problem, so its log, events and
    # deliveries have entries to check.
    incidents = k.wait_for(lambda: k.get("/api/v1/incidents").json["incidents"], timeout=30,
                           what="an open incident")
    iid = incidents[0]["id"]
    r = k.post("/api/v1/problems", {"title": "conformance", "workaround": "none yet"})
    check_answer(k, "POST", "/api/v1/problems", r)
    pid = r.json["problem"]["id"]
    for method, path, body, status in [
            ("POST", f"/api/v1/incidents/{iid}/comments", {"text": "looking"}, 201),
            ("POST", f"/api/v1/incidents/{iid}/acknowledge", {}, 200),
            ("POST", f"/api/v1/incidents/{iid}/acknowledge", {"comment": "again"}, 409),
            ("POST", f"/api/v1/incidents/{iid}/problem", {"problem": pid}, 200),
            ("PUT", f"/api/v1/problems/{pid}", {"state": "known-error"}, 200)]:
        r = k.request(method, path, body=body)
        assert r.status == status, f"{method} {path} {body}: {r}"
        check_answer(k, method, path, r)
    for path in [f"/api/v1/incidents/{iid}", f"/api/v1/incidents/{iid}?window=1d",
                 f"/api/v1/problems/{pid}", "/api/v1/events?kind=finding.&limit=5",
                 f"/api/v1/events?incident={iid}&severity=warning",
                 "/api/v1/incidents?state=all&severity=warning", "/api/v1/incidents?limit=1",
                 f"/api/v1/incidents?problem={pid}", f"/api/v1/items/vm:{vm['uuid']}/relations",
                 f"/api/v1/items/vm:{vm['uuid']}/impact", f"/api/v1/items/host:{HOST}/relations",
                 f"/api/v1/items/host:{HOST}/impact",
                 f"/api/v1/items/pool:{HOST}/default-pool/relations",
                 f"/api/v1/items/pool:{HOST}/default-pool/impact",
                 f"/api/v1/items/network:{HOST}/default/relations",
                 f"/api/v1/items/network:{HOST}/default/impact"]:
        r = k.get(path + LIST_QUERY.get(path, ""))
        assert r.status == 200, f"GET {path}: {r}"
        check_answer(k, "GET", path, r)
    detail = k.get(f"/api/v1/incidents/{iid}").json
    assert detail["incident"]["state"] == "acknowledged"
    assert detail["incident"]["problem_id"] == pid
    assert [e["what"] for e in detail["log"]] == ["opened", "comment", "acknowledged"]
    assert detail["events"] and detail["events"][0]["incident_id"] == iid
    # Each transition to the syslog route, keyed kanri-INCIDENT-SEQ.
    assert detail["deliveries"]
    for d in detail["deliveries"]:
        assert d["route"] == "log" and d["key"].startswith(f"kanri-{iid}-"), d
    assert [i["id"] for i in k.get(f"/api/v1/problems/{pid}").json["incidents"]] == [iid]
    page = k.get("/api/v1/incidents?state=all&limit=1").json
    assert len(page["incidents"]) == 1 and "next_cursor" in page
    rel = k.get(f"/api/v1/items/vm:{vm['uuid']}/relations").json["relations"]
    assert {"type": "runs-on", "item": f"host:{HOST}", "name": HOST} in rel
    impact = k.get(f"/api/v1/items/host:{HOST}/impact").json["affected"]
    assert f"vm:{vm['uuid']}" in [a["item"] for a in impact]
    detail = k.get("/api/v1/hosts/" + HOST).json
    assert detail["pools"] and detail["networks"]
    assert k.get("/api/v1/vms/test").json["xml"].startswith("<domain")
    snaps = k.get("/api/v1/vms/test/snapshots").json["snapshots"]
    assert [s["name"] for s in snaps] == ["s1"]
    assert len(k.get("/api/v1/changes?limit=1").json["changes"]) == 1

    # Errors of these routes are documented problems.
    for path, status in [("/api/v1/hosts/nosuchhost", 404), ("/api/v1/vms/nosuchvm", 404),
                         ("/api/v1/vms/nosuchvm/snapshots", 404),
                         ("/api/v1/changes?limit=0", 400), ("/api/v1/changes?limit=1001", 400),
                         ("/api/v1/audit?limit=x", 400), ("/api/v1/audit?vm=nosuchvm", 404),
                         ("/api/v1/incidents/999999", 404), ("/api/v1/incidents/x", 404),
                         ("/api/v1/incidents?severity=bad", 400),
                         ("/api/v1/incidents?state=closed", 400),
                         ("/api/v1/events?severity=bad", 400), ("/api/v1/events?limit=0", 400),
                         ("/api/v1/events?cursor=x", 400),
                         (f"/api/v1/incidents/{iid}?window=x", 400),
                         ("/api/v1/problems/999999", 404),
                         ("/api/v1/items/vm:nosuch/relations", 404),
                         ("/api/v1/items/pool:nosuch/pool/impact", 404)]:
        r = k.get(path)
        assert r.status == status, f"GET {path}: {r}"
        check_answer(k, "GET", path, r)
    assert k.get("/api/v1/changes?limit=0").json["field"] == "limit"
    assert k.get("/api/v1/incidents?severity=bad").json["field"] == "severity"
    # Errors of the operations record's writes are documented problems too.
    for method, path, body, status in [
            ("POST", "/api/v1/incidents/999999/resolve", {}, 404),
            ("POST", f"/api/v1/incidents/{iid}/comments", {}, 400),
            ("POST", f"/api/v1/incidents/{iid}/comments", {"text": "x", "by": "me"}, 400),
            ("POST", f"/api/v1/incidents/{iid}/problem", {"problem": 999999}, 400),
            ("POST", "/api/v1/problems", {"state": "open"}, 400),
            ("POST", "/api/v1/maintenance", {"scope": "all", "why": "no end"}, 400),
            ("DELETE", "/api/v1/maintenance/999999", None, 404),
            ("PUT", "/api/v1/rules/conformance", {"kind": "threshold"}, 400),
            ("DELETE", "/api/v1/rules/nosuchrule", None, 404)]:
        r = k.request(method, path, body=body)
        assert r.status == status, f"{method} {path} {body}: {r}"
        check_answer(k, method, path, r)


def test_errors_and_auth_conform(kanrid):
    k = kanrid
    # 401 without or with a bad token, with WWW-Authenticate.
    for token in (None, "kanri_bogus"):
        r = k.get("/api/v1/vms", token=token)
        assert r.status == 401
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
        check_answer(k, "GET", "/api/v1/vms", r)
    # 403 for a viewer on operator and admin routes.
    viewer = k.post("/api/v1/tokens", {"name": "v", "role": "viewer"}).json["token"]
    for method, path in [("POST", "/api/v1/vms/test/actions/suspend"), ("GET", "/api/v1/tokens"),
                         ("POST", "/api/v1/vms"), ("POST", "/api/v1/containers")]:
        r = k.request(method, path, body={}, token=viewer)
        assert r.status == 403, f"{method} {path}: {r}"
        check_answer(k, method, path, r)
    # 404 for an unknown path, 405 with Allow for a method a path lacks.
    r = k.get("/api/v1/nosuch")
    assert r.status == 404 and r.headers["Content-Type"] == "application/problem+json"
    r = k.request("PUT", "/api/v1/vms", body={})
    assert r.status == 405
    documented = {m.upper() for m in DOC["paths"]["/api/v1/vms"] if m in METHODS}
    assert {m.strip() for m in r.headers["Allow"].split(",")} == documented
    assert_valid(r.json, {"$ref": "#/components/schemas/Problem"}, "405")
    # 413 for a body over 1 MiB.
    # (Refused from the headers: the body is never awaited, so none is sent.)
    st, h, body, _ = k.raw(("POST /api/v1/tokens HTTP/1.1\r\nHost: x\r\n"
                            f"Authorization: Bearer {k.token}\r\n"
                            "Content-Type: application/json\r\n"
                            f"Content-Length: {1024 * 1024 + 1}\r\n\r\n").encode())
    r = Response(st, {"Content-Type": h.get("content-type")}, body)
    assert r.status == 413
    check_answer(k, "POST", "/api/v1/tokens", r)
    # 400 for malformed bodies, naming the field.
    for raw, field in [(b"{", "body"), (b"[1]", "body"), (b"{} x", "body"),
                       (b'{"name": 1, "role": "viewer"}', "name"),
                       (b'{"name": "x", "role": "root"}', "role")]:
        r = k.request("POST", "/api/v1/tokens", raw=raw)
        assert r.status == 400, f"{raw!r}: {r}"
        assert r.json["field"] == field
        check_answer(k, "POST", "/api/v1/tokens", r)
    # Token lifecycle: create, list, revoke (204), revoke again (404).
    r = k.post("/api/v1/tokens", {"name": "ci", "role": "operator"})
    check_answer(k, "POST", "/api/v1/tokens", r)
    tid = r.json["id"]
    r = k.request("DELETE", f"/api/v1/tokens/{tid}")
    assert r.status == 204
    check_answer(k, "DELETE", f"/api/v1/tokens/{tid}", r)
    for bad in (str(tid), "abc"):
        r = k.request("DELETE", f"/api/v1/tokens/{bad}")
        assert r.status == 404
        check_answer(k, "DELETE", f"/api/v1/tokens/{bad}", r)


def test_actions_conform(kanrid):
    k = kanrid
    uuid = k.vms()["test"]["uuid"]
    r = action(k, "test", "suspend")
    assert r.status == 200 and r.json["vm"]["state"] == "paused"
    r = action(k, "test", "suspend")
    assert r.status == 409 and "audit_id" in r.json
    r = action(k, "test", "resume")
    assert r.status == 200
    r = action(k, "test", "snapshot-create")
    assert r.status == 200 and r.json["snapshot"]
    snap = r.json["snapshot"]
    assert action(k, "test", "snapshot-revert", {"name": snap}).status == 200
    assert action(k, "test", "snapshot-delete", {"name": snap}).status == 200
    assert action(k, "test", "snapshot-delete", {"name": snap}).status == 404
    assert action(k, "test", "setmem", {"memory_mib": 1024}).status == 200
    assert action(k, "test", "nosuchaction").status == 404
    assert action(k, "nosuchvm", "start").status == 404
    r = action(k, uuid, "shutdown", {"timeout": 5})
    assert r.status == 200, r
    assert action(k, "test", "start").status == 200
    # Define, then undefine: undefine replies without "vm".
    xml = ("<domain type='test'><name>oa1</name><memory>1048576</memory>"
           "<os><type>hvm</type></os></domain>")
    r = k.post("/api/v1/vms", {"host": HOST, "xml": xml})
    check_answer(k, "POST", "/api/v1/vms", r)
    assert r.status == 201 and r.json["vm"]["name"] == "oa1"
    for body, field in [({"xml": xml}, "host"), ({"host": HOST}, "xml"),
                        ({"host": "nosuchhost", "xml": xml}, "host")]:
        r = k.post("/api/v1/vms", body)
        assert r.status == 400 and r.json["field"] == field
        check_answer(k, "POST", "/api/v1/vms", r)
    r = k.post("/api/v1/vms", {"host": HOST, "xml": "<domain"})
    assert r.status in (400, 502), r
    check_answer(k, "POST", "/api/v1/vms", r)
    r = action(k, "oa1", "undefine")
    assert r.status == 200 and "vm" not in r.json
    # A container on the test driver's host: it runs VMs (501); the body
    # and the host are checked first.
    for body, status in [({"host": HOST, "name": "ct1"}, 501),
                         ({"host": "nosuchhost", "name": "ct1"}, 404),
                         ({"host": HOST, "name": "bad name"}, 400),
                         ({"host": HOST}, 400)]:
        r = k.post("/api/v1/containers", body)
        assert r.status == status, f"{body}: {r}"
        check_answer(k, "POST", "/api/v1/containers", r)


def test_container_bounds_from_document(kanrid):
    """Every bound ContainerCreate states is enforced: one past each
    minimum and maximum, a wrong type, a pattern broken, each give 400
    naming that member, before the host is asked."""
    k = kanrid
    schema = DOC["components"]["schemas"]["ContainerCreate"]
    valid = {"host": HOST, "name": "ct1"}
    cases = 0
    for key in schema["required"]:
        body = {n: v for n, v in valid.items() if n != key}
        r = k.post("/api/v1/containers", body)
        assert r.status == 400 and r.json["field"] == key, f"without {key}: {r}"
        cases += 1
    for key, p in schema["properties"].items():
        bad = []
        if p["type"] == "integer":
            bad += ["1", p["minimum"] - 1, p["maximum"] + 1]
        elif p["type"] == "boolean":
            bad.append("yes")
        else:
            bad += [7, "", "a" * (p["maxLength"] + 1)]
            if "pattern" in p:
                bad += ["-x", "a b"]
        for value in bad:
            r = k.post("/api/v1/containers", {**valid, key: value})
            assert r.status == 400 and r.json.get("field") == key, f"{key}={value!r}: {r}"
            check_answer(k, "POST", "/api/v1/containers", r)
            cases += 1
    assert cases >= 20


def test_action_parameter_bounds_from_document(kanrid):
    """Every bound the document states for an action parameter is enforced:
    one past each minimum and maximum, a wrong type, a missing required
    parameter each give 400 naming that parameter."""
    k = kanrid
    # to_host naming the VM's own host passes the parameter checks, then fails.
    VALID_PARAMS = {"setvcpus": {"vcpus": 2}, "setmem": {"memory_mib": 512},
                    "migrate": {"to_host": HOST}}
    op = DOC["paths"]["/api/v1/vms/{vm}/actions/{action}"]["post"]
    params = op["requestBody"]["x-kanri-action-params"]
    cases = 0
    for name, ref in params.items():
        schema = deref({"$ref": ref})
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            r = action(k, "test", name, {})
            assert r.status == 400 and r.json["field"] == key, f"{name} without {key}: {r}"
            cases += 1
        for key, p in props.items():
            bad = []
            if p["type"] == "integer":
                bad.append("1")
                if "minimum" in p:
                    bad.append(p["minimum"] - 1)
                if "maximum" in p:
                    bad.append(p["maximum"] + 1)
            elif p["type"] == "boolean":
                bad.append("yes")
            elif p["type"] == "string":
                bad.append(7)
                if "maxLength" in p:
                    bad.append("a" * (p["maxLength"] + 1))
                if "minLength" in p:
                    bad.append("")
                if "pattern" in p:
                    bad.append("no spaces allowed")
            for value in bad:
                # The other parameters valid, so the failure can only be KEY's.
                body = dict(VALID_PARAMS.get(name, {}))
                if name == "setmem" and key.startswith("memory_"):
                    body = {}
                body[key] = value
                r = action(k, "test", name, body)
                assert r.status == 400 and r.json.get("field") == key, f"{name} {body}: {r}"
                cases += 1
    assert cases >= 25
    r = action(k, "test", "setmem", {"memory_mib": 512, "memory_bytes": 536870912})
    assert r.status == 400 and r.json["field"] == "memory_bytes"
