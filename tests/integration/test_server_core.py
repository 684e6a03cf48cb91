"""The server core under connections that cost their sender nothing: idle,
trickling or half-sent ones from one address never starve another client,
kanrid's threads stay bounded, and one address is held to its share."""
import resource
import socket

import pytest

MANY = 1500


@pytest.fixture
def k(kanrid_factory):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < MANY + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, MANY + 1000), hard))
    kd = kanrid_factory(args=["--connect", "test:///default"],
                        config="[manager]\nmax_connections_per_address = 2000\n")
    kd.wait_ready()
    return kd


def threads_of(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])


def open_from(addr, port, n, send=b""):
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind((addr, 0))
        s.connect(("127.0.0.1", port))
        if send:
            s.sendall(send)
        socks.append(s)
    return socks


def test_idle_and_half_sent_connections_starve_no_one(k):
    before = threads_of(k.proc.pid)
    idle = open_from("127.0.0.2", k.port, MANY)
    half = open_from("127.0.0.3", k.port, 200,
                     b"POST /api/v1/tokens HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
    try:
        # A client of its own is served at once (it once waited 60 s behind
        # 256 idle connections, each holding a thread).
        assert k.get("/healthz", token=None).status == 200
        r = k.get("/api/v1/vms?limit=10")
        assert r.status == 200 and r.json["vms"][0]["name"] == "test"
        # Connections are not threads.
        assert threads_of(k.proc.pid) < before + 50, (before, threads_of(k.proc.pid))
    finally:
        for s in idle + half:
            s.close()
    assert k.get("/healthz", token=None).status == 200


def test_one_address_is_held_to_its_share(kanrid_factory):
    kd = kanrid_factory(args=["--connect", "test:///default"],
                        config="[manager]\nmax_connections_per_address = 20\n")
    kd.wait_ready()
    socks = open_from("127.0.0.2", kd.port, 20)
    try:
        # The 21st from that address is closed at once, unanswered.
        extra = open_from("127.0.0.2", kd.port, 1, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")[0]
        extra.settimeout(10)
        try:
            got = extra.recv(100)
        except ConnectionResetError:
            got = b""
        extra.close()
        assert got == b""
        # Everyone else is served.
        assert kd.get("/healthz", token=None).status == 200
    finally:
        for s in socks:
            s.close()
