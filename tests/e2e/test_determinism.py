"""Determinism: independent runs of the demo DAG give identical DE, enrichment and signature
tables, at the same and at a different thread count.

A second run from scratch is compared with the session's ``demo_run`` (tests/e2e/conftest.py,
``--cores 2``; on the demo's small matrix the DE and QC jobs ask one thread each,
``alsig.planning.job_threads``): this run gives them two (``--set-threads``), so equal tables
show both that a rerun reproduces them and that the thread count changes nothing. Seeds are
fixed (enrichment permutations: ``enrich.seed``); the DESeq2 engine's per-gene fits are
independent of its thread count, GSEA prerank is seeded per set and thread-count independent and
scoring has no randomness, so the tables are equal to the last bit (values and file bytes; none
of them embeds a timestamp). The ``*.run.json`` / h5ad provenance records DO differ between runs
(creation time, paths) and are not compared.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from alsig.io import sha256_file
from tests.conftest import demo_test_config, run_workflow, uses_demo_run
from tests.e2e.conftest import TABLES, assert_same_table


@uses_demo_run
def test_rerun_from_scratch_with_other_threads_gives_identical_tables(tmp_path, demo_run):
    workdir = tmp_path / "threads2"
    two = ("--set-threads", "de_demo=2", "qc=2", "subtypes_de=2")
    result = run_workflow(workdir, demo_test_config(), *TABLES, extra_args=two, cores=2)
    assert result.returncode == 0, result.stderr[-4000:]
    # the DE fit really ran with two threads here (one in the shared run)
    assert _de_n_cpus(workdir) == 2 and _de_n_cpus(demo_run) == 1
    for table in TABLES:
        assert_same_table(workdir / table, demo_run / table)
        assert sha256_file(workdir / table) == sha256_file(demo_run / table), table


def _de_n_cpus(workdir: Path) -> int:
    summary = pl.read_csv(workdir / "results/demo/de/ALS_vs_control.summary.tsv", separator="\t")
    return int(summary["n_cpus"][0])
