"""Lab tests: real QEMU guests under the libvirtd that tests/lab/setup-host.sh
starts (the kanrid fixture is in tests/conftest.py)."""
import os
import subprocess

import pytest

LAB = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="session")
def lab_images():
    """Host set up and guest images built once per session."""
    subprocess.run(["bash", os.path.join(LAB, "setup-host.sh")], check=True, timeout=900)
    r = subprocess.run(["bash", os.path.join(LAB, "build-guest.sh")], timeout=900)
    if r.returncode == 3 and os.environ.get("KANRI_LAB_OFFLINE_OK") == "1":
        # build-guest.sh could not download the kernel package (the network
        # is down); CI says it may skip then rather than fail (docs/lab.md).
        pytest.skip("lab guest kernel could not be downloaded (network down)")
    if r.returncode != 0:
        raise subprocess.CalledProcessError(r.returncode, r.args)
