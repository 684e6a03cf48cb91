"""Shared by tests/integration and tests/lab: the kanrid harness on the
import path and a fixture that starts kanrid processes and stops them after
the test."""
import os
import subprocess
import sys
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "integration"))
sys.path.insert(0, os.path.join(HERE, "lab"))

from kanri_harness import Kanrid, pg_schema_url  # noqa: E402

# The tests' PostgreSQL server (make check starts one).
PG = os.environ.get("KANRI_TEST_PG") or os.environ.get("KANRI_TEST_STORE_PG")


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


@pytest.fixture
def pg_url():
    """A store of the test's own on the tests' PostgreSQL server: a fresh
    schema, dropped afterwards.  Without a server the test is skipped, or
    fails when KANRI_TEST_PG_REQUIRED=1."""
    if not PG:
        if os.environ.get("KANRI_TEST_PG_REQUIRED") == "1":
            pytest.fail("KANRI_TEST_PG is not set: no PostgreSQL server to test on")
        pytest.skip("KANRI_TEST_PG is not set (tools/pg-server.sh start DIR prints one)")
    schema = "t_" + uuid.uuid4().hex[:12]
    yield pg_schema_url(PG, schema)
    subprocess.run(["psql", PG, "-qXc", f"DROP SCHEMA {schema} CASCADE"], capture_output=True)
