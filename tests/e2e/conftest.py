"""Tables the end-to-end tests compare between runs of the demo DAG (the shared run itself,
``demo_run``, is a session fixture of tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from tests.conftest import FAST_ENRICH

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
