"""The ``scipy.stats`` functions alsig's jobs call, from ``scipy.special`` and numpy.

Why not ``scipy.stats`` itself: importing it builds its ~100 distribution objects, 0.35 s of
every job's start (measured: ``import anndata`` 0.47 s, with ``scipy.stats`` 0.84 s), paid by
most of the ~25 jobs of a dataset. Each function here is the one ``scipy.stats`` runs for the
same call (scipy 1.17: ``norm.sf`` is ``special.ndtr(-x)``, ``t.sf`` is ``special.stdtr(df, -x)``,
``rankdata`` the same stable argsort and tie blocks, ``false_discovery_control`` the same
sorted cumulative minimum), so results are bit-identical; ``tests/unit/test_distributions.py``
holds every one to ``scipy.stats`` with exact equality. Tests, benchmarks and rarely run paths
(QC's covariate association, the voom/dream models) still use ``scipy.stats``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import special

RankMethod = Literal["average", "min", "ordinal"]


def norm_sf(x: np.ndarray | float) -> np.ndarray:
    """Return the standard normal upper tail ``P(Z > x)`` (``scipy.stats.norm.sf``).

    Parameters
    ----------
    x
        Quantiles.

    Returns
    -------
    numpy.ndarray
        Tail probabilities, shape of ``x``.
    """
    return special.ndtr(-np.asarray(x, dtype=np.float64))


def norm_ppf(q: np.ndarray | float) -> np.ndarray:
    """Return the standard normal quantile (``scipy.stats.norm.ppf``).

    Parameters
    ----------
    q
        Lower-tail probabilities.

    Returns
    -------
    numpy.ndarray
        Quantiles, shape of ``q``.
    """
    return special.ndtri(np.asarray(q, dtype=np.float64))


def norm_isf(q: np.ndarray | float) -> np.ndarray:
    """Return the standard normal upper-tail quantile (``scipy.stats.norm.isf``).

    Parameters
    ----------
    q
        Upper-tail probabilities.

    Returns
    -------
    numpy.ndarray
        Quantiles, shape of ``q``.
    """
    return -special.ndtri(np.asarray(q, dtype=np.float64))


def t_sf(x: np.ndarray | float, df: np.ndarray | float) -> np.ndarray:
    """Student t upper tail (``scipy.stats.t.sf``).

    Parameters
    ----------
    x
        Quantiles.
    df
        Degrees of freedom (> 0; broadcast with ``x``).

    Returns
    -------
    numpy.ndarray
        Tail probabilities.
    """
    return special.stdtr(np.asarray(df, dtype=np.float64), -np.asarray(x, dtype=np.float64))


def t_ppf(q: np.ndarray | float, df: np.ndarray | float) -> np.ndarray:
    """Student t quantile (``scipy.stats.t.ppf``).

    Parameters
    ----------
    q
        Lower-tail probabilities.
    df
        Degrees of freedom (> 0; broadcast with ``q``).

    Returns
    -------
    numpy.ndarray
        Quantiles.
    """
    q = np.asarray(q, dtype=np.float64)
    quantile = special.stdtrit(np.asarray(df, dtype=np.float64), q)
    # scipy.stats gives the support's ends at 0 and 1 (stdtrit(df, 0) is +inf)
    return np.where(q == 0.0, -np.inf, np.where(q == 1.0, np.inf, quantile))


def f_ppf(q: np.ndarray | float, dfn: float, dfd: np.ndarray | float) -> np.ndarray:
    """F distribution quantile (``scipy.stats.f.ppf``).

    Parameters
    ----------
    q
        Lower-tail probabilities.
    dfn, dfd
        Numerator and denominator degrees of freedom (> 0).

    Returns
    -------
    numpy.ndarray
        Quantiles.
    """
    return special.fdtri(
        np.asarray(dfn, dtype=np.float64),
        np.asarray(dfd, dtype=np.float64),
        np.asarray(q, dtype=np.float64),
    )


def f_sf(x: np.ndarray | float, dfn: float, dfd: np.ndarray | float) -> np.ndarray:
    """F distribution upper tail (``scipy.stats.f.sf``).

    Parameters
    ----------
    x
        Quantiles.
    dfn, dfd
        Numerator and denominator degrees of freedom (> 0).

    Returns
    -------
    numpy.ndarray
        Tail probabilities.
    """
    return special.fdtrc(
        np.asarray(dfn, dtype=np.float64),
        np.asarray(dfd, dtype=np.float64),
        np.asarray(x, dtype=np.float64),
    )


def chi2_sf(x: np.ndarray | float, df: np.ndarray | float) -> np.ndarray:
    """Chi-squared upper tail (``scipy.stats.chi2.sf``).

    Parameters
    ----------
    x
        Quantiles.
    df
        Degrees of freedom (> 0).

    Returns
    -------
    numpy.ndarray
        Tail probabilities.
    """
    return special.chdtrc(np.asarray(df, dtype=np.float64), np.asarray(x, dtype=np.float64))


def rankdata(values: np.ndarray, method: RankMethod = "average", axis: int = -1) -> np.ndarray:
    """Rank along ``axis`` as ``scipy.stats.rankdata`` (``nan_policy="propagate"``).

    Parameters
    ----------
    values
        Numbers, any shape.
    method
        ``average`` (ties share their mean rank; float), ``min`` (ties share their lowest
        rank; integer) or ``ordinal`` (ties in order of appearance; integer).
    axis
        The axis ranked.

    Returns
    -------
    numpy.ndarray
        Ranks from 1, shape of ``values``; a slice holding a NaN is all NaN (as float).
    """
    x = np.moveaxis(np.asarray(values), axis, -1)
    dtype = np.float64 if method == "average" else np.int64
    if x.size == 0:
        return np.moveaxis(np.empty(x.shape, dtype=dtype), -1, axis)
    order = np.argsort(x, axis=-1, stable=True)
    ordinal = np.broadcast_to(np.arange(1, x.shape[-1] + 1, dtype=dtype), x.shape)
    if method == "ordinal":
        ranks = ordinal
    else:
        ordered = np.take_along_axis(x, order, axis=-1)
        first = np.concatenate(
            [np.ones(x.shape[:-1] + (1,), dtype=bool), ordered[..., :-1] != ordered[..., 1:]],
            axis=-1,
        )
        starts = np.arange(ordered.size)[first.reshape(-1)]
        counts = np.diff(starts, append=np.asarray([ordered.size], dtype=starts.dtype))
        tie_ranks = ordinal[first]
        if method == "average":
            tie_ranks = tie_ranks + (counts.astype(dtype) - 1) / 2
        elif method != "min":
            raise ValueError(f"unknown rank method {method!r}")
        ranks = np.repeat(tie_ranks, counts).reshape(x.shape)
    out = np.empty(order.shape, dtype=ranks.dtype)
    np.put_along_axis(out, order, ranks, axis=-1)
    if np.issubdtype(x.dtype, np.floating):
        has_nan = np.isnan(x).any(axis=-1)
        if has_nan.any():
            out = out.astype(np.float64)
            out[has_nan] = np.nan
    return np.moveaxis(out, -1, axis)


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation of two samples (``scipy.stats.spearmanr(x, y).statistic``).

    Parameters
    ----------
    x, y
        Paired observations without NaN, at least 2, neither constant.

    Returns
    -------
    float
        Pearson's correlation of their average ranks.
    """
    paired = np.column_stack((np.asarray(x), np.asarray(y)))
    ranked = np.apply_along_axis(rankdata, 0, paired)
    return float(np.corrcoef(ranked, rowvar=False)[1, 0])


