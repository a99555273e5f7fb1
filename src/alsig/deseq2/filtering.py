"""Adjusted p-values: Benjamini-Hochberg and DESeq2's independent filtering.

Adjusted p-values: Benjamini-Hochberg, and DESeq2's independent filtering on the mean of normalised
counts.

Independent filtering (Bourgon, Gentleman & Huber 2010; DESeq2 ``results(independentFiltering =
TRUE)``; pydeseq2 ``_independent_filtering``): for 50 quantiles ``theta`` of the base mean from
the share of zero means to 0.95, adjust the p-values of the genes at or above that quantile and
count rejections at ``alpha``; smooth the counts over ``theta`` with lowess (span 1/5) and take
the first ``theta`` whose count exceeds the smoothed maximum minus the residual root mean square
(``theta = 0`` when at most 10 rejections anywhere). Genes below the chosen cutoff get no
adjusted p-value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from alsig.distributions import bh_adjust

#: number of base-mean quantiles tried
N_THETA = 50
#: lowess span
LOWESS_FRACTION = 1.0 / 5.0


def lowess(
    x: np.ndarray, y: np.ndarray, frac: float = 2.0 / 3.0, iterations: int = 3
) -> np.ndarray:
    """Fit a robust locally weighted linear regression (Cleveland 1979), as pydeseq2 does.

    Robust locally weighted linear regression (Cleveland 1979), the variant pydeseq2 uses (tricube
    weights over the ``ceil(frac n)`` nearest points, bisquare robustness weights from 6 x the
    median absolute residual, ``iterations`` passes).
    """
    n = x.size
    r = int(math.ceil(frac * n))
    h = np.maximum(np.array([np.sort(np.abs(x - x[i]))[r] for i in range(n)]), 1e-12)
    w = np.clip(np.abs(np.nan_to_num((x[:, None] - x[None, :]) / h)), 0.0, 1.0)
    w = (1 - w**3) ** 3
    fitted = np.zeros(n)
    delta = np.ones(n)
    for _ in range(iterations):
        for i in range(n):
            weights = delta * w[:, i]
            b = np.array([np.sum(weights * y), np.sum(weights * y * x)])
            a = np.array(
                [
                    [np.sum(weights), np.sum(weights * x)],
                    [np.sum(weights * x), np.sum(weights * x * x)],
                ]
            )
            beta = np.linalg.lstsq(a, b, rcond=None)[0]
            fitted[i] = beta[0] + beta[1] * x[i]
        residuals = y - fitted
        s = np.median(np.abs(residuals))
        if s == 0:
            delta = (np.abs(residuals) > 0).astype(float)
        else:
            delta = np.clip(residuals / (6.0 * s), -1, 1)
        delta = (1 - delta**2) ** 2
    return fitted


@dataclass(frozen=True)
class FilterResult:
    """Independent filtering's outcome.

    Attributes
    ----------
    padj
        Adjusted p-values (NaN below the cutoff and where the p-value is NaN).
    theta
        The quantiles tried.
    cutoffs
        The base-mean cutoff of each quantile.
    rejections
        Genes at padj < alpha at each quantile.
    chosen
        Index of the chosen quantile.
    """

    padj: np.ndarray
    theta: np.ndarray
    cutoffs: np.ndarray
    rejections: np.ndarray
    chosen: int

    @property
    def cutoff(self) -> float:
        """The chosen base-mean cutoff (genes below it are filtered)."""
        return float(self.cutoffs[self.chosen])


def independent_filtering(base_mean: np.ndarray, pvalues: np.ndarray, alpha: float) -> FilterResult:
    """Apply the module docstring's filter.

    Parameters
    ----------
    base_mean
        Mean of normalised counts per gene (the filter statistic).
    pvalues
        P-values (NaN: not tested, e.g. a Cook's outlier).
    alpha
        Significance level the rejections are counted at.

    Returns
    -------
    FilterResult
    """
    lower = float(np.mean(base_mean == 0))
    upper = 0.95 if lower < 0.95 else 1.0
    theta = np.linspace(lower, upper, N_THETA)
    cutoffs = np.quantile(base_mean, theta)
    tested = ~np.isnan(pvalues)
    adjusted = np.full((N_THETA, base_mean.size), np.nan)
    for k, cutoff in enumerate(cutoffs):
        use = (base_mean >= cutoff) & tested
        if use.any():
            adjusted[k, use] = bh_adjust(pvalues[use])
    with np.errstate(invalid="ignore"):
        rejections = (adjusted < alpha).sum(axis=1).astype(int)
    smooth = lowess(theta, rejections, frac=LOWESS_FRACTION)
    chosen = 0
    if rejections.max() > 10:
        positive = rejections > 0
        residual = rejections[positive] - smooth[positive]
        threshold = smooth.max() - np.sqrt(np.mean(residual**2))
        above = np.flatnonzero(rejections > threshold)
        chosen = int(above[0]) if above.size else 0
    return FilterResult(adjusted[chosen].copy(), theta, cutoffs, rejections, chosen)
