"""Gene-wise and MAP dispersions: DESeq2's Cox-Reid adjusted profile likelihood.

Gene-wise and MAP dispersions: DESeq2's Cox-Reid adjusted profile likelihood in ``theta =
log(alpha)``, maximised gene by gene with a safeguarded Newton iteration.

For counts ``y``, fixed means ``mu`` (the initial fit) and design ``X`` the objective minimised is

``f(theta) = -log L_NB(y; mu, alpha) + 1/2 log det(X' W X) [+ (theta - theta_0)^2 / (2 s^2)]``

with ``W = mu / (1 + alpha mu)``; the bracketed prior (centre: the trend's log dispersion,
variance: the prior variance) makes it the MAP problem (Love, Huber & Anders 2014, eqs. 5-6;
pydeseq2 ``fit_alpha_mle``). Analytic first and second derivatives (digamma / trigamma
differences from :mod:`alsig.deseq2.special`; the Cox-Reid term through ``tr(M^-1 dM)`` and
``tr(M^-1 d2M) - tr((M^-1 dM)^2)``) drive Newton steps inside a bracket that shrinks with the sign
of the derivative, with bisection where a Newton step leaves it (``rtsafe``, Numerical Recipes
9.4). The bracket starts as the bounds ``[log min_disp, log max_disp]``; a derivative pointing out
of a bound ends the search at that bound (a boundary dispersion). A start where the derivative is
already below 1e-5 is kept, as pydeseq2's L-BFGS-B and DESeq2's line search keep it (genes with
almost no counts start at ``min_disp``, where the likelihood is flat). A gene that does not
converge within 100 steps gets pydeseq2's grid (100 points over the bounds, then 100 around the
best).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from alsig.deseq2.glm import nb_nll_constant, nb_nll_mu_part
from alsig.deseq2.special import (
    ASYMPTOTIC_FROM,
    D1,
    D2,
    D3,
    D4,
    D5,
    D6,
    D7,
    T1,
    T2,
    T3,
    T4,
    T5,
    T6,
    T7,
    digamma,
    large_r_powers,
    polygamma_diffs,
    trigamma,
)
from alsig.linalg import cholesky, cholesky_inverse, gram

#: status of a dispersion fit
INTERIOR = 0
AT_LOWER = 1
AT_UPPER = 2
GRID = 3
FLAT_START = 4

#: |f'(start)| at or below which the start is kept, as L-BFGS-B's projected-gradient test does
#: in pydeseq2 (and DESeq2's line search, which also stays where the likelihood is flat: the
#: starting dispersion 1e-8 of near-empty genes)
FLAT_START_GRADIENT = 1e-5

#: Newton step in theta below which the iteration has converged (convergence is quadratic: the
#: point returned is then within ~1e-14 of the optimum)
THETA_TOL = 1e-7
MAX_ITERATIONS = 100
GRID_LENGTH = 100


@numba.njit(cache=True, nogil=True)
def _sample_terms(
    yi, mi, r, alpha, large, v1, q1, q2, q3, q4, q5, q6, psi_r, tri_r
):  # pragma: no cover
    """Return the first two derivatives of one sample's log-likelihood in ``r``.

    ``(d log L / dr, d2 log L / dr2, 1 / (r + mu))`` of one sample, one logarithm and two divisions:
    ``psi(y + r) - psi(r) - log(1 + alpha mu) + (mu - y) / (r + mu)`` and its derivative.

    For ``r >= 10`` the digamma difference is taken inside the series (:mod:`.special`) and its
    ``log(1 + y / r)`` merged with ``-log(1 + alpha mu)`` into ``log1p((y - mu) / (r + mu))``,
    so the O(1/r) terms cancel exactly; below, ``psi(r)``, ``psi'(r)`` are per-gene constants and
    ``psi(y + r) - log(1 + alpha mu)`` one logarithm of ``(y + r) r / (r + mu)``.
    """
    inv_rm = 1.0 / (r + mi)
    dev = (mi - yi) * inv_rm
    curv = alpha * mi * inv_rm - dev * inv_rm
    if yi == 0.0:
        return -math.log1p(mi * alpha) + dev, curv, inv_rm
    x = yi + r
    if large:
        v2 = 1.0 / x
        u2 = v2 * v2
        dv = -yi * v1 * v2
        du = dv * (v1 + v2)
        s2 = u2 + q1
        s3 = u2 * s2 + q2
        s4 = u2 * s3 + q3
        s5 = u2 * s4 + q4
        s6 = u2 * s5 + q5
        s7 = u2 * s6 + q6
        dig = D1 + D2 * s2 + D3 * s3 + D4 * s4 + D5 * s5 + D6 * s6 + D7 * s7
        tri = T1 + T2 * s2 + T3 * s3 + T4 * s4 + T5 * s5 + T6 * s6 + T7 * s7
        tail = u2 * (T1 + u2 * (T2 + u2 * (T3 + u2 * (T4 + u2 * (T5 + u2 * (T6 + u2 * T7))))))
        g = math.log1p(-dev) - 0.5 * dv - du * dig + dev
        t = dv + 0.5 * du + dv * tail + v1 * du * tri
        return g, t + curv, inv_rm
    if x >= ASYMPTOTIC_FROM:
        v = 1.0 / x
        u = v * v
        series_d = u * (D1 + u * (D2 + u * (D3 + u * (D4 + u * (D5 + u * (D6 + u * D7))))))
        series_t = u * v * (T1 + u * (T2 + u * (T3 + u * (T4 + u * (T5 + u * (T6 + u * T7))))))
        g = math.log(x * r * inv_rm) - 0.5 * v - series_d - psi_r + dev
        t = v + 0.5 * u + series_t - tri_r
        return g, t + curv, inv_rm
    d, t = polygamma_diffs(yi, r)
    return d - math.log1p(mi * alpha) + dev, t + curv, inv_rm


@numba.njit(cache=True, nogil=True)
def _derivatives(
    theta, y, mu, rows, group, cox_reid, prior_mean, prior_var, use_prior, work
):  # pragma: no cover
    """``(f'(theta), f''(theta))`` of the module docstring's objective."""
    alpha = math.exp(theta)
    r = 1.0 / alpha
    n = y.shape[0]
    n_rows, p = rows.shape
    sum_g = 0.0
    sum_h = 0.0
    w0 = work[0]
    w1 = work[1]
    w2 = work[2]
    for g in range(n_rows):
        w0[g] = 0.0
        w1[g] = 0.0
        w2[g] = 0.0
    large = r >= ASYMPTOTIC_FROM
    v1, q1, q2, q3, q4, q5, q6 = large_r_powers(r if large else ASYMPTOTIC_FROM)
    psi_r = 0.0 if large else digamma(r)
    tri_r = 0.0 if large else trigamma(r)
    for i in range(n):
        yi = y[i]
        mi = mu[i]
        gi, hi, inv_rm = _sample_terms(
            yi, mi, r, alpha, large, v1, q1, q2, q3, q4, q5, q6, psi_r, tri_r
        )
        sum_g += gi
        sum_h += hi
        if cox_reid:
            w = mi * r * inv_rm  # mu / (1 + alpha mu)
            aw2 = alpha * w * w
            k = group[i]
            w0[k] += w
            w1[k] -= aw2
            w2[k] += -aw2 + 2.0 * aw2 * alpha * w
    grad = r * sum_g
    hess = -(r * sum_g + r * r * sum_h)
    if cox_reid:
        m = np.empty((p, p))
        md = np.empty((p, p))
        mdd = np.empty((p, p))
        chol = np.empty((p, p))
        inv = np.empty((p, p))
        gram(rows, w0, m)
        gram(rows, w1, md)
        gram(rows, w2, mdd)
        if not cholesky(m, chol):
            return np.nan, np.nan
        cholesky_inverse(chol, inv)
        a = np.empty((p, p))
        for i in range(p):
            for j in range(p):
                s = 0.0
                for k in range(p):
                    s += inv[i, k] * md[k, j]
                a[i, j] = s
        tr_a = 0.0
        tr_aa = 0.0
        tr_b = 0.0
        for i in range(p):
            tr_a += a[i, i]
            for j in range(p):
                tr_aa += a[i, j] * a[j, i]
                tr_b += inv[i, j] * mdd[j, i]
        grad += 0.5 * tr_a
        hess += 0.5 * (tr_b - tr_aa)
    if use_prior:
        grad += (theta - prior_mean) / prior_var
        hess += 1.0 / prior_var
    return grad, hess


@numba.njit(cache=True, nogil=True)
def objective(
    theta, y, mu, rows, group, cox_reid, prior_mean, prior_var, use_prior
):  # pragma: no cover
    """Evaluate the module docstring's ``f(theta)`` (used by the grid)."""
    alpha = math.exp(theta)
    value = nb_nll_constant(y, alpha) + nb_nll_mu_part(y, mu, alpha)
    if cox_reid:
        n_rows, p = rows.shape
        w = np.zeros(n_rows)
        for i in range(y.shape[0]):
            w[group[i]] += mu[i] / (1.0 + mu[i] * alpha)
        m = np.empty((p, p))
        chol = np.empty((p, p))
        gram(rows, w, m)
        if not cholesky(m, chol):
            return np.inf
        logdet = 0.0
        for k in range(p):
            logdet += 2.0 * math.log(chol[k, k])
        value += 0.5 * logdet
    if use_prior:
        value += (theta - prior_mean) ** 2 / (2.0 * prior_var)
    return value


@numba.njit(cache=True, nogil=True)
def grid_log_dispersion(
    y, mu, rows, group, lower, upper, cox_reid, prior_mean, prior_var, use_prior
):  # pragma: no cover
    """Maximise over a coarse then a fine grid (pydeseq2's ``grid_fit_alpha``).

    pydeseq2's ``grid_fit_alpha``: best of 100 points over ``[lower, upper]``, then of 100 points
    within one step of it.
    """
    step = (upper - lower) / (GRID_LENGTH - 1)
    best = lower
    best_value = np.inf
    for k in range(GRID_LENGTH):
        theta = lower + k * step
        v = objective(theta, y, mu, rows, group, cox_reid, prior_mean, prior_var, use_prior)
        if v < best_value:
            best_value = v
            best = theta
    centre = best
    fine_step = 2.0 * step / (GRID_LENGTH - 1)
    best_value = np.inf
    for k in range(GRID_LENGTH):
        theta = centre - step + k * fine_step
        v = objective(theta, y, mu, rows, group, cox_reid, prior_mean, prior_var, use_prior)
        if v < best_value:
            best_value = v
            best = theta
    return best


@numba.njit(cache=True, nogil=True)
def fit_log_dispersion(
    y, mu, rows, group, start, lower, upper, cox_reid, prior_mean, prior_var, use_prior
):  # pragma: no cover - compiled
    """Safeguarded Newton of the module docstring for one gene.

    Returns ``(theta, status, iterations)``.
    """
    n_rows = rows.shape[0]
    work = np.empty((3, n_rows))
    lo = lower
    hi = upper
    x = min(max(start, lower), upper)
    for it in range(1, MAX_ITERATIONS + 1):
        grad, hess = _derivatives(
            x, y, mu, rows, group, cox_reid, prior_mean, prior_var, use_prior, work
        )
        if not (math.isfinite(grad) and math.isfinite(hess)):
            break
        if it == 1 and abs(grad) <= FLAT_START_GRADIENT:
            return x, FLAT_START, it
        if grad == 0.0:
            return x, INTERIOR, it
        if grad > 0.0:
            if x <= lower:
                return lower, AT_LOWER, it
            hi = x
        else:
            if x >= upper:
                return upper, AT_UPPER, it
            lo = x
        # Newton where locally convex, else a unit step downhill (kept in the bracket below)
        new = x - grad / hess if hess > 0.0 else (x - 1.0 if grad > 0.0 else x + 1.0)
        if hess > 0.0 and abs(new - x) < THETA_TOL:
            # converged (tested before the bracket: a step below the spacing of doubles lands
            # on x itself, which is a bracket end)
            return min(max(new, lo), hi), INTERIOR, it
        if new <= lo or new >= hi:
            # outside the bracket: try the bound itself once, else bisect
            if new <= lo and lo == lower and x != lower:
                new = lower
            elif new >= hi and hi == upper and x != upper:
                new = upper
            else:
                new = 0.5 * (lo + hi)
        if abs(new - x) < THETA_TOL:
            return new, INTERIOR, it
        if hi - lo < THETA_TOL:
            return 0.5 * (lo + hi), INTERIOR, it
        x = new
    theta = grid_log_dispersion(
        y, mu, rows, group, lower, upper, cox_reid, prior_mean, prior_var, use_prior
    )
    return theta, GRID, MAX_ITERATIONS


@numba.njit(cache=True, nogil=True)
def dispersion_chunk(
    lo,
    hi,
    counts,
    mu,
    rows,
    group,
    start,
    lower,
    upper,
    cox_reid,
    prior_mean,
    prior_var,
    use_prior,
    theta,
    status,
    iterations,
):  # pragma: no cover - compiled
    """Run :func:`fit_log_dispersion` for every gene (row).

    :func:`fit_log_dispersion` for every gene (row); ``prior_mean`` per gene (ignored without the
    prior).
    """
    for j in range(lo, hi):
        t, st, it = fit_log_dispersion(
            counts[j],
            mu[j],
            rows,
            group,
            start[j],
            lower,
            upper,
            cox_reid,
            prior_mean[j],
            prior_var,
            use_prior,
        )
        theta[j] = t
        status[j] = st
        iterations[j] = it


@numba.njit(cache=True, nogil=True)
def moments_dispersion_chunk(
    lo, hi, counts, size_factors, inv_sf_mean, design, pinv, min_disp, max_disp, normed_mean, out
):  # pragma: no cover
    """Return DESeq2's starting dispersions and the mean of normalised counts.

    DESeq2's starting dispersions: the smaller of the rough (linear-model residual) and the moments
    estimates, clipped to the bounds (pydeseq2 ``_fit_MoM_dispersions``); also the mean of
    normalised counts. ``inv_sf_mean`` is the mean of ``1 / size factors`` (the moments estimate's
    Poisson part).
    """
    n, p = design.shape
    for j in range(lo, hi):
        normed = np.empty(n)
        for i in range(n):
            normed[i] = counts[j, i] / size_factors[i]
        beta = np.zeros(p)
        for k in range(p):
            s = 0.0
            for i in range(n):
                s += pinv[k, i] * normed[i]
            beta[k] = s
        rough = 0.0
        for i in range(n):
            fit = 0.0
            for k in range(p):
                fit += design[i, k] * beta[k]
            fit = max(fit, 1.0)
            rough += ((normed[i] - fit) ** 2 - fit) / ((n - p) * fit * fit)
        rough = max(rough, 0.0)
        mean = 0.0
        for i in range(n):
            mean += normed[i]
        mean /= n
        var = 0.0
        for i in range(n):
            var += (normed[i] - mean) ** 2
        var /= n - 1
        moments = (var - inv_sf_mean * mean) / (mean * mean)
        if not math.isfinite(moments):
            moments = (
                0.0
                if math.isnan(moments)
                else (1.7976931348623157e308 if moments > 0 else -1.7976931348623157e308)
            )
        normed_mean[j] = mean
        out[j] = min(max(min(rough, moments), min_disp), max_disp)
