"""The DESeq2 fit, driven gene chunk by gene chunk.

:func:`fit_deseq2` runs DESeq2's steps (size
factors, gene-wise dispersions, trend, prior, MAP dispersions, log fold changes, Cook's distances
and the refit of genes with replaced outliers) and returns a :class:`DESeq2Fit` that serves any
number of tests: Wald tests of contrast vectors, likelihood-ratio tests against reduced designs, and
shrunken log fold changes.

Memory: the counts stay as given (samples x genes, integers); each step reads a chunk of genes as a
genes x samples float64 copy, computes what it needs and keeps per-gene results only (coefficients,
dispersions, a p x p covariance, flags). The initial means of the dispersion fits are recomputed
from their stored coefficients rather than kept.

Determinism: every per-gene number comes from a compiled loop over that gene's samples in a fixed
order (no BLAS, no reductions across genes inside a chunk), so results are identical bit for bit
for any chunk size and thread count. The steps that pool genes (trend, prior, filtering) work on
whole per-gene vectors.

The arithmetic follows pydeseq2 0.5.4 (``DeseqDataSet.deseq2`` then ``DeseqStats``), which
follows DESeq2; where the two references differ, the module of the step says which is followed.
The chunked passes are in :mod:`alsig.deseq2.passes`, the tests in :mod:`alsig.deseq2.fit`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numba
import numpy as np
import pandas as pd

from alsig.deseq2 import cooks as cooks_mod
from alsig.deseq2.chunks import (
    GENE_BLOCK,
    Blocks,
    default_chunk_size,
    gene_chunks,
    genes_by_samples,
)
from alsig.deseq2.design import Design
from alsig.deseq2.fit import DESeq2Fit
from alsig.deseq2.iterative import iterative_size_factors
from alsig.deseq2.passes import (
    CooksState,
    DESeq2Options,
    GeneFits,
    Refit,
    Runner,
    now,
    record_phase,
)
from alsig.deseq2.size_factors import (
    SizeFactorFit,
    log_means,
    median_of_ratios,
    positive_counts,
)
from alsig.deseq2.trend import fit_dispersion_prior, fit_dispersion_trend

log = logging.getLogger(__name__)


def _check_counts(counts: np.ndarray) -> np.ndarray:
    counts = np.asarray(counts)
    if counts.ndim != 2:
        raise ValueError(f"counts must be a samples x genes matrix, got shape {counts.shape}")
    if not (np.issubdtype(counts.dtype, np.integer) or np.issubdtype(counts.dtype, np.floating)):
        raise ValueError(f"counts must be numbers, got dtype {counts.dtype}")
    if np.issubdtype(counts.dtype, np.floating):
        bad = ~np.isfinite(counts) | (counts % 1 != 0)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise ValueError(
                f"counts must be whole numbers; sample {i}, gene {j} is {counts[i, j]!r}"
            )
    if (counts < 0).any():
        i, j = np.argwhere(counts < 0)[0]
        raise ValueError(f"counts must be non-negative; sample {i}, gene {j} is {counts[i, j]}")
    return np.ascontiguousarray(counts)


@numba.njit(cache=True, nogil=True)
def _nonzero_genes(lo, hi, counts, out):  # pragma: no cover - compiled
    """Genes ``lo:hi`` with a count above zero (samples in the outer loop: rows are read)."""
    for j in range(lo, hi):
        out[j] = False
    for i in range(counts.shape[0]):
        for j in range(lo, hi):
            if counts[i, j] != 0:
                out[j] = True


def fit_deseq2(
    counts: np.ndarray | pd.DataFrame,
    design: pd.DataFrame | Design,
    *,
    gene_names: Sequence[str] | None = None,
    options: DESeq2Options | None = None,
    size_factors: np.ndarray | None = None,
    control_genes: np.ndarray | None = None,
    n_threads: int = 1,
    chunk_size: int | None = None,
) -> DESeq2Fit:
    """DESeq2's model fit (pydeseq2 ``DeseqDataSet.deseq2()``), gene chunk by gene chunk.

    Parameters
    ----------
    counts
        Samples x genes non-negative integer counts (a DataFrame's columns name the genes).
    design
        Model matrix (samples x coefficients, e.g. formulaic's from ``~ sex + condition``).
    gene_names
        Gene names when ``counts`` is an array.
    options
        Fitting constants (DESeq2 defaults).
    size_factors
        Given size factors (skips their estimation).
    control_genes
        Boolean mask of the genes size factors are computed from.
    n_threads
        Threads of the compiled kernels (results do not depend on it).
    chunk_size
        Genes per chunk (results do not depend on it); by default about 8 MB per array.

    Returns
    -------
    DESeq2Fit

    Raises
    ------
    ValueError
        Counts that are not non-negative integers, a design that is not full rank or has no
        residual degrees of freedom, or sample numbers that do not match.
    """
    options = options or DESeq2Options()
    if isinstance(counts, pd.DataFrame):
        gene_names = list(map(str, counts.columns)) if gene_names is None else gene_names
        counts = counts.to_numpy()
    counts = _check_counts(counts)
    design = design if isinstance(design, Design) else Design.from_frame(design)
    n, n_genes = counts.shape
    if design.n_samples != n:
        raise ValueError(f"the design has {design.n_samples} rows for {n} samples of counts")
    names = (
        np.asarray(list(map(str, gene_names)), dtype=object)
        if gene_names is not None
        else np.asarray([f"gene{j}" for j in range(n_genes)], dtype=object)
    )
    if names.size != n_genes:
        raise ValueError(f"{names.size} gene names for {n_genes} genes")
    chunk = int(chunk_size or default_chunk_size(n))
    if chunk < 1:
        raise ValueError(f"chunk_size must be positive, got {chunk}")

    timings: dict[str, float] = {}
    cpu_timings: dict[str, float] = {}
    with Blocks(n_threads) as blocks:
        t = now()
        nonzero = np.empty(n_genes, np.bool_)
        blocks(_nonzero_genes, n_genes, counts, nonzero, block=4 * GENE_BLOCK)
        sf_fit = _size_factors(counts, options, size_factors, control_genes, blocks, chunk)
        record_phase(timings, cpu_timings, "size factors", t)
        sf = sf_fit.size_factors
        genes = np.flatnonzero(nonzero)
        runner = Runner(design, sf, options, chunk, blocks)
        fits = GeneFits.empty(genes, design.n_coefficients)
        for rows in gene_chunks(genes.size, chunk):
            runner.genewise_pass(genes_by_samples(counts, genes[rows], blocks), fits, rows)

        t = now()
        trend = fit_dispersion_trend(
            fits.genewise, fits.normed_mean, min_disp=options.min_disp, fit_type=options.fit_type
        )
        fits.fitted = trend(fits.normed_mean)
        prior = fit_dispersion_prior(
            fits.genewise, fits.fitted, n, design.n_coefficients, min_disp=options.min_disp
        )
        runner._time("dispersion trend and prior", t)

        layout = cooks_mod.CooksLayout.from_design(design, options.min_replicates)
        cooks = CooksState(
            robust_dispersion=np.empty(genes.size),
            any_exceeds=np.empty(genes.size, np.bool_),
            flagged=np.empty(genes.size, np.bool_),
            flagged_unreplaced=np.empty(genes.size, np.bool_),
            n_higher=np.empty(genes.size, np.int64),
        )
        for rows in gene_chunks(genes.size, chunk):
            y = genes_by_samples(counts, genes[rows], blocks)
            runner.map_pass(y, fits, rows, prior)
            runner.lfc_pass(y, fits, rows, cooks, layout)

        t = now()
        refit = _refit_outliers(counts, fits, cooks, layout, runner, trend, prior, options)
        runner._time("Cook's refit", t)
    timings.update(runner.timings)
    cpu_timings.update(runner.cpu_timings)
    return DESeq2Fit(
        gene_names=names,
        design=design,
        options=options,
        size_factor_fit=sf_fit,
        fits=fits,
        trend=trend,
        prior=prior,
        cooks=cooks,
        layout=layout,
        refit=refit,
        n_threads=n_threads,
        chunk_size=chunk,
        timings=timings,
        cpu_timings=cpu_timings,
        counts=counts,
    )


def _size_factors(counts, options, given, control_genes, blocks, chunk) -> SizeFactorFit:
    if given is not None:
        sf = np.asarray(given, dtype=np.float64)
        if sf.shape != (counts.shape[0],) or not (np.isfinite(sf).all() and (sf > 0).all()):
            raise ValueError("size_factors must be one positive finite number per sample")
        return SizeFactorFit(sf, "given")
    kind = options.size_factors_fit_type
    if kind == "poscounts":
        return positive_counts(counts, control_genes, blocks)
    if kind == "ratio":
        means = log_means(counts, False, blocks)
        if np.isfinite(means).any():  # some gene without a zero
            return median_of_ratios(counts, control_genes, blocks, means)
    if kind not in ("ratio", "iterative"):
        raise ValueError(
            f"size_factors_fit_type must be ratio, poscounts or iterative, not {kind!r}"
        )
    if kind == "ratio":
        log.warning("every gene has a zero count: iterative size factors (as pydeseq2)")
    return iterative_size_factors(
        counts, options.min_mu, options.min_disp, options.max_disp, blocks=blocks, chunk_size=chunk
    )


def _refit_outliers(counts, fits, cooks, layout, runner, trend, prior, options) -> Refit:
    g = fits.genes.size
    no = np.zeros(g, np.bool_)
    empty = Refit(
        np.empty(0, np.int64),
        np.empty((0, counts.shape[0])),
        np.empty(0, np.bool_),
        no,
        no.copy(),
        no.copy(),
    )
    if not options.refit_cooks or not layout.replaceable.any():
        return empty
    positions = np.flatnonzero(cooks.any_exceeds)
    if positions.size == 0:
        return empty
    y = genes_by_samples(counts, fits.genes[positions], runner.blocks)
    exceeds = np.stack([cooks.exceeds[int(j)] for j in positions])
    replaced = cooks_mod.replacement_counts(y, runner.sf, exceeds, layout.replaceable)
    all_zero = (replaced == 0).all(axis=1)
    refitted = ~all_zero
    replaced_any = no.copy()
    replaced_any[positions] = True
    new_all_zero = no.copy()
    new_all_zero[positions[all_zero]] = True
    refitted_any = no.copy()
    refitted_any[positions[refitted]] = True
    # genes all zero after replacement: base mean 0, coefficients 0 (pydeseq2)
    fits.normed_mean[positions[all_zero]] = 0.0
    fits.beta[positions[all_zero]] = 0.0
    if refitted.any():
        sub_pos = positions[refitted]
        sub_y = np.ascontiguousarray(replaced[refitted])
        sub = GeneFits.empty(sub_pos, runner.design.n_coefficients)
        rows = slice(0, sub_pos.size)
        runner.genewise_pass(sub_y, sub, rows)
        sub.fitted = trend(sub.normed_mean)  # the trend is not refitted
        runner.map_pass(sub_y, sub, rows, prior)  # nor the prior
        runner.lfc_pass(sub_y, sub, rows, None, None)
        for name in (
            "normed_mean",
            "mom_dispersion",
            "init_beta",
            "genewise",
            "genewise_status",
            "genewise_iterations",
            "fitted",
            "map_dispersion",
            "map_status",
            "map_iterations",
            "dispersion",
            "beta",
            "lfc_status",
            "covariance",
        ):
            getattr(fits, name)[sub_pos] = getattr(sub, name)
    return Refit(positions, replaced, refitted, replaced_any, refitted_any, new_all_zero)
