"""The unit tier: functions on data in memory. No Snakemake, no subprocess (that is what
tests/integration and tests/e2e are for), so ``make test-unit`` stays under a minute."""

from __future__ import annotations

import subprocess
import sys

import pytest

#: Unit tests that still start a subprocess, and why they are allowed to for now.
SUBPROCESS_ALLOWED = {
    # pending issue 29 merge (which owns the file): a dead PID for a stale-download test; moves
    # to tests/integration then. `make test-unit` deselects it.
    "tests/unit/test_download.py::test_leftover_part_of_a_killed_run_is_removed",
}


@pytest.fixture(autouse=True)
def _no_subprocess(request, monkeypatch):
    """Fail a unit test that starts a subprocess, naming where it belongs."""
    if request.node.nodeid in SUBPROCESS_ALLOWED:
        return

    def refuse(*args, **kwargs):
        raise AssertionError(
            "a unit test started a subprocess; move it to tests/integration "
            f"(or tests/e2e for a workflow run): {args[:1]}"
        )

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)


def pytest_sessionfinish(session, exitstatus):
    """No unit test may import Snakemake (the workflow is tested in tests/e2e)."""
    if "snakemake" in sys.modules and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        print("\nunit tier: a test imported snakemake; move it to tests/e2e", file=sys.stderr)
