"""GSE124439 (shared data): the mislabelled control no longer puts chrY genes at the top of ALS vs
control. Ingest and QC run on the whole matrix (the sex call needs every XIST/chrY read); the DE
runs on all sex-chromosome genes plus a fixed random 3,000 autosomal genes, which keeps the fit
short while every gene that could carry the artefact is tested."""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl
import pytest
import yaml

from alsig import settings as alsig_settings
from alsig.stages.de import run_de
from alsig.stages.ingest.local import ingest_local
from alsig.stages.qc.pipeline import run_qc
from tests.conftest import REPO, absolute_paths, needs_shared

# one xdist worker runs this module, so its module-scoped fixture is built once
pytestmark = pytest.mark.xdist_group("real_sex_mismatch")

MISLABELLED = "GSM3533387"  # reported female, expresses chrY genes like a male


@pytest.fixture(scope="module")
def tam_qc():
    config = yaml.safe_load((REPO / "config/examples/shared_cohorts.yaml").read_text())
    config = absolute_paths(config, REPO)
    adata = ingest_local("GSE124439", config["datasets"]["GSE124439"])
    filtered, table, _ = run_qc(adata, alsig_settings.resolve(config, "GSE124439", "qc"), n_cpus=2)
    sex_linked = filtered.var["chromosome"].isin(["Y", "X;Y"]).to_numpy()
    rng = np.random.default_rng(124439)
    autosomal = np.flatnonzero(~filtered.var["chromosome"].isin(["X", "Y", "X;Y"]).to_numpy())
    keep = np.zeros(filtered.n_vars, dtype=bool)
    keep[sex_linked] = True
    keep[rng.choice(autosomal, 3000, replace=False)] = True
    # the artefact is a DESeq2 one (samples independent, dispersions shrunk to the trend): the
    # donor-intercept model of the default (repeated_subjects: auto) keeps chrY genes out of the
    # top 25 whether the sample is kept or not, so the control run pins the DESeq2 model
    de_settings = dataclasses.replace(
        alsig_settings.resolve(config, "GSE124439", "de"), repeated_subjects="ignore"
    )
    return filtered[:, keep].copy(), table, de_settings


def _top_chromosomes(table: pl.DataFrame, adata, n: int = 25) -> list[str]:
    top = table.filter(pl.col("padj").is_not_null()).sort("pvalue").head(n)
    return [str(adata.var.loc[symbol, "chromosome"]) for symbol in top["symbol"]]


@needs_shared
@pytest.mark.slow
def test_excluding_the_mislabelled_control_removes_chry_from_the_top_genes(tam_qc):
    adata, _, de_settings = tam_qc
    row = adata.obs.loc[MISLABELLED]
    assert bool(row["sex_mismatch"]) and row["sex_inferred"] == "male"
    assert row["qc_exclusion"] != ""

    result, summary = run_de(adata, de_settings.contrast("ALS_vs_control"), de_settings, n_cpus=2)
    assert summary["n_samples_excluded_qc"] == 1
    assert summary["excluded_qc_samples"].startswith(MISLABELLED)
    chromosomes = _top_chromosomes(result, adata)
    assert not any("Y" in c for c in chromosomes), chromosomes


@needs_shared
@pytest.mark.slow
def test_keeping_it_puts_chry_genes_on_top(tam_qc):
    """The control run: the same genes with qc.sex_mismatch: keep reproduce the artefact."""
    adata, _, de_settings = tam_qc
    adata = adata.copy()
    adata.obs["qc_exclusion"] = ""
    result, _ = run_de(adata, de_settings.contrast("ALS_vs_control"), de_settings, n_cpus=2)
    chromosomes = _top_chromosomes(result, adata, 10)
    assert sum("Y" in c for c in chromosomes) >= 5, chromosomes
