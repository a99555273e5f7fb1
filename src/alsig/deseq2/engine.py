"""The DESeq2 fit, driven gene chunk by gene chunk: :func:`fit_deseq2` runs DESeq2's steps (size
factors, gene-wise dispersions, trend, prior, MAP dispersions, log fold changes, Cook's distances
and the refit of genes with replaced outliers) and returns a :class:`DESeq2Fit` that serves any
number of tests: Wald tests of contrast vectors, likelihood-ratio tests against reduced designs,
and shrunken log fold changes.

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
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np
import pandas as pd
from scipy.stats import chi2

from alsig.deseq2 import cooks as cooks_mod
from alsig.deseq2 import dispersion as disp_mod
from alsig.deseq2 import glm
from alsig.deseq2.chunks import (
    GENE_BLOCK,
    Blocks,
    default_chunk_size,
    gene_chunks,
    genes_by_samples,
)
from alsig.deseq2.design import Design
from alsig.deseq2.filtering import FilterResult, benjamini_hochberg, independent_filtering
from alsig.deseq2.iterative import iterative_size_factors
from alsig.deseq2.shrink import ShrinkResult, fit_prior_variance, grid_shrink, shrink_chunk
from alsig.deseq2.size_factors import (
    SizeFactorFit,
    log_means,
    median_of_ratios,
    positive_counts,
)
from alsig.deseq2.trend import (
    DispersionPrior,
    DispersionTrend,
    fit_dispersion_prior,
    fit_dispersion_trend,
)
from alsig.deseq2.wald import WaldTest, wald_test

log = logging.getLogger(__name__)


def _now() -> tuple[float, float]:
    """``(wall seconds, CPU seconds of the process)``: phases report both, since on a shared
    machine CPU time is the stable measure of the work."""
    return time.perf_counter(), time.process_time()


def _record(wall: dict[str, float], cpu: dict[str, float], name: str, start) -> None:
    """Add the wall and CPU seconds since ``start`` (:func:`_now`) to phase ``name``."""
    now_wall, now_cpu = _now()
    wall[name] = wall.get(name, 0.0) + now_wall - start[0]
    cpu[name] = cpu.get(name, 0.0) + now_cpu - start[1]


LN2 = math.log(2.0)

#: per-gene status of the log fold change fit
LFC_IRLS = 0
LFC_OPTIMISER = 1
LFC_OPTIMISER_FAILED = 2
LFC_GRID = 3


@dataclass(frozen=True)
class DESeq2Options:
    """DESeq2's fitting constants (pydeseq2 ``DeseqDataSet`` defaults).

    Attributes
    ----------
    fit_type
        Dispersion trend: ``parametric`` or ``mean``.
    size_factors_fit_type
        ``ratio`` (median of ratios; the iterative estimate when every gene has a zero, as
        pydeseq2), ``poscounts`` or ``iterative``.
    min_mu
        Lower bound of fitted means inside the fits.
    min_disp, max_disp
        Dispersion bounds (the upper one is ``max(max_disp, n_samples)``).
    beta_tol
        IRLS convergence: relative deviance change.
    maxiter
        IRLS iterations before pydeseq2's fallback optimiser.
    refit_cooks
        Replace Cook's outliers and refit those genes.
    min_replicates
        Samples a design cell needs for its outliers to be replaced.
    """

    fit_type: str = "parametric"
    size_factors_fit_type: str = "ratio"
    min_mu: float = 0.5
    min_disp: float = 1e-8
    max_disp: float = 10.0
    beta_tol: float = 1e-8
    maxiter: int = 250
    refit_cooks: bool = True
    min_replicates: int = 7


@dataclass
class _GeneFits:
    """Per-gene state of a fit over a set of genes (the columns ``genes`` of the counts)."""

    genes: np.ndarray
    normed_mean: np.ndarray
    mom_dispersion: np.ndarray
    init_beta: np.ndarray
    genewise: np.ndarray
    genewise_status: np.ndarray
    genewise_iterations: np.ndarray
    fitted: np.ndarray | None = None
    map_dispersion: np.ndarray | None = None
    map_status: np.ndarray | None = None
    map_iterations: np.ndarray | None = None
    dispersion: np.ndarray | None = None
    dispersion_outlier: np.ndarray | None = None
    beta: np.ndarray | None = None
    lfc_status: np.ndarray | None = None
    covariance: np.ndarray | None = None

    @classmethod
    def empty(cls, genes: np.ndarray, p: int) -> _GeneFits:
        g = genes.size
        return cls(
            genes=genes,
            normed_mean=np.empty(g),
            mom_dispersion=np.empty(g),
            init_beta=np.empty((g, p)),
            genewise=np.empty(g),
            genewise_status=np.empty(g, np.int64),
            genewise_iterations=np.empty(g, np.int64),
        )


@dataclass
class _CooksState:
    robust_dispersion: np.ndarray
    any_exceeds: np.ndarray
    flagged: np.ndarray
    flagged_unreplaced: np.ndarray
    n_higher: np.ndarray
    exceeds: dict[int, np.ndarray] = field(default_factory=dict)


class _Runner:
    """The chunked steps shared by the main fit and the refit of replaced genes."""

    def __init__(
        self,
        design: Design,
        sf: np.ndarray,
        options: DESeq2Options,
        chunk_size: int,
        blocks: Blocks,
    ):
        self.design = design
        self.blocks = blocks
        self.sf = np.ascontiguousarray(sf, dtype=np.float64)
        self.options = options
        self.chunk_size = chunk_size
        self.lower = math.log(options.min_disp)
        self.upper = math.log(max(options.max_disp, design.n_samples))
        self.timings: dict[str, float] = {}
        self.cpu_timings: dict[str, float] = {}

    def _time(self, name: str, start: tuple[float, float]) -> None:
        _record(self.timings, self.cpu_timings, name, start)

    # -- GLM fits -------------------------------------------------------------------------------
    def fit_glm(
        self, y: np.ndarray, alpha: np.ndarray, design: Design
    ) -> tuple[np.ndarray, np.ndarray]:
        """IRLS for a chunk, pydeseq2's fallback where it fails; ``(beta, status)``."""
        c, p = y.shape[0], design.n_coefficients
        beta = np.empty((c, p))
        start = np.empty((c, p))
        status = np.empty(c, np.int64)
        iterations = np.empty(c, np.int64)
        o = self.options
        self.blocks(
            glm.irls_chunk,
            c,
            y, self.sf, design.matrix, design.rows, design.group, design.pinv, alpha, o.min_mu,
            o.beta_tol, o.maxiter, beta, start, status, iterations,
        )  # fmt: skip
        out_status = np.full(c, LFC_IRLS, np.int64)
        for j in np.flatnonzero(status == glm.NEEDS_FALLBACK):
            b, ok, grid = glm.fallback_fit(
                y[j], self.sf, design.matrix, float(alpha[j]), start[j], o.min_mu
            )
            beta[j] = b
            out_status[j] = LFC_GRID if grid else (LFC_OPTIMISER if ok else LFC_OPTIMISER_FAILED)
        return beta, out_status

    def initial_means(self, y: np.ndarray, fits: _GeneFits, rows: slice) -> np.ndarray:
        """Means the dispersions are fitted at: DESeq2's linear fit when the design has one
        distinct row per coefficient, else the GLM at the starting dispersions. Fitted (and
        their coefficients stored) the first time, recomputed from those after."""
        d = self.design
        c = y.shape[0]
        mu = np.empty_like(y)
        if d.one_row_per_coefficient:
            beta = np.empty((c, d.n_coefficients))
            self.blocks(
                glm.linear_means_chunk,
                c,
                y,
                self.sf,
                d.matrix,
                d.pinv,
                self.options.min_mu,
                beta,
                mu,
            )
            fits.init_beta[rows] = beta
            return mu
        beta = np.ascontiguousarray(fits.init_beta[rows])
        self.blocks(glm.glm_means_chunk, c, self.sf, d.rows, d.group, beta, mu)
        return mu

    def fit_initial_glm(self, y: np.ndarray, fits: _GeneFits, rows: slice) -> None:
        if not self.design.one_row_per_coefficient:
            beta, _ = self.fit_glm(y, fits.mom_dispersion[rows], self.design)
            fits.init_beta[rows] = beta

    # -- pass A: gene-wise dispersions ------------------------------------------------------------
    def genewise_pass(self, y: np.ndarray, fits: _GeneFits, rows: slice) -> None:
        d, o = self.design, self.options
        t = _now()
        normed_mean = np.empty(y.shape[0])
        mom = np.empty(y.shape[0])
        self.blocks(
            disp_mod.moments_dispersion_chunk,
            y.shape[0],
            y, self.sf, float(np.mean(1.0 / self.sf)), d.matrix, d.pinv, o.min_disp,
            max(o.max_disp, d.n_samples), normed_mean, mom,
        )  # fmt: skip
        fits.normed_mean[rows] = normed_mean
        fits.mom_dispersion[rows] = mom
        self.fit_initial_glm(y, fits, rows)
        mu = self.initial_means(y, fits, rows)
        self._time("initial means", t)
        t = _now()
        theta = np.empty(y.shape[0])
        status = np.empty(y.shape[0], np.int64)
        iterations = np.empty(y.shape[0], np.int64)
        self.blocks(
            disp_mod.dispersion_chunk, y.shape[0],
            y, mu, d.rows, d.group, np.log(mom), self.lower, self.upper, True,
            np.zeros(y.shape[0]), 1.0, False, theta, status, iterations,
        )  # fmt: skip
        fits.genewise[rows] = np.exp(theta)
        fits.genewise_status[rows] = status
        fits.genewise_iterations[rows] = iterations
        self._time("genewise dispersions", t)

    # -- pass B: MAP dispersions, log fold changes, Cook's ---------------------------------------
    def map_pass(self, y: np.ndarray, fits: _GeneFits, rows: slice, prior: DispersionPrior) -> None:
        d = self.design
        t = _now()
        mu = self.initial_means(y, fits, rows)
        log_fitted = np.log(fits.fitted[rows])
        theta = np.empty(y.shape[0])
        status = np.empty(y.shape[0], np.int64)
        iterations = np.empty(y.shape[0], np.int64)
        self.blocks(
            disp_mod.dispersion_chunk, y.shape[0],
            y, mu, d.rows, d.group, log_fitted, self.lower, self.upper, True, log_fitted,
            prior.variance, True, theta, status, iterations,
        )  # fmt: skip
        map_disp = np.exp(theta)
        genewise = fits.genewise[rows]
        outlier = np.log(genewise) > log_fitted + 2 * np.sqrt(prior.squared_log_residual_sd)
        fits.map_dispersion[rows] = map_disp
        fits.map_status[rows] = status
        fits.map_iterations[rows] = iterations
        fits.dispersion_outlier[rows] = outlier
        fits.dispersion[rows] = np.where(outlier, genewise, map_disp)
        self._time("MAP dispersions", t)

    def lfc_pass(self, y: np.ndarray, fits: _GeneFits, rows: slice, cooks: _CooksState | None,
                 layout: cooks_mod.CooksLayout | None) -> None:  # fmt: skip
        d, o = self.design, self.options
        t = _now()
        alpha = np.ascontiguousarray(fits.dispersion[rows])
        beta, status = self.fit_glm(y, alpha, d)
        fits.beta[rows] = beta
        fits.lfc_status[rows] = status
        c = y.shape[0]
        mu = np.empty_like(y)
        hat = np.empty_like(y)
        covariance = np.empty((c, d.n_coefficients, d.n_coefficients))
        self.blocks(
            glm.fit_summaries_chunk, c,
            y, self.sf, d.matrix, d.rows, d.group, alpha, o.min_mu, beta, mu, hat, covariance,
        )  # fmt: skip
        fits.covariance[rows] = covariance
        self._time("log fold changes", t)
        if cooks is None:
            return
        t = _now()
        robust = np.empty(c)
        any_exceeds = np.empty(c, np.bool_)
        flagged = np.empty(c, np.bool_)
        unreplaced = np.empty(c, np.bool_)
        higher = np.empty(c, np.int64)
        exceeds = np.empty(y.shape, np.bool_)
        self.blocks(
            cooks_mod.cooks_chunk, c,
            y, self.sf, mu, hat, float(d.n_coefficients), layout.cell_members,
            layout.cell_offsets, layout.cell_trim, cooks_mod.TRIM_RATIOS, cooks_mod.TRIM_SCALES,
            layout.use_for_max, layout.replaceable, layout.cutoff,
            robust, any_exceeds, flagged, unreplaced, higher, exceeds,
        )  # fmt: skip
        cooks.robust_dispersion[rows] = robust
        cooks.any_exceeds[rows] = any_exceeds
        cooks.flagged[rows] = flagged
        cooks.flagged_unreplaced[rows] = unreplaced
        cooks.n_higher[rows] = higher
        offset = rows.start
        for j in np.flatnonzero(any_exceeds):
            cooks.exceeds[offset + int(j)] = exceeds[j].copy()
        self._time("Cook's distances", t)


