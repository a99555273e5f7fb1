"""Gene-wise weighted linear models, vectorised across genes.

Least squares, GLS with a block correlation, and a linear mixed model with one random intercept
per subject (REML).

Every fit returns :class:`GeneFits`: coefficients, their covariance up to the residual variance
(``cov_unscaled``, limma's ``stdev.unscaled`` squared on the diagonal) and the residual variance
``sigma2`` with its degrees of freedom. The mixed model adds the variance ratio per gene and the
derivatives the Satterthwaite degrees of freedom need (:mod:`alsig.voom.satterthwaite`).
The linear algebra is in :mod:`alsig.voom.kernels`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from alsig.errors import AlsigError, name_some
from alsig.voom import kernels

#: search grid of the mixed model: log of (donor variance / residual variance at the mean weight)
MIXED_GRID = np.log(10.0) * np.linspace(-4.0, 3.0, 15)
#: relative tolerance of the one-dimensional REML search
SEARCH_TOL = 1e-7
#: plain REML: no prior on the residual variance
NO_PRIOR = np.zeros(2)
#: an infinite prior df (all genes share one residual variance) is fitted as this many
MAX_PRIOR_DF = 1e6


@dataclass
class GeneFits:
    """Per-gene fits of one design (genes first in every array).

    Attributes
    ----------
    coefficients
        Estimates, genes x p.
    cov_unscaled
        Covariance of the estimates divided by ``sigma2``, genes x p x p.
    sigma2
        Residual variance per gene (for the mixed model: of an observation of weight 1).
    df_residual
        ``n - p`` (the REML residual degrees of freedom).
    columns
        Coefficient names.
    ratio
        Mixed model: donor variance / residual variance (``lam``); GLS: the correlation used.
    s2_matrix, scalars
        Mixed model only: ``S2`` (genes x p x p) and ``(R, f1, f2, r1, r2, boundary)`` per gene
        (see :func:`alsig.voom.kernels.fit_genes`).
    prior_df, prior_s2
        Mixed model only: the prior of the residual variance the fit used (``0``: plain REML).
    """

    coefficients: np.ndarray
    cov_unscaled: np.ndarray
    sigma2: np.ndarray
    df_residual: np.ndarray
    columns: list[str]
    ratio: np.ndarray | None = None
    s2_matrix: np.ndarray | None = None
    scalars: np.ndarray | None = None
    prior_df: float = 0.0
    prior_s2: float = 0.0

    @property
    def n_genes(self) -> int:
        """Number of genes fitted."""
        return int(self.coefficients.shape[0])

    def fitted(self, design: np.ndarray) -> np.ndarray:
        """Return the fixed-effect fitted values.

        Parameters
        ----------
        design
            Design matrix, samples x coefficients.

        Returns
        -------
        numpy.ndarray
            Genes x samples.
        """
        return self.coefficients @ np.asarray(design, dtype=float).T

    def contrast(self, vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Estimate and unscaled standard deviation of ``vector' b`` per gene.

        Parameters
        ----------
        vector
            Contrast over the coefficients (length p).

        Returns
        -------
        tuple of numpy.ndarray
            ``(estimate, stdev_unscaled)``.
        """
        c = np.asarray(vector, dtype=float)
        estimate = self.coefficients @ c
        variance = np.einsum("i,gij,j->g", c, self.cov_unscaled, c)
        return estimate, np.sqrt(np.maximum(variance, 0.0))


def subject_codes(subjects: Sequence) -> tuple[np.ndarray, int]:
    """Integer code per sample (0 .. K-1) and K.

    Parameters
    ----------
    subjects
        Subject label per sample.

    Returns
    -------
    tuple
        ``(codes, n_subjects)``.

    Raises
    ------
    AlsigError
        If a label is missing.
    """
    labels = pd.Series(list(subjects), dtype="object")
    if labels.isna().any():
        rows = np.flatnonzero(labels.isna().to_numpy()).tolist()
        raise AlsigError(
            f"subject labels are missing for {len(rows)} sample(s) at rows {name_some(rows)}."
        )
    codes, uniques = pd.factorize(labels.astype(str))
    return codes.astype(np.int64), len(uniques)


def _checked(values: np.ndarray, weights: np.ndarray | None, design: np.ndarray):
    Y = np.ascontiguousarray(np.asarray(values, dtype=float))
    X = np.ascontiguousarray(np.asarray(design, dtype=float))
    if Y.ndim != 2 or X.ndim != 2 or Y.shape[1] != X.shape[0]:
        raise AlsigError(
            f"values are {Y.shape} (genes x samples) but the design is {X.shape} (samples x "
            "coefficients); the sample counts must agree."
        )
    n, p = X.shape
    if n <= p or np.linalg.matrix_rank(X) < p:
        raise AlsigError(
            f"the design ({n} samples, {p} coefficients) has no residual degrees of freedom or "
            "is not of full rank."
        )
    W = np.ones_like(Y) if weights is None else np.asarray(weights, dtype=float)
    if W.shape != Y.shape or not np.all(np.isfinite(W)) or np.any(W <= 0):
        raise AlsigError("precision weights must be positive, finite and shaped like the values.")
    if not np.all(np.isfinite(Y)):
        raise AlsigError("values contain NaN or infinite entries; remove those genes first.")
    return Y, np.ascontiguousarray(W), X


