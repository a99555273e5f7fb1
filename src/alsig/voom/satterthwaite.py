"""Satterthwaite degrees of freedom for fixed-effect contrasts of the mixed model, per gene.

For a contrast ``c`` the estimated variance of ``c' b`` is ``v = s c' G(lam) c`` with
``G = (X' H^-1 X)^-1``. Satterthwaite's approximation matches ``v`` to a scaled chi-square:
``df = 2 v^2 / (g' A g)``, where ``g`` is the gradient of ``v`` in the variance parameters and
``A`` their asymptotic covariance, twice the inverse Hessian of the (REML) deviance -- the
observed information, as lmerTest computes numerically; here it is analytic, from the
derivatives :mod:`alsig.voom.kernels` returns. The parameters are ``(s, theta)`` with
``theta = sqrt(lam)``, lme4's relative standard deviation of the random intercept: at an interior
optimum the value does not depend on the parametrisation and equals lmerTest's.

The boundary. Where the donor variance is estimated as 0 (about 10 % of genes), lmerTest's value
is ``n - p``: the donor variance drops out of ``g``, as if it were known to be 0. For a
between-subject contrast that counts samples, not donors, and those genes reject a true null
about twice as often as they should (simulated nulls: 8.4 % at p < 0.05); the one-sided limit
from inside (``lam`` parametrisation) is erratic instead (0.2-7 df on the R fixture). By default
(``boundary="median"``) such genes get the median df of the genes with an interior estimate for
the same contrast -- a design-level df, in the spirit of SAS's containment df (5.6 % on the same
nulls); ``boundary="lmertest"`` keeps ``n - p`` (used to compare with R).

With the empirical Bayes prior of the residual variance (:func:`alsig.voom.models.fit_mixed`,
``prior_df = d0``) the deviance carries the prior's information, so a within-subject contrast
gains ``d0`` degrees of freedom as limma's moderated t does.

One response (:func:`random_intercept_df`: the axis tests' score models). There is no median over
genes to take at the boundary, so a fit whose donor variance is 0 gets the "between-within" df
(SAS's ``DDFM=BETWITHIN`` for the between part): for a coefficient whose column is constant
within every donor (a between-donor contrast such as condition), donors minus the rank of the
between-donor columns, the df of the t test on donor means, which the interior Satterthwaite df
equals in a balanced design; otherwise lmerTest's ``n - p``.

Multi-degree-of-freedom tests (F) use the method of Fai & Cornelius (1996): the contrast matrix
is rotated to independent one-dimensional contrasts, each gets its own ``df_m``, and the F
denominator degrees of freedom are ``2E / (E - q)`` with ``E = sum_m df_m / (df_m - 2)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from alsig.errors import AlsigError
from alsig.voom.models import GeneFits, RandomIntercept, subject_codes

BOUNDARY_RULES = ("median", "lmertest")


def _mixed_parts(fit: GeneFits) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the ``(scalars, ratio, s2_matrix)`` only a mixed-model fit has."""
    if fit.scalars is None or fit.ratio is None or fit.s2_matrix is None:
        raise AlsigError("Satterthwaite degrees of freedom need a mixed-model fit (fit_mixed).")
    return fit.scalars, fit.ratio, fit.s2_matrix


