"""The dispersion trend over mean expression and the prior around it.

Parametric trend (DESeq2 ``fitType = "parametric"``): ``alpha(m) = a0 + a1 / m`` over the mean of
normalised counts ``m``, a gamma-family GLM with identity link fitted to the gene-wise
dispersions, refitted after dropping genes whose dispersion is below 1e-4 or at least 15 times the
curve, until the coefficients settle. The GLM is pydeseq2's: L-BFGS-B on the mean gamma deviance
from ``(1, 1)`` with coefficients kept positive. If it fails or a coefficient reaches zero, the
trend is the mean of the gene-wise dispersions above ``10 min_disp`` (trimmed 0.1 %), as pydeseq2
falls back.

Prior (DESeq2 ``estimateDispersionsPriorVar``): the log residuals of the gene-wise dispersions
from the trend (genes with dispersion >= ``100 min_disp``) have a robust variance (squared MAD); the
prior variance is that minus the sampling variance of a log dispersion, ``trigamma((n - p) / 2)``,
and at least 0.25.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import polygamma

from alsig.distributions import norm_ppf, trim_mean


@dataclass(frozen=True)
class DispersionTrend:
    """A fitted dispersion trend.

    Attributes
    ----------
    kind
        ``parametric`` (``a0 + a1 / mean``) or ``mean`` (a constant).
    coefficients
        ``(a0, a1)`` of the parametric trend, or ``(mean dispersion,)``.
    """

    kind: str
    coefficients: tuple[float, ...]

    def __call__(self, normed_means: np.ndarray) -> np.ndarray:
        """Trend dispersions at the given means of normalised counts."""
        means = np.asarray(normed_means, dtype=float)
        if self.kind == "parametric":
            a0, a1 = self.coefficients
            return a0 + a1 / means
        return np.full_like(means, self.coefficients[0])


def _gamma_glm(covariates: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, bool]:
    """Fit the parametric trend by a gamma GLM (pydeseq2's).

    pydeseq2 ``dispersion_trend_gamma_glm``: ``min mean(y / mu + log mu)``, ``mu = a0 + a1 x``, ``a
    >= 1e-12``, by L-BFGS-B from ``(1, 1)``.
    """
    design = np.column_stack([np.ones_like(covariates), covariates])

    def loss(coeffs: np.ndarray) -> float:
        mu = design @ coeffs
        return float(np.nanmean(targets / mu + np.log(mu), axis=0))

    def grad(coeffs: np.ndarray) -> np.ndarray:
        mu = design @ coeffs
        return -np.nanmean(((targets / mu - 1)[:, None] * design) / mu[:, None], axis=0)

    with np.errstate(all="ignore"):
        res = minimize(
            loss, x0=np.array([1.0, 1.0]), jac=grad, method="L-BFGS-B", bounds=[(1e-12, np.inf)]
        )
    return np.asarray(res.x, dtype=float), bool(res.success)


def mean_trend(genewise: np.ndarray, min_disp: float) -> DispersionTrend:
    """Fit the ``mean`` trend: a trimmed mean of the dispersions.

    The ``mean`` trend: trimmed mean (0.1 % each side) of the dispersions above ``10 min_disp``.
    """
    use = genewise > 10 * min_disp
    return DispersionTrend("mean", (trim_mean(genewise[use], proportiontocut=0.001),))


def fit_dispersion_trend(
    genewise: np.ndarray,
    normed_means: np.ndarray,
    *,
    min_disp: float = 1e-8,
    fit_type: str = "parametric",
) -> DispersionTrend:
    """Fit the dispersion trend of the module docstring.

    Parameters
    ----------
    genewise
        Gene-wise dispersions of the genes with counts.
    normed_means
        Their means of normalised counts.
    min_disp
        DESeq2's lower dispersion bound (the mean trend uses dispersions above 10x it).
    fit_type
        ``parametric`` or ``mean``.

    Returns
    -------
    DispersionTrend
        The parametric trend, or the mean trend where the parametric fit fails.
    """
    if fit_type == "mean":
        return mean_trend(genewise, min_disp)
    if fit_type != "parametric":
        raise ValueError(f"fit_type must be 'parametric' or 'mean', not {fit_type!r}")
    covariates = 1.0 / np.asarray(normed_means, dtype=float)
    keep = np.isfinite(covariates)
    idx = np.flatnonzero(keep)
    old = np.array([0.1, 0.1])
    coeffs = np.array([1.0, 1.0])
    while (coeffs > 1e-10).all() and (np.log(np.abs(coeffs / old)) ** 2).sum() >= 1e-6:
        old = coeffs
        coeffs, converged = _gamma_glm(covariates[idx], genewise[idx])
        if not converged or (coeffs <= 1e-10).any():
            return mean_trend(genewise, min_disp)
        predictions = coeffs[0] + coeffs[1] * covariates[idx]
        ratios = genewise[idx] / predictions
        idx = idx[~((ratios < 1e-4) | (ratios >= 15))]
    return DispersionTrend("parametric", (float(coeffs[0]), float(coeffs[1])))


@dataclass(frozen=True)
class DispersionPrior:
    """The log-normal prior of the MAP dispersions.

    Attributes
    ----------
    variance
        Prior variance of log dispersions around the trend.
    squared_log_residual_sd
        Squared robust SD of the gene-wise log residuals (DESeq2 ``varLogDispEsts``): genes
        more than 2 SDs above the trend keep their gene-wise dispersion.
    """

    variance: float
    squared_log_residual_sd: float


def fit_dispersion_prior(
    genewise: np.ndarray,
    fitted: np.ndarray,
    n_samples: int,
    n_coefficients: int,
    *,
    min_disp: float = 1e-8,
) -> DispersionPrior:
    """Fit the prior variance of the module docstring (pydeseq2 ``fit_dispersion_prior``).

    Parameters
    ----------
    genewise, fitted
        Gene-wise and trend dispersions of the genes with counts.
    n_samples, n_coefficients
        Design size (residual degrees of freedom ``n - p``).
    min_disp
        Genes with gene-wise dispersion below ``100 min_disp`` are left out.

    Returns
    -------
    DispersionPrior
    """
    residuals = np.log(genewise) - np.log(fitted)
    above = genewise >= 100 * min_disp
    kept = residuals[above]
    mad = np.median(np.abs(kept - np.median(kept))) / norm_ppf(0.75)
    squared = float(mad**2)
    variance = max(squared - float(polygamma(1, (n_samples - n_coefficients) / 2)), 0.25)
    return DispersionPrior(variance, squared)