def _allocate_map(fits: _GeneFits, p: int) -> None:
    g = fits.genes.size
    fits.map_dispersion = np.empty(g)
    fits.map_status = np.empty(g, np.int64)
    fits.map_iterations = np.empty(g, np.int64)
    fits.dispersion = np.empty(g)
    fits.dispersion_outlier = np.empty(g, np.bool_)
    fits.beta = np.empty((g, p))
    fits.lfc_status = np.empty(g, np.int64)
    fits.covariance = np.empty((g, p, p))


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
        t = _now()
        nonzero = np.empty(n_genes, np.bool_)
        blocks(_nonzero_genes, n_genes, counts, nonzero, block=4 * GENE_BLOCK)
        sf_fit = _size_factors(counts, options, size_factors, control_genes, blocks, chunk)
        _record(timings, cpu_timings, "size factors", t)
        sf = sf_fit.size_factors
        genes = np.flatnonzero(nonzero)
        runner = _Runner(design, sf, options, chunk, blocks)
        fits = _GeneFits.empty(genes, design.n_coefficients)
        for rows in gene_chunks(genes.size, chunk):
            runner.genewise_pass(genes_by_samples(counts, genes[rows]), fits, rows)

        t = _now()
        trend = fit_dispersion_trend(fits.genewise, fits.normed_mean,
                                     min_disp=options.min_disp, fit_type=options.fit_type)  # fmt: skip
        fits.fitted = trend(fits.normed_mean)
        prior = fit_dispersion_prior(fits.genewise, fits.fitted, n, design.n_coefficients,
                                     min_disp=options.min_disp)  # fmt: skip
        runner._time("dispersion trend and prior", t)

        _allocate_map(fits, design.n_coefficients)
        layout = cooks_mod.CooksLayout.from_design(design, options.min_replicates)
        cooks = _CooksState(
            robust_dispersion=np.empty(genes.size),
            any_exceeds=np.empty(genes.size, np.bool_),
            flagged=np.empty(genes.size, np.bool_),
            flagged_unreplaced=np.empty(genes.size, np.bool_),
            n_higher=np.empty(genes.size, np.int64),
        )
        for rows in gene_chunks(genes.size, chunk):
            y = genes_by_samples(counts, genes[rows])
            runner.map_pass(y, fits, rows, prior)
            runner.lfc_pass(y, fits, rows, cooks, layout)

        t = _now()
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
    return iterative_size_factors(counts, options.min_mu, options.min_disp, options.max_disp,
                                  blocks=blocks, chunk_size=chunk)  # fmt: skip


