"""HTTPS for the API: a certificate made on first start and kept, the pin
printed, the CLI verifying it (CA file or pin), plain HTTP refused off
loopback unless asked for."""
import os
import re
import socket
import ssl
import subprocess

import pytest

from kanri_harness import BUILD, KANRID, Kanrid, run, stop_agent


def test_tls_on_loopback_with_a_made_certificate(kanrid_factory, tmp_path):
    state = str(tmp_path / "state")
    k = kanrid_factory(args=["--connect", "test:///default"], state_dir=state,
                       config="[manager]\ntls = on\n")
    assert k.url.startswith("https://")
    assert k.get("/api/v1/vms").json["vms"][0]["name"] == "test"   # verified against the cert
    pin = re.search(r"pin (sha256//\S+) ", k.log).group(1)
    key = os.path.join(state, "tls-key.pem")
    assert os.stat(key).st_mode & 0o777 == 0o600
    # The CLI: by CA file (the harness's KANRI_CACERT), by pin, and not at all.
    assert k.cli("vm", "list").returncode == 0
    p = k.cli("vm", "list", env_extra={"KANRI_CACERT": "", "KANRI_PIN": pin})
    assert p.returncode == 0 and "test" in p.stdout, p.stderr
    p = k.cli("vm", "list", env_extra={"KANRI_CACERT": ""})
    assert p.returncode != 0 and "certificate" in p.stderr.lower(), p.stderr
    p = k.cli("vm", "list", env_extra={"KANRI_CACERT": "",
                                       "KANRI_PIN": "sha256//" + "A" * 43 + "="})
    assert p.returncode != 0
    # Plain HTTP on the TLS port gets nothing.
    with socket.create_connection(("127.0.0.1", k.port), timeout=10) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b'"status":"ok"' not in s.recv(4096)
    # The same certificate after a restart: clients keep their pin.
    k.stop()
    k2 = kanrid_factory(args=["--connect", "test:///default"], state_dir=state,
                        config="[manager]\ntls = on\n")
    assert re.search(r"pin (sha256//\S+) ", k2.log).group(1) == pin
    assert "made a self-signed certificate" not in k2.log


def test_plain_http_off_loopback_is_refused_unless_asked(tmp_path):
    conf = tmp_path / "k.conf"
    conf.write_text("[manager]\ntls = off\n")
    p = run([KANRID, "--state-dir", str(tmp_path / "s"), "--listen", "0.0.0.0:0",
             "--config", str(conf), "--connect", "test:///default"],
            capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "refusing plain HTTP on 0.0.0.0" in p.stderr, p.stderr
    k = Kanrid(args=["--listen", "0.0.0.0:0", "--insecure-http", "--config", str(conf),
                     "--connect", "test:///default"], ready=False)
    try:
        assert k.url.startswith("http://") and k.get("/healthz", token=None).status == 200
    finally:
        k.stop()


def test_half_a_certificate_pair_is_refused(tmp_path):
    # Once, a tls_cert without tls_key silently served a generated
    # certificate instead of the one the operator named.
    conf = tmp_path / "k.conf"
    conf.write_text(f"[manager]\ntls = on\ntls_cert = {tmp_path}/mine.pem\n")
    p = run([KANRID, "--state-dir", str(tmp_path / "s"), "--listen", "127.0.0.1:0",
             "--config", str(conf), "--connect", "test:///default"],
            capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "tls_cert and tls_key go together" in p.stderr, p.stderr
    assert not os.path.exists(tmp_path / "s" / "tls-cert.pem")


GUESTD_BUILDS = [b for b in ("kanri-guestd", "kanri-guestd-musl")
                 if os.path.exists(os.path.join(BUILD, "src", "guest", b))]


@pytest.mark.parametrize("binary", GUESTD_BUILDS)
def test_guestd_pushes_over_tls_to_the_pinned_key_only(kanrid_factory, tmp_path, binary):
    from test_ingest import BUSY_ROOT, BUSY_UUID, enroll, guest_rows
    k = kanrid_factory(args=["--connect", "test:///default"], config="[manager]\ntls = on\n")
    pin = re.search(r"pin (sha256//\S+) ", k.log).group(1)
    token = tmp_path / "token"
    token.write_text(enroll(k, BUSY_UUID) + "\n")
    url = f"https://127.0.0.1:{k.port}/api/v1/ingest/guest"

    def agent(pin, state):
        return subprocess.Popen(
            [os.path.join(BUILD, "src", "guest", binary), "--url", url, "--pin", pin,
             "--token-file", str(token), "--interval", "1", "--state-dir", str(tmp_path / state),
             "--root", BUSY_ROOT],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def stop(proc):
        return stop_agent(proc, binary)

    # Another key's pin: nothing is sent, the agent says why and keeps its
    # documents for later.
    wrong = agent("sha256//" + "A" * 43 + "=", "wrong")
    try:
        spool = tmp_path / "wrong" / "spool"
        k.wait_for(lambda: spool.is_dir() and len(list(spool.iterdir())) >= 2, timeout=30,
                   what="2 spooled documents")
    finally:
        err = stop(wrong)
    assert "not the pinned one" in err, err
    assert guest_rows(k, BUSY_UUID) == []
    # The right pin: the documents arrive.
    right = agent(pin, "right")
    try:
        k.wait_for(lambda: len(guest_rows(k, BUSY_UUID)) >= 2, timeout=30, what="2 samples")
    finally:
        err = stop(right)
    assert "not the pinned one" not in err, err


def test_server_shows_the_pin_it_logged(kanrid_factory):
    k = kanrid_factory(args=["--connect", "test:///default"], config="[manager]\ntls = on\n")
    pin = re.search(r"pin (sha256//\S+) ", k.log).group(1)
    s = k.get("/api/v1/server").json
    assert s["tls"] == {"enabled": True, "pin": pin,
                        "certificate": os.path.join(k.state_dir, "tls-cert.pem")}
    p = k.cli("server")
    assert p.returncode == 0 and re.search(rf"^Pin:\s+{re.escape(pin)}$", p.stdout, re.M), p.stdout
    plain = kanrid_factory(args=["--connect", "test:///default"])
    assert plain.get("/api/v1/server").json["tls"] == {"enabled": False}
    assert "off (plain HTTP)" in plain.cli("server").stdout
