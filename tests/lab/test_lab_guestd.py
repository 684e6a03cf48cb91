"""kanri-guestd inside a real QEMU guest: it identifies itself by the SMBIOS
UUID QEMU gives the guest (the libvirt domain's UUID), pushes to kanrid over
HTTPS (kanrid's key pinned) on the guest's user-mode network, and its
samples are bound to that domain."""
import json
import os
import re
import socket
import sqlite3
import subprocess
import tempfile

import pytest

import labvm
from kanri_harness import BUILD

NAME = f"kanri-lab-guestd-{os.getpid()}"
LAB = os.path.dirname(os.path.abspath(__file__))
GUESTD_STATIC = os.path.join(BUILD, "src", "guest", "kanri-guestd-static")


def sanitized_build():
    """True when BUILD is a sanitizer build (meson -Db_sanitize=...)."""
    try:
        with open(os.path.join(BUILD, "meson-info", "intro-buildoptions.json")) as f:
            opts = {o["name"]: o["value"] for o in json.load(f)}
    except OSError:
        return False
    return opts.get("b_sanitize", "none") != "none"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def workdir(lab_images):
    labvm.undefine(NAME)
    with tempfile.TemporaryDirectory(prefix="kanri-lab-guestd-") as d:
        yield d
    labvm.undefine(NAME)


def test_guestd_in_a_real_guest_is_bound_to_its_domain(kanrid_factory, workdir):
    # The guest runs the static agent, which sanitizer builds do not make
    # (src/guest/meson.build); anywhere else a missing one is a failure.
    if sanitized_build() and not os.path.exists(GUESTD_STATIC):
        pytest.skip("a sanitizer build has no static kanri-guestd")
    port = free_port()
    k = kanrid_factory(args=["--listen", f"127.0.0.1:{port}", "--connect", "qemu:///system"],
                       config="[manager]\ntls = on\n")
    k.wait_connected(["local"])
    pin = k.get("/api/v1/server").json["tls"]["pin"]

    # Define first: the token is bound to the domain's UUID.
    uuid = labvm.define_guest(NAME, memory_mib=256, net=True)
    k.wait_for(lambda: NAME in k.vms("local"), what="guest in inventory")
    r = k.post("/api/v1/agents", {"machine": NAME})
    assert r.status == 201 and r.json["machine_uuid"] == uuid, r

    # An initramfs with the static agent, its token and its arguments; the
    # guest reaches the host's loopback as 10.0.2.2.
    token = os.path.join(workdir, "token")
    args = os.path.join(workdir, "args")
    with open(token, "w") as f:
        f.write(r.json["token"] + "\n")
    with open(args, "w") as f:
        f.write(f"--url https://10.0.2.2:{port}/api/v1/ingest/guest --pin {pin} "
                "--token-file /etc/kanri-guestd.token --interval 2 "
                "--state-dir /run/kanri-guestd\n")
    out = os.path.join(workdir, "images")
    subprocess.run(["bash", os.path.join(LAB, "build-guest.sh"),
                    "--extra", f"{GUESTD_STATIC}:/usr/sbin/kanri-guestd",
                    "--extra", f"{token}:/etc/kanri-guestd.token",
                    "--extra", f"{args}:/etc/kanri-guestd.args", out],
                   check=True, timeout=600)
    _, initrd = labvm.images(out)
    xml = labvm.virsh("dumpxml", NAME)
    xml = re.sub(r"<initrd>[^<]*</initrd>", f"<initrd>{initrd}</initrd>", xml)
    path = os.path.join(workdir, "dom.xml")
    with open(path, "w") as f:
        f.write(xml)
    labvm.virsh("define", path)

    labvm.start(NAME)
    labvm.wait_agent(NAME, timeout=180)

    def rows():
        db = sqlite3.connect(f"file:{k.state_dir}/kanri.db?mode=ro", uri=True)
        try:
            return db.execute("SELECT seq, mem_total, cpu_count FROM guest_samples"
                              " WHERE machine_uuid = ? AND source = 'kanri-guestd' ORDER BY seq",
                              (uuid,)).fetchall()
        finally:
            db.close()

    got = k.wait_for(lambda: len(rows()) >= 3 and rows(), timeout=120,
                     what="three samples from the guest")
    # The guest's own view: about 256 MiB minus what the kernel keeps, 1 vCPU.
    assert 150 * 1048576 < got[-1][1] <= 256 * 1048576 and got[-1][2] == 1
    a = next(a for a in k.get("/api/v1/agents").json["agents"] if a["machine_uuid"] == uuid)
    assert a["id_source"] == "smbios"
    assert a["vm"] == NAME and a["host"] == "local"
    assert a["hostname"] and a["rejected"] == 0 and a["accepted"] >= 3
    assert a["lag_seconds"] is not None and a["lag_seconds"] < 30
