"""One contrast fitted with pydeseq2: DESeq2 defaults, the Wald test and LFC shrinkage.

:func:`run_de` fits the expressed genes (``var["expressed"]`` from QC) of the samples
:func:`~alsig.stages.de.design.prepare_metadata` keeps, minus those QC leaves out
(``qc_exclusion``), with median-of-ratios size factors, a parametric dispersion trend, Cook's
distance refits and independent filtering, and shrinks the contrast's coefficient. Each phase is
logged with its time, so a long fit can be told from a hung one. Each contrast is fitted
separately (one Snakemake job per contrast): the shrunken coefficient must be a column of the
design, which depends on the contrast's reference level, and a new contrast reruns only itself.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd
import polars as pl

from alsig.counts import dense_counts
from alsig.deseq import pydeseq2, shutdown_workers
from alsig.errors import AlsigError
from alsig.keys import EXPRESSED, excluded_samples
from alsig.settings import Contrast, DeSettings
from alsig.stages.de.design import _level_counts, prepare_metadata
from alsig.tables import schemas

log = logging.getLogger(__name__)

#: the steps of ``DeseqDataSet.deseq2()`` (pydeseq2 0.5), run one by one to log each
DESEQ2_PHASES = (
    (
        "size factors",
        lambda d: d.fit_size_factors(
            fit_type=d.size_factors_fit_type, control_genes=d.control_genes
        ),
    ),
    ("genewise dispersions", lambda d: d.fit_genewise_dispersions()),
    ("dispersion trend", lambda d: d.fit_dispersion_trend()),
    ("dispersion prior", lambda d: d.fit_dispersion_prior()),
    ("MAP dispersions", lambda d: d.fit_MAP_dispersions()),
    ("log fold changes", lambda d: d.fit_LFC()),
    ("Cook's distances", lambda d: d.calculate_cooks()),
    ("Cook's refit", lambda d: d.refit() if d.refit_cooks else None),
    ("Cook's outliers", lambda d: d.cooks_outlier()),
)


@dataclass
class Phases:
    """Elapsed seconds per phase of a fit."""

    contrast: str
    start: float = field(default_factory=time.perf_counter)
    seconds: dict[str, float] = field(default_factory=dict)

    def run(self, name: str, step, *args) -> Any:
        """Run ``step(*args)`` as phase ``name``: timed and logged; returns its result."""
        began = time.perf_counter()
        result = step(*args)
        self.seconds[name] = round(time.perf_counter() - began, 2)
        log.info("contrast %s: %s done in %.1f s", self.contrast, name, self.seconds[name])
        return result


def genes_to_test(adata: ad.AnnData, meta: pd.DataFrame, genes_tested: str, name: str):
    """Return ``(counts, var)`` of the genes tested: expressed (``de.genes``), with any count."""
    genes = np.ones(adata.n_vars, dtype=bool)
    if genes_tested == "expressed":
        if EXPRESSED in adata.var:
            genes = adata.var[EXPRESSED].astype(bool).to_numpy()
        else:
            log.warning("var['expressed'] missing (input not from QC): testing all genes")
    sub = adata[meta.index, genes]
    counts = dense_counts(sub)
    nonzero = counts.sum(axis=0) > 0
    if not nonzero.any():
        raise AlsigError(f"contrast '{name}': no genes with counts to test.")
    return counts[:, nonzero], sub.var.loc[nonzero]


def fit_deseq(
    counts, var, meta, design, contrast, settings: DeSettings, n_cpus: int, phases: Phases
):
    """pydeseq2 fit, Wald test and shrinkage; returns ``(results, shrunk LFC, dds, coefficient)``."""
    DeseqDataSet, DeseqStats, DefaultInference = pydeseq2()
    dds = DeseqDataSet(
        counts=pd.DataFrame(counts.astype(np.int64), index=meta.index, columns=var.index),
        metadata=meta,
        design=design,
        refit_cooks=settings.refit_cooks,
        inference=DefaultInference(n_cpus=n_cpus),
        quiet=True,
    )
    for name, step in DESEQ2_PHASES:
        phases.run(name, step, dds)
    stats = DeseqStats(
        dds,
        contrast=list(contrast),
        alpha=settings.alpha,
        cooks_filter=settings.cooks_filter,
        independent_filter=settings.independent_filter,
        inference=DefaultInference(n_cpus=n_cpus),
        quiet=True,
    )
    phases.run("Wald tests", stats.summary)
    res = stats.results_df.copy()
    shrunk = np.full(len(res), np.nan)
    coeff = contrast_coefficient(stats)
    if settings.lfc_shrink and coeff is not None:
        phases.run("LFC shrinkage", lambda: stats.lfc_shrink(coeff=coeff))
        shrunk = stats.results_df["log2FoldChange"].to_numpy(dtype=float)
    elif settings.lfc_shrink:
        log.warning("LFC shrinkage skipped: contrast is not a single coefficient")
    return res, shrunk, dds, coeff


def contrast_coefficient(stats: Any) -> str | None:
    """Return the design column that is the contrast (for ``lfc_shrink``), or None."""
    contrast = np.asarray(stats.contrast_vector, dtype=float)
    nonzero = np.flatnonzero(contrast)
    if len(nonzero) == 1 and contrast[nonzero[0]] == 1.0:
        return str(stats.LFC.columns[nonzero[0]])
    return None


def result_table(res: pd.DataFrame, shrunk: np.ndarray, var: pd.DataFrame) -> pl.DataFrame:
    """Return the DE table (shipped ``de_results`` schema), sorted by p-value."""
    gene_id = var["gene_id"] if "gene_id" in var else pd.Series(var.index, index=var.index)
    table = pl.DataFrame(
        {
            "gene_id": gene_id.astype(str).tolist(),
            "symbol": var.index.astype(str).tolist(),
            "base_mean": res["baseMean"].to_numpy(float),
            "log2_fold_change": res["log2FoldChange"].to_numpy(float),
            "lfc_se": res["lfcSE"].to_numpy(float),
            "stat": res["stat"].to_numpy(float),
            "pvalue": res["pvalue"].to_numpy(float),
            "padj": res["padj"].to_numpy(float),
            "log2_fold_change_shrunk": shrunk,
        },
        schema=core_schema(),
    ).with_columns(pl.col(pl.Float64).fill_nan(None))
    return table.sort(["pvalue", "symbol"], nulls_last=True)


RESULT = "de_results"
#: columns the writer adds in front of the fit's own (the table names its dataset and contrast)
LABEL_COLUMNS = ("dataset", "contrast")


def core_schema() -> dict[str, pl.DataType]:
    """Return the ``de_results`` columns the fit produces (all but :data:`LABEL_COLUMNS`)."""
    return {k: v for k, v in schemas.polars_schema(RESULT).items() if k not in LABEL_COLUMNS}


def run_de(
    adata: ad.AnnData,
    contrast: Contrast,
    settings: DeSettings,
    *,
    n_cpus: int,
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """DE for one contrast.

    Parameters
    ----------
    adata
        The QC'd AnnData (integer counts in ``X``).
    contrast
        The contrast (one of ``settings.contrasts``).
    settings
        The ``de:`` settings.
    n_cpus
        pydeseq2 workers.

    Returns
    -------
    ``(table, summary)``: one row per tested gene, and the counts and timings of the fit.
    """
    contrast_name, spec = contrast.name, contrast.spec
    design = settings.design
    excluded = excluded_samples(adata.obs)
    for sample, reason in excluded.items():
        log.warning("contrast %s: sample %s left out (QC: %s)", contrast_name, sample, reason)
    obs = adata.obs.loc[[name for name in adata.obs_names if name not in excluded]]
    meta, dropped = prepare_metadata(
        obs,
        design,
        contrast_name,
        spec,
        min_samples_per_level=settings.min_samples_per_level,
        missing_covariates=settings.missing_covariates,
        samples=settings.samples,
        categorical=list(settings.categorical),
    )
    counts, var = genes_to_test(adata, meta, settings.genes, contrast_name)
    factor = contrast.factor
    log.info(
        "contrast %s: %s, design %s, %d samples (%s), %d genes",
        contrast_name,
        " vs ".join(spec[1:]),
        design,
        len(meta),
        _level_counts(meta[factor]),
        counts.shape[1],
    )
    phases = Phases(contrast_name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res, shrunk, dds, coeff = fit_deseq(
                counts, var, meta, design, list(spec), settings, n_cpus, phases
            )
        finally:
            shutdown_workers()
    for w in caught:
        if not issubclass(w.category, (FutureWarning, DeprecationWarning)):
            log.info("pydeseq2: %s", w.message)
    table = result_table(res, shrunk, var)
    summary = de_summary(
        table,
        meta,
        dds,
        coeff,
        contrast_name,
        spec,
        design,
        settings.alpha,
        dropped=dropped,
        excluded=excluded,
        phases=phases,
        n_cpus=n_cpus,
    )
    if meta.attrs.get("design_notes"):  # a column only when there is something to say
        summary["design_notes"] = " | ".join(meta.attrs["design_notes"])
    log.info(
        "contrast %s: %d genes at padj < %g (%d up, %d down) in %.1f s",
        contrast_name,
        summary["n_significant"],
        settings.alpha,
        summary["n_up"],
        summary["n_down"],
        summary["fit_seconds"],
    )
    return table, summary


def de_summary(
    table,
    meta,
    dds,
    coeff,
    name,
    contrast,
    design,
    alpha: float,
    *,
    dropped,
    excluded,
    phases: Phases,
    n_cpus: int,
) -> dict[str, Any]:
    """Return the DE summary row of one contrast (``<contrast>.summary.tsv``)."""
    factor, test, ref = contrast
    sig = table.filter(pl.col("padj") < alpha)
    level_counts = meta[factor].astype(str).value_counts()
    seconds = phases.seconds
    fit = sum(v for k, v in seconds.items() if k not in ("Wald tests", "LFC shrinkage"))
    return {
        "contrast": name,
        "factor": factor,
        "test_level": test,
        "reference_level": ref,
        "design": design,
        "n_samples": len(meta),
        "n_test": int(level_counts.get(test, 0)),
        "n_reference": int(level_counts.get(ref, 0)),
        "n_samples_dropped": len(dropped),
        "dropped_samples": ";".join(map(str, dropped)),
        "n_samples_excluded_qc": len(excluded),
        "excluded_qc_samples": ";".join(f"{k}({v})" for k, v in excluded.items()),
        "n_genes_tested": table.height,
        "n_genes_with_padj": int(table["padj"].is_not_null().sum()),
        "alpha": alpha,
        "n_significant": sig.height,
        "n_up": int((sig["log2_fold_change"] > 0).sum()),
        "n_down": int((sig["log2_fold_change"] < 0).sum()),
        "n_cooks_refitted": int(np.asarray(dds.var["replaced"]).sum())
        if "replaced" in dds.var
        else 0,
        "lfc_shrink_coefficient": coeff or "",
        "fit_seconds": round(time.perf_counter() - phases.start, 2),
        "fit_model_seconds": round(fit, 2),
        "wald_seconds": seconds.get("Wald tests", 0.0),
        "shrink_seconds": seconds.get("LFC shrinkage", 0.0),
        "n_cpus": n_cpus,
    }
