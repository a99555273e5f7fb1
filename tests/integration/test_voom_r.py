"""alsig.voom against a live R (limma, lme4, lmerTest) on a freshly simulated cohort.

Skips with a reason when Rscript or one of the R packages is absent (CI has no R unless
``.ci/run`` installs it); the committed fixtures of test_voom_reference.py cover CI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import missing_r_packages
from tests.unit import voom_reference as checks

# one xdist worker runs this module, so its module-scoped fixture is built once
pytestmark = pytest.mark.xdist_group("voom_r")

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("limma", "lme4", "lmerTest", "DESeq2")


def _r_ready() -> str:
    if shutil.which("Rscript") is None:
        return "Rscript not found"
    missing = missing_r_packages(*PACKAGES)
    if missing:
        return f"R packages {', '.join(missing)} not installed (needed: {', '.join(PACKAGES)})"
    return ""


@pytest.fixture(scope="module")
def live_reference(tmp_path_factory) -> checks.Reference:
    reason = _r_ready()
    if reason:
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("voom_r")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "build_voom_fixtures.py"),
            "--out",
            str(out),
            "--seed",
            "23",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return checks.Reference(out)


def test_live_r_voom_limma(live_reference):
    checks.check_size_factors(live_reference)
    checks.check_voom(live_reference)
    checks.check_lm_ebayes(live_reference)


def test_live_r_duplicate_correlation(live_reference):
    checks.check_dupcor(live_reference)


def test_live_r_mixed_model(live_reference):
    checks.check_mixed(live_reference)
