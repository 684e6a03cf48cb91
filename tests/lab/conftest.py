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
    subprocess.run(["bash", os.path.join(LAB, "build-guest.sh")], check=True, timeout=900)
