"""Negative-binomial GLM fits with a log link, gene by gene in compiled loops.

IRLS as DESeq2 /
pydeseq2 run it, and pydeseq2's fallback optimiser for the genes where IRLS fails.

For each gene ``y`` (counts over samples), size factors ``s`` and dispersion ``alpha``, IRLS
starts from the least-squares fit of ``log(y / s + 0.1)``, then repeats
``beta <- (X' W X + 1e-6 I)^-1 X' W z`` with ``mu = max(s exp(X beta), min_mu)``,
``W = mu / (1 + alpha mu)`` and ``z = log(mu / s) + (y - mu) / mu`` until the deviance changes by
less than ``beta_tol`` relative (pydeseq2 ``irls_solver``; DESeq2 ``fitBeta``). A gene whose
coefficients leave ``[-30, 30]`` or that does not converge within ``maxiter`` is handed back to
:func:`fallback_fit`: L-BFGS-B on the same penalised likelihood from the same start, and a grid
when that fails too with at most two coefficients, exactly pydeseq2's rule.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from scipy.optimize import minimize
from scipy.special import gammaln

from alsig.deseq2.special import lgamma, log_factorial
from alsig.linalg import cholesky, cholesky_inverse, cholesky_solve, gram, quadratic_form

#: IRLS ridge on every coefficient (pydeseq2 ``ridge_factor``; DESeq2 ``lambda``)
RIDGE = 1e-6
#: coefficient bound beyond which IRLS is judged divergent (natural-log scale)
MAX_BETA = 30.0

#: per-gene status codes of :func:`irls_chunk`
CONVERGED = 0
NEEDS_FALLBACK = 1


@numba.njit(cache=True, nogil=True)
def nb_nll_constant(y, alpha):  # pragma: no cover - compiled
    """Return the part of the NB negative log-likelihood that does not depend on ``mu``.

    The part of the NB negative log-likelihood that does not depend on ``mu``: ``sum_i [r log(alpha)
    - lgamma(y_i + r) + lgamma(y_i + 1) + lgamma(r)]`` with ``r = 1/alpha``.
    """
    r = 1.0 / alpha
    lg_r = lgamma(r)
    total = y.shape[0] * r * math.log(alpha)
    for i in range(y.shape[0]):
        if y[i] > 0.0:  # lgamma(1) = 0
            total += lg_r - lgamma(y[i] + r) + log_factorial(y[i])
    return total


@numba.njit(cache=True, nogil=True)
def nb_nll_mu_part(y, mu, alpha):  # pragma: no cover - compiled
    """Return the ``mu``-dependent part of the NB negative log-likelihood.

    The ``mu``-dependent part of the NB negative log-likelihood: ``sum_i [(y_i + r) log(r + mu_i) -
    y_i log(mu_i)]``.
    """
    r = 1.0 / alpha
    total = 0.0
    for i in range(y.shape[0]):
        term = (y[i] + r) * math.log(r + mu[i])
        if y[i] > 0.0:
            term -= y[i] * math.log(mu[i])
        total += term
    return total


@numba.njit(cache=True, nogil=True)
def row_exponentials(rows, beta, out):  # pragma: no cover - compiled
    """``out[g] = exp(rows[g] @ beta)`` for each distinct design row."""
    for g in range(rows.shape[0]):
        eta = 0.0
        for k in range(rows.shape[1]):
            eta += rows[g, k] * beta[k]
        out[g] = math.exp(eta)


@numba.njit(cache=True, nogil=True)
def fitted_means(rows, group, beta, size_factors, out):  # pragma: no cover - compiled
    """Compute the unthresholded means ``size_factors * exp(X beta)``.

    ``out = size_factors * exp(X beta)`` (unthresholded, as DESeq2 reports mu), one exponential per
    distinct design row.
    """
    expo = np.empty(rows.shape[0])
    row_exponentials(rows, beta, expo)
    for i in range(out.shape[0]):
        out[i] = size_factors[i] * expo[group[i]]


@numba.njit(cache=True, nogil=True)
def least_squares_start(y, size_factors, pinv, out):  # pragma: no cover - compiled
    """IRLS start: least squares of ``log(y / s + 0.1)`` on the design."""
    p, n = pinv.shape
    for k in range(p):
        total = 0.0
        for i in range(n):
            total += pinv[k, i] * math.log(y[i] / size_factors[i] + 0.1)
        out[k] = total


@numba.njit(cache=True, nogil=True)
def _means(
    rows, group, beta, size_factors, log_sf, min_mu, eta, expo, mu, log_ratio
):  # pragma: no cover
    """Compute the thresholded means and the linear predictor of one gene.

    ``mu = max(s exp(X beta), min_mu)`` and ``log(mu / s)`` (the linear predictor where the bound is
    not hit: no logarithm needed); one exponential per distinct design row (``eta``, ``expo``:
    per-row work arrays).
    """
    for g in range(rows.shape[0]):
        e = 0.0
        for k in range(rows.shape[1]):
            e += rows[g, k] * beta[k]
        eta[g] = e
        expo[g] = math.exp(e)
    log_min = math.log(min_mu)
    for i in range(mu.shape[0]):
        m = size_factors[i] * expo[group[i]]
        if m < min_mu:
            mu[i] = min_mu
            log_ratio[i] = log_min - log_sf[i]
        else:
            mu[i] = m
            log_ratio[i] = eta[group[i]]


@numba.njit(cache=True, nogil=True)
def irls_gene(
    y,
    size_factors,
    log_sf,
    design,
    rows,
    group,
    pinv,
    alpha,
    min_mu,
    beta_tol,
    maxiter,
    beta,
    beta_start,
):  # pragma: no cover - compiled
    """Fit one gene by IRLS (see the module docstring).

    IRLS for one gene (see the module docstring); ``beta`` receives the fit and ``beta_start`` the
    start. Returns ``(status, iterations)``.
    """
    n, p = design.shape
    n_rows = rows.shape[0]
    least_squares_start(y, size_factors, pinv, beta)
    for k in range(p):
        beta_start[k] = beta[k]
    mu = np.empty(n)
    eta = np.empty(n_rows)
    expo = np.empty(n_rows)
    log_ratio = np.empty(n)
    w_sum = np.empty(n_rows)
    wz_sum = np.empty(n_rows)
    gram_m = np.empty((p, p))
    chol = np.empty((p, p))
    rhs = np.empty(p)
    beta_hat = np.empty(p)
    _means(rows, group, beta, size_factors, log_sf, min_mu, eta, expo, mu, log_ratio)
    r = 1.0 / alpha
    # -log L = constant + sum_i [(y_i + r) log(r + mu_i) - y_i log(mu_i)]
    nll_constant = nb_nll_constant(y, alpha)
    dev = 1000.0
    dev_ratio = 1.0
    iterations = 0
    while dev_ratio > beta_tol:
        for g in range(n_rows):
            w_sum[g] = 0.0
            wz_sum[g] = 0.0
        for i in range(n):
            # W = mu / (1 + alpha mu), W z = W log(mu / s) + (y - mu) / (1 + alpha mu)
            q = 1.0 / (1.0 + mu[i] * alpha)
            w = mu[i] * q
            w_sum[group[i]] += w
            wz_sum[group[i]] += w * log_ratio[i] + (y[i] - mu[i]) * q
        gram(rows, w_sum, gram_m)
        for k in range(p):
            gram_m[k, k] += RIDGE
            total = 0.0
            for g in range(n_rows):
                total += rows[g, k] * wz_sum[g]
            rhs[k] = total
        if not cholesky(gram_m, chol):
            return NEEDS_FALLBACK, iterations
        cholesky_solve(chol, rhs, beta_hat)
        iterations += 1
        diverged = False
        for k in range(p):
            if not abs(beta_hat[k]) <= MAX_BETA:
                diverged = True
        if diverged or iterations >= maxiter:
            return NEEDS_FALLBACK, iterations
        for k in range(p):
            beta[k] = beta_hat[k]
        _means(rows, group, beta, size_factors, log_sf, min_mu, eta, expo, mu, log_ratio)
        nll = nll_constant
        for i in range(n):
            nll += (y[i] + r) * math.log(r + mu[i])
            if y[i] > 0.0:
                nll -= y[i] * (log_sf[i] + log_ratio[i])
        old_dev = dev
        dev = -2.0 * nll
        dev_ratio = abs(dev - old_dev) / (abs(dev) + 0.1)
    return CONVERGED, iterations


@numba.njit(cache=True, nogil=True)
def irls_chunk(
    lo,
    hi,
    counts,
    size_factors,
    design,
    rows,
    group,
    pinv,
    alpha,
    min_mu,
    beta_tol,
    maxiter,
    beta,
    beta_start,
    status,
    iterations,
):  # pragma: no cover - compiled
    """:func:`irls_gene` for genes (rows) ``lo:hi`` of ``counts``."""
    log_sf = np.log(size_factors)
    for j in range(lo, hi):
        st, it = irls_gene(
            counts[j],
            size_factors,
            log_sf,
            design,
            rows,
            group,
            pinv,
            alpha[j],
            min_mu,
            beta_tol,
            maxiter,
            beta[j],
            beta_start[j],
        )
        status[j] = st
        iterations[j] = it


@numba.njit(cache=True, nogil=True)
def linear_means_chunk(
    lo, hi, counts, size_factors, design, pinv, min_mu, beta, mu
):  # pragma: no cover
    """Fit DESeq2's ``linearModelMu`` means.

    DESeq2's ``linearModelMu``: least squares of the normalised counts on the design, means ``max(s
    X beta, min_mu)`` (used when the design has one distinct row per coefficient).
    """
    n, p = design.shape
    for j in range(lo, hi):
        for k in range(p):
            total = 0.0
            for i in range(n):
                total += pinv[k, i] * (counts[j, i] / size_factors[i])
            beta[j, k] = total
        for i in range(n):
            fit = 0.0
            for k in range(p):
                fit += design[i, k] * beta[j, k]
            mu[j, i] = max(size_factors[i] * fit, min_mu)


@numba.njit(cache=True, nogil=True)
def glm_means_chunk(lo, hi, size_factors, rows, group, beta, mu):  # pragma: no cover - compiled
    """Unthresholded fitted means ``s exp(X beta)`` of genes ``lo:hi``."""
    for j in range(lo, hi):
        fitted_means(rows, group, beta[j], size_factors, mu[j])


@numba.njit(cache=True, nogil=True)
def fit_summaries_chunk(
    lo,
    hi,
    counts,
    size_factors,
    design,
    rows,
    group,
    alpha,
    min_mu,
    beta,
    mu,
    hat,
    covariance,
):  # pragma: no cover - compiled
    """Compute means, hat diagonals and the Wald covariance after each gene's fit.

    After the fit of each gene: unthresholded means ``mu``, hat diagonals ``hat`` (weights from
    ``max(mu, min_mu)`` as pydeseq2), the Wald covariance ``H M H`` with ``M = X' W X`` at the
    unthresholded means and ``H = (M + ridge)^-1`` (pydeseq2 ``wald_test``).
    """
    n, p = design.shape
    n_rows = rows.shape[0]
    for j in range(lo, hi):
        a = alpha[j]
        w_sum = np.zeros(n_rows)
        w_raw = np.zeros(n_rows)
        gram_m = np.empty((p, p))
        chol = np.empty((p, p))
        inverse = np.empty((p, p))
        x = np.empty(p)
        fitted_means(rows, group, beta[j], size_factors, mu[j])
        for i in range(n):
            m_thr = max(mu[j, i], min_mu)
            w_sum[group[i]] += m_thr / (1.0 + m_thr * a)
            w_raw[group[i]] += mu[j, i] / (1.0 + mu[j, i] * a)
        # hat diagonals: W_i x_i' (X' W X + ridge)^-1 x_i, thresholded weights
        gram(rows, w_sum, gram_m)
        for k in range(p):
            gram_m[k, k] += RIDGE
        ok = cholesky(gram_m, chol)
        if ok:
            cholesky_inverse(chol, inverse)
        leverage = np.empty(n_rows)
        for g in range(n_rows):
            for k in range(p):
                x[k] = rows[g, k]
            leverage[g] = quadratic_form(inverse, x) if ok else np.nan
        for i in range(n):
            m_thr = max(mu[j, i], min_mu)
            hat[j, i] = (m_thr / (1.0 + m_thr * a)) * leverage[group[i]]
        # Wald covariance at the unthresholded means
        gram(rows, w_raw, gram_m)
        m_plain = gram_m.copy()
        for k in range(p):
            gram_m[k, k] += RIDGE
        if cholesky(gram_m, chol):
            cholesky_inverse(chol, inverse)
            # H M H
            tmp = np.empty((p, p))
            for a1 in range(p):
                for b1 in range(p):
                    total = 0.0
                    for k in range(p):
                        total += inverse[a1, k] * m_plain[k, b1]
                    tmp[a1, b1] = total
            for a1 in range(p):
                for b1 in range(p):
                    total = 0.0
                    for k in range(p):
                        total += tmp[a1, k] * inverse[k, b1]
                    covariance[j, a1, b1] = total
        else:
            for a1 in range(p):
                for b1 in range(p):
                    covariance[j, a1, b1] = np.nan


@numba.njit(cache=True, nogil=True)
def deviance_chunk(lo, hi, counts, size_factors, rows, group, beta, alpha, out):  # pragma: no cover
    """Compute the deviance ``-2 log L`` of genes ``lo:hi``.

    Deviance ``-2 log L`` of genes ``lo:hi`` at the unthresholded means ``s exp(X beta)`` (DESeq2's
    ``deviance``; the likelihood-ratio statistic is a difference of two).
    """
    mu = np.empty(counts.shape[1])
    for j in range(lo, hi):
        fitted_means(rows, group, beta[j], size_factors, mu)
        out[j] = 2.0 * (
            nb_nll_constant(counts[j], alpha[j]) + nb_nll_mu_part(counts[j], mu, alpha[j])
        )


def _nb_nll(y: np.ndarray, mu: np.ndarray, alpha: float) -> float:
    r = 1.0 / alpha
    logbinom = gammaln(y + r) - gammaln(y + 1) - gammaln(r)
    return float(
        y.size * r * np.log(alpha) + (-logbinom + (y + r) * np.log(r + mu) - y * np.log(mu)).sum()
    )


def fallback_fit(
    y: np.ndarray,
    size_factors: np.ndarray,
    design: np.ndarray,
    alpha: float,
    beta_start: np.ndarray,
    min_mu: float,
) -> tuple[np.ndarray, bool, bool]:
    """pydeseq2's fallback where IRLS fails: L-BFGS-B on the ridge-penalised NB likelihood.

    Parameters
    ----------
    y
        The gene's counts.
    size_factors
        Sample size factors.
    design
        Design matrix (samples x coefficients).
    alpha
        The gene's dispersion.
    beta_start
        IRLS's start (least squares of ``log(y / s + 0.1)``).
    min_mu
        Lower bound of the means.

    Returns
    -------
    ``(beta, converged, grid)``: coefficients, whether L-BFGS-B converged, and whether a grid
    (two coefficients at most, pydeseq2's rule) replaced its result.
    """
    p = design.shape[1]

    def objective(beta: np.ndarray) -> float:
        mu = np.maximum(size_factors * np.exp(design @ beta), min_mu)
        return _nb_nll(y, mu, alpha) + 0.5 * (RIDGE * beta**2).sum()

    def gradient(beta: np.ndarray) -> np.ndarray:
        mu = np.maximum(size_factors * np.exp(design @ beta), min_mu)
        return -design.T @ y + ((1 / alpha + y) * mu / (1 / alpha + mu)) @ design + RIDGE * beta

    res = minimize(
        objective, beta_start, jac=gradient, method="L-BFGS-B", bounds=[(-MAX_BETA, MAX_BETA)] * p
    )
    if res.success or p > 2:
        return np.asarray(res.x, dtype=float), bool(res.success), False
    return grid_fit_beta(y, size_factors, design, alpha, min_mu), False, True


def grid_fit_beta(
    y: np.ndarray,
    size_factors: np.ndarray,
    design: np.ndarray,
    alpha: float,
    min_mu: float,
    grid_length: int = 60,
) -> np.ndarray:
    """Maximise the penalised NB likelihood over a coarse then a fine grid (p <= 2).

    Coarse-then-fine grid over ``[-30, 30]^p`` (p <= 2) of the penalised NB likelihood (pydeseq2
    ``grid_fit_beta``).
    """
    p = design.shape[1]

    def loss(betas: np.ndarray) -> np.ndarray:
        mu = np.maximum(size_factors[:, None] * np.exp(design @ betas.T), min_mu)
        r = 1.0 / alpha
        logbinom = gammaln(y[:, None] + r) - gammaln(y + 1)[:, None] - gammaln(r)
        nll = y.size * r * np.log(alpha) + (
            -logbinom + (y[:, None] + r) * np.log(mu + r) - y[:, None] * np.log(mu)
        ).sum(axis=0)
        return nll + 0.5 * (RIDGE * betas**2).sum(1)

    axis = np.linspace(-MAX_BETA, MAX_BETA, grid_length)
    delta = axis[1] - axis[0]
    axes = [axis] * p
    for _ in range(2):
        mesh = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, p)
        best = mesh[int(np.argmin(loss(mesh)))]
        axes = [np.linspace(b - delta, b + delta, grid_length) for b in best]
    return best
