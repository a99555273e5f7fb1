"""The QC stage on one AnnData.

Replicates, metrics, expression filter, normalisation, flags and decisions, and the filtered AnnData
DE and scoring read.

Output of :func:`run_qc`: the kept samples with ALL ingested genes and

- ``obs``: QC metrics (``total_counts``, ``n_genes_detected``, ``pct_mito``, ``pct_ribo``,
  ``pct_top50``), ``size_factor``, outlier flags, sex check (``sex_inferred``, ``sex_mismatch``,
  ``sex_decision``), ``qc_reasons``, ``qc_exclusion``, ``qc_flag`` and ``qc_kept``;
- ``var["expressed"]``: the ``filterByExpr``-like filter (used by DE and enrichment);
- layers ``normalized`` (counts / size factor) and ``vst`` (blind VST, all genes), float32;
- ``obsm["X_qc_pca"]``; ``obsm["te_counts"]`` when the dataset has TE counts.
"""

from __future__ import annotations

import logging
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

from alsig.counts import as_counts, dense_counts
from alsig.errors import AlsigError
from alsig.keys import (
    EXPRESSED,
    NORMALIZED,
    QC_EXCLUSION,
    QC_NORMALISATION,
    QC_PCA_VARIANCE,
    QC_SUMMARY,
    SEX_DECISION,
    SEX_INFERRED,
    VST,
)
from alsig.settings import QcSettings, as_mapping
from alsig.stages.qc.flags import sample_flags
from alsig.stages.qc.gene_filter import expressed_genes
from alsig.stages.qc.metrics import compute_metrics
from alsig.stages.qc.normalise import normalise
from alsig.stages.qc.replicates import (
    collapse_replicates,
    replicate_advice,
    replicate_counts,
)
from alsig.stages.qc.sex import AMBIGUOUS

log = logging.getLogger(__name__)


def run_qc(
    adata: ad.AnnData, settings: QcSettings, *, n_cpus: int, copy: bool = True
) -> tuple[ad.AnnData, pd.DataFrame, dict[str, Any]]:
    """QC of an ingest AnnData.

    Parameters
    ----------
    adata
        Samples x genes integer counts (the ingest output).
    settings
        The ``qc:`` settings.
    n_cpus
        Threads of the VST's dispersion fit.
    copy
        Work on a copy of ``adata``. ``False`` (the QC job, on the AnnData it has just read)
        saves a copy of the counts: ``adata`` is then changed and may share its matrices with
        the returned AnnData.

    Returns
    -------
    ``(filtered AnnData, sample table, summary)``: the kept samples and all genes; one row per
    (possibly collapsed) sample with metrics, flags, reasons and decisions; counts for
    ``summary.json``.
    """
    if copy:
        adata = adata.copy()
    adata.X = dense_counts(adata)
    summary: dict[str, Any] = {"n_samples_input": int(adata.n_obs), "n_genes": int(adata.n_vars)}
    adata = _replicates(adata, settings, summary)
    for column, values in compute_metrics(adata).items():
        adata.obs[column] = values.to_numpy()
    adata.var[EXPRESSED] = expressed_genes(adata, settings)
    log.info("expressed genes: %d of %d", int(adata.var[EXPRESSED].sum()), adata.n_vars)
    if not adata.var[EXPRESSED].any():
        raise AlsigError(
            f"no gene passes the expression filter in {adata.n_obs} samples (qc.min_count = "
            f"{settings.min_count:g}, qc.min_total_count = {settings.min_total_count:g}); DE and "
            "enrichment would have nothing to test: lower them (defaults 10 and 15)."
        )
    normalise(adata, vst_n_genes=settings.vst_n_genes, n_cpus=n_cpus)
    table = sample_flags(adata, settings)
    kept = table["qc_kept"].to_numpy()
    summary["n_samples_flagged"] = int((table["qc_reasons"] != "").sum())
    summary["n_samples_excluded"] = int((~kept).sum())
    summary["n_samples_kept"] = int(kept.sum())
    if kept.sum() < 2:
        raise AlsigError(
            f"QC would keep {int(kept.sum())} sample(s); set qc.exclude_outliers: false or "
            "raise qc.outlier_nmads."
        )
    out = _kept_samples(adata, table, settings, n_cpus)
    summary["sex_check"] = _sex_summary(table, settings)
    summary["n_genes_expressed"] = int(out.var[EXPRESSED].sum())
    summary["n_genes_filtered_out"] = int((~out.var[EXPRESSED]).sum())
    summary["settings"] = as_mapping(settings)
    summary["normalisation"] = dict(out.uns[QC_NORMALISATION])
    out.uns[QC_SUMMARY] = {k: v for k, v in summary.items() if k != "settings"}
    summary["pca_variance_ratio"] = [float(v) for v in adata.uns[QC_PCA_VARIANCE][:10]]
    return out, _with_covariates(table, adata.obs, settings), summary


