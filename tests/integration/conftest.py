import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from kanri_harness import Kanrid  # noqa: E402


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
