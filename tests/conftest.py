"""Shared by tests/integration and tests/lab: the kanrid harness on the
import path and a fixture that starts kanrid processes and stops them after
the test."""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "integration"))
sys.path.insert(0, os.path.join(HERE, "lab"))

from kanri_harness import Kanrid  # noqa: E402


@pytest.fixture
def kanrid_factory():
    started = []

    def start(*args, **kw):
        k = Kanrid(*args, **kw)
        started.append(k)
        return k

    yield start
    # Every kanrid is stopped even when one of them reports a sanitizer
    # error; the first report then fails the test.
    errors = []
    for k in started:
        try:
            k.stop()
        except AssertionError as e:
            errors.append(e)
    if errors:
        raise errors[0]