def trim_mean(values: np.ndarray, proportiontocut: float) -> float:
    """Mean after cutting ``proportiontocut`` of the values from each end (``scipy.stats.trim_mean``).

    Parameters
    ----------
    values
        A 1-D array.
    proportiontocut
        Share cut from each end (``int(share * n)`` values each).

    Returns
    -------
    float
        The trimmed mean (NaN for no values).
    """
    a = np.asarray(values)
    if a.size == 0:
        return float("nan")
    lowercut = int(proportiontocut * a.shape[0])
    uppercut = a.shape[0] - lowercut
    if lowercut > uppercut:
        raise ValueError("Proportion too big.")
    kept = np.partition(a, (lowercut, uppercut - 1))[lowercut:uppercut]
    return float(np.mean(kept.astype(np.float64, copy=False)))


def bh_adjust(pvalues: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (``scipy.stats.false_discovery_control``, ``bh``).

    Parameters
    ----------
    pvalues
        A 1-D array of p-values in [0, 1].

    Returns
    -------
    numpy.ndarray
        Adjusted p-values, same order.
    """
    ps = np.asarray(pvalues)
    if not (np.issubdtype(ps.dtype, np.number) and np.all(ps == np.clip(ps, 0.0, 1.0))):
        raise ValueError("`ps` must include only numbers between 0 and 1.")
    if ps.size <= 1:
        return ps
    order = np.argsort(ps)
    adjusted = np.take_along_axis(ps, order, axis=-1)
    adjusted = adjusted * (ps.size / np.arange(1, ps.size + 1, dtype=adjusted.dtype))
    np.minimum.accumulate(adjusted[::-1], out=adjusted[::-1])
    out = np.empty_like(adjusted)
    np.put_along_axis(out, order, adjusted, axis=-1)
    return np.clip(out, 0.0, 1.0)


def benjamini_hochberg(pvalues: np.typing.ArrayLike) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values of the tests made; NaN (no test) stays NaN.

    R's ``p.adjust(p, "BH")`` with ``NA``: a missing p-value is not counted among the tests.
    The one BH of the package (DE, voom, enrichment, axis tests), on :func:`bh_adjust`.

    Parameters
    ----------
    pvalues
        P-values in [0, 1], NaN where no test was made (any shape).

    Returns
    -------
    numpy.ndarray
        Adjusted p-values, the shape of ``pvalues``.
    """
    p = np.asarray(pvalues, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    tested = ~np.isnan(p)
    if tested.any():
        adjusted[tested] = bh_adjust(p[tested])
    return adjusted