def _covariance(fit: GeneFits) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``A = 2 H^-1`` per gene in ``(s, theta)``: entries ``(a_ss, a_st, a_tt)``."""
    scalars, lam, _ = _mixed_parts(fit)
    # with the residual variance's prior (d0, s0^2) the deviance is
    # d(s, lam) = (n - p + d0) log s + f(lam) + (R(lam) + d0 s0^2) / s  (d0 = 0: plain REML)
    dof = fit.df_residual + fit.prior_df
    rss, f1, f2, r1, r2 = (scalars[:, j] for j in range(5))
    rss = rss + fit.prior_df * fit.prior_s2
    s = fit.sigma2
    d_ss = -dof / s**2 + 2.0 * rss / s**3
    d_l = f1 + r1 / s
    d_ll = f2 + r2 / s
    d_sl = -r1 / s**2
    # lam = theta^2
    d_tt = 2.0 * d_l + 4.0 * lam * d_ll
    d_st = 2.0 * np.sqrt(lam) * d_sl
    det = d_ss * d_tt - d_st**2
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = (det > 0) & (d_ss > 0)
        a_ss = np.where(ok, 2.0 * d_tt / det, np.nan)
        a_tt = 2.0 * d_ss / det
        a_st = -2.0 * d_st / det
    return a_ss, a_st, a_tt


def _check_rule(boundary: str) -> None:
    if boundary not in BOUNDARY_RULES:
        raise AlsigError(f"boundary rule '{boundary}' is not one of {', '.join(BOUNDARY_RULES)}.")


def _at_boundary(fit: GeneFits, df: np.ndarray, boundary: str) -> np.ndarray:
    """Apply the boundary rule of the module docstring."""
    zero = _mixed_parts(fit)[1] == 0
    if boundary == "lmertest" or not zero.any():
        return df
    interior = df[~zero & np.isfinite(df)]
    if interior.size == 0:
        return df
    return np.where(zero, float(np.median(interior)), df)


def contrast_df(fit: GeneFits, vector: np.ndarray, *, boundary: str = "median") -> np.ndarray:
    """Satterthwaite degrees of freedom of ``vector' b`` for every gene.

    Parameters
    ----------
    fit
        A mixed-model fit from :func:`alsig.voom.models.fit_mixed`.
    vector
        Contrast over the coefficients (length p).
    boundary
        ``median`` or ``lmertest``: the df of genes whose donor variance is 0 (module docstring).

    Returns
    -------
    numpy.ndarray
        Degrees of freedom per gene (NaN where the information matrix is singular).

    Raises
    ------
    AlsigError
        For a fit without mixed-model derivatives or an unknown boundary rule.
    """
    _check_rule(boundary)
    c = np.asarray(vector, dtype=float)
    rows = np.broadcast_to(c, (fit.n_genes, c.size))
    return _at_boundary(fit, _contrast_df(fit, rows, _covariance(fit)), boundary)


def random_intercept_df(
    fit: RandomIntercept, design: np.ndarray | pd.DataFrame, subjects: Sequence, column: int
) -> float:
    """Satterthwaite degrees of freedom of one coefficient of a one-response random-intercept fit.

    lmerTest's value where the donor variance is positive; at the boundary (donor variance 0,
    or a singular information matrix) the between-within df of the module docstring.

    Parameters
    ----------
    fit
        The fit of :func:`alsig.voom.models.fit_random_intercept`.
    design
        The fixed-effect design it was fitted with, samples x coefficients.
    subjects
        Subject per sample, as fitted.
    column
        Index of the coefficient.

    Returns
    -------
    float
        The degrees of freedom of the coefficient's t statistic.
    """
    vector = np.zeros(len(fit.coefficients))
    vector[column] = 1.0
    if fit.subject_variance > 0:
        df = float(contrast_df(fit.fits, vector, boundary="lmertest")[0])
        if np.isfinite(df) and df > 0:
            return df
    return between_within_df(design, subjects, column)


def between_within_df(design: np.ndarray | pd.DataFrame, subjects: Sequence, column: int) -> float:
    """Between-within degrees of freedom of one coefficient (SAS's ``DDFM=BETWITHIN``).

    Parameters
    ----------
    design
        Fixed-effect design, samples x coefficients (full rank).
    subjects
        Subject per sample.
    column
        Index of the coefficient.

    Returns
    -------
    float
        Subjects minus the rank of the between-subject columns when the coefficient's column is
        constant within every subject; otherwise samples minus coefficients.
    """
    X = np.asarray(design, dtype=float)
    codes, n_subjects = subject_codes(subjects)
    counts = np.bincount(codes, minlength=n_subjects)
    sums = np.vstack([np.bincount(codes, weights=X[:, k]) for k in range(X.shape[1])]).T
    means = sums / counts[:, None]
    between = np.all(np.isclose(X, means[codes]), axis=0)
    if not between[column]:
        return float(X.shape[0] - X.shape[1])
    return float(n_subjects - np.linalg.matrix_rank(means[:, between]))


def _contrast_df(fit: GeneFits, c: np.ndarray, covariance) -> np.ndarray:
    """Per-gene contrast rows ``c`` (genes x p)."""
    a_ss, a_st, a_tt = covariance
    _, ratio, s2_matrix = _mixed_parts(fit)
    s = fit.sigma2
    Gc = np.einsum("gij,gj->gi", fit.cov_unscaled, c)
    unscaled = np.einsum("gi,gi->g", c, Gc)
    v = s * unscaled
    g_s = unscaled
    # d(X'H^-1X)/dlam = -S2, so dG/dlam = G S2 G, dv/dlam = s c'G S2 G c, dlam/dtheta = 2 theta
    g_t = 2.0 * np.sqrt(ratio) * s * np.einsum("gi,gij,gj->g", Gc, s2_matrix, Gc)
    quad = a_ss * g_s**2 + 2.0 * a_st * g_s * g_t + a_tt * g_t**2
    with np.errstate(divide="ignore", invalid="ignore"):
        return 2.0 * v**2 / quad


def f_test_df(
    fit: GeneFits, matrix: np.ndarray, *, boundary: str = "median"
) -> tuple[np.ndarray, np.ndarray]:
    """F statistic and its Satterthwaite denominator df for ``matrix b = 0``.

    Parameters
    ----------
    fit
        A mixed-model fit.
    matrix
        Contrast matrix, q x p (rows: the tested combinations, linearly independent).
    boundary
        ``median`` or ``lmertest`` (module docstring).

    Returns
    -------
    tuple of numpy.ndarray
        ``(F, df2)`` per gene; ``df2`` is NaN where ``E <= q`` (Fai & Cornelius leave it
        undefined; every one-dimensional df is then at most about 2).

    Raises
    ------
    AlsigError
        For a fit without mixed-model derivatives or an unknown boundary rule.
    """
    _check_rule(boundary)
    Lm = np.atleast_2d(np.asarray(matrix, dtype=float))
    q = Lm.shape[0]
    covariance = _covariance(fit)
    unscaled = np.einsum("qi,gij,rj->gqr", Lm, fit.cov_unscaled, Lm)
    eigval, eigvec = np.linalg.eigh(unscaled)  # per gene, ascending
    estimate = fit.coefficients @ Lm.T  # genes x q
    rotated = np.einsum("gqm,gq->gm", eigvec, estimate)
    with np.errstate(divide="ignore", invalid="ignore"):
        f_stat = (rotated**2 / eigval).sum(axis=1) / q / fit.sigma2
    e_sum = np.zeros(fit.n_genes)
    for m in range(q):
        rows = np.einsum("gq,qi->gi", eigvec[:, :, m], Lm)
        df_m = _contrast_df(fit, rows, covariance)
        with np.errstate(divide="ignore", invalid="ignore"):
            e_sum += np.where(df_m > 2.0, df_m / (df_m - 2.0), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        df2 = np.where(e_sum > q, 2.0 * e_sum / (e_sum - q), np.nan)
    return f_stat, _at_boundary(fit, df2, boundary)