def _columns(design, p: int) -> list[str]:
    if isinstance(design, pd.DataFrame):
        return [str(c) for c in design.columns]
    return [f"x{j}" for j in range(p)]


def fit_gls(
    values: np.ndarray,
    design: np.ndarray | pd.DataFrame,
    *,
    weights: np.ndarray | None = None,
    subjects: Sequence | None = None,
    correlation: float = 0.0,
) -> GeneFits:
    """Weighted least squares, or GLS with an intra-subject correlation (limma's ``lmFit``).

    With ``subjects`` and ``correlation``, observations of one subject correlate by
    ``correlation`` after standardising by their weights: ``Var(y) = s W^-1/2 C W^-1/2``.

    Parameters
    ----------
    values
        log-expression, genes x samples.
    design
        Design matrix, samples x coefficients.
    weights
        Precision weights, genes x samples (default 1).
    subjects
        Subject per sample (needed when ``correlation`` is not 0).
    correlation
        Intra-subject correlation, e.g. the consensus of :func:`alsig.voom.duplicate_correlation`.

    Returns
    -------
    GeneFits
        ``sigma2`` and ``cov_unscaled`` on the scale of the correlation matrix (as limma).

    Raises
    ------
    AlsigError
        For mismatched shapes, a rank-deficient design, bad weights or a correlation outside
        the range the blocks allow.
    """
    Y, W, X = _checked(values, weights, design)
    n, p = X.shape
    if subjects is None or correlation == 0.0:
        codes, n_blocks = np.arange(n, dtype=np.int64), n
        rho = 0.0
    else:
        codes, n_blocks = subject_codes(subjects)
        rho = float(correlation)
        largest = int(np.bincount(codes).max())
        if not (-1.0 / max(largest - 1, 1) < rho < 1.0):
            raise AlsigError(
                f"correlation {rho} is outside (-1/{max(largest - 1, 1)}, 1) for blocks of up to "
                f"{largest} samples."
            )
    lam = rho / (1.0 - rho)
    fixed = np.full(Y.shape[0], lam)
    lam_out, beta, G, _, scalars = kernels.fit_genes(
        Y, W, X, codes, n_blocks, kernels.GLS, MIXED_GRID, fixed, NO_PRIOR, SEARCH_TOL
    )
    # H = C / (1 - rho): report sigma2 and the unscaled covariance on the scale of C, as limma
    scale = 1.0 + lam
    sigma2 = scalars[:, 0] / (n - p) * scale
    return GeneFits(
        coefficients=beta,
        cov_unscaled=G / scale,
        sigma2=sigma2,
        df_residual=np.full(Y.shape[0], float(n - p)),
        columns=_columns(design, p),
        ratio=np.full(Y.shape[0], rho),
    )


