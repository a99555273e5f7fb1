"""Determinism: independent runs of the demo DAG give identical DE, enrichment and signature
tables, at the same and at a different thread count.

The shared run's config, run again from scratch in a second output root (``second_root_run``,
tests/e2e/conftest.py), is compared with the session's ``demo_run`` (``--cores 2``; on the demo's
small matrix the DE and QC jobs ask one thread each, ``alsig.planning.job_threads``): the second
run gives them two (``--set-threads``), so equal tables show both that a rerun reproduces them and
that the thread count changes nothing. Seeds are fixed (enrichment permutations: ``enrich.seed``);
the DESeq2 engine's per-gene fits are independent of its thread count, GSEA prerank is seeded per
set and thread-count independent and scoring has no randomness, so the tables are equal to the
last bit (values and file bytes; none of them embeds a timestamp or its output root). The
``*.run.json`` / h5ad provenance records DO differ between runs (creation time, paths) and are not
compared.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from alsig.io import sha256_file
from tests.conftest import uses_demo_run
from tests.e2e.conftest import SECOND_ROOT, TABLES, assert_same_table, second_root_group

pytestmark = [second_root_group, uses_demo_run]


def test_rerun_from_scratch_with_other_threads_gives_identical_tables(second_root_run, demo_run):
    rerun = second_root_run / SECOND_ROOT
    # the DE fit really ran with two threads here (one in the shared run)
    assert _de_n_cpus(rerun) == 2 and _de_n_cpus(demo_run / "results") == 1
    for table in TABLES:
        mine = rerun / Path(table).relative_to("results")
        assert_same_table(mine, demo_run / table)
        assert sha256_file(mine) == sha256_file(demo_run / table), table


def _de_n_cpus(root: Path) -> int:
    summary = pl.read_csv(root / "demo/de/ALS_vs_control.summary.tsv", separator="\t")
    return int(summary["n_cpus"][0])
