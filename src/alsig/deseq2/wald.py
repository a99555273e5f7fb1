"""Wald tests of a contrast from one fit.

For a contrast vector ``c`` over the coefficients, a gene's log fold change is ``c' beta`` and its
standard error ``sqrt(c' H M H c)`` with ``M = X' W X`` and ``H = (M + 1e-6 I)^-1`` at the fitted
means (pydeseq2 ``wald_test``; DESeq2 ``nbinomWaldTest`` without a beta prior). The fit stores
``H M H`` per gene, so every contrast of the design is a few multiplications per gene, not a
refit. Two-sided p-values from the standard normal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from alsig.deseq2.chunks import Blocks
from alsig.distributions import norm_sf


@numba.njit(cache=True, nogil=True)
def _contrast(lo, hi, beta, covariance, contrast, lfc, se):  # pragma: no cover - compiled
    p = contrast.shape[0]
    for j in range(lo, hi):
        estimate = 0.0
        for k in range(p):
            estimate += contrast[k] * beta[j, k]
        variance = 0.0
        for a in range(p):
            row = 0.0
            for b in range(p):
                row += covariance[j, a, b] * contrast[b]
            variance += contrast[a] * row
        lfc[j] = estimate
        se[j] = math.sqrt(variance) if variance >= 0.0 else np.nan


@dataclass(frozen=True)
class WaldTest:
    """Wald test of one contrast, per gene (natural-log scale).

    Attributes
    ----------
    lfc
        ``c' beta``.
    se
        Its standard error.
    stat
        ``lfc / se``.
    pvalue
        Two-sided normal p-value.
    """

    lfc: np.ndarray
    se: np.ndarray
    stat: np.ndarray
    pvalue: np.ndarray


def wald_test(
    beta: np.ndarray, covariance: np.ndarray, contrast: np.ndarray, blocks: Blocks | None = None
) -> WaldTest:
    """Run the module docstring's test.

    Parameters
    ----------
    beta
        Genes x coefficients (natural log).
    covariance
        Genes x p x p, ``H M H``.
    contrast
        Length-p contrast vector.
    blocks
        Threads to run on (one when None).

    Returns
    -------
    WaldTest
    """
    contrast = np.ascontiguousarray(contrast, dtype=np.float64)
    lfc = np.empty(beta.shape[0])
    se = np.empty(beta.shape[0])
    (blocks or Blocks(1))(
        _contrast,
        beta.shape[0],
        np.ascontiguousarray(beta),
        np.ascontiguousarray(covariance),
        contrast,
        lfc,
        se,
        block=1024,
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = lfc / se
    pvalue = 2 * norm_sf(np.abs(stat))
    return WaldTest(lfc, se, stat, pvalue)
