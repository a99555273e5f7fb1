"""Moré-Thuente line search (Moré & Thuente 1994), as MINPACK-2 defines it.

Moré-Thuente line search (Moré & Thuente 1994, ACM TOMS 20: 286-307), as MINPACK-2's ``dcsrch`` /
``dcstep`` define it, for the compiled L-BFGS of :mod:`alsig.deseq2.lbfgs`.

The search finds a step satisfying the strong Wolfe conditions ``f(stp) <= f(0) + ftol stp g(0)``
and ``|g(stp)| <= gtol |g(0)|``; it is reverse-communication: :func:`search_start` sets up the
state for a first trial step, and each :func:`search_step` takes ``f``, ``g`` at the current step
and returns the next step to try or a stop code. The state is a small float array so the search
runs inside a compiled loop.
"""

from __future__ import annotations

import math

import numba

#: return codes of :func:`search_step`
EVALUATE = 0
CONVERGED = 1
WARNING = 2

XTRAPL = 1.1
XTRAPU = 4.0

# slots of the state array
_BRACKT, _STAGE, _GINIT, _GTEST, _GX, _GY, _FINIT, _FX, _FY, _STX, _STY, _STMIN, _STMAX = range(13)
_WIDTH, _WIDTH1, _FTOL, _GTOL, _XTOL, _STPMIN, _STPMAX = range(13, 20)
STATE_SIZE = 20


@numba.njit(cache=True, nogil=True)
def search_start(state, f, g, stp, ftol, gtol, xtol, stpmin, stpmax):  # pragma: no cover
    """Start a search at ``f = f(0)``, ``g = f'(0) < 0`` with first trial step ``stp``."""
    state[_BRACKT] = 0.0
    state[_STAGE] = 1.0
    state[_FINIT] = f
    state[_GINIT] = g
    state[_GTEST] = ftol * g
    state[_WIDTH] = stpmax - stpmin
    state[_WIDTH1] = state[_WIDTH] / 0.5
    state[_STX] = 0.0
    state[_FX] = f
    state[_GX] = g
    state[_STY] = 0.0
    state[_FY] = f
    state[_GY] = g
    state[_STMIN] = 0.0
    state[_STMAX] = stp + XTRAPU * stp
    state[_FTOL] = ftol
    state[_GTOL] = gtol
    state[_XTOL] = xtol
    state[_STPMIN] = stpmin
    state[_STPMAX] = stpmax


@numba.njit(cache=True, nogil=True)
def _cstep(stx, fx, dx, sty, fy, dy, stp, fp, dp, brackt, stpmin, stpmax):  # pragma: no cover
    """Take MINPACK-2's safeguarded ``dcstep``.

    MINPACK-2 ``dcstep``: a safeguarded step from cubic / quadratic interpolation and the update of
    the interval of uncertainty. Returns the updated values.
    """
    sgnd = dp * (dx / abs(dx))
    if fp > fx:
        theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp
        s = max(abs(theta), abs(dx), abs(dp))
        gamma = s * math.sqrt((theta / s) ** 2 - (dx / s) * (dp / s))
        if stp < stx:
            gamma = -gamma
        p = (gamma - dx) + theta
        q = ((gamma - dx) + gamma) + dp
        r = p / q
        stpc = stx + r * (stp - stx)
        stpq = stx + ((dx / ((fx - fp) / (stp - stx) + dx)) / 2.0) * (stp - stx)
        stpf = stpc if abs(stpc - stx) < abs(stpq - stx) else stpc + (stpq - stpc) / 2.0
        brackt = True
    elif sgnd < 0.0:
        theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp
        s = max(abs(theta), abs(dx), abs(dp))
        gamma = s * math.sqrt((theta / s) ** 2 - (dx / s) * (dp / s))
        if stp > stx:
            gamma = -gamma
        p = (gamma - dp) + theta
        q = ((gamma - dp) + gamma) + dx
        r = p / q
        stpc = stp + r * (stx - stp)
        stpq = stp + (dp / (dp - dx)) * (stx - stp)
        stpf = stpc if abs(stpc - stp) > abs(stpq - stp) else stpq
        brackt = True
    elif abs(dp) < abs(dx):
        theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp
        s = max(abs(theta), abs(dx), abs(dp))
        gamma = s * math.sqrt(max(0.0, (theta / s) ** 2 - (dx / s) * (dp / s)))
        if stp > stx:
            gamma = -gamma
        p = (gamma - dp) + theta
        q = (gamma + (dx - dp)) + gamma
        r = p / q
        if r < 0.0 and gamma != 0.0:
            stpc = stp + r * (stx - stp)
        elif stp > stx:
            stpc = stpmax
        else:
            stpc = stpmin
        stpq = stp + (dp / (dp - dx)) * (stx - stp)
        if brackt:
            stpf = stpc if abs(stpc - stp) < abs(stpq - stp) else stpq
            if stp > stx:
                stpf = min(stp + 0.66 * (sty - stp), stpf)
            else:
                stpf = max(stp + 0.66 * (sty - stp), stpf)
        else:
            stpf = stpc if abs(stpc - stp) > abs(stpq - stp) else stpq
            stpf = min(stpmax, stpf)
            stpf = max(stpmin, stpf)
    else:
        if brackt:
            theta = 3.0 * (fp - fy) / (sty - stp) + dy + dp
            s = max(abs(theta), abs(dy), abs(dp))
            gamma = s * math.sqrt((theta / s) ** 2 - (dy / s) * (dp / s))
            if stp > sty:
                gamma = -gamma
            p = (gamma - dp) + theta
            q = ((gamma - dp) + gamma) + dy
            r = p / q
            stpc = stp + r * (sty - stp)
            stpf = stpc
        elif stp > stx:
            stpf = stpmax
        else:
            stpf = stpmin
    if fp > fx:
        sty = stp
        fy = fp
        dy = dp
    else:
        if sgnd < 0.0:
            sty = stx
            fy = fx
            dy = dx
        stx = stp
        fx = fp
        dx = dp
    return stx, fx, dx, sty, fy, dy, stpf, brackt


