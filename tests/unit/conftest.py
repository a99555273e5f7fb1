"""The unit tier: functions on data in memory. No Snakemake, no subprocess (that is what
tests/integration and tests/e2e are for), so ``make test-unit`` stays under a minute."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import pytest

# h5py (imported by anndata) asks platform.processor(), which runs `uname -p` once and caches it:
# ask before the guard below, so a test that is the first to import anndata is not refused
platform.processor()


@pytest.fixture(autouse=True)
def _no_subprocess(monkeypatch):
    """Fail a unit test that starts a subprocess, naming where it belongs."""

    def refuse(*args, **kwargs):
        raise AssertionError(
            "a unit test started a subprocess; move it to tests/integration "
            f"(or tests/e2e for a workflow run): {args[:1]}"
        )

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)


def pytest_sessionfinish(session, exitstatus):
    """No unit test may import Snakemake (the workflow is tested in tests/e2e).

    Checked when only unit tests ran (``make test-unit``): a session with the other tiers
    imports Snakemake itself (tests/integration/test_snakemake_startup.py).
    """
    unit = Path(__file__).parent
    only_unit = all(unit in Path(item.path).parents for item in getattr(session, "items", []))
    if only_unit and "snakemake" in sys.modules and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        print("\nunit tier: a test imported snakemake; move it to tests/e2e", file=sys.stderr)
