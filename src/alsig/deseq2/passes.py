"""The chunked passes of a DESeq2 fit.

Per-gene state and the steps that run over gene chunks
(:class:`Runner`): gene-wise dispersions (pass A), MAP dispersions, log fold changes and Cook's
distances (pass B). :mod:`alsig.deseq2.engine` drives them over a dataset and the refit of genes
with replaced outliers; :mod:`alsig.deseq2.fit` reuses them for the reduced fits of the LRT.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from alsig.deseq2 import cooks as cooks_mod
from alsig.deseq2 import dispersion as disp_mod
from alsig.deseq2 import glm
from alsig.deseq2.chunks import Blocks
from alsig.deseq2.design import Design
from alsig.deseq2.trend import DispersionPrior

#: per-gene status of the log fold change fit
LFC_IRLS = 0
LFC_OPTIMISER = 1
LFC_OPTIMISER_FAILED = 2
LFC_GRID = 3


def now() -> tuple[float, float]:
    """Return ``(wall seconds, CPU seconds of the process)``.

    ``(wall seconds, CPU seconds of the process)``: phases report both, since on a shared machine
    CPU time is the stable measure of the work.
    """
    return time.perf_counter(), time.process_time()


def record_phase(wall: dict[str, float], cpu: dict[str, float], name: str, start) -> None:
    """Add the wall and CPU seconds since ``start`` (:func:`now`) to phase ``name``."""
    now_wall, now_cpu = now()
    wall[name] = wall.get(name, 0.0) + now_wall - start[0]
    cpu[name] = cpu.get(name, 0.0) + now_cpu - start[1]


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
class GeneFits:
    """Per-gene state of a fit over a set of genes (the columns ``genes`` of the counts)."""

    genes: np.ndarray
    normed_mean: np.ndarray
    mom_dispersion: np.ndarray
    init_beta: np.ndarray
    genewise: np.ndarray
    genewise_status: np.ndarray
    genewise_iterations: np.ndarray
    fitted: np.ndarray
    map_dispersion: np.ndarray
    map_status: np.ndarray
    map_iterations: np.ndarray
    dispersion: np.ndarray
    dispersion_outlier: np.ndarray
    beta: np.ndarray
    lfc_status: np.ndarray
    covariance: np.ndarray

    @classmethod
    def empty(cls, genes: np.ndarray, p: int) -> GeneFits:
        """Return the state of ``genes`` (count-matrix columns) for ``p`` coefficients, unfilled.

        Parameters
        ----------
        genes
            Column indices of the fitted genes.
        p
            Coefficients of the design.

        Returns
        -------
        GeneFits
            Every per-gene array allocated (each pass fills its own).
        """
        g = genes.size
        return cls(
            genes=genes,
            normed_mean=np.empty(g),
            mom_dispersion=np.empty(g),
            init_beta=np.empty((g, p)),
            genewise=np.empty(g),
            genewise_status=np.empty(g, np.int64),
            genewise_iterations=np.empty(g, np.int64),
            fitted=np.empty(g),
            map_dispersion=np.empty(g),
            map_status=np.empty(g, np.int64),
            map_iterations=np.empty(g, np.int64),
            dispersion=np.empty(g),
            dispersion_outlier=np.empty(g, np.bool_),
            beta=np.empty((g, p)),
            lfc_status=np.empty(g, np.int64),
            covariance=np.empty((g, p, p)),
        )


@dataclass
class CooksState:
    """Per-gene outcome of the Cook's pass and the outlier masks.

    Per-gene outcome of the Cook's pass (see :func:`alsig.deseq2.cooks.cooks_chunk`), and the
    per-sample outlier masks of the genes that have an outlier (by gene position).
    """

    robust_dispersion: np.ndarray
    any_exceeds: np.ndarray
    flagged: np.ndarray
    flagged_unreplaced: np.ndarray
    n_higher: np.ndarray
    exceeds: dict[int, np.ndarray] = field(default_factory=dict)


class Runner:
    """The chunked steps of a fit for one design and set of size factors.

    Used by the main fit, the
    refit of genes with replaced outliers and the LRT's reduced fits. Records wall and CPU seconds
    per phase in :attr:`timings` / :attr:`cpu_timings`.

    Parameters
    ----------
    design
        The design the steps fit.
    sf
        Sample size factors.
    options
        Fitting constants.
    chunk_size
        Genes per chunk.
    blocks
        The thread pool of the kernels.
    """

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
        record_phase(self.timings, self.cpu_timings, name, start)

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
            y,
            self.sf,
            design.matrix,
            design.rows,
            design.group,
            design.pinv,
            alpha,
            o.min_mu,
            o.beta_tol,
            o.maxiter,
            beta,
            start,
            status,
            iterations,
        )
        out_status = np.full(c, LFC_IRLS, np.int64)
        for j in np.flatnonzero(status == glm.NEEDS_FALLBACK):
            b, ok, grid = glm.fallback_fit(
                y[j], self.sf, design.matrix, float(alpha[j]), start[j], o.min_mu
            )
            beta[j] = b
            out_status[j] = LFC_GRID if grid else (LFC_OPTIMISER if ok else LFC_OPTIMISER_FAILED)
        return beta, out_status

    def initial_means(self, y: np.ndarray, fits: GeneFits, rows: slice) -> np.ndarray:
        """Compute the means the dispersions are fitted at.

        Means the dispersions are fitted at: DESeq2's linear fit when the design has one distinct
        row per coefficient, else the GLM at the starting dispersions. Fitted (and their
        coefficients stored) the first time, recomputed from those after.
        """
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

    def fit_initial_glm(self, y: np.ndarray, fits: GeneFits, rows: slice) -> None:
        """Fit the starting coefficients of a chunk's genes (see :meth:`initial_means`).

        Parameters
        ----------
        y
            Counts of the chunk, genes x samples.
        fits
            The fit's per-gene state (``rows`` of it are written).
        rows
            The chunk's positions among the fitted genes.
        """
        if not self.design.one_row_per_coefficient:
            beta, _ = self.fit_glm(y, fits.mom_dispersion[rows], self.design)
            fits.init_beta[rows] = beta

    # -- pass A: gene-wise dispersions ------------------------------------------------------------
    def genewise_pass(self, y: np.ndarray, fits: GeneFits, rows: slice) -> None:
        """Run pass A on a chunk: normalised means, starting and gene-wise dispersions.

        Parameters
        ----------
        y
            Counts of the chunk, genes x samples.
        fits
            The fit's per-gene state (``rows`` of it are written).
        rows
            The chunk's positions among the fitted genes.
        """
        d, o = self.design, self.options
        t = now()
        normed_mean = np.empty(y.shape[0])
        mom = np.empty(y.shape[0])
        self.blocks(
            disp_mod.moments_dispersion_chunk,
            y.shape[0],
            y,
            self.sf,
            float(np.mean(1.0 / self.sf)),
            d.matrix,
            d.pinv,
            o.min_disp,
            max(o.max_disp, d.n_samples),
            normed_mean,
            mom,
        )
        fits.normed_mean[rows] = normed_mean
        fits.mom_dispersion[rows] = mom
        self.fit_initial_glm(y, fits, rows)
        mu = self.initial_means(y, fits, rows)
        self._time("initial means", t)
        t = now()
        theta = np.empty(y.shape[0])
        status = np.empty(y.shape[0], np.int64)
        iterations = np.empty(y.shape[0], np.int64)
        self.blocks(
            disp_mod.dispersion_chunk,
            y.shape[0],
            y,
            mu,
            d.rows,
            d.group,
            np.log(mom),
            self.lower,
            self.upper,
            True,
            np.zeros(y.shape[0]),
            1.0,
            False,
            theta,
            status,
            iterations,
        )
        fits.genewise[rows] = np.exp(theta)
        fits.genewise_status[rows] = status
        fits.genewise_iterations[rows] = iterations
        self._time("genewise dispersions", t)

    # -- pass B: MAP dispersions, log fold changes, Cook's ---------------------------------------
    def map_pass(self, y: np.ndarray, fits: GeneFits, rows: slice, prior: DispersionPrior) -> None:
        """Fit a chunk's MAP dispersions under the trend and prior; flag dispersion outliers.

        Parameters
        ----------
        y
            Counts of the chunk, genes x samples.
        fits
            The fit's per-gene state (``rows`` of it are written).
        rows
            The chunk's positions among the fitted genes.
        prior
            The dispersion prior.
        """
        d = self.design
        t = now()
        mu = self.initial_means(y, fits, rows)
        log_fitted = np.log(fits.fitted[rows])
        theta = np.empty(y.shape[0])
        status = np.empty(y.shape[0], np.int64)
        iterations = np.empty(y.shape[0], np.int64)
        self.blocks(
            disp_mod.dispersion_chunk,
            y.shape[0],
            y,
            mu,
            d.rows,
            d.group,
            log_fitted,
            self.lower,
            self.upper,
            True,
            log_fitted,
            prior.variance,
            True,
            theta,
            status,
            iterations,
        )
        map_disp = np.exp(theta)
        genewise = fits.genewise[rows]
        outlier = np.log(genewise) > log_fitted + 2 * np.sqrt(prior.squared_log_residual_sd)
        fits.map_dispersion[rows] = map_disp
        fits.map_status[rows] = status
        fits.map_iterations[rows] = iterations
        fits.dispersion_outlier[rows] = outlier
        fits.dispersion[rows] = np.where(outlier, genewise, map_disp)
        self._time("MAP dispersions", t)

    def lfc_pass(
        self,
        y: np.ndarray,
        fits: GeneFits,
        rows: slice,
        cooks: CooksState | None,
        layout: cooks_mod.CooksLayout | None,
    ) -> None:
        """Run pass B on a chunk: log fold changes and their covariance, then Cook's distances.

        Parameters
        ----------
        y
            Counts of the chunk, genes x samples.
        fits
            The fit's per-gene state (``rows`` of it are written).
        rows
            The chunk's positions among the fitted genes.
        cooks, layout
            Cook's outcome per gene and the replicate layout (None for the refit of replaced
            genes, which has no Cook's step).
        """
        d, o = self.design, self.options
        t = now()
        alpha = np.ascontiguousarray(fits.dispersion[rows])
        beta, status = self.fit_glm(y, alpha, d)
        fits.beta[rows] = beta
        fits.lfc_status[rows] = status
        c = y.shape[0]
        mu = np.empty_like(y)
        hat = np.empty_like(y)
        covariance = np.empty((c, d.n_coefficients, d.n_coefficients))
        self.blocks(
            glm.fit_summaries_chunk,
            c,
            y,
            self.sf,
            d.matrix,
            d.rows,
            d.group,
            alpha,
            o.min_mu,
            beta,
            mu,
            hat,
            covariance,
        )
        fits.covariance[rows] = covariance
        self._time("log fold changes", t)
        if cooks is None:
            return
        assert layout is not None  # the main fit passes both; the refit of replaced genes neither
        t = now()
        robust = np.empty(c)
        any_exceeds = np.empty(c, np.bool_)
        flagged = np.empty(c, np.bool_)
        unreplaced = np.empty(c, np.bool_)
        higher = np.empty(c, np.int64)
        exceeds = np.empty(y.shape, np.bool_)
        self.blocks(
            cooks_mod.cooks_chunk,
            c,
            y,
            self.sf,
            mu,
            hat,
            float(d.n_coefficients),
            layout.cell_members,
            layout.cell_offsets,
            layout.cell_trim,
            cooks_mod.TRIM_RATIOS,
            cooks_mod.TRIM_SCALES,
            layout.use_for_max,
            layout.replaceable,
            layout.cutoff,
            robust,
            any_exceeds,
            flagged,
            unreplaced,
            higher,
            exceeds,
        )
        cooks.robust_dispersion[rows] = robust
        cooks.any_exceeds[rows] = any_exceeds
        cooks.flagged[rows] = flagged
        cooks.flagged_unreplaced[rows] = unreplaced
        cooks.n_higher[rows] = higher
        offset = rows.start
        for j in np.flatnonzero(any_exceeds):
            cooks.exceeds[offset + int(j)] = exceeds[j].copy()
        self._time("Cook's distances", t)


@dataclass
class Refit:
    """Genes whose Cook's outliers were replaced, and their refit.

    Genes whose Cook's outliers were replaced: their positions among the fitted genes, their
    replaced counts, and which were refitted (not all zero after replacement).
    """

    positions: np.ndarray  # positions among the fitted (non-zero) genes
    counts: np.ndarray  # genes x samples, replaced counts
    refitted: np.ndarray  # bool per position: refitted (not all zero after replacement)
    replaced_any: np.ndarray  # bool per fitted gene
    refitted_any: np.ndarray  # bool per fitted gene
    new_all_zero: np.ndarray  # bool per fitted gene
