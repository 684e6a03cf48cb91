"""Lab tests: real QEMU guests under the libvirtd that tests/lab/setup-host.sh
starts.  Both the lab helpers (labvm) and the kanrid harness are importable."""
import os
import subprocess
import sys

import pytest

LAB = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, LAB)
sys.path.insert(0, os.path.join(LAB, "..", "integration"))

from kanri_harness import Kanrid  # noqa: E402


@pytest.fixture(scope="session")
def lab_images():
    """Host set up and guest images built once per session."""
    subprocess.run(["bash", os.path.join(LAB, "setup-host.sh")], check=True, timeout=900)
    subprocess.run(["bash", os.path.join(LAB, "build-guest.sh")], check=True, timeout=900)


@pytest.fixture
def kanrid_factory():
    started = []

    def start(*args, **kw):
        k = Kanrid(*args, **kw)
        started.append(k)
        return k

    yield start
    for k in started:
        k.stop()
