"""Sample size factors: median of ratios, ``poscounts`` and the iterative choice.

Sample size factors: DESeq2's median of ratios, its ``poscounts`` variant, and the choice pydeseq2
makes when no gene is free of zeros.

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

from dataclasses import dataclass

import numba
import numpy as np

from alsig.deseq2.chunks import GENE_BLOCK, Blocks
from alsig.deseq2.special import log_count


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


@numba.njit(cache=True, nogil=True)
def _log_means(lo, hi, counts, positive_only, out):  # pragma: no cover - compiled
    """Compute the log geometric means of genes ``lo:hi``.

    Genes ``lo:hi``: mean over samples of log counts (``-inf`` if a count is 0), or with
    ``positive_only`` the sum of log positive counts over all samples (pydeseq2 ``poscounts``);
    samples in the outer loop so the samples x genes matrix is read row by row.
    """
    n = counts.shape[0]
    for g in range(lo, hi):
        out[g] = 0.0
    for i in range(n):
        for g in range(lo, hi):
            c = counts[i, g]
            if c > 0:
                out[g] += log_count(c)
            elif not positive_only:
                out[g] = -np.inf
    for g in range(lo, hi):
        out[g] /= n


@numba.njit(cache=True, nogil=True)
def _median_log_ratios(lo, hi, counts, log_means, use, positive_only, out):  # pragma: no cover
    """Compute the log size factor of samples ``lo:hi``.

    Samples ``lo:hi``: median over the ``use`` genes of ``log(count) - log_mean`` (with
    ``positive_only`` over the sample's positive counts only).
    """
    n_genes = counts.shape[1]
    for i in range(lo, hi):
        values = np.empty(n_genes)
        k = 0
        for g in range(n_genes):
            if use[g]:
                c = counts[i, g]
                if positive_only and c <= 0:
                    continue
                values[k] = log_count(c) - log_means[g]
                k += 1
        out[i] = np.median(values[:k]) if k > 0 else np.nan


def log_means(counts: np.ndarray, positive_only: bool, blocks: Blocks) -> np.ndarray:
    """Per gene mean of log counts (see :func:`_log_means`)."""
    out = np.empty(counts.shape[1])
    blocks(_log_means, counts.shape[1], counts, positive_only, out, block=GENE_BLOCK)
    return out


def median_log_ratios(counts, means, use, positive_only: bool, blocks: Blocks) -> np.ndarray:
    """Per sample median log ratio (see :func:`_median_log_ratios`)."""
    out = np.empty(counts.shape[0])
    blocks(_median_log_ratios, counts.shape[0], counts, means, use, positive_only, out, block=8)
    return out


def median_of_ratios(
    counts: np.ndarray,
    control_genes: np.ndarray | None = None,
    blocks: Blocks | None = None,
    means: np.ndarray | None = None,
) -> SizeFactorFit:
    """DESeq2's median-of-ratios size factors (pydeseq2 ``deseq2_norm``).

    Parameters
    ----------
    counts
        Samples x genes, non-negative integers.
    control_genes
        Boolean mask of the genes to take the medians over (DESeq2 ``controlGenes``); all
        genes without a zero when None.
    blocks
        Threads to run on (one when None).
    means
        The genes' mean log counts if already computed (:func:`log_means`).

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
    blocks = blocks or Blocks(1)
    if means is None:
        means = log_means(counts, False, blocks)
    usable = np.isfinite(means)
    if control_genes is not None:
        usable &= np.asarray(control_genes, dtype=bool)
    if not usable.any():
        raise ValueError(
            "no gene (of the control genes, if given) is free of zero counts: median-of-ratios "
            "size factors are undefined"
        )
    log_sf = median_log_ratios(counts, means, usable, False, blocks)
    return SizeFactorFit(np.exp(log_sf), "ratio", means, usable)


def positive_counts(
    counts: np.ndarray, control_genes: np.ndarray | None = None, blocks: Blocks | None = None
) -> SizeFactorFit:
    """DESeq2's ``poscounts`` size factors (pydeseq2 ``fit_size_factors("poscounts")``).

    Parameters
    ----------
    counts
        Samples x genes, non-negative integers.
    control_genes
        Boolean mask of the genes to take the medians over; all genes when None.
    blocks
        Threads to run on (one when None).

    Returns
    -------
    SizeFactorFit
        ``method = "poscounts"``, factors scaled to geometric mean 1.
    """
    counts = np.ascontiguousarray(counts)
    blocks = blocks or Blocks(1)
    means = log_means(counts, True, blocks)
    usable = np.isfinite(means) & (means > 0)
    if control_genes is not None:
        usable &= np.asarray(control_genes, dtype=bool)
    sf = np.exp(median_log_ratios(counts, means, usable, True, blocks))
    return SizeFactorFit(sf / np.exp(np.mean(np.log(sf))), "poscounts", means, usable)
