"""Digamma and trigamma differences for compiled kernels.

Accurate where DESeq2's dispersion likelihood
needs them.

The negative-binomial log-likelihood's derivatives in the size ``r = 1 / alpha`` contain
``psi(y + r) - psi(r)`` and ``psi'(y + r) - psi'(r)``. For near-Poisson genes (``alpha`` down to
DESeq2's ``1e-8``, ``r`` up to ``1e8``) both terms are huge and their difference tiny: evaluating
them separately leaves only rounding noise. :func:`digamma_diff` and :func:`trigamma_diff` take the
difference inside the asymptotic series (``psi(x) = ln x - 1/(2x) - sum B_2k / (2k x^2k)``), term
by term with factored differences, so the result keeps its relative accuracy for any ``r``; below
the asymptotic range they shift with the recurrences ``psi(x) = psi(x + 1) - 1/x``,
``psi'(x) = psi'(x + 1) + 1/x^2`` (Abramowitz & Stegun 6.3.5, 6.3.18, 6.4.6, 6.4.12).
"""

from __future__ import annotations

import math

import numba
import numpy as np

#: below this argument the series is not used directly (the recurrences shift above it)
ASYMPTOTIC_FROM = 10.0
#: integer counts up to this size use the exact finite sum ``sum_k 1 / (r + k)`` when r is small
FINITE_SUM_UP_TO = 24.0

#: Bernoulli coefficients B_2k / (2k) of the digamma series, k = 1..7
D1 = 1.0 / 12.0
D2 = -1.0 / 120.0
D3 = 1.0 / 252.0
D4 = -1.0 / 240.0
D5 = 1.0 / 132.0
D6 = -691.0 / 32760.0
D7 = 1.0 / 12.0
#: coefficients B_2k of the trigamma series (psi'(x) ~ 1/x + 1/(2x^2) + sum B_2k / x^(2k+1))
T1 = 1.0 / 6.0
T2 = -1.0 / 30.0
T3 = 1.0 / 42.0
T4 = -1.0 / 30.0
T5 = 5.0 / 66.0
T6 = -691.0 / 2730.0
T7 = 7.0 / 6.0


#: 0.5 log(2 pi)
HALF_LOG_2PI = 0.9189385332046727
# Stirling series coefficients B_2k / (2k (2k - 1)), k = 1..7
S1 = 1.0 / 12.0
S2 = -1.0 / 360.0
S3 = 1.0 / 1260.0
S4 = -1.0 / 1680.0
S5 = 1.0 / 1188.0
S6 = -691.0 / 360360.0
S7 = 1.0 / 156.0


#: log(k!) for the counts below 4096, and log(k) below 65536: table look-ups instead of
#: logarithms in the per-sample loops
LOG_FACTORIAL = np.array([math.lgamma(k + 1.0) for k in range(4096)])
LOG_INTEGER = np.log(np.maximum(np.arange(65536, dtype=np.float64), 1.0))


@numba.njit(cache=True, nogil=True)
def log_factorial(y):  # pragma: no cover - compiled
    """log(y!) for a count y >= 0."""
    if y < 4096.0 and y == math.floor(y):
        return LOG_FACTORIAL[int(y)]
    return lgamma(y + 1.0)


@numba.njit(cache=True, nogil=True)
def log_count(c):  # pragma: no cover - compiled
    """log(c) for a positive integer count."""
    if c < 65536:
        return LOG_INTEGER[int(c)]
    return math.log(c)


@numba.njit(cache=True, nogil=True)
def lgamma(x):  # pragma: no cover - compiled
    """Compute log Gamma(x) for x > 0.

    log Gamma(x) for x > 0: Stirling's series from 10 up (one logarithm; ~1e-16 relative), the C
    library below.
    """
    if x < ASYMPTOTIC_FROM:
        return math.lgamma(x)
    v = 1.0 / x
    u = v * v
    series = v * (S1 + u * (S2 + u * (S3 + u * (S4 + u * (S5 + u * (S6 + u * S7))))))
    return (x - 0.5) * math.log(x) - x + HALF_LOG_2PI + series


@numba.njit(cache=True, nogil=True)
def digamma(x):  # pragma: no cover - compiled
    """psi(x) for x > 0 (recurrence up to 10, then the asymptotic series; ~1e-15 relative)."""
    shift = 0.0
    while x < ASYMPTOTIC_FROM:
        shift -= 1.0 / x
        x += 1.0
    u = 1.0 / (x * x)
    series = u * (D1 + u * (D2 + u * (D3 + u * (D4 + u * (D5 + u * (D6 + u * D7))))))
    return shift + math.log(x) - 0.5 / x - series


@numba.njit(cache=True, nogil=True)
def trigamma(x):  # pragma: no cover - compiled
    """psi'(x) for x > 0 (recurrence up to 10, then the asymptotic series)."""
    shift = 0.0
    while x < ASYMPTOTIC_FROM:
        shift += 1.0 / (x * x)
        x += 1.0
    v = 1.0 / x
    u = v * v
    series = u * v * (T1 + u * (T2 + u * (T3 + u * (T4 + u * (T5 + u * (T6 + u * T7))))))
    return shift + v + 0.5 * u + series


@numba.njit(cache=True, nogil=True)
def _power_sums(u1, u2):  # pragma: no cover - compiled
    """Sum the factored differences of the series' powers.

    ``sum_k c_k S_k`` with ``S_k = (u2^k - u1^k) / (u2 - u1)`` for the digamma and trigamma series
    coefficients: the factored differences of the series' powers.
    """
    # S_1 = 1, S_{k+1} = u2 S_k + u1^k
    s1 = 1.0
    p1 = u1
    s2 = u2 * s1 + p1
    p1 *= u1
    s3 = u2 * s2 + p1
    p1 *= u1
    s4 = u2 * s3 + p1
    p1 *= u1
    s5 = u2 * s4 + p1
    p1 *= u1
    s6 = u2 * s5 + p1
    p1 *= u1
    s7 = u2 * s6 + p1
    dig = D1 * s1 + D2 * s2 + D3 * s3 + D4 * s4 + D5 * s5 + D6 * s6 + D7 * s7
    tri = T1 * s1 + T2 * s2 + T3 * s3 + T4 * s4 + T5 * s5 + T6 * s6 + T7 * s7
    return dig, tri


@numba.njit(cache=True, nogil=True)
def large_r_powers(r):  # pragma: no cover - compiled
    """Return the per-gene constants of :func:`polygamma_diffs_large_r`.

    The per-gene constants of :func:`polygamma_diffs_large_r`: ``1/r`` and ``(1/r^2)^k``, k = 1..6.
    """
    v1 = 1.0 / r
    u1 = v1 * v1
    return v1, u1, u1 * u1, u1 * u1 * u1, u1**4, u1**5, u1**6


@numba.njit(cache=True, nogil=True)
def polygamma_diffs_large_r(y, r, v1, q1, q2, q3, q4, q5, q6):  # pragma: no cover - compiled
    """Compute :func:`polygamma_diffs` for ``r >= 10`` from precomputed powers.

    :func:`polygamma_diffs` for ``r >= 10`` with the powers of ``u1 = 1/r^2`` precomputed
    (:func:`large_r_powers`): one division per call.
    """
    if y == 0.0:
        return 0.0, 0.0
    x = y + r
    v2 = 1.0 / x
    u2 = v2 * v2
    dv = -y * v1 * v2
    du = dv * (v1 + v2)
    s2 = u2 + q1
    s3 = u2 * s2 + q2
    s4 = u2 * s3 + q3
    s5 = u2 * s4 + q4
    s6 = u2 * s5 + q5
    s7 = u2 * s6 + q6
    dig = D1 + D2 * s2 + D3 * s3 + D4 * s4 + D5 * s5 + D6 * s6 + D7 * s7
    tri = T1 + T2 * s2 + T3 * s3 + T4 * s4 + T5 * s5 + T6 * s6 + T7 * s7
    d = math.log1p(y * v1) - 0.5 * dv - du * dig
    tail = u2 * (T1 + u2 * (T2 + u2 * (T3 + u2 * (T4 + u2 * (T5 + u2 * (T6 + u2 * T7))))))
    t = dv + 0.5 * du + dv * tail + v1 * du * tri
    return d, t


@numba.njit(cache=True, nogil=True)
def polygamma_diffs(y, r):  # pragma: no cover - compiled
    """Return the digamma and trigamma differences at ``y + r`` and ``r``.

    ``(psi(y + r) - psi(r), psi'(y + r) - psi'(r))`` for ``y >= 0``, ``r > 0``, each with relative
    accuracy for any r (one pass over the shared series).
    """
    if y == 0.0:
        return 0.0, 0.0
    if r >= ASYMPTOTIC_FROM:
        x = y + r
        v1 = 1.0 / r
        v2 = 1.0 / x
        u1 = v1 * v1
        u2 = v2 * v2
        dv = -y * v1 * v2  # v2 - v1, without cancellation
        du = dv * (v1 + v2)  # u2 - u1
        dig, tri = _power_sums(u1, u2)
        d = math.log1p(y * v1) - 0.5 * dv - du * dig
        # sum_k T_k (v2 u2^k - v1 u1^k) = dv sum_k T_k u2^k + v1 sum_k T_k (u2^k - u1^k)
        tail = u2 * (T1 + u2 * (T2 + u2 * (T3 + u2 * (T4 + u2 * (T5 + u2 * (T6 + u2 * T7))))))
        t = dv + 0.5 * du + dv * tail + v1 * du * tri
        return d, t
    if y <= FINITE_SUM_UP_TO and y == math.floor(y):
        d = 0.0
        t = 0.0
        for k in range(int(y)):
            inv = 1.0 / (r + k)
            d += inv
            t -= inv * inv
        return d, t
    x = y + r
    return digamma(x) - digamma(r), trigamma(x) - trigamma(r)


@numba.njit(cache=True, nogil=True)
def digamma_diff(y, r):  # pragma: no cover - compiled
    """``psi(y + r) - psi(r)`` (see :func:`polygamma_diffs`)."""
    return polygamma_diffs(y, r)[0]


@numba.njit(cache=True, nogil=True)
def trigamma_diff(y, r):  # pragma: no cover - compiled
    """``psi'(y + r) - psi'(r)`` (see :func:`polygamma_diffs`)."""
    return polygamma_diffs(y, r)[1]