@numba.njit(cache=True, nogil=True)
def search_step(state, f, g, stp):  # pragma: no cover - compiled
    """One iteration of MINPACK-2 ``dcsrch`` with ``f``, ``g`` at step ``stp``.

    Returns ``(code, next_stp)``: :data:`EVALUATE` (try ``next_stp``), :data:`CONVERGED` or
    :data:`WARNING` (stop at ``stp``).
    """
    brackt = state[_BRACKT] != 0.0
    stage = int(state[_STAGE])
    ginit = state[_GINIT]
    gtest = state[_GTEST]
    finit = state[_FINIT]
    stmin = state[_STMIN]
    stmax = state[_STMAX]
    xtol = state[_XTOL]
    stpmin = state[_STPMIN]
    stpmax = state[_STPMAX]
    ftest = finit + stp * gtest
    if stage == 1 and f <= ftest and g >= 0.0:
        stage = 2
    code = EVALUATE
    if brackt and (stp <= stmin or stp >= stmax):
        code = WARNING
    if brackt and stmax - stmin <= xtol * stmax:
        code = WARNING
    if stp == stpmax and f <= ftest and g <= gtest:
        code = WARNING
    if stp == stpmin and (f > ftest or g >= gtest):
        code = WARNING
    if f <= ftest and abs(g) <= state[_GTOL] * (-ginit):
        code = CONVERGED
    if code != EVALUATE:
        state[_STAGE] = stage
        return code, stp
    stx = state[_STX]
    fx = state[_FX]
    gx = state[_GX]
    sty = state[_STY]
    fy = state[_FY]
    gy = state[_GY]
    if stage == 1 and f <= fx and f > ftest:
        fm = f - stp * gtest
        fxm = fx - stx * gtest
        fym = fy - sty * gtest
        gm = g - gtest
        gxm = gx - gtest
        gym = gy - gtest
        stx, fxm, gxm, sty, fym, gym, stp, brackt = _cstep(
            stx, fxm, gxm, sty, fym, gym, stp, fm, gm, brackt, stmin, stmax
        )
        fx = fxm + stx * gtest
        fy = fym + sty * gtest
        gx = gxm + gtest
        gy = gym + gtest
    else:
        stx, fx, gx, sty, fy, gy, stp, brackt = _cstep(
            stx, fx, gx, sty, fy, gy, stp, f, g, brackt, stmin, stmax
        )
    width = state[_WIDTH]
    width1 = state[_WIDTH1]
    if brackt:
        if abs(sty - stx) >= 0.66 * width1:
            stp = stx + 0.5 * (sty - stx)
        width1 = width
        width = abs(sty - stx)
    if brackt:
        stmin = min(stx, sty)
        stmax = max(stx, sty)
    else:
        stmin = stp + XTRAPL * (stp - stx)
        stmax = stp + XTRAPU * (stp - stx)
    stp = max(stp, stpmin)
    stp = min(stp, stpmax)
    if (brackt and (stp <= stmin or stp >= stmax)) or (brackt and stmax - stmin <= xtol * stmax):
        stp = stx
    state[_BRACKT] = 1.0 if brackt else 0.0
    state[_STAGE] = stage
    state[_STX] = stx
    state[_FX] = fx
    state[_GX] = gx
    state[_STY] = sty
    state[_FY] = fy
    state[_GY] = gy
    state[_STMIN] = stmin
    state[_STMAX] = stmax
    state[_WIDTH] = width
    state[_WIDTH1] = width1
    return EVALUATE, stp
