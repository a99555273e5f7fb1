"""Fixtures shared by the end-to-end fault and determinism tests.

``reference_run`` is one uninterrupted run of the demo DAG (reduced enrichment, only the targets
the tests compare) that test_faults.py and test_determinism.py both compare against, so CI pays
for it once per session.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from tests.conftest import FAST_ENRICH, fast_demo_config, run_workflow

DE_TABLE = "results/demo/de/ALS_vs_control.parquet"
SCORE_TABLE = "results/demo/scores/signature_scores.parquet"
ENRICH_TABLES = tuple(
    f"results/demo/enrich/ALS_vs_control/{c}.parquet" for c in FAST_ENRICH["collections"]
)
# The deterministic tables every comparison checks (values, and bytes where noted).
TABLES = (DE_TABLE, *ENRICH_TABLES, SCORE_TABLE)


def assert_same_table(a: Path, b: Path) -> None:
    """Equal values (NaN == NaN, nulls equal), same columns, same row order."""
    left, right = pl.read_parquet(a), pl.read_parquet(b)
    assert left.columns == right.columns, f"{a.name}: columns differ"
    assert left.shape == right.shape, f"{a.name}: {left.shape} vs {right.shape}"
    assert left.equals(right, null_equal=True), (
        f"{a} and {b} differ in values:\n"
        f"{pl.concat([left, right]).unique(keep='none', maintain_order=True).head(6)}"
    )


@pytest.fixture(scope="session")
def reference_run(tmp_path_factory) -> Path:
    """Workdir of one uninterrupted ``--cores 2`` run producing every table in TABLES."""
    workdir = tmp_path_factory.mktemp("reference_run")
    result = run_workflow(workdir, fast_demo_config(), *TABLES, cores=2)
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir
