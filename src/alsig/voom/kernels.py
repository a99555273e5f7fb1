"""Compiled per-gene linear algebra of a linear model with one random intercept per block.

Model of one gene (samples ``i``, blocks ``k`` = subjects): ``y = X b + e`` with
``Var(y) = s * H(lam)`` and ``H`` block diagonal, ``H_k = D_k + lam * d_k d_k'`` where
``D_k = diag(1 / w_i)`` holds the precision weights. Two choices of ``d`` cover both models:

* ``form = MIXED`` (``d = 1``): ``Var(y) = s W^-1 + s lam Z Z'``, a random intercept of variance
  ``s lam`` plus residuals of variance ``s / w_i`` (lme4 with ``weights``; dream).
* ``form = GLS`` (``d = w^-1/2``): ``Var(y) = s' W^-1/2 C W^-1/2`` with ``C`` the intra-block
  correlation matrix of correlation ``rho = lam / (1 + lam)`` (limma's ``lmFit`` with ``block`` and
  ``correlation``; Smyth, Michaud & Scott 2005).

Because each block adds a rank-one term, ``H_k^-1 = W_k - c_k v_k v_k'`` with ``v = W d``,
``m_k = d' W d`` and ``c_k = lam / (1 + lam m_k)`` (Sherman-Morrison), and ``|H_k| = |D_k| (1 + lam
m_k)``. Every quantity of the REML criterion then reduces to sums over blocks of ``a_k = X_k' v_k``
(p), ``b_k = v_k' y_k`` and ``m_k``, so one variance ratio costs ``O(K p^2)`` per gene and the
search over it is one-dimensional (as in FaST-LMM/GEMMA, which diagonalise a shared kernel; here
the weights differ per gene, so the block structure does the work instead). The profiled REML
deviance (constants dropped) is

    dev(lam) = (n - p) log R(lam) + sum_k log(1 + lam m_k) + log |X' H^-1 X|,

with ``R = y' P y`` the generalised residual sum of squares (``P`` the REML projector); ``s`` is
then ``R / (n - p)``. Derivatives for the Satterthwaite degrees of freedom use ``J = dH/dlam``
(block ``d d'``) and ``M = Z' P Z`` in the reduced form, so nothing ``n x n`` is ever built.
"""

from __future__ import annotations

import numba
import numpy as np

from alsig.linalg import cholesky, cholesky_inverse, cholesky_solve

MIXED = 0
GLS = 1

#: Brent's golden ratio constant and iteration limit for the one-dimensional search
_CGOLD = 0.3819660112501051
_MAX_BRENT = 60


@numba.njit(cache=True, nogil=True)
def _aggregates(y, w, X, block, n_blocks, form, A, bvec, mvec):  # pragma: no cover - compiled
    """Fill ``A`` (K x p), ``bvec`` and ``mvec`` (K); return X'WX, X'Wy, y'Wy."""
    n, p = X.shape
    XWX = np.zeros((p, p))
    XWy = np.zeros(p)
    yWy = 0.0
    A[:, :] = 0.0
    bvec[:] = 0.0
    mvec[:] = 0.0
    for i in range(n):
        wi = w[i]
        vi = np.sqrt(wi) if form == GLS else wi
        k = block[i]
        yi = y[i]
        for a in range(p):
            xw = X[i, a] * wi
            XWy[a] += xw * yi
            for b in range(a, p):
                XWX[a, b] += xw * X[i, b]
            A[k, a] += X[i, a] * vi
        yWy += wi * yi * yi
        bvec[k] += vi * yi
        mvec[k] += vi * vi / wi
    for a in range(p):
        for b in range(a):
            XWX[a, b] = XWX[b, a]
    return XWX, XWy, yWy


@numba.njit(cache=True, nogil=True)
def _profile(lam, agg, work, prior):  # pragma: no cover - compiled
    """Profiled REML deviance at ``lam``.

    ``agg = (X'WX, X'Wy, y'Wy, A, b, m, n)`` are the gene's aggregates; ``work = (XQX, XQy, L,
    beta)`` is filled with X'H^-1X, X'H^-1y, the Cholesky factor of X'H^-1X and the estimates.

    ``prior = (d0, d0 * s0^2)`` adds the empirical Bayes prior of the residual variance (a scaled
    inverse chi-square): the deviance becomes ``(n - p + d0) log(R + d0 s0^2) + ...``; ``(0, 0)``
    is plain REML. Returns (deviance, R); deviance is +inf where H or X'H^-1X is not positive
    definite.
    """
    XWX, XWy, yWy, A, bvec, mvec, n = agg
    XQX, XQy, L, beta = work
    K, p = A.shape
    XQX[:, :] = XWX
    XQy[:] = XWy
    yQy = yWy
    logdet_h = 0.0
    for k in range(K):
        one = 1.0 + lam * mvec[k]
        if one <= 0.0:
            return np.inf, np.nan
        if lam == 0.0:
            continue
        c = lam / one
        logdet_h += np.log(one)
        bk = bvec[k]
        yQy -= c * bk * bk
        for a in range(p):
            cak = c * A[k, a]
            XQy[a] -= cak * bk
            for b in range(a, p):
                XQX[a, b] -= cak * A[k, b]
    for a in range(p):
        for b in range(a):
            XQX[a, b] = XQX[b, a]
    if not cholesky(XQX, L):
        return np.inf, np.nan
    cholesky_solve(L, XQy, beta)
    rss = yQy
    for a in range(p):
        rss -= beta[a] * XQy[a]
    if rss <= 0.0:
        rss = 1e-300
    logdet_x = 0.0
    for a in range(p):
        logdet_x += 2.0 * np.log(L[a, a])
    return (n - p + prior[0]) * np.log(rss + prior[1]) + logdet_h + logdet_x, rss


@numba.njit(cache=True, nogil=True)
def _derivatives(lam, A, bvec, mvec, beta, G, S2):  # pragma: no cover - compiled
    """Differentiate the REML pieces in lam at the fit (G = (X'H^-1X)^-1 given).

    Fills ``S2 = sum_k a_k a_k' / (1 + lam m_k)^2`` (= -d(X'H^-1X)/dlam) and returns
    ``(f1, f2, r1, r2)``: first and second derivatives of ``log|H| + log|X'H^-1X|`` and of ``R``.
    """
    K, p = A.shape
    S2[:, :] = 0.0
    S3 = np.zeros((p, p))
    Bu = np.zeros(p)
    sum_delta = 0.0
    sum_delta2 = 0.0
    sum_delta_u2 = 0.0
    sum_u2 = 0.0
    for k in range(K):
        e = 1.0 / (1.0 + lam * mvec[k])
        delta = mvec[k] * e
        resid = bvec[k]
        for a in range(p):
            resid -= A[k, a] * beta[a]
        u = e * resid
        sum_delta += delta
        sum_delta2 += delta * delta
        sum_delta_u2 += delta * u * u
        sum_u2 += u * u
        e2 = e * e
        for a in range(p):
            Bu[a] += e * u * A[k, a]
            for b in range(a, p):
                prod = A[k, a] * A[k, b] * e2
                S2[a, b] += prod
                S3[a, b] += delta * prod
    for a in range(p):
        for b in range(a):
            S2[a, b] = S2[b, a]
            S3[a, b] = S3[b, a]
    GS2 = G @ S2
    tr_gs2 = 0.0
    tr_gs3 = 0.0
    tr_gs2gs2 = 0.0
    for a in range(p):
        tr_gs2 += GS2[a, a]
        for b in range(p):
            tr_gs3 += G[a, b] * S3[b, a]
            tr_gs2gs2 += GS2[a, b] * GS2[b, a]
    quad = 0.0
    for a in range(p):
        for b in range(p):
            quad += Bu[a] * G[a, b] * Bu[b]
    f1 = sum_delta - tr_gs2
    f2 = -(sum_delta2 - 2.0 * tr_gs3 + tr_gs2gs2)
    r1 = -sum_u2
    r2 = 2.0 * (sum_delta_u2 - quad)
    return f1, f2, r1, r2


@numba.njit(cache=True, nogil=True)
def _to_lam(t, form):  # pragma: no cover - compiled
    """Search coordinate -> variance ratio: log(lam) for MIXED, rho for GLS."""
    if form == MIXED:
        return np.exp(t)
    return t / (1.0 - t)


@numba.njit(cache=True, nogil=True)
def _brent(lo, mid, hi, f_mid, form, agg, work, prior, tol):  # pragma: no cover - compiled
    """Minimise the deviance in [lo, hi] (search coordinate) by Brent's method.

    Golden section and parabolic steps, started at ``mid``; returns (t, deviance).
    """
    a, b = lo, hi
    x = w_ = v = mid
    fx = fw = fv = f_mid
    d = 0.0
    e = 0.0
    for _ in range(_MAX_BRENT):
        xm = 0.5 * (a + b)
        tol1 = tol * abs(x) + 1e-10
        tol2 = 2.0 * tol1
        if abs(x - xm) <= tol2 - 0.5 * (b - a):
            break
        use_golden = True
        if abs(e) > tol1:
            r = (x - w_) * (fx - fv)
            q = (x - v) * (fx - fw)
            pp = (x - v) * q - (x - w_) * r
            q = 2.0 * (q - r)
            if q > 0.0:
                pp = -pp
            q = abs(q)
            etemp = e
            e = d
            if abs(pp) < abs(0.5 * q * etemp) and pp > q * (a - x) and pp < q * (b - x):
                d = pp / q
                u = x + d
                if (u - a) < tol2 or (b - u) < tol2:
                    d = tol1 if xm - x >= 0 else -tol1
                use_golden = False
        if use_golden:
            e = (a - x) if x >= xm else (b - x)
            d = _CGOLD * e
        u = x + d if abs(d) >= tol1 else x + (tol1 if d >= 0 else -tol1)
        fu, _ = _profile(_to_lam(u, form), agg, work, prior)
        if fu <= fx:
            if u >= x:
                a = x
            else:
                b = x
            v, w_, x = w_, x, u
            fv, fw, fx = fw, fx, fu
        else:
            if u < x:
                a = u
            else:
                b = u
            if fu <= fw or w_ == x:
                v, w_ = w_, u
                fv, fw = fw, fu
            elif fu <= fv or v == x or v == w_:  # noqa: SIM109 (compiled: no tuple membership)
                v = u
                fv = fu
    return x, fx


@numba.njit(cache=True, nogil=True)
def _fit_one(y, w, X, block, n_blocks, form, grid, lam_fixed, prior, tol, out):  # pragma: no cover
    """Fit one gene (``lam_fixed`` NaN: estimate the ratio).

    Fills ``out = (lam, beta, G, S2, scalars)`` with G = (X'H^-1X)^-1 and scalars
    (R, f1, f2, r1, r2, boundary).
    """
    out_lam, out_beta, out_G, out_S2, out_scalars = out
    n, p = X.shape
    A = np.empty((n_blocks, p))
    bvec = np.empty(n_blocks)
    mvec = np.empty(n_blocks)
    XWX, XWy, yWy = _aggregates(y, w, X, block, n_blocks, form, A, bvec, mvec)
    agg = (XWX, XWy, yWy, A, bvec, mvec, n)
    L = np.zeros((p, p))
    beta = np.empty(p)
    work = (np.empty((p, p)), np.empty(p), L, beta)
    boundary = 0.0
    if np.isfinite(lam_fixed):
        lam = lam_fixed
    else:
        # the coarse grid (search coordinate) brackets the optimum; Brent refines it. For the
        # mixed model the grid is relative to the gene's mean weight, so it spans the same range
        # of intra-subject correlation whatever the expression level.
        shift = 0.0
        if form == MIXED:
            shift = -np.log(np.mean(w))
        n_grid = grid.shape[0]
        step = grid[1] - grid[0]
        devs = np.empty(n_grid)
        best = 0
        for j in range(n_grid):
            devs[j], _ = _profile(_to_lam(grid[j] + shift, form), agg, work, prior)
            if devs[j] < devs[best]:
                best = j
        mid = grid[best] + shift
        f_mid = devs[best]
        lo = (grid[best - 1] + shift) if best > 0 else mid - step
        hi = (grid[best + 1] + shift) if best < n_grid - 1 else mid + step
        if form == MIXED and best == n_grid - 1:
            # donor variance far above the residual one: walk up until the deviance rises
            for _ in range(12):
                f_hi, _ = _profile(_to_lam(hi, form), agg, work, prior)
                if f_hi > f_mid:
                    break
                lo, mid, f_mid, hi = mid, hi, f_hi, hi + step
        if form == GLS:
            hi = min(hi, 1.0 - 1e-8)
            # rho must keep every block's 1 + lam m_k positive: the caller's grid starts inside
            lo = max(lo, grid[0])
        t, dev = _brent(lo, mid, hi, f_mid, form, agg, work, prior, tol)
        lam = _to_lam(t, form)
        if form == MIXED:
            # the variance component may sit on its boundary (lam = 0), as lme4's singular fits
            dev0, _ = _profile(0.0, agg, work, prior)
            if dev0 <= dev + 1e-10 or not np.isfinite(dev):
                lam = 0.0
                boundary = 1.0
    dev, rss = _profile(lam, agg, work, prior)
    G = np.empty((p, p))
    S2 = np.empty((p, p))
    if not np.isfinite(dev):
        out_lam[0] = np.nan
        out_beta[:] = np.nan
        out_G[:, :] = np.nan
        out_S2[:, :] = np.nan
        out_scalars[:] = np.nan
        return
    cholesky_inverse(L, G)
    f1, f2, r1, r2 = _derivatives(lam, A, bvec, mvec, beta, G, S2)
    out_lam[0] = lam
    out_beta[:] = beta
    out_G[:, :] = G
    out_S2[:, :] = S2
    out_scalars[0] = rss
    out_scalars[1] = f1
    out_scalars[2] = f2
    out_scalars[3] = r1
    out_scalars[4] = r2
    out_scalars[5] = boundary


@numba.njit(cache=True, parallel=True)
def fit_genes(Y, W, X, block, n_blocks, form, grid, lam_fixed, prior, tol):  # pragma: no cover
    """Fit every gene (rows of Y, W) in parallel.

    Parameters
    ----------
    Y, W
        Responses and precision weights, genes x samples (C order).
    X
        Design, samples x coefficients.
    block
        Block (subject) code of each sample, ``0 .. n_blocks - 1``.
    n_blocks
        Number of blocks.
    form
        :data:`MIXED` or :data:`GLS`.
    grid
        Search grid in the search coordinate (``log lam`` for MIXED, ``rho`` for GLS).
    lam_fixed
        Ratio per gene; NaN estimates it by REML.
    prior
        ``(d0, d0 * s0^2)`` of the residual variance's prior (``(0, 0)``: plain REML).
    tol
        Relative tolerance of Brent's search.

    Returns
    -------
    tuple
        ``lam`` (G), ``beta`` (G, p), ``G`` (G, p, p), ``S2`` (G, p, p), ``scalars`` (G, 6):
        ``R, f1, f2, r1, r2, boundary``.
    """
    n_genes = Y.shape[0]
    p = X.shape[1]
    lam = np.empty(n_genes)
    beta = np.empty((n_genes, p))
    G = np.empty((n_genes, p, p))
    S2 = np.empty((n_genes, p, p))
    scalars = np.empty((n_genes, 6))
    for g in numba.prange(n_genes):
        out = (lam[g : g + 1], beta[g], G[g], S2[g], scalars[g])
        _fit_one(Y[g], W[g], X, block, n_blocks, form, grid, lam_fixed[g], prior, tol, out)
    return lam, beta, G, S2, scalars


@numba.njit(cache=True, nogil=True, parallel=True)
def trend_values(fitted, log_lib, shift, xs, ys, slopes, floor, out):  # pragma: no cover
    """Write voom's trend ``max(trend(x), floor)`` at the observations of some genes into ``out``.

    ``x = (fitted + log_lib) - shift`` is the fitted log2 count of each observation and ``trend``
    the linear interpolation of the lowess curve ``(xs, ys)``, computed exactly as
    ``numpy.interp`` computes it (its binary search, its slopes, its end values and its NaN
    rules), so ``out`` equals ``numpy.maximum(numpy.interp(x, xs, ys), floor)`` bit for bit;
    genes run in parallel.

    Parameters
    ----------
    fitted
        Fitted log-CPM, genes x samples.
    log_lib
        ``log2(library size + 1)`` per sample.
    shift
        ``log2(1e6)``.
    xs, ys
        The trend's points, ``xs`` strictly increasing.
    slopes
        ``(ys[1:] - ys[:-1]) / (xs[1:] - xs[:-1])``.
    floor
        Smallest trend value used.
    out
        Genes x samples (written).
    """
    m = xs.size
    for g in numba.prange(fitted.shape[0]):
        for i in range(fitted.shape[1]):
            x = (fitted[g, i] + log_lib[i]) - shift
            if np.isnan(x):
                v = x
            elif x < xs[0]:
                v = ys[0]
            elif x > xs[m - 1]:
                v = ys[m - 1]
            else:
                lo, hi = 0, m - 1  # largest j with xs[j] <= x
                while hi - lo > 1:
                    mid = (lo + hi) // 2
                    if xs[mid] <= x:
                        lo = mid
                    else:
                        hi = mid
                j = hi if xs[hi] <= x else lo
                if j == m - 1 or xs[j] == x:
                    v = ys[j]
                else:
                    v = slopes[j] * (x - xs[j]) + ys[j]
                    if np.isnan(v):
                        v = slopes[j] * (x - xs[j + 1]) + ys[j + 1]
                        if np.isnan(v) and ys[j] == ys[j + 1]:
                            v = ys[j]
            if v < floor:
                v = floor
            out[g, i] = v
