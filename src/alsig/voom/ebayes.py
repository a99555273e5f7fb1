"""Empirical Bayes moderation of gene-wise variances (Smyth 2004).

Each gene's residual variance ``s2_g`` on ``d_g`` degrees of freedom is taken to scatter around
a prior ``s0^2`` with ``d0`` prior degrees of freedom (``1/sigma_g^2 ~ chi2_d0 / (d0 s0^2)``).
The prior is fitted by moments of ``log s2_g`` (Smyth 2004, section 6): with
``e_g = log s2_g - digamma(d_g/2) + log(d_g/2)``, the mean of ``e`` gives ``log s0^2`` up to a
term in ``d0``, and its variance minus the mean of ``trigamma(d_g/2)`` equals
``trigamma(d0/2)``, solved for ``d0`` by Newton's method on ``1/trigamma`` (nearly linear).
When that variance is not positive, the genes share one variance: ``d0 = inf``. The posterior
variance is ``(d0 s0^2 + d_g s2_g) / (d0 + d_g)`` and the moderated t-statistic
``b / (stdev_unscaled * sqrt(posterior))`` has ``d0 + d_g`` degrees of freedom, capped at the
total residual degrees of freedom of all genes so that it stays finite. Gene-wise ``d_g`` may
differ (the mixed model's Satterthwaite degrees of freedom), which the moments above allow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from alsig.distributions import chi2_sf, f_sf, t_sf
from alsig.errors import AlsigError


def trigamma_inverse(x: np.ndarray | float) -> np.ndarray:
    """``y`` with ``trigamma(y) = x`` for ``x > 0``.

    Parameters
    ----------
    x
        Positive values.

    Returns
    -------
    numpy.ndarray
        The inverse; large ``x`` use ``1/sqrt(x)`` and small ``x`` use ``1/x`` (the asymptotes).
    """
    x = np.atleast_1d(np.asarray(x, dtype=float))
    y = np.full(x.shape, np.nan)
    big = x > 1e7
    small = x < 1e-6
    y[big] = 1.0 / np.sqrt(x[big])
    y[small] = 1.0 / x[small]
    todo = np.isfinite(x) & (x > 0) & ~big & ~small
    z = 0.5 + 1.0 / x[todo]
    target = x[todo]
    for _ in range(50):
        tri = special.polygamma(1, z)
        # Newton on 1/trigamma(z) - 1/x, a function close to linear in z
        step = tri * (1.0 - tri / target) / special.polygamma(2, z)
        z = z + step
        if np.all(np.abs(step) / z < 1e-8):
            break
    y[todo] = z
    return y


@dataclass(frozen=True)
class Prior:
    """Fitted prior of the gene-wise variances: scale ``s0^2`` and degrees of freedom ``d0``."""

    s2: float
    df: float


def fit_prior(variances: np.ndarray, df: np.ndarray) -> Prior:
    """Fit the scaled F distribution of the variances (limma's ``fitFDist``, no covariate).

    Parameters
    ----------
    variances
        Gene-wise residual variances.
    df
        Their degrees of freedom (scalar or per gene).

    Returns
    -------
    Prior
        ``s2`` and ``df`` (``inf`` when the variances scatter no more than sampling explains).

    Raises
    ------
    AlsigError
        If fewer than two genes have a usable variance.
    """
    s2 = np.asarray(variances, dtype=float)
    d = np.broadcast_to(np.asarray(df, dtype=float), s2.shape)
    ok = np.isfinite(s2) & np.isfinite(d) & (d > 1e-15) & (s2 > -1e-15)
    if ok.sum() < 2:
        raise AlsigError("empirical Bayes needs at least two genes with a residual variance.")
    s2, d = np.maximum(s2[ok], 0.0), d[ok]
    # a variance of exactly zero has log -inf: floor it far below the typical gene
    median = float(np.median(s2))
    s2 = np.maximum(s2, 1e-5 * (median if median > 0 else 1.0))
    e = np.log(s2) - special.digamma(d / 2.0) + np.log(d / 2.0)
    e_mean = float(e.mean())
    e_var = float(e.var(ddof=1)) - float(np.mean(special.polygamma(1, d / 2.0)))
    if e_var > 0:
        d0 = 2.0 * float(trigamma_inverse(e_var)[0])
        s0 = float(np.exp(e_mean + special.digamma(d0 / 2.0) - np.log(d0 / 2.0)))
    else:
        d0, s0 = np.inf, float(np.exp(e_mean))
    return Prior(s2=s0, df=d0)


def posterior_variance(variances: np.ndarray, df: np.ndarray, prior: Prior) -> np.ndarray:
    """Squeezed variances ``(d0 s0^2 + d s2) / (d0 + d)`` (``s0^2`` when ``d0`` is infinite).

    Parameters
    ----------
    variances, df
        Gene-wise variances and degrees of freedom.
    prior
        The fitted :class:`Prior`.

    Returns
    -------
    numpy.ndarray
        Posterior variance per gene.
    """
    s2 = np.asarray(variances, dtype=float)
    d = np.broadcast_to(np.asarray(df, dtype=float), s2.shape)
    if not np.isfinite(prior.df):
        return np.full(s2.shape, prior.s2)
    return (prior.df * prior.s2 + d * s2) / (prior.df + d)


@dataclass
class Moderated:
    """Moderated t-tests of one contrast for every gene."""

    estimate: np.ndarray
    se: np.ndarray
    t: np.ndarray
    df: np.ndarray
    pvalue: np.ndarray
    posterior_s2: np.ndarray
    prior: Prior


def total_df(df: np.ndarray, prior: Prior) -> np.ndarray:
    """Return the moderated degrees of freedom ``d + d0`` of each gene.

    Parameters
    ----------
    df
        Residual degrees of freedom ``d`` per gene.
    prior
        The fitted prior (its ``df`` is ``d0``).

    Returns
    -------
    numpy.ndarray
        ``d + d0``, capped at the residual degrees of freedom summed over genes.
    """
    d = np.asarray(df, dtype=float)
    pooled = float(np.nansum(d))
    return np.minimum(d + prior.df, pooled)


def moderated_t(
    estimate: np.ndarray,
    stdev_unscaled: np.ndarray,
    variances: np.ndarray,
    df: np.ndarray,
    prior: Prior | None = None,
) -> Moderated:
    """Limma's moderated t-statistic of a contrast.

    Parameters
    ----------
    estimate
        Contrast estimate per gene.
    stdev_unscaled
        Its standard deviation divided by the residual standard deviation.
    variances, df
        Residual variance per gene and its degrees of freedom.
    prior
        A prior to use (fitted on ``variances`` and ``df`` when omitted).

    Returns
    -------
    Moderated
        Estimates, standard errors, t, total df and two-sided p-values.
    """
    prior = prior or fit_prior(variances, df)
    post = posterior_variance(variances, df, prior)
    se = np.asarray(stdev_unscaled, dtype=float) * np.sqrt(post)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.asarray(estimate, dtype=float) / se
    dft = total_df(df, prior)
    p = 2.0 * t_sf(np.abs(t), dft)
    return Moderated(np.asarray(estimate, float), se, t, dft, p, post, prior)


def moderated_f(
    coefficients: np.ndarray,
    cov_unscaled: np.ndarray,
    rows: np.ndarray,
    posterior_s2: np.ndarray,
    df_total: np.ndarray,
) -> dict[str, np.ndarray]:
    """Moderated F test of ``rows @ b = 0`` per gene, with each gene's own covariance.

    limma's ``eBayes`` F combines the moderated t-statistics through one design-level
    correlation of the coefficients, exact without weights; with precision weights each gene's
    own ``cov_unscaled`` is the exact version used here.

    Parameters
    ----------
    coefficients
        Estimates, genes x p.
    cov_unscaled
        Their covariance divided by the residual variance, genes x p x p.
    rows
        Contrast matrix, q x p.
    posterior_s2
        Moderated residual variance per gene.
    df_total
        Denominator degrees of freedom per gene (``df + d0``).

    Returns
    -------
    dict
        ``F``, ``df1``, ``df2`` and ``pvalue`` per gene.
    """
    q = rows.shape[0]
    estimate = coefficients @ rows.T
    unscaled = np.einsum("qi,gij,rj->gqr", rows, cov_unscaled, rows)
    solved = np.linalg.solve(unscaled, estimate[..., None])[..., 0]
    f_stat = np.einsum("gq,gq->g", estimate, solved) / q / posterior_s2
    return {"F": f_stat, "df1": float(q), "df2": df_total, "pvalue": f_pvalue(f_stat, q, df_total)}


def f_pvalue(f_stat: np.ndarray, df1: int, df2: np.ndarray) -> np.ndarray:
    """Return the upper-tail p-value of an F statistic.

    Parameters
    ----------
    f_stat
        F statistics.
    df1
        Numerator degrees of freedom.
    df2
        Denominator degrees of freedom (broadcast to ``f_stat``); infinite: chi-square / df1.

    Returns
    -------
    numpy.ndarray
        P-values, the shape of ``f_stat``.
    """
    f_stat = np.asarray(f_stat, dtype=float)
    df2 = np.broadcast_to(np.asarray(df2, dtype=float), f_stat.shape)
    finite = np.isfinite(df2)
    p = np.full(f_stat.shape, np.nan)
    p[finite] = f_sf(f_stat[finite], df1, df2[finite])
    p[~finite] = chi2_sf(f_stat[~finite] * df1, df1)
    return p
