"""Log fold change shrinkage with a Cauchy prior, as pydeseq2's ``lfc_shrink``.

Log fold change shrinkage with a Cauchy prior (apeglm, Zhu, Ibrahim & Love 2019), as pydeseq2's
``DeseqStats.lfc_shrink`` does it.

For the shrunken coefficient ``k`` the posterior mode minimises

``f(beta) = -log L_NB(y; s exp(X beta), alpha) + sum_{j != k} beta_j^2 / (2 15^2)
+ log(1 + (beta_k / sigma)^2)``

where ``sigma = min(sqrt(v), 1)`` and ``v`` is the prior variance that makes the MLE log fold
changes' squares, less their sampling variances, fit on average (pydeseq2 ``_fit_prior_var``:
the root in ``[1e-6, 400]`` of ``sum (S - D) c / sum c - v`` with ``c = 1 / (2 (v + D)^2)``,
``S = lfc^2``, ``D = se^2``). pydeseq2 minimises ``f`` with L-BFGS-B from
``0.1 (1, -1, 1, ...)``; the same optimiser runs here gene by gene in a compiled loop
(:func:`minimize_lbfgs`: L-BFGS-B's unconstrained iteration with MINPACK-2's line search, same
settings and stopping rules). Matching the optimiser, not only the objective, matters: the Cauchy
prior can make the posterior bimodal (a mode near 0 and one near the MLE), and which mode a local
optimiser reaches depends on its path; its early stop (relative decrease 1e-8) also sets the last
digits. Where it fails with two coefficients the grid of pydeseq2 is used.

The standard error returned is the square root of the inverse Hessian's diagonal at the mode.
(pydeseq2 0.5.4 adds the prior's curvature to every row of the Hessian when inverting it; its
shrunken standard errors therefore differ slightly. alsig reports shrunken log fold changes only.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np
from scipy.optimize import brentq

from alsig.deseq2.linesearch import EVALUATE, STATE_SIZE, search_start, search_step
from alsig.linalg import cholesky, cholesky_inverse

#: prior scale of the coefficients that are not shrunk
NO_SHRINK_SCALE = 15.0
MIN_PRIOR_VAR = 1e-6
MAX_PRIOR_VAR = 400.0
#: scipy L-BFGS-B settings pydeseq2 runs with (``ftol = gtol = 1e-8``, scipy defaults otherwise)
LBFGS_MEMORY = 10
LBFGS_FTOL = 1e-8
LBFGS_GTOL = 1e-8
LBFGS_MAX_LINESEARCH = 20
LBFGS_MAXITER = 15000
LBFGS_STPMAX = 1e10
EPSILON = float(np.finfo(np.float64).eps)


def fit_prior_variance(lfc: np.ndarray, se: np.ndarray) -> float:
    """Fit the prior variance of the module docstring.

    The prior variance of the module docstring from the MLE log fold changes and their SEs (natural
    log); genes with a NaN estimate or SE are left out.
    """
    keep = np.isfinite(lfc) & np.isfinite(se)
    squares = lfc[keep] ** 2
    variances = se[keep] ** 2

    def objective(v: float) -> float:
        weights = 1 / (2 * (v + variances) ** 2)
        return float(((squares - variances) * weights).sum() / weights.sum() - v)

    if objective(MIN_PRIOR_VAR) < 0:
        return MIN_PRIOR_VAR
    if objective(MAX_PRIOR_VAR) > 0:
        return MAX_PRIOR_VAR
    return float(brentq(objective, MIN_PRIOR_VAR, MAX_PRIOR_VAR))


@numba.njit(cache=True, nogil=True)
def _log_add_exp(a, b):  # pragma: no cover - compiled
    hi = max(a, b)
    return hi + math.log1p(math.exp(-abs(a - b)))


@numba.njit(cache=True, nogil=True)
def _value(beta, design, y, size, offset, shrink, prior_scale):  # pragma: no cover - compiled
    n, p = design.shape
    prior = 0.0
    for k in range(p):
        if k != shrink:
            prior += beta[k] * beta[k] / (2.0 * NO_SHRINK_SCALE * NO_SHRINK_SCALE)
    prior += math.log1p((beta[shrink] / prior_scale) ** 2)
    log_size = math.log(size)
    ll = 0.0
    for i in range(n):
        eta = 0.0
        for k in range(p):
            eta += design[i, k] * beta[k]
        ll += y[i] * eta - (y[i] + size) * _log_add_exp(eta + offset[i], log_size)
    return prior - ll


@numba.njit(cache=True, nogil=True)
def _hessian(beta, design, y, size, offset, shrink, prior_scale, hess):  # pragma: no cover
    """Hessian of ``f`` at ``beta``."""
    n, p = design.shape
    for a in range(p):
        for b in range(p):
            hess[a, b] = 0.0
    for i in range(n):
        eta = 0.0
        for k in range(p):
            eta += design[i, k] * beta[k]
        t = eta + offset[i]
        if t > 0:  # (y + size) size e / (size + e)^2 without overflow
            q = math.exp(-t)
            weight = (y[i] + size) * size * q / ((size * q + 1.0) ** 2)
        else:
            e = math.exp(t)
            weight = (y[i] + size) * size * e / ((size + e) ** 2)
        for a in range(p):
            for b in range(a + 1):
                hess[a, b] += weight * design[i, a] * design[i, b]
    for a in range(p):
        for b in range(a):
            hess[b, a] = hess[a, b]
    s2 = prior_scale * prior_scale
    for k in range(p):
        if k == shrink:
            bk = beta[k]
            hess[k, k] += 2.0 * (s2 - bk * bk) / ((s2 + bk * bk) ** 2)
        else:
            hess[k, k] += 1.0 / (NO_SHRINK_SCALE * NO_SHRINK_SCALE)


@numba.njit(cache=True, nogil=True)
def shrink_gene(
    design, rows, group, y, size, size_factors, offset, shrink, prior_scale, beta, inverse
):  # pragma: no cover
    """Find one gene's posterior mode by :func:`minimize_lbfgs`.

    Posterior mode for one gene into ``beta`` by :func:`minimize_lbfgs` on ``f / max(f(0), 1)`` from
    pydeseq2's start; inverse Hessian into ``inverse``. Returns whether the optimiser converged and
    its number of evaluations of ``f``.
    """
    p = design.shape[1]
    zero = np.zeros(p)
    scale = max(_value(zero, design, y, size, offset, shrink, prior_scale), 1.0)
    for k in range(p):
        beta[k] = 0.1 * (1.0 if k % 2 == 0 else -1.0)
    converged, evaluations = minimize_lbfgs(
        beta, rows, group, y, size, size_factors, offset, shrink, prior_scale, scale
    )
    hess = np.empty((p, p))
    chol = np.empty((p, p))
    _hessian(beta, design, y, size, offset, shrink, prior_scale, hess)
    if cholesky(hess, chol):
        cholesky_inverse(chol, inverse)
    else:
        for a in range(p):
            for b in range(p):
                inverse[a, b] = np.nan
    return converged, evaluations


@numba.njit(cache=True, nogil=True)
def _objective(
    beta, grad, rows, group, y, size, size_factors, offset, shrink, prior_scale, scale, work
):  # pragma: no cover
    """Return the scaled value and gradient of the posterior, in one pass.

    Scaled value and gradient, as pydeseq2 hands them to L-BFGS-B, in one pass: the linear predictor
    and its exponential per distinct design row, then one logarithm and one division per sample
    (``exp(eta + offset) = exp(eta) s``).
    """
    n_rows, p = rows.shape
    eta_row = work[0]
    exp_row = work[1]
    resid_row = work[2]
    for g in range(n_rows):
        e = 0.0
        for k in range(p):
            e += rows[g, k] * beta[k]
        eta_row[g] = e
        exp_row[g] = math.exp(e)
        resid_row[g] = 0.0
    log_size = math.log(size)
    ll = 0.0
    for i in range(y.shape[0]):
        g = group[i]
        eta = eta_row[g]
        m = exp_row[g] * size_factors[i]  # exp(eta + offset)
        if m <= 1e300:
            log_sum = math.log(m + size)  # logaddexp(eta + offset, log size)
            frac = (y[i] + size) * m / (m + size)  # (y + size) / (1 + size exp(-eta - offset))
        else:  # a line-search trial far out: the overflow-safe forms
            u = eta + offset[i] - log_size
            q = math.exp(-abs(u))
            if u >= 0.0:
                log_sum = eta + offset[i] + math.log1p(q)
                frac = (y[i] + size) / (1.0 + q)
            else:
                log_sum = log_size + math.log1p(q)
                frac = (y[i] + size) * q / (1.0 + q)
        ll += y[i] * eta - (y[i] + size) * log_sum
        resid_row[g] += y[i] - frac
    prior = 0.0
    s2 = prior_scale * prior_scale
    for k in range(p):
        total = 0.0
        for g in range(n_rows):
            total += resid_row[g] * rows[g, k]
        if k == shrink:
            grad[k] = (2.0 * beta[k] / (s2 + beta[k] * beta[k]) - total) / scale
        else:
            prior += beta[k] * beta[k] / (2.0 * NO_SHRINK_SCALE * NO_SHRINK_SCALE)
            grad[k] = (beta[k] / (NO_SHRINK_SCALE * NO_SHRINK_SCALE) - total) / scale
    prior += math.log1p((beta[shrink] / prior_scale) ** 2)
    return (prior - ll) / scale


@numba.njit(cache=True, nogil=True)
def minimize_lbfgs(
    x, rows, group, y, size, size_factors, offset, shrink, prior_scale, scale
):  # pragma: no cover
    """Minimise by unconstrained L-BFGS-B as scipy runs it for pydeseq2.

    Unconstrained L-BFGS-B as scipy runs it for pydeseq2 (memory 10, first step ``1 / ||g||``,
    Moré-Thuente line search with ``ftol 1e-3, gtol 0.9, xtol 0.1`` and at most 20 trials, restart
    of the memory when a search fails, stop when ``max |g| <= 1e-8`` or the relative decrease of
    ``f`` is at most 1e-8; both scaled). ``x`` is the start and receives the result. Returns whether
    it converged (scipy's ``success``) and the number of evaluations.
    """
    p = x.shape[0]
    m = LBFGS_MEMORY
    s_mem = np.zeros((m, p))
    y_mem = np.zeros((m, p))
    rho = np.zeros(m)
    alpha_tmp = np.zeros(m)
    g = np.empty(p)
    g_old = np.empty(p)
    x_old = np.empty(p)
    d = np.empty(p)
    state = np.zeros(STATE_SIZE)
    work = np.empty((3, rows.shape[0]))
    f = _objective(
        x, g, rows, group, y, size, size_factors, offset, shrink, prior_scale, scale, work
    )
    evaluations = 1
    if _inf_norm(g) <= LBFGS_GTOL:
        return True, evaluations
    col = 0
    head = 0
    theta = 1.0
    iteration = 0
    while iteration < LBFGS_MAXITER:
        # search direction: -H g (two-loop recursion, H0 = I / theta); -g without memory
        for k in range(p):
            d[k] = -g[k]
        if col > 0:
            for c in range(col):
                idx = (head + col - 1 - c) % m
                a = 0.0
                for k in range(p):
                    a += s_mem[idx, k] * d[k]
                a *= rho[idx]
                alpha_tmp[idx] = a
                for k in range(p):
                    d[k] -= a * y_mem[idx, k]
            for k in range(p):
                d[k] /= theta
            for c in range(col):
                idx = (head + c) % m
                b = 0.0
                for k in range(p):
                    b += y_mem[idx, k] * d[k]
                b *= rho[idx]
                for k in range(p):
                    d[k] += s_mem[idx, k] * (alpha_tmp[idx] - b)
        dnorm = 0.0
        gd = 0.0
        for k in range(p):
            dnorm += d[k] * d[k]
            gd += g[k] * d[k]
        dnorm = math.sqrt(dnorm)
        stp = min(1.0 / dnorm, LBFGS_STPMAX) if iteration == 0 else 1.0
        f_old = f
        for k in range(p):
            x_old[k] = x[k]
            g_old[k] = g[k]
        failed = gd >= 0.0  # not a descent direction
        gd_old = gd
        if not failed:
            search_start(state, f, gd, stp, 1e-3, 0.9, 0.1, 0.0, LBFGS_STPMAX)
            trials = 0
            while True:
                for k in range(p):
                    x[k] = stp * d[k] + x_old[k]
                f = _objective(
                    x,
                    g,
                    rows,
                    group,
                    y,
                    size,
                    size_factors,
                    offset,
                    shrink,
                    prior_scale,
                    scale,
                    work,
                )
                evaluations += 1
                trials += 1
                gd = 0.0
                for k in range(p):
                    gd += g[k] * d[k]
                code, stp_next = search_step(state, f, gd, stp)
                if code != EVALUATE:
                    break
                if trials >= LBFGS_MAX_LINESEARCH:
                    failed = True
                    break
                stp = stp_next
        if failed:
            for k in range(p):
                x[k] = x_old[k]
                g[k] = g_old[k]
            f = f_old
            if col == 0:
                return False, evaluations  # abnormal termination in the line search
            col = 0
            head = 0
            theta = 1.0
            continue
        iteration += 1
        if _inf_norm(g) <= LBFGS_GTOL:
            return True, evaluations
        if f_old - f <= LBFGS_FTOL * max(abs(f_old), abs(f), 1.0):
            return True, evaluations
        rr = 0.0
        for k in range(p):
            diff = g[k] - g_old[k]
            rr += diff * diff
        if stp == 1.0:
            dr = gd - gd_old
            ddum = -gd_old
        else:
            dr = (gd - gd_old) * stp
            ddum = -gd_old * stp
        if dr <= EPSILON * ddum:
            continue  # skip the update
        slot = (head + col) % m if col < m else head
        if col == m:
            head = (head + 1) % m
        else:
            col += 1
        sy = 0.0
        for k in range(p):
            s_mem[slot, k] = stp * d[k]
            y_mem[slot, k] = g[k] - g_old[k]
            sy += s_mem[slot, k] * y_mem[slot, k]
        rho[slot] = 1.0 / sy
        theta = rr / dr
    return False, evaluations


@numba.njit(cache=True, nogil=True)
def _inf_norm(v):  # pragma: no cover - compiled
    out = 0.0
    for k in range(v.shape[0]):
        out = max(out, abs(v[k]))
    return out


@numba.njit(cache=True, nogil=True)
def shrink_chunk(
    lo,
    hi,
    design,
    rows,
    group,
    counts,
    size,
    size_factors,
    shrink,
    prior_scale,
    beta,
    se,
    converged,
    evaluations,
):  # pragma: no cover
    """Run :func:`shrink_gene` for genes ``lo:hi``.

    :func:`shrink_gene` for genes (rows) ``lo:hi`` of ``counts`` (``size = 1 / dispersion``);
    ``rows`` / ``group``: the design's distinct rows and each sample's.
    """
    p = design.shape[1]
    offset = np.log(size_factors)
    for j in range(lo, hi):
        inverse = np.empty((p, p))
        converged[j], evaluations[j] = shrink_gene(
            design,
            rows,
            group,
            counts[j],
            size[j],
            size_factors,
            offset,
            shrink,
            prior_scale,
            beta[j],
            inverse,
        )
        se[j] = math.sqrt(abs(inverse[shrink, shrink]))


@dataclass(frozen=True)
class ShrinkResult:
    """Shrunken log fold changes of one coefficient.

    Attributes
    ----------
    lfc
        Posterior modes (natural log) of the shrunken coefficient.
    se
        Their standard errors (natural log).
    converged
        The optimiser converged (else, with two coefficients, a grid value).
    evaluations
        Evaluations of the objective per gene (0 without counts).
    prior_variance
        The fitted prior variance; the Cauchy scale is ``min(sqrt(v), 1)``.
    """

    lfc: np.ndarray
    se: np.ndarray
    converged: np.ndarray
    evaluations: np.ndarray
    prior_variance: float

    @property
    def prior_scale(self) -> float:
        """Scale of the Cauchy prior."""
        return min(math.sqrt(self.prior_variance), 1.0)


def grid_shrink(design, y, size, offset, shrink, prior_scale, grid_length: int = 60) -> np.ndarray:
    """Maximise over a coarse then a fine 60 x 60 grid (two coefficients).

    pydeseq2's ``grid_fit_shrink_beta`` for two coefficients: best of a 60 x 60 grid over ``[-30,
    30]^2``, then of a 60 x 60 grid within one step of it.
    """
    axis = np.linspace(-30.0, 30.0, grid_length)
    delta = axis[1] - axis[0]
    axes = [axis, axis]
    best = np.zeros(2)
    for _ in range(2):
        values = np.array(
            [
                [
                    _value(np.array([a, b]), design, y, size, offset, shrink, prior_scale)
                    for b in axes[1]
                ]
                for a in axes[0]
            ]
        )
        i, j = np.unravel_index(int(np.argmin(values)), values.shape)
        best = np.array([axes[0][i], axes[1][j]])
        axes = [np.linspace(v - delta, v + delta, grid_length) for v in best]
    return best
