"""DE of one contrast, the one-contrast entry point: :func:`run_de`.

The same work as the DE job does for each contrast of a dataset (:mod:`alsig.stages.de.dataset`):
the samples :func:`~alsig.stages.de.design.prepare_fit_metadata` keeps (the contrast's subset,
minus those QC leaves out), the expressed genes, and the configured model -- the mixed model
(voom + a random intercept per subject) when subjects repeat (``de.repeated_subjects``), else
the DESeq2 model by ``de.engine`` with Cook's outlier handling, independent filtering and the
shrunken log fold change. Callers that need one contrast of an AnnData in memory (per-subtype
DE, scripts, tests) use it; the contrast need not be one of ``settings.contrasts``.
"""

from __future__ import annotations

from typing import Any

import anndata as ad
import numpy as np
import pandas as pd
import polars as pl

from alsig.settings import Contrast, DeSettings
from alsig.stages.de.dataset import genes_to_test, run_dataset
from alsig.stages.de.tables import LABEL_COLUMNS, RESULT, core_schema, gene_table

__all__ = ["LABEL_COLUMNS", "RESULT", "core_schema", "genes_to_test", "result_table", "run_de"]


def result_table(res: pd.DataFrame, shrunk: np.ndarray, var: pd.DataFrame) -> pl.DataFrame:
    """Return the DE table of a DESeq2 Wald test (pydeseq2's column names), sorted by p-value.

    Parameters
    ----------
    res
        pydeseq2 / :mod:`alsig.deseq2` results: ``baseMean``, ``log2FoldChange``, ``lfcSE``,
        ``stat``, ``pvalue``, ``padj`` (in ``var``'s gene order).
    shrunk
        Shrunken log2 fold changes (NaN when not computed).
    var
        The tested genes (index = symbols; ``gene_id``).

    Returns
    -------
    polars.DataFrame
        The :func:`~alsig.stages.de.tables.core_schema` columns, ``model`` ``deseq2_wald``.
    """
    n = len(res)
    columns = {
        "base_mean": res["baseMean"].to_numpy(float),
        "log2_fold_change": res["log2FoldChange"].to_numpy(float),
        "lfc_se": res["lfcSE"].to_numpy(float),
        "stat": res["stat"].to_numpy(float),
        "df": np.full(n, np.nan),
        "df_denominator": np.full(n, np.nan),
        "pvalue": res["pvalue"].to_numpy(float),
        "padj": res["padj"].to_numpy(float),
        "log2_fold_change_shrunk": np.asarray(shrunk, float),
        "icc": np.full(n, np.nan),
    }
    return gene_table(var, columns, "deseq2_wald")


def run_de(
    adata: ad.AnnData,
    contrast: Contrast,
    settings: DeSettings,
    *,
    n_cpus: int,
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """DE for one contrast, with the configured model.

    Parameters
    ----------
    adata
        The QC'd AnnData (integer counts in ``X``; the ``vst`` layer for
        ``de.adjust_cell_mix``).
    contrast
        The contrast (one of ``settings.contrasts``, or any other of the same data).
    settings
        The ``de:`` settings (design, model choice, engine, filters).
    n_cpus
        Threads of the engine (pydeseq2: workers).

    Returns
    -------
    tuple
        ``(table, summary)``: one row per tested gene (``de_results`` without the dataset and
        contrast labels), and the summary row (model, samples and subjects, counts, timings).

    Raises
    ------
    AlsigError
        A problem of the design, contrast or samples, before fitting.
    """
    (outcome,) = run_dataset(adata, settings, n_cpus=n_cpus, contrasts=[contrast], tests=[])
    return outcome.table, outcome.summary
