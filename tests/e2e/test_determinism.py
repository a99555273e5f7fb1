"""Determinism: independent runs of the demo DAG give identical DE, enrichment and signature
tables, at the same and at a different thread count.

Both tests compare against the session's ``reference_run`` (tests/e2e/conftest.py, ``--cores 2``:
DE fits with pydeseq2 ``n_cpus=2``, QC with 2 threads). Seeds are fixed (enrichment
permutations: ``enrich.seed``); pydeseq2's per-gene fits are independent of the joblib worker
count, GSEA prerank runs single-threaded (``enrich.threads: 1``) and scoring has no randomness, so
the tables are equal to the last bit (values and file bytes; none of them embeds a timestamp).
The ``*.run.json`` / h5ad provenance records DO differ between runs (creation time, paths) and are
not compared.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from alsig.io import sha256_file
from tests.conftest import fast_demo_config, run_workflow
from tests.e2e.conftest import TABLES, assert_same_table


@pytest.mark.parametrize("cores", [2, 1], ids=["same_cores", "cores_1_vs_2"])
def test_rerun_from_scratch_gives_identical_tables(tmp_path, reference_run, cores):
    workdir = tmp_path / f"cores{cores}"
    result = run_workflow(workdir, fast_demo_config(), *TABLES, cores=cores)
    assert result.returncode == 0, result.stderr[-4000:]
    # the DE fit really ran with this many pydeseq2 workers (two in the reference)
    assert _de_n_cpus(workdir) == cores and _de_n_cpus(reference_run) == 2
    for table in TABLES:
        assert_same_table(workdir / table, reference_run / table)
        assert sha256_file(workdir / table) == sha256_file(reference_run / table), table


def _de_n_cpus(workdir: Path) -> int:
    summary = pl.read_csv(workdir / "results/demo/de/ALS_vs_control.summary.tsv", separator="\t")
    return int(summary["n_cpus"][0])
