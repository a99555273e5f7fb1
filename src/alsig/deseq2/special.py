"""Digamma and trigamma differences for compiled kernels, accurate where DESeq2's dispersion
likelihood needs them.

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

#: below this argument the series is not used directly (the recurrences shift above it)
ASYMPTOTIC_FROM = 10.0
#: integer counts up to this size use the exact finite sum ``sum_k 1 / (r + k)`` when r is small
FINITE_SUM_UP_TO = 24.0

# Bernoulli coefficients B_2k / (2k) of the digamma series, k = 1..7
_D1 = 1.0 / 12.0
_D2 = -1.0 / 120.0
_D3 = 1.0 / 252.0
_D4 = -1.0 / 240.0
_D5 = 1.0 / 132.0
_D6 = -691.0 / 32760.0
_D7 = 1.0 / 12.0
# coefficients B_2k of the trigamma series (psi'(x) ~ 1/x + 1/(2x^2) + sum B_2k / x^(2k+1))
_T1 = 1.0 / 6.0
_T2 = -1.0 / 30.0
_T3 = 1.0 / 42.0
_T4 = -1.0 / 30.0
_T5 = 5.0 / 66.0
_T6 = -691.0 / 2730.0
_T7 = 7.0 / 6.0


@numba.njit(cache=True, nogil=True)
def digamma(x):  # pragma: no cover - compiled
    """psi(x) for x > 0 (recurrence up to 10, then the asymptotic series; ~1e-15 relative)."""
    shift = 0.0
    while x < ASYMPTOTIC_FROM:
        shift -= 1.0 / x
        x += 1.0
    u = 1.0 / (x * x)
    series = u * (_D1 + u * (_D2 + u * (_D3 + u * (_D4 + u * (_D5 + u * (_D6 + u * _D7))))))
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
    series = u * v * (_T1 + u * (_T2 + u * (_T3 + u * (_T4 + u * (_T5 + u * (_T6 + u * _T7))))))
    return shift + v + 0.5 * u + series


@numba.njit(cache=True, nogil=True)
def _power_sums(u1, u2):  # pragma: no cover - compiled
    """``sum_k c_k S_k`` with ``S_k = (u2^k - u1^k) / (u2 - u1)`` for the digamma and trigamma
    series coefficients: the factored differences of the series' powers."""
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
    dig = _D1 * s1 + _D2 * s2 + _D3 * s3 + _D4 * s4 + _D5 * s5 + _D6 * s6 + _D7 * s7
    tri = _T1 * s1 + _T2 * s2 + _T3 * s3 + _T4 * s4 + _T5 * s5 + _T6 * s6 + _T7 * s7
    return dig, tri


@numba.njit(cache=True, nogil=True)
def polygamma_diffs(y, r):  # pragma: no cover - compiled
    """``(psi(y + r) - psi(r), psi'(y + r) - psi'(r))`` for ``y >= 0``, ``r > 0``, each with
    relative accuracy for any r (one pass over the shared series)."""
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
        tail = u2 * (
            _T1 + u2 * (_T2 + u2 * (_T3 + u2 * (_T4 + u2 * (_T5 + u2 * (_T6 + u2 * _T7)))))
        )
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