@dataclass
class _Refit:
    """Genes whose Cook's outliers were replaced: replaced counts, which were refitted."""

    positions: np.ndarray  # positions among the fitted (non-zero) genes
    counts: np.ndarray  # genes x samples, replaced counts
    refitted: np.ndarray  # bool per position: refitted (not all zero after replacement)
    replaced_any: np.ndarray  # bool per fitted gene
    refitted_any: np.ndarray  # bool per fitted gene
    new_all_zero: np.ndarray  # bool per fitted gene


def _refit_outliers(counts, fits, cooks, layout, runner, trend, prior, options) -> _Refit:
    g = fits.genes.size
    no = np.zeros(g, np.bool_)
    empty = _Refit(np.empty(0, np.int64), np.empty((0, counts.shape[0])), np.empty(0, np.bool_),
                   no, no.copy(), no.copy())  # fmt: skip
    if not options.refit_cooks or not layout.replaceable.any():
        return empty
    positions = np.flatnonzero(cooks.any_exceeds)
    if positions.size == 0:
        return empty
    y = genes_by_samples(counts, fits.genes[positions])
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
        sub = _GeneFits.empty(sub_pos, runner.design.n_coefficients)
        _allocate_map(sub, runner.design.n_coefficients)
        rows = slice(0, sub_pos.size)
        runner.genewise_pass(sub_y, sub, rows)
        sub.fitted = trend(sub.normed_mean)  # the trend is not refitted
        runner.map_pass(sub_y, sub, rows, prior)  # nor the prior
        runner.lfc_pass(sub_y, sub, rows, None, None)
        for name in ("normed_mean", "mom_dispersion", "init_beta", "genewise", "genewise_status",
                     "genewise_iterations", "fitted", "map_dispersion", "map_status", "map_iterations",
                     "dispersion", "beta", "lfc_status", "covariance"):  # fmt: skip
            getattr(fits, name)[sub_pos] = getattr(sub, name)
    return _Refit(positions, replaced, refitted, replaced_any, refitted_any, new_all_zero)


