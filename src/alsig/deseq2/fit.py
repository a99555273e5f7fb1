"""A fitted DESeq2 model and the tests it serves.

:class:`DESeq2Fit` (made by
:func:`alsig.deseq2.fit_deseq2`) gives Wald tests of any contrast vector with Cook's and independent
filtering (:meth:`DESeq2Fit.results`), likelihood-ratio tests against reduced designs
(:meth:`DESeq2Fit.lrt`) and shrunken log fold changes (:meth:`DESeq2Fit.lfc_shrink`), all from the
one fit: no test re-estimates size factors or dispersions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from alsig.deseq2 import glm
from alsig.deseq2.chunks import Blocks, gene_chunks, genes_by_samples
from alsig.deseq2.cooks import CooksLayout
from alsig.deseq2.design import Design
from alsig.deseq2.filtering import FilterResult, independent_filtering
from alsig.deseq2.passes import (
    CooksState,
    DESeq2Options,
    GeneFits,
    Refit,
    Runner,
    now,
    record_phase,
)
from alsig.deseq2.shrink import ShrinkResult, fit_prior_variance, grid_shrink, shrink_chunk
from alsig.deseq2.size_factors import SizeFactorFit
from alsig.deseq2.trend import DispersionPrior, DispersionTrend
from alsig.deseq2.wald import WaldTest, wald_test
from alsig.distributions import benjamini_hochberg, chi2_sf

LN2 = math.log(2.0)


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

    Made by :func:`alsig.deseq2.fit_deseq2`. Per-gene intermediates (pydeseq2's names) are in
    :attr:`var`; the methods' results are indexed by gene name.

    Attributes
    ----------
    gene_names
        One name per gene of the counts.
    design
        The fitted design.
    options
        The fitting constants used.
    size_factor_fit
        Size factors and how they were estimated.
    fits
        Per-gene state of the fitted genes (those with a count).
    trend, prior
        Dispersion trend and prior.
    cooks, layout, refit
        Cook's outcome per gene, the replicate layout of the rules, and the refit of genes with
        replaced outliers.
    n_threads, chunk_size
        How the tests run (their results do not depend on either).
    timings, cpu_timings
        Wall and CPU seconds per phase (fit, then each test as it runs).
    counts
        The counts (samples x genes, as given; not copied).
    """

    gene_names: np.ndarray
    design: Design
    options: DESeq2Options
    size_factor_fit: SizeFactorFit
    fits: GeneFits
    trend: DispersionTrend
    prior: DispersionPrior
    cooks: CooksState
    layout: CooksLayout
    refit: Refit
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
        return pd.DataFrame(
            self._full(self.fits.beta), index=self.gene_names, columns=list(self.design.columns)
        )

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
    def contrast_vector(
        self, factor_or_vector, test_level: str | None = None, reference_level: str | None = None
    ) -> np.ndarray:
        """Return a contrast vector, given as one or as two levels of a factor.

        A contrast vector: given as a vector, or the difference of two coefficient columns named
        ``<factor>[T.<level>]`` (formulaic's names) where the reference has no column.
        """
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
                raise KeyError(
                    f"'{factor_or_vector}' is not a factor of the design "
                    f"({list(self.design.columns)})"
                )
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
        """Test a contrast vector by Wald for every gene, unfiltered.

        Unfiltered Wald test of a contrast vector for every gene (natural log; NaN for genes without
        counts; genes all zero after outlier replacement: SE 0, stat 0, p 1).
        """
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
        """Test ``contrast`` by Wald with Cook's and independent filtering.

        Wald test of ``contrast`` with Cook's and independent filtering (pydeseq2
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
        t = now()
        test = self.wald_test(contrast)
        pvalues, padj, filt, outlier = self._adjust(
            test.pvalue, alpha, cooks_filter, independent_filter
        )
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
        record_phase(self.timings, self.cpu_timings, "Wald test and filtering", t)
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
        """Test the fit's design against a reduced design by likelihood ratio.

        Likelihood-ratio test of the fit's design against a reduced design (DESeq2 ``DESeq(test =
        "LRT", reduced = ...)`` + ``results()``).

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
        t = now()
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
        p = chi2_sf(stat, df)
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
        record_phase(self.timings, self.cpu_timings, "LRT", t)
        return DEResults(table, filt, outlier)

    def full_deviance(self) -> np.ndarray:
        """Return the deviance (``-2 log L``) of the fit per gene, computed once.

        Deviance (``-2 log L``) of the fit per gene (NaN without counts; refitted genes on their
        replaced counts), as DESeq2's ``mcols(dds)$deviance``; computed once, on demand.
        """
        if self._full_deviance is None:
            self._full_deviance = self._full(self._deviance(None))
        return self._full_deviance

    def _deviance(self, reduced: Design | None) -> np.ndarray:
        """Return the deviance per fitted gene, of the fit or of a reduced design.

        Per fitted gene: deviance of the fit (``reduced`` None) or of the IRLS fit under ``reduced``
        with the fit's dispersions.
        """
        f = self.fits
        out = np.empty(f.genes.size)
        refit_rows = dict(
            zip(
                self.refit.positions[self.refit.refitted].tolist(),
                np.flatnonzero(self.refit.refitted).tolist(),
                strict=True,
            )
        )
        design = reduced or self.design
        with Blocks(self.n_threads) as blocks:
            runner = Runner(design, self.size_factors, self.options, self.chunk_size, blocks)
            for rows in gene_chunks(f.genes.size, self.chunk_size):
                y = genes_by_samples(self.counts, f.genes[rows], blocks)
                for j in range(rows.start, rows.stop):
                    if j in refit_rows:
                        y[j - rows.start] = self.refit.counts[refit_rows[j]]
                alpha = np.ascontiguousarray(f.dispersion[rows])
                if reduced is None:
                    beta = np.ascontiguousarray(f.beta[rows])
                else:
                    beta, _ = runner.fit_glm(y, alpha, reduced)
                blocks(
                    glm.deviance_chunk,
                    y.shape[0],
                    y,
                    runner.sf,
                    design.rows,
                    design.group,
                    beta,
                    alpha,
                    out[rows],
                )
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
        t = now()
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
                y = genes_by_samples(self.counts, f.genes[rows], blocks)
                beta = np.empty((y.shape[0], p))
                conv = np.empty(y.shape[0], np.bool_)
                blocks(
                    shrink_chunk,
                    y.shape[0],
                    target.matrix,
                    target.rows,
                    target.group,
                    y,
                    np.ascontiguousarray(size[rows]),
                    self.size_factors,
                    k,
                    prior_scale,
                    beta,
                    se[rows],
                    conv,
                    evaluations[rows],
                )
                for j in np.flatnonzero(~conv) if p == 2 else ():
                    beta[j] = grid_shrink(
                        target.matrix, y[j], float(size[rows][j]), offset, k, prior_scale
                    )
                lfc[rows] = beta[:, k]
                converged[rows] = conv
        record_phase(self.timings, self.cpu_timings, "LFC shrinkage", t)
        return ShrinkResult(
            self._full(lfc),
            self._full(se),
            self._full(converged, False, bool),
            self._full(evaluations, 0, np.int64),
            prior_variance,
        )
