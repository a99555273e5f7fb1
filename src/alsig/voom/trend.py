"""voom: precision weights from the mean-variance trend of log-CPM (Law et al. 2014).

A gene-wise linear model is fitted to log-CPM; the square root of each gene's residual standard
deviation is smoothed by lowess (span 0.5, three robustness iterations) against its average
log2 count; each observation's weight is the inverse of the trend's variance at that
observation's *fitted* log2 count (``1 / trend^4``). Fitted rather than observed counts keep the
weights independent of the observation they weigh (Law et al. 2014).

With repeated subjects the model that produces fitted values and residual variances must account
for them (limma's authors advise running voom and duplicateCorrelation twice): ``model="gls"``
fits GLS with a given intra-subject correlation (residual SD on the scale of that correlation,
as limma's ``voom(block=, correlation=)``); ``model="mixed"`` fits the per-gene random intercept
(REML) and uses the *residual* (within-subject) standard deviation and the fixed-effect fitted
values, so the weights describe the count noise of one observation while the donor variance
stays a separate component of the model (dream's ``voomWithDreamWeights`` idea). Fixed-effect
fitted values (not including the predicted donor effect) are used for the same reason as fitted
values at all: the weight must not depend on the observation's own deviation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from alsig.errors import AlsigError
from alsig.voom import kernels
from alsig.voom.models import fit_gls, fit_mixed
from alsig.voom.normalise import GENE_CHUNK, effective_library_sizes, log_cpm_by_gene

#: lowess span of voom's trend
SPAN = 0.5


@dataclass
class VoomData:
    """log-CPM with precision weights (limma's ``EList``), genes x samples.

    Attributes
    ----------
    values
        log2 counts per million.
    weights
        Precision weights.
    lib_size
        Effective library size per sample.
    trend
        The lowess curve: ``(average log2 count, sqrt residual SD)`` points, sorted.
    """

    values: np.ndarray
    weights: np.ndarray
    lib_size: np.ndarray
    trend: tuple[np.ndarray, np.ndarray]


def trend_curve(
    sigma: np.ndarray,
    ave_log_cpm: np.ndarray,
    lib_size: np.ndarray,
    *,
    use: np.ndarray | None = None,
    span: float = SPAN,
) -> tuple[np.ndarray, np.ndarray]:
    """Fit voom's lowess trend of ``sqrt(sigma)`` on the average log2 count.

    Parameters
    ----------
    sigma
        Residual standard deviation per gene.
    ave_log_cpm
        Mean log-CPM per gene (over samples, unweighted).
    lib_size
        Effective library size per sample.
    use
        Genes that enter the trend (default: all with finite values).
    span
        lowess span.

    Returns
    -------
    tuple of numpy.ndarray
        ``(x, y)``: the curve's points, sorted by x, ties averaged.

    Raises
    ------
    AlsigError
        If fewer than 3 genes can define a trend.
    """
    from statsmodels.nonparametric.smoothers_lowess import lowess

    log_lib = np.log2(np.asarray(lib_size, dtype=float) + 1.0)
    sx = np.asarray(ave_log_cpm, dtype=float) + log_lib.mean() - np.log2(1e6)
    sy = np.sqrt(np.asarray(sigma, dtype=float))
    keep = np.isfinite(sx) & np.isfinite(sy) if use is None else (use & np.isfinite(sy))
    if keep.sum() < 3:
        raise AlsigError("voom needs at least 3 genes with counts to fit its mean-variance trend.")
    x = sx[keep]
    # R's lowess default: interpolate between fits closer than 1 % of the range of x
    curve = lowess(sy[keep], x, frac=span, it=3, delta=0.01 * float(np.ptp(x)), return_sorted=True)
    # tied x get one value (the mean of their fits), as R's approxfun(ties = mean)
    xs, inverse = np.unique(curve[:, 0], return_inverse=True)
    ys = np.bincount(inverse, weights=curve[:, 1]) / np.bincount(inverse)
    return xs, ys


def _weights(
    fitted_log_cpm: np.ndarray, lib_size: np.ndarray, trend: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
    """Weights ``1 / trend^4`` at the fitted log2 counts of some genes (rows).

    ``1 / max(interp(fitted log2 count, xs, ys), floor)^4``: the interpolation by
    :func:`alsig.voom.kernels.trend_values` (numpy's numbers, genes in parallel), the power by
    numpy (whose ``pow`` may differ from the C library's in the last bit).
    """
    xs, ys = (np.ascontiguousarray(v, dtype=float) for v in trend)
    log_lib = np.log2(np.asarray(lib_size, dtype=float) + 1.0)
    slopes = (ys[1:] - ys[:-1]) / (xs[1:] - xs[:-1]) if xs.size > 1 else np.zeros(1)
    # a robust lowess can dip to ~0 at a sparse edge; a weight must stay finite
    floor = 1e-3 * float(np.median(ys))
    fitted = np.ascontiguousarray(fitted_log_cpm, dtype=float)
    out = np.empty(fitted.shape)
    kernels.trend_values(fitted, log_lib, np.log2(1e6), xs, ys, slopes, floor, out)
    np.power(out, 4, out=out)
    return np.divide(1.0, out, out=out)


def voom(
    counts: np.ndarray,
    design: np.ndarray | pd.DataFrame,
    *,
    lib_size: np.ndarray | None = None,
    normalisation: str = "median_ratio",
    model: str = "lm",
    subjects: Sequence | None = None,
    correlation: float = 0.0,
    span: float = SPAN,
) -> VoomData:
    """log-CPM and voom precision weights.

    Parameters
    ----------
    counts
        Counts, samples x genes.
    design
        Design matrix, samples x coefficients.
    lib_size
        Effective library sizes (default: from ``normalisation``).
    normalisation
        See :func:`alsig.voom.normalise.effective_library_sizes`.
    model
        ``lm`` (independent samples), ``gls`` (intra-subject ``correlation``) or ``mixed``
        (per-gene random intercept per subject).
    subjects
        Subject per sample (``gls`` and ``mixed``).
    correlation
        Intra-subject correlation for ``gls``.
    span
        lowess span.

    Returns
    -------
    VoomData
        Values and weights, genes x samples.

    Raises
    ------
    AlsigError
        For an unknown model or a model that needs ``subjects`` without them.
    """
    counts = np.asarray(counts)
    lib = effective_library_sizes(counts, normalisation) if lib_size is None else lib_size
    lib = np.asarray(lib, dtype=float)
    values = log_cpm_by_gene(counts, lib)
    X = np.asarray(design, dtype=float)
    if model == "lm":
        fit = fit_gls(values, X)
    elif model not in ("gls", "mixed"):
        raise AlsigError(f"voom model '{model}' is not one of: lm, gls, mixed.")
    elif subjects is None:
        raise AlsigError(f"voom model '{model}' needs the subject of each sample.")
    elif model == "gls":
        fit = fit_gls(values, X, subjects=subjects, correlation=correlation)
    else:
        fit = fit_mixed(values, X, subjects)
    trend = trend_curve(
        np.sqrt(fit.sigma2), values.mean(axis=1), lib, use=counts.sum(axis=0) > 0, span=span
    )
    # the fitted values of a block of genes at a time (never a second genes x samples matrix)
    weights = np.empty(values.shape)
    for lo in range(0, values.shape[0], GENE_CHUNK):
        fitted = fit.coefficients[lo : lo + GENE_CHUNK] @ X.T
        weights[lo : lo + GENE_CHUNK] = _weights(fitted, lib, trend)
    return VoomData(values=values, weights=weights, lib_size=lib, trend=trend)