@dataclass(frozen=True)
class DEResults:
    """A test's results per gene, pydeseq2's column names.

    Attributes
    ----------
    table
        Indexed by gene: ``baseMean``, ``log2FoldChange``, ``lfcSE``, ``stat``, ``pvalue``,
        ``padj`` (LRT: also ``df``; ``log2FoldChange`` / ``lfcSE`` of the named coefficient).
    filtering
        Independent filtering's outcome (None when not applied).
    cooks_outlier
        Genes whose p-value Cook's filtering removed.
    """

    table: pd.DataFrame
    filtering: FilterResult | None
    cooks_outlier: np.ndarray


@dataclass
class DESeq2Fit:
    """One DESeq2 fit of a dataset and design; tests and shrinkage come from its methods.

    Use :func:`fit_deseq2` to make one. Per-gene intermediates are in :attr:`var`.
    """

    gene_names: np.ndarray
    design: Design
    options: DESeq2Options
    size_factor_fit: SizeFactorFit
    fits: _GeneFits
    trend: DispersionTrend
    prior: DispersionPrior
    cooks: _CooksState
    layout: cooks_mod.CooksLayout
    refit: _Refit
    n_threads: int
    chunk_size: int
    timings: dict[str, float]
    cpu_timings: dict[str, float]
    counts: np.ndarray = field(repr=False)
    _full_deviance: np.ndarray | None = field(default=None, repr=False)

    # -- per-gene views -----------------------------------------------------------------------------
    @property
    def size_factors(self) -> np.ndarray:
        """Sample size factors."""
        return self.size_factor_fit.size_factors

    @property
    def n_genes(self) -> int:
        """Genes of the counts (including those with no counts)."""
        return self.gene_names.size

    def _full(self, values: np.ndarray, fill: Any = np.nan, dtype=float) -> np.ndarray:
        out = np.full((self.n_genes,) + values.shape[1:], fill, dtype=dtype)
        out[self.fits.genes] = values
        return out

    @property
    def base_mean(self) -> np.ndarray:
        """Mean of normalised counts per gene (0 without counts; after outlier replacement)."""
        return self._full(self.fits.normed_mean, 0.0)

    @property
    def lfc(self) -> pd.DataFrame:
        """MLE coefficients per gene (natural log; NaN for genes without counts)."""
        return pd.DataFrame(self._full(self.fits.beta), index=self.gene_names,
                            columns=list(self.design.columns))  # fmt: skip

    @property
    def cooks_outlier(self) -> np.ndarray:
        """Genes whose p-values Cook's filtering removes (pydeseq2 ``cooks_outlier``)."""
        c = self.cooks
        flagged = np.where(self.refit.refitted_any, c.flagged_unreplaced, c.flagged)
        return self._full(flagged & (c.n_higher < 3), False, bool)

    @property
    def var(self) -> pd.DataFrame:
        """Per-gene intermediates, pydeseq2's names where it has them."""
        f, c, r = self.fits, self.cooks, self.refit
        return pd.DataFrame(
            {
                "non_zero": self._full(np.ones(f.genes.size, bool), False, bool),
                "_normed_means": self.base_mean,
                "_MoM_dispersions": self._full(f.mom_dispersion),
                "genewise_dispersions": self._full(f.genewise),
                "genewise_status": self._full(f.genewise_status, -1, np.int64),
                "fitted_dispersions": self._full(f.fitted),
                "MAP_dispersions": self._full(f.map_dispersion),
                "MAP_status": self._full(f.map_status, -1, np.int64),
                "dispersions": self._full(f.dispersion),
                "_outlier_genes": self._full(f.dispersion_outlier, False, bool),
                "lfc_status": self._full(f.lfc_status, -1, np.int64),
                "robust_dispersion": self._full(c.robust_dispersion),
                "replaced": self._full(r.replaced_any, False, bool),
                "refitted": self._full(r.refitted_any, False, bool),
                "new_all_zero": self._full(r.new_all_zero, False, bool),
                "cooks_outlier": self.cooks_outlier,
            },
            index=self.gene_names,
        )

    # -- tests ------------------------------------------------------------------------------------
    def contrast_vector(self, factor_or_vector, test_level: str | None = None,
                        reference_level: str | None = None) -> np.ndarray:  # fmt: skip
        """A contrast vector: given as a vector, or the difference of two coefficient columns
        named ``<factor>[T.<level>]`` (formulaic's names) where the reference has no column."""
        if test_level is None:
            vector = np.asarray(factor_or_vector, dtype=float)
            if vector.shape != (self.design.n_coefficients,):
                raise ValueError(
                    f"a contrast vector needs {self.design.n_coefficients} entries "
                    f"({list(self.design.columns)}), got shape {vector.shape}"
                )
            return vector
        vector = np.zeros(self.design.n_coefficients)
        for level, sign in ((test_level, 1.0), (reference_level, -1.0)):
            name = f"{factor_or_vector}[T.{level}]"
            if name in self.design.columns:
                vector[self.design.columns.index(name)] += sign
            elif not any(c.startswith(f"{factor_or_vector}[T.") for c in self.design.columns):
                raise KeyError(f"'{factor_or_vector}' is not a factor of the design "
                               f"({list(self.design.columns)})")  # fmt: skip
        return vector

    def _adjust(self, pvalues, alpha, cooks_filter, independent_filter):
        outlier = self.cooks_outlier if cooks_filter else np.zeros(self.n_genes, bool)
        pvalues = pvalues.copy()
        pvalues[outlier] = np.nan
        if independent_filter:
            filt = independent_filtering(self.base_mean, pvalues, alpha)
            return pvalues, filt.padj, filt, outlier
        return pvalues, benjamini_hochberg(pvalues), None, outlier

    def wald_test(self, contrast: np.ndarray) -> WaldTest:
        """Unfiltered Wald test of a contrast vector for every gene (natural log; NaN for genes
        without counts; genes all zero after outlier replacement: SE 0, stat 0, p 1)."""
        contrast = self.contrast_vector(contrast)
        with Blocks(self.n_threads) as blocks:
            test = wald_test(self.fits.beta, self.fits.covariance, contrast, blocks)
        lfc, se, stat, p = (self._full(v) for v in (test.lfc, test.se, test.stat, test.pvalue))
        zero = self._full(self.refit.new_all_zero, False, bool)
        se[zero], stat[zero], p[zero] = 0.0, 0.0, 1.0
        return WaldTest(lfc, se, stat, p)

    def results(
        self,
        contrast: np.ndarray,
        *,
        alpha: float = 0.05,
        cooks_filter: bool = True,
        independent_filter: bool = True,
    ) -> DEResults:
        """Wald test of ``contrast`` with Cook's and independent filtering (pydeseq2
        ``DeseqStats.summary()``; DESeq2 ``results()``).

        Parameters
        ----------
        contrast
            Contrast vector over the design's coefficients (see :meth:`contrast_vector`).
        alpha
            Level the independent filter counts rejections at.
        cooks_filter, independent_filter
            Apply the two filters.

        Returns
        -------
        DEResults
        """
        t = _now()
        test = self.wald_test(contrast)
        pvalues, padj, filt, outlier = self._adjust(test.pvalue, alpha, cooks_filter,
                                                     independent_filter)  # fmt: skip
        table = pd.DataFrame(
            {
                "baseMean": self.base_mean,
                "log2FoldChange": test.lfc / LN2,
                "lfcSE": test.se / LN2,
                "stat": test.stat,
                "pvalue": pvalues,
                "padj": padj,
            },
            index=self.gene_names,
        )
        _record(self.timings, self.cpu_timings, "Wald test and filtering", t)
        return DEResults(table, filt, outlier)

    def lrt(
        self,
        reduced: pd.DataFrame | Design,
        *,
        coefficient: str | None = None,
        alpha: float = 0.05,
        cooks_filter: bool = True,
        independent_filter: bool = True,
    ) -> DEResults:
        """Likelihood-ratio test of the fit's design against a reduced design (DESeq2
        ``DESeq(test = "LRT", reduced = ...)`` + ``results()``).

        The reduced model is fitted by IRLS with the full model's dispersions (and, for genes
        whose outliers were replaced, their replaced counts); ``stat`` is the deviance
        difference ``-2 (log L_reduced - log L_full)``, ``df`` the difference in coefficients,
        ``pvalue`` from chi-squared. Cook's and independent filtering as for the Wald test.

        Parameters
        ----------
        reduced
            Reduced model matrix, its columns within the full design's column space.
        coefficient
            Full-design coefficient whose MLE (log2) and SE fill ``log2FoldChange`` / ``lfcSE``
            (NaN when None).
        alpha, cooks_filter, independent_filter
            As :meth:`results`.

        Returns
        -------
        DEResults
            ``table`` with a ``df`` column.

        Raises
        ------
        ValueError
            The reduced design is not nested in the full one.
        """
        t = _now()
        reduced = reduced if isinstance(reduced, Design) else Design.from_frame(reduced)
        if not reduced.nested_in(self.design):
            raise ValueError(
                f"the reduced design ({list(reduced.columns)}) is not nested in the full design "
                f"({list(self.design.columns)}): its columns must be combinations of the full "
                "design's, with fewer coefficients"
            )
        reduced_deviance = self._deviance(reduced)
        df = self.design.n_coefficients - reduced.n_coefficients
        stat = reduced_deviance - self.full_deviance()[self.fits.genes]
        p = chi2.sf(stat, df)
        zero = self.refit.new_all_zero
        stat[zero], p[zero] = 0.0, 1.0
        stat, p = self._full(stat), self._full(p)
        if coefficient is not None:
            k = self.design.coefficient_index(coefficient)
            unit = np.zeros(self.design.n_coefficients)
            unit[k] = 1.0
            test = self.wald_test(unit)
            lfc, se = test.lfc / LN2, test.se / LN2
        else:
            lfc = se = np.full(self.n_genes, np.nan)
        pvalues, padj, filt, outlier = self._adjust(p, alpha, cooks_filter, independent_filter)
        table = pd.DataFrame(
            {
                "baseMean": self.base_mean,
                "log2FoldChange": lfc,
                "lfcSE": se,
                "stat": stat,
                "df": float(df),
                "pvalue": pvalues,
                "padj": padj,
            },
            index=self.gene_names,
        )
        _record(self.timings, self.cpu_timings, "LRT", t)
        return DEResults(table, filt, outlier)

    def full_deviance(self) -> np.ndarray:
        """Deviance (``-2 log L``) of the fit per gene (NaN without counts; refitted genes on
        their replaced counts), as DESeq2's ``mcols(dds)$deviance``; computed once, on demand."""
        if self._full_deviance is None:
            self._full_deviance = self._full(self._deviance(None))
        return self._full_deviance

    def _deviance(self, reduced: Design | None) -> np.ndarray:
        """Per fitted gene: deviance of the fit (``reduced`` None) or of the IRLS fit under
        ``reduced`` with the fit's dispersions."""
        f = self.fits
        out = np.empty(f.genes.size)
        refit_rows = dict(zip(self.refit.positions[self.refit.refitted].tolist(),
                              np.flatnonzero(self.refit.refitted).tolist(), strict=True))  # fmt: skip
        design = reduced or self.design
        with Blocks(self.n_threads) as blocks:
            runner = _Runner(design, self.size_factors, self.options, self.chunk_size, blocks)
            for rows in gene_chunks(f.genes.size, self.chunk_size):
                y = genes_by_samples(self.counts, f.genes[rows])
                for j in range(rows.start, rows.stop):
                    if j in refit_rows:
                        y[j - rows.start] = self.refit.counts[refit_rows[j]]
                alpha = np.ascontiguousarray(f.dispersion[rows])
                if reduced is None:
                    beta = np.ascontiguousarray(f.beta[rows])
                else:
                    beta, _ = runner.fit_glm(y, alpha, reduced)
                blocks(glm.deviance_chunk, y.shape[0], y, runner.sf, design.rows, design.group,
                       beta, alpha, out[rows])  # fmt: skip
        return out

    def lfc_shrink(
        self,
        coefficient: str,
        *,
        design: pd.DataFrame | Design | None = None,
        contrast: np.ndarray | None = None,
    ) -> ShrinkResult:
        """Shrunken log fold changes of one coefficient (pydeseq2 ``DeseqStats.lfc_shrink``).

        Parameters
        ----------
        coefficient
            Column to shrink: of ``design`` if given, else of the fit's design.
        design
            A releveled (reparametrised) model matrix with the same column space as the fit's,
            for a contrast that is no column of the fit's design: the posterior mode is fitted
            under it with the fit's dispersions; nothing else is refitted.
        contrast
            The contrast vector (over the fit's coefficients) whose MLE and SE set the prior
            variance; by default the coefficient itself (for ``design``: its expression in the
            fit's coefficients).

        Returns
        -------
        ShrinkResult
            Per gene (NaN without counts), natural-log scale.

        Raises
        ------
        ValueError
            ``design`` does not span the fit's column space.
        """
        t = _now()
        target = self.design
        if design is not None:
            target = design if isinstance(design, Design) else Design.from_frame(design)
            if not self.design.same_column_space(target):
                raise ValueError(
                    f"design {list(target.columns)} is not a reparametrisation of the fit's "
                    f"design {list(self.design.columns)}"
                )
        k = target.coefficient_index(coefficient)
        if contrast is None:
            # the target's coefficients are T beta with T = pinv(X_target) X
            contrast = (np.linalg.pinv(target.matrix) @ self.design.matrix)[k]
            contrast[np.abs(contrast) < 1e-12] = 0.0
        mle = self.wald_test(contrast)
        prior_variance = fit_prior_variance(mle.lfc, mle.se)
        prior_scale = min(math.sqrt(prior_variance), 1.0)
        f = self.fits
        lfc = np.empty(f.genes.size)
        se = np.empty(f.genes.size)
        converged = np.empty(f.genes.size, np.bool_)
        evaluations = np.empty(f.genes.size, np.int64)
        offset = np.log(self.size_factors)
        size = 1.0 / f.dispersion
        p = target.n_coefficients
        with Blocks(self.n_threads) as blocks:
            for rows in gene_chunks(f.genes.size, self.chunk_size):
                y = genes_by_samples(self.counts, f.genes[rows])
                beta = np.empty((y.shape[0], p))
                conv = np.empty(y.shape[0], np.bool_)
                blocks(
                    shrink_chunk, y.shape[0], target.matrix, target.rows, target.group, y,
                    np.ascontiguousarray(size[rows]), self.size_factors, k, prior_scale, beta,
                    se[rows], conv, evaluations[rows],
                )  # fmt: skip
                for j in np.flatnonzero(~conv) if p == 2 else ():
                    beta[j] = grid_shrink(target.matrix, y[j], float(size[rows][j]), offset, k,
                                          prior_scale)  # fmt: skip
                lfc[rows] = beta[:, k]
                converged[rows] = conv
        _record(self.timings, self.cpu_timings, "LFC shrinkage", t)
        return ShrinkResult(self._full(lfc), self._full(se), self._full(converged, False, bool),
                            self._full(evaluations, 0, np.int64), prior_variance)  # fmt: skip
