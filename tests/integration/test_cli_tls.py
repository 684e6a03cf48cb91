"""kanri over https: certificate verification, --cacert and --pin.

A self-signed certificate made with the openssl command, and a small
Python HTTPS server on 127.0.0.1 (a random port) that answers
GET /api/v1/hosts the way kanrid would.  kanri must refuse the server
without --cacert (verification is on by default), accept it with --cacert
or KANRI_CACERT, accept it by its pinned key alone, and refuse a wrong pin.
Needs the built kanri (KANRI_BUILD_DIR) and openssl.
"""

import base64
import hashlib
import http.server
import json
import os
import shutil
import ssl
import subprocess
import threading

import pytest

from kanri_harness import KANRI, run

HOSTS = {"hosts": [{"id": 1, "name": "tls-host", "state": "connected", "driver": "test",
                    "cpus": 2, "memory_bytes": 1 << 30, "domains_running": 1,
                    "domains_total": 2, "uri": "test:///default"}]}


def openssl(*args, data=None):
    return subprocess.run(["openssl", *args], input=data, capture_output=True,
                          check=True, timeout=60).stdout


def make_cert(directory, name):
    """A self-signed EC certificate for 127.0.0.1; returns (cert, key) paths."""
    cert = os.path.join(directory, name + ".pem")
    key = os.path.join(directory, name + ".key")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1")
    return cert, key


def pin_of(cert):
    """sha256//BASE64 of the certificate's DER SubjectPublicKeyInfo, as in
    `openssl x509 -pubkey -noout | openssl pkey -pubin -outform der |
    openssl dgst -sha256 -binary | base64`."""
    pem = openssl("x509", "-pubkey", "-noout", "-in", cert)
    der = openssl("pkey", "-pubin", "-outform", "der", data=pem)
    return "sha256//" + base64.b64encode(hashlib.sha256(der).digest()).decode()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.seen.append((self.path, self.headers.get("Authorization")))
        if self.path == "/api/v1/hosts":
            status, body = 200, json.dumps(HOSTS).encode()
        else:
            status, body = 404, b'{"title": "Not Found"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    if not os.path.exists(KANRI):
        pytest.skip(f"{KANRI} is not built")
    if not shutil.which("openssl"):
        pytest.skip("the openssl command is not installed")
    d = str(tmp_path_factory.mktemp("tls"))
    cert, key = make_cert(d, "server")
    other, _ = make_cert(d, "other")

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    # The constructor binds and listens, so kanri can connect from here on;
    # connections wait in the backlog until serve_forever() accepts them.
    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"url": f"https://127.0.0.1:{server.server_address[1]}",
           "port": server.server_address[1],
           "cert": cert, "other": other, "pin": pin_of(cert),
           "other_pin": pin_of(other), "server": server}
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


def kanri(*args, env_extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KANRI_")}
    env["KANRI_STATE_DIR"] = "/nonexistent/kanri-test"
    env["KANRI_TOKEN"] = "t0k"
    env.update(env_extra or {})
    return run([KANRI, "--timeout", "10", *args], capture_output=True, text=True, env=env,
               timeout=60)


def assert_listed(r):
    assert r.returncode == 0, r.stderr
    assert "tls-host" in r.stdout
    assert r.stderr == ""


def test_untrusted_certificate_is_refused_by_default(tls):
    r = kanri("--url", tls["url"], "host", "list")
    assert r.returncode == 3, r.stderr
    assert r.stdout == ""
    assert tls["url"] in r.stderr
    assert "certificate is not trusted" in r.stderr
    assert "--cacert" in r.stderr


def test_cacert_option(tls):
    before = len(tls["server"].seen)
    r = kanri("--url", tls["url"], "--cacert", tls["cert"], "host", "list")
    assert_listed(r)
    assert tls["server"].seen[before:] == [("/api/v1/hosts", "Bearer t0k")]


def test_cacert_from_environment(tls):
    r = kanri("host", "list", env_extra={"KANRI_URL": tls["url"], "KANRI_CACERT": tls["cert"]})
    assert_listed(r)


def test_cacert_of_another_server_is_refused(tls):
    r = kanri("--url", tls["url"], "--cacert", tls["other"], "host", "list")
    assert r.returncode == 3, r.stderr
    assert "certificate is not trusted" in r.stderr
    assert tls["other"] in r.stderr


def test_cacert_still_checks_the_host_name(tls):
    # The certificate names 127.0.0.1 only.
    url = f"https://localhost:{tls['port']}"
    r = kanri("--url", url, "--cacert", tls["cert"], "host", "list")
    assert r.returncode == 3, r.stderr
    assert "certificate is not trusted" in r.stderr


def test_right_pin_without_ca(tls):
    r = kanri("--url", tls["url"], "--pin", tls["pin"], "host", "list")
    assert_listed(r)


def test_pin_from_environment_and_several_pins(tls):
    pins = tls["other_pin"] + ";" + tls["pin"]
    r = kanri("host", "list", env_extra={"KANRI_URL": tls["url"], "KANRI_PIN": pins})
    assert_listed(r)


def test_wrong_pin_is_refused(tls):
    for extra in ([], ["--cacert", tls["cert"]]):
        r = kanri("--url", tls["url"], "--pin", tls["other_pin"], *extra, "host", "list")
        assert r.returncode == 3, r.stderr
        assert r.stdout == ""
        assert "does not match the pinned key" in r.stderr
        assert "--pin" in r.stderr


def test_right_pin_and_cacert(tls):
    r = kanri("--url", tls["url"], "--pin", tls["pin"], "--cacert", tls["cert"], "host", "list")
    assert_listed(r)


@pytest.mark.parametrize("args", [
    ["--pin", "sha256//nonsense"],
    ["--pin", "/etc/kanri/server.pem"],
    ["--cacert", "/nonexistent/ca.pem"],
    ["--cacert", "/etc/hostname"],
], ids=["short-pin", "pin-file", "missing-cacert", "not-pem"])
def test_bad_tls_options_are_usage_errors(tls, args):
    r = kanri("--url", tls["url"], *args, "host", "list")
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("kanri: ")


def test_tls_options_need_an_https_url(tls):
    r = kanri("--url", "http://127.0.0.1:8470", "--pin", tls["pin"], "host", "list")
    assert r.returncode == 2
    assert "https://" in r.stderr
    r = kanri("host", "list", env_extra={"KANRI_URL": "http://127.0.0.1:8470",
                                         "KANRI_CACERT": tls["cert"]})
    assert r.returncode == 2
    assert "KANRI_CACERT" in r.stderr
