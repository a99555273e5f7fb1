"""pydeseq2's iterative size factors.

Used when every gene has a zero count (median of ratios is then
undefined) or when asked for (DESeq2 ``estimateSizeFactors(type = "iterate")``).

Starting from size factors 1, each round fits an intercept-only model: gene-wise dispersions, their
trimmed mean as a constant trend, the prior and MAP dispersions; then the size factors maximise
the negative-binomial likelihood of all genes but the 5 % that fit worst (Powell's method on the
log size factors, centred), until the log size factors move by less than 1e-2 (sum of squares
1e-4) or 10 rounds. As pydeseq2 0.5.4 does it, the moments estimates of the starting dispersions
use the raw counts as the normalised counts throughout.

This path holds the genes with counts as a genes x samples float array: it is for the small,
sparse data it exists for (every gene has a zero), not for large bulk cohorts.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from scipy.optimize import minimize

from alsig.deseq2 import dispersion as disp_mod
from alsig.deseq2 import glm
from alsig.deseq2.chunks import Blocks
from alsig.deseq2.design import Design
from alsig.deseq2.size_factors import SizeFactorFit
from alsig.deseq2.trend import fit_dispersion_prior
from alsig.distributions import trim_mean

MAX_ROUNDS = 10
#: share of genes (best fitting) whose likelihood the size factors maximise
KEEP_QUANTILE = 0.95


@numba.njit(cache=True, nogil=True)
def _nll_by_gene(lo, hi, counts, base, ratio, alpha, constant, out):  # pragma: no cover
    """Compute the NB negative log-likelihood per gene at rescaled means.

    Per gene NB negative log-likelihood at means ``max(s_j base_g, min_mu) / s_j * s'_j``, written
    as ``base_mu[g, j] * ratio[j]``; ``constant`` holds the mean-free part.
    """
    n = counts.shape[1]
    for g in range(lo, hi):
        r = 1.0 / alpha[g]
        total = constant[g]
        for j in range(n):
            mu = base[g, j] * ratio[j]
            total += (counts[g, j] + r) * math.log(r + mu)
            if counts[g, j] > 0.0:
                total -= counts[g, j] * math.log(mu)
        out[g] = total


def _trimmed_nll(log_sf, counts, base, alpha, constant, blocks) -> float:
    """Return the trimmed sum of the per-gene NB negative log-likelihoods.

    Sum of the per-gene NB negative log-likelihoods below their 95 % quantile at size factors
    ``exp(log_sf - mean(log_sf))``.
    """
    nll = np.empty(counts.shape[0])
    trial = np.exp(log_sf - np.mean(log_sf))
    blocks(_nll_by_gene, counts.shape[0], counts, base, trial, alpha, constant, nll)
    return float(np.sum(nll[nll < np.quantile(nll, KEEP_QUANTILE)]))


def iterative_size_factors(
    counts: np.ndarray,
    min_mu: float = 0.5,
    min_disp: float = 1e-8,
    max_disp: float = 10.0,
    *,
    blocks: Blocks | None = None,
    chunk_size: int | None = None,
) -> SizeFactorFit:
    """pydeseq2's ``_fit_iterate_size_factors`` (see the module docstring).

    Parameters
    ----------
    counts
        Samples x genes non-negative integer counts.
    min_mu, min_disp, max_disp
        DESeq2's bounds (``max_disp`` is raised to the number of samples).
    blocks
        Threads to run the kernels on.
    chunk_size
        Unused (the path holds all genes); accepted for a uniform call.

    Returns
    -------
    SizeFactorFit
        ``method = "iterative"``.
    """
    blocks = blocks or Blocks(1)
    n = counts.shape[0]
    y = np.ascontiguousarray(counts.T[(counts > 0).any(axis=0)], dtype=np.float64)
    g = y.shape[0]
    design = Design(np.ones((n, 1)), ("Intercept",))
    upper = math.log(max(max_disp, n))
    lower = math.log(min_disp)
    ones = np.ones(n)
    sf = np.ones(n)
    for round_ in range(MAX_ROUNDS):
        # starting dispersions from the raw counts (pydeseq2's normalised-counts layer is the
        # raw counts during this loop), the moments' Poisson part from the current factors
        mom = np.empty(g)
        normed_mean = np.empty(g)
        blocks(
            disp_mod.moments_dispersion_chunk,
            g,
            y,
            ones,
            float(np.mean(1.0 / sf)),
            design.matrix,
            design.pinv,
            min_disp,
            max(max_disp, n),
            normed_mean,
            mom,
        )
        mu = np.empty_like(y)
        beta = np.empty((g, 1))
        blocks(glm.linear_means_chunk, g, y, sf, design.matrix, design.pinv, min_mu, beta, mu)
        theta = np.empty(g)
        status = np.empty(g, np.int64)
        its = np.empty(g, np.int64)
        blocks(
            disp_mod.dispersion_chunk,
            g,
            y,
            mu,
            design.rows,
            design.group,
            np.log(mom),
            lower,
            upper,
            True,
            np.zeros(g),
            1.0,
            False,
            theta,
            status,
            its,
        )
        genewise = np.exp(theta)
        use = genewise > 10 * min_disp
        if not use.any():
            break
        fitted = np.full(g, trim_mean(genewise[use], proportiontocut=0.001))
        prior = fit_dispersion_prior(genewise, fitted, n, 1, min_disp=min_disp)
        log_fitted = np.log(fitted)
        blocks(
            disp_mod.dispersion_chunk,
            g,
            y,
            mu,
            design.rows,
            design.group,
            log_fitted,
            lower,
            upper,
            True,
            log_fitted,
            prior.variance,
            True,
            theta,
            status,
            its,
        )
        outlier = np.log(genewise) > log_fitted + 2 * np.sqrt(prior.squared_log_residual_sd)
        alpha = np.ascontiguousarray(np.where(outlier, genewise, np.exp(theta)))
        constant = np.array([glm.nb_nll_constant(y[k], alpha[k]) for k in range(g)])
        base = np.ascontiguousarray(mu / sf[None, :])
        old = sf.copy()
        res = minimize(
            _trimmed_nll, np.log(old), args=(y, base, alpha, constant, blocks), method="Powell"
        )
        sf = np.exp(res.x - np.mean(res.x))
        if not res.success:
            break
        if round_ > 1 and np.sum((np.log(old) - np.log(sf)) ** 2) < 1e-4:
            break
    return SizeFactorFit(sf, "iterative")