def _replicates(adata: ad.AnnData, settings: QcSettings, summary: dict[str, Any]) -> ad.AnnData:
    reps = replicate_counts(adata.obs, "subject")
    n_repeated = int((reps > 1).sum())
    summary["n_samples_with_replicates"] = n_repeated
    if settings.collapse_by:
        adata = collapse_replicates(adata, settings.collapse_by)
        summary["replicate_collapse"] = dict(adata.uns["replicate_collapse"])
    elif n_repeated:
        for advice in replicate_advice(adata.obs, "subject"):
            log.warning("%s", advice)
    summary["n_samples_after_collapse"] = int(adata.n_obs)
    adata.obs["n_samples_of_subject"] = replicate_counts(adata.obs, "subject").to_numpy()
    return adata


def _kept_samples(
    adata: ad.AnnData, table: pd.DataFrame, settings: QcSettings, n_cpus: int
) -> ad.AnnData:
    """Return the kept samples with the QC columns in obs and ``use_inferred`` applied.

    Normalised again when samples were removed (size factors, VST and the filter describe the
    analysed cohort).
    """
    kept = table["qc_kept"].to_numpy()
    out = _subset(adata, kept)
    for column in table.columns:
        out.obs[column] = table.loc[out.obs_names, column].to_numpy()
    replaced = out.obs[SEX_DECISION].to_numpy() == "sex_replaced"
    if replaced.any():
        sex = out.obs["sex"].astype(object).to_numpy()
        sex[replaced] = out.obs[SEX_INFERRED].to_numpy()[replaced]
        out.obs["sex"] = pd.Categorical(sex)
        log.info("sex covariate replaced by the inferred sex for %d sample(s)", int(replaced.sum()))
    if (~kept).any():
        log.info("re-normalising the %d kept samples", out.n_obs)
        out = normalise(out, vst_n_genes=settings.vst_n_genes, n_cpus=n_cpus)
        out.var[EXPRESSED] = expressed_genes(out, settings)
        out.obs["size_factor"] = out.obs["size_factor"].to_numpy()
    out.X = as_counts(out.X)  # int64 stays int64: a count above 2**31 must not wrap
    return out


def _subset(adata: ad.AnnData, kept: np.ndarray) -> ad.AnnData:
    """Return ``adata[kept].copy()`` without a second copy of the samples x genes matrices.

    When every sample is kept the result shares ``X`` and the layers with ``adata`` (the subset
    copies only the annotations). Otherwise ``adata`` loses its layers first: :func:`_kept_samples`
    normalises the kept samples again, so the cohort's layers are never needed next to theirs.
    """
    if not kept.all():
        for key in (NORMALIZED, VST):
            adata.layers.pop(key, None)
        return adata[kept].copy()
    x, layers = adata.X, {key: adata.layers.pop(key) for key in list(adata.layers)}
    adata.X = None
    try:
        out = adata[kept].copy()
    finally:
        adata.X = x
        adata.layers.update(layers)
    out.X = x
    out.layers.update(layers)
    return out


def _sex_summary(table: pd.DataFrame, settings: QcSettings) -> dict[str, Any]:
    return {
        "mode": settings.sex_mismatch,
        "n_mismatch": int(table["sex_mismatch"].sum()),
        "n_excluded": int((table[QC_EXCLUSION] != "").sum()),
        "n_sex_replaced": int((table[SEX_DECISION] == "sex_replaced").sum()),
        "n_ambiguous": int((table[SEX_INFERRED] == AMBIGUOUS).sum()),
        "excluded": {k: v for k, v in table[QC_EXCLUSION].items() if v},
    }


def _with_covariates(table: pd.DataFrame, obs: pd.DataFrame, settings: QcSettings) -> pd.DataFrame:
    """Return the sample table with ``sample`` first and the design covariates after it."""
    table = table.copy()
    table.insert(0, "sample", table.index.astype(str))
    covariates = ["condition", "subject", "sex", "region", "batch", *settings.pca_colour_by]
    position = 1
    for column in dict.fromkeys(covariates):
        if column in obs and column not in table:
            values = obs[column]
            if not pd.api.types.is_numeric_dtype(values):
                values = values.astype("string")
            table.insert(position, column, values.to_numpy())
            position += 1
    return table