def block_correlations(
    values: np.ndarray,
    design: np.ndarray | pd.DataFrame,
    subjects: Sequence,
    *,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Estimate the intra-subject correlation of :func:`fit_gls`'s model per gene (REML).

    This is the gene-wise step of duplicateCorrelation (Smyth et al. 2005).

    Parameters
    ----------
    values
        log-expression, genes x samples.
    design
        Design matrix, samples x coefficients.
    subjects
        Subject per sample.
    weights
        Precision weights, genes x samples.

    Returns
    -------
    numpy.ndarray
        Correlation per gene, in ``[-0.98/(b-1), 1)`` for blocks of up to ``b`` samples
        (negative values are allowed, as in limma).

    Raises
    ------
    AlsigError
        If no subject has two or more samples.
    """
    Y, W, X = _checked(values, weights, design)
    codes, n_blocks = subject_codes(subjects)
    largest = int(np.bincount(codes).max())
    if largest < 2:
        raise AlsigError("no subject has two or more samples: there is no correlation to estimate.")
    # H turns singular at rho = -1/(b-1); the search stops at 98 % of that bound (where limma
    # also stops). Near the bound the deviance can have a second, spurious minimum: the grid
    # finds the global one, limma's iterations from zero may stay in an interior one.
    lowest = -0.98 / (largest - 1)
    grid = np.concatenate(
        [
            lowest * np.array([1.0, 0.75, 0.5, 0.25]),
            np.array([0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99]),
        ]
    )
    lam, *_ = kernels.fit_genes(
        Y,
        W,
        X,
        codes,
        n_blocks,
        kernels.GLS,
        grid,
        np.full(Y.shape[0], np.nan),
        NO_PRIOR,
        SEARCH_TOL,
    )
    return lam / (1.0 + lam)


def fit_mixed(
    values: np.ndarray,
    design: np.ndarray | pd.DataFrame,
    subjects: Sequence,
    *,
    weights: np.ndarray | None = None,
    prior_df: float = 0.0,
    prior_s2: float = 0.0,
) -> GeneFits:
    """Linear mixed model per gene: fixed effects, a random intercept per subject, REML.

    ``y = X b + u[subject] + e`` with ``u ~ N(0, s lam)`` and ``e_i ~ N(0, s / w_i)``: lme4's
    ``lmer(y ~ X + (1 | subject), weights = w, REML = TRUE)``, the model of dream (Hoffman &
    Roussos 2021) with one random effect. The variance ratio ``lam >= 0`` is found by a coarse grid
    and Brent's search on the profiled REML deviance; a ratio whose deviance is no better than
    ``lam = 0`` is set to 0 (the boundary fit lme4 calls singular).

    With ``prior_df > 0`` the residual variance gets limma's empirical Bayes prior (scaled
    inverse chi-square, ``prior_df`` degrees of freedom around ``prior_s2``) and the fit maximises
    REML likelihood x prior: the residual variance becomes ``(R + d0 s0^2) / (n - p + d0)``, the
    posterior variance of Smyth (2004), and the variance ratio is re-estimated with it.

    Parameters
    ----------
    values
        log-expression, genes x samples.
    design
        Fixed-effect design, samples x coefficients.
    subjects
        Subject per sample.
    weights
        Precision weights, genes x samples (default 1).
    prior_df, prior_s2
        Prior degrees of freedom and scale of the residual variance (0: plain REML); an
        infinite ``prior_df`` is capped at :data:`MAX_PRIOR_DF`.

    Returns
    -------
    GeneFits
        ``sigma2`` is the residual variance ``s`` (an observation of weight 1); ``ratio`` is
        ``lam``; ``s2_matrix`` and ``scalars`` feed :mod:`alsig.voom.satterthwaite`.

    Raises
    ------
    AlsigError
        For mismatched shapes, a rank-deficient design or bad weights.
    """
    Y, W, X = _checked(values, weights, design)
    n, p = X.shape
    codes, n_blocks = subject_codes(subjects)
    d0 = min(float(prior_df), MAX_PRIOR_DF)
    prior = np.array([d0, d0 * float(prior_s2)])
    lam, beta, G, S2, scalars = kernels.fit_genes(
        Y,
        W,
        X,
        codes,
        n_blocks,
        kernels.MIXED,
        MIXED_GRID,
        np.full(Y.shape[0], np.nan),
        prior,
        SEARCH_TOL,
    )
    return GeneFits(
        coefficients=beta,
        cov_unscaled=G,
        sigma2=(scalars[:, 0] + prior[1]) / (n - p + d0),
        df_residual=np.full(Y.shape[0], float(n - p)),
        columns=_columns(design, p),
        ratio=lam,
        s2_matrix=S2,
        scalars=scalars,
        prior_df=d0,
        prior_s2=float(prior_s2) if d0 > 0 else 0.0,
    )


@dataclass(frozen=True)
class RandomIntercept:
    """One response's REML fit with a random intercept per subject (:func:`fit_random_intercept`).

    Attributes
    ----------
    coefficients
        Fixed-effect estimates (p).
    covariance
        Their covariance, ``sigma2 (X' V^-1 X)^-1`` at the REML variances (lme4's ``vcov``).
    residual_variance
        ``sigma2``.
    subject_variance
        The random intercept's variance (0 at the boundary).
    fits
        The one-row :class:`GeneFits` behind it, for the Satterthwaite degrees of freedom of a
        coefficient (:func:`alsig.voom.satterthwaite.random_intercept_df`).
    """

    coefficients: np.ndarray
    covariance: np.ndarray
    residual_variance: float
    subject_variance: float
    fits: GeneFits = field(repr=False)


def fit_random_intercept(
    values: np.ndarray, design: np.ndarray | pd.DataFrame, subjects: Sequence
) -> RandomIntercept:
    """Fit ``lmer(y ~ X + (1 | subject), REML = TRUE)`` to one response.

    :func:`fit_mixed` with one row and unit weights.

    Parameters
    ----------
    values
        The response per sample (finite).
    design
        Fixed-effect design, samples x coefficients (full rank).
    subjects
        Subject per sample.

    Returns
    -------
    RandomIntercept
        Estimates, their covariance and the two variances (the degrees of freedom of a
        coefficient: :func:`alsig.voom.satterthwaite.random_intercept_df`).

    Raises
    ------
    AlsigError
        For mismatched shapes, a rank-deficient design or non-finite values.
    """
    fits = fit_mixed(np.asarray(values, dtype=float)[None, :], design, subjects)
    sigma2 = float(fits.sigma2[0])
    assert fits.ratio is not None  # the mixed model always sets it
    return RandomIntercept(
        coefficients=fits.coefficients[0],
        covariance=sigma2 * fits.cov_unscaled[0],
        residual_variance=sigma2,
        subject_variance=float(fits.ratio[0]) * sigma2,
        fits=fits,
    )
