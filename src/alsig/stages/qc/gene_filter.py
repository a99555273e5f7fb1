"""Which genes count as expressed: edgeR ``filterByExpr`` (design-free form)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

from alsig.stages.qc.metrics import dense_counts


def filter_by_expr(
    counts: np.ndarray,
    groups: Sequence[object] | None = None,
    *,
    min_count: float = 10,
    min_total_count: float = 15,
    large_n: int = 10,
    min_prop: float = 0.7,
) -> np.ndarray:
    """edgeR ``filterByExpr`` (design-free form): a gene is kept when its CPM reaches
    ``min_count`` / median library size (in millions) in at least ``h`` samples, ``h`` = the
    smallest group size (reduced to ``large_n + (h - large_n) * min_prop`` for large groups), and
    its total count reaches ``min_total_count``. ``counts`` is samples x genes."""
    counts = np.asarray(counts, dtype=float)
    lib = counts.sum(axis=1)
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
    cpm = counts / safe_lib[:, None] * 1e6
    tol = 1e-14
    keep_cpm = (cpm >= cpm_cutoff).sum(axis=0) >= h - tol
    keep_total = counts.sum(axis=0) >= min_total_count - tol
    return keep_cpm & keep_total


def expressed_genes(adata: ad.AnnData, s: Mapping[str, Any]) -> np.ndarray:
    """``filter_by_expr`` of ``adata`` with the ``qc:`` settings ``s`` (groups: ``group_column``)."""
    group_column = s["group_column"]
    groups = adata.obs[group_column].tolist() if group_column in adata.obs else None
    return filter_by_expr(
        dense_counts(adata),
        groups,
        min_count=float(s["min_count"]),
        min_total_count=float(s["min_total_count"]),
        large_n=int(s["large_n"]),
        min_prop=float(s["min_prop"]),
    )
