"""Which genes count as expressed: edgeR ``filterByExpr`` (design-free form)."""

from __future__ import annotations

from collections.abc import Sequence

import anndata as ad
import numpy as np
import pandas as pd

from alsig.blocks import GENE_BLOCK, blocks
from alsig.counts import dense_counts
from alsig.settings import QcSettings


def filter_by_expr(
    counts: np.ndarray,
    groups: Sequence[object] | None = None,
    *,
    min_count: float,
    min_total_count: float,
    large_n: int,
    min_prop: float,
    block_size: int = GENE_BLOCK,
) -> np.ndarray:
    """EdgeR ``filterByExpr`` (design-free form).

    A gene is kept when its CPM reaches ``min_count`` / median library size (in millions) in at
    least ``h`` samples, ``h`` = the smallest group size (reduced to ``large_n + (h - large_n) *
    min_prop`` for large groups), and its total count reaches ``min_total_count``. ``counts`` is
    samples x genes; the CPM are computed gene block by gene block (``block_size`` genes).
    """
    counts = np.asarray(counts)
    lib = counts.sum(axis=1, dtype=float)  # exact for integer counts: any order gives the same
    if groups is None:
        h = counts.shape[0]
    else:
        sizes = pd.Series(list(groups)).dropna().value_counts()
        sizes = sizes[sizes > 0]
        h = int(sizes.min()) if len(sizes) else counts.shape[0]
    h = float(h)
    if h > large_n:
        h = large_n + (h - large_n) * min_prop
    median_lib = float(np.median(lib))
    if median_lib <= 0:
        return np.zeros(counts.shape[1], dtype=bool)
    cpm_cutoff = min_count / median_lib * 1e6
    safe_lib = np.where(lib > 0, lib, 1.0)
    keep = np.empty(counts.shape[1], dtype=bool)
    for columns in blocks(counts.shape[1], block_size):
        keep[columns] = _expressed(
            counts[:, columns], safe_lib, cpm_cutoff, h, min_total_count=min_total_count
        )
    return keep


def _expressed(
    counts: np.ndarray, lib: np.ndarray, cpm_cutoff: float, h: float, *, min_total_count: float
) -> np.ndarray:
    """:func:`filter_by_expr`'s two rules on a samples x genes block (library sizes ``lib``)."""
    tol = 1e-14
    cpm = counts / lib[:, None] * 1e6
    keep_cpm = (cpm >= cpm_cutoff).sum(axis=0) >= h - tol
    keep_total = counts.sum(axis=0, dtype=float) >= min_total_count - tol
    return keep_cpm & keep_total


def expressed_genes(adata: ad.AnnData, settings: QcSettings) -> np.ndarray:
    """Return :func:`filter_by_expr` of ``adata`` with the ``qc:`` settings.

    Parameters
    ----------
    adata
        Samples x genes counts; ``obs[settings.group_column]`` gives the groups when present.
    settings
        The ``qc:`` settings (the filter's thresholds).

    Returns
    -------
    numpy.ndarray
        One bool per gene: expressed.
    """
    group_column = settings.group_column
    groups = adata.obs[group_column].tolist() if group_column in adata.obs else None
    return filter_by_expr(
        dense_counts(adata),
        groups,
        min_count=settings.min_count,
        min_total_count=settings.min_total_count,
        large_n=settings.large_n,
        min_prop=settings.min_prop,
    )
