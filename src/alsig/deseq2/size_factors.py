"""Sample size factors: DESeq2's median of ratios, its ``poscounts`` variant, and the choice
pydeseq2 makes when no gene is free of zeros.

Median of ratios (Anders & Huber 2010): a gene's reference is the geometric mean of its counts
over samples (genes with a zero are left out); a sample's size factor is the median over genes of
its count / reference. ``poscounts`` (DESeq2 ``estimateSizeFactors(type = "poscounts")``) takes
the geometric mean over positive counts only and the median over a sample's positive counts, then
scales the factors to geometric mean 1. When every gene has a zero, median of ratios is undefined
and pydeseq2 switches to its iterative estimate (:mod:`alsig.deseq2.iterative`).

The counts stay samples x genes as given (any integer dtype); the work is done one sample or one
gene at a time, so no float copy of the matrix is made.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np


@dataclass(frozen=True)
class SizeFactorFit:
    """Size factors and what they were computed from.

    Attributes
    ----------
    size_factors
        One per sample.
    method
        ``ratio``, ``poscounts``, ``iterative`` or ``given``.
    log_geometric_means
        The genes' mean log count (``-inf`` for genes with a zero; for ``poscounts`` over
        positive counts), the reference of the ratios; None for ``iterative`` / ``given``.
    reference_genes
        Genes the medians were taken over.
    """

    size_factors: np.ndarray
    method: str
    log_geometric_means: np.ndarray | None = None
    reference_genes: np.ndarray | None = None


@numba.njit(cache=True, parallel=True)
def _log_means(counts, positive_only, out):  # pragma: no cover - compiled
    """Per gene: mean over samples of log counts (``-inf`` if a count is 0), or with
    ``positive_only`` the sum of log positive counts over all samples (pydeseq2 ``poscounts``)."""
    n, n_genes = counts.shape
    block = 256
    for b in numba.prange((n_genes + block - 1) // block):
        lo = b * block
        hi = min(lo + block, n_genes)
        for g in range(lo, hi):
            out[g] = 0.0
        for i in range(n):
            for g in range(lo, hi):
                c = counts[i, g]
                if c > 0:
                    out[g] += math.log(c)
                elif not positive_only:
                    out[g] = -np.inf
        for g in range(lo, hi):
            out[g] /= n


@numba.njit(cache=True, parallel=True)
def _median_log_ratios(counts, log_means, use, positive_only, out):  # pragma: no cover
    """Per sample: median over the ``use`` genes of ``log(count) - log_mean`` (with
    ``positive_only`` over the sample's positive counts only)."""
    n, n_genes = counts.shape
    for i in numba.prange(n):
        values = np.empty(n_genes)
        k = 0
        for g in range(n_genes):
            if use[g]:
                c = counts[i, g]
                if positive_only and c <= 0:
                    continue
                values[k] = math.log(c) - log_means[g]
                k += 1
        out[i] = np.median(values[:k]) if k > 0 else np.nan


def median_of_ratios(counts: np.ndarray, control_genes: np.ndarray | None = None) -> SizeFactorFit:
    """DESeq2's median-of-ratios size factors (pydeseq2 ``deseq2_norm``).

    Parameters
    ----------
    counts
        Samples x genes, non-negative integers.
    control_genes
        Boolean mask of the genes to take the medians over (DESeq2 ``controlGenes``); all
        genes without a zero when None.

    Returns
    -------
    SizeFactorFit
        ``method = "ratio"``.

    Raises
    ------
    ValueError
        Every gene has a zero count (use :func:`alsig.deseq2.iterative.iterative_size_factors`
        or ``poscounts``).
    """
    counts = np.ascontiguousarray(counts)
    log_means = np.empty(counts.shape[1])
    _log_means(counts, False, log_means)
    usable = np.isfinite(log_means)
    if control_genes is not None:
        usable &= np.asarray(control_genes, dtype=bool)
    if not usable.any():
        raise ValueError(
            "every gene has at least one zero count: median-of-ratios size factors are undefined"
        )
    log_sf = np.empty(counts.shape[0])
    _median_log_ratios(counts, log_means, usable, False, log_sf)
    return SizeFactorFit(np.exp(log_sf), "ratio", log_means, usable)


def positive_counts(counts: np.ndarray, control_genes: np.ndarray | None = None) -> SizeFactorFit:
    """DESeq2's ``poscounts`` size factors (pydeseq2 ``fit_size_factors("poscounts")``).

    Parameters
    ----------
    counts
        Samples x genes, non-negative integers.
    control_genes
        Boolean mask of the genes to take the medians over; all genes when None.

    Returns
    -------
    SizeFactorFit
        ``method = "poscounts"``, factors scaled to geometric mean 1.
    """
    counts = np.ascontiguousarray(counts)
    log_means = np.empty(counts.shape[1])
    _log_means(counts, True, log_means)
    usable = np.isfinite(log_means) & (log_means > 0)
    if control_genes is not None:
        usable &= np.asarray(control_genes, dtype=bool)
    log_sf = np.empty(counts.shape[0])
    _median_log_ratios(counts, log_means, usable, True, log_sf)
    sf = np.exp(log_sf)
    return SizeFactorFit(sf / np.exp(np.mean(np.log(sf))), "poscounts", log_means, usable)


def every_gene_has_a_zero(counts: np.ndarray) -> bool:
    """Whether no gene is free of zero counts (median of ratios undefined)."""
    log_means = np.empty(counts.shape[1])
    _log_means(np.ascontiguousarray(counts), False, log_means)
    return not np.isfinite(log_means).any()
