"""Small dense linear algebra for per-gene kernels, as plain compiled loops (a leaf module).

p x p Gram matrices, Cholesky factor, solves and inverses, shared by the DESeq2 engine
(:mod:`alsig.deseq2`) and the mixed model (:mod:`alsig.voom`).

Why not LAPACK/BLAS: each gene's p x p system is tiny (the call overhead of a library routine
exceeds the arithmetic), and a gene's result must not depend on which other genes share its chunk
or on the thread that runs it; a fixed loop order gives the same bits every time.

A design whose rows repeat (categorical factors) is handled by groups: ``X' W X`` is
``sum_g (sum_{i in g} w_i) x_g x_g'`` over the distinct rows ``x_g``, so the per-sample work is one
addition and the p x p work is per distinct row.
"""

from __future__ import annotations

import math

import numba


@numba.njit(cache=True, nogil=True)
def gram(rows, weights, out):  # pragma: no cover - compiled
    """``out = sum_g weights[g] rows[g] rows[g]'`` (full symmetric matrix)."""
    p = rows.shape[1]
    for a in range(p):
        for b in range(a + 1):
            total = 0.0
            for g in range(rows.shape[0]):
                total += weights[g] * rows[g, a] * rows[g, b]
            out[a, b] = total
            out[b, a] = total


@numba.njit(cache=True, nogil=True)
def cholesky(a, out):  # pragma: no cover - compiled
    """Factor the symmetric matrix ``a`` by Cholesky into ``out``.

    Lower Cholesky factor of the symmetric matrix ``a`` into ``out``; False if not positive
    definite.
    """
    p = a.shape[0]
    for j in range(p):
        s = a[j, j]
        for k in range(j):
            s -= out[j, k] * out[j, k]
        if not s > 0.0 or not math.isfinite(s):
            return False
        d = math.sqrt(s)
        out[j, j] = d
        for i in range(j + 1, p):
            s = a[i, j]
            for k in range(j):
                s -= out[i, k] * out[j, k]
            out[i, j] = s / d
        for i in range(j):
            out[i, j] = 0.0
    return True


@numba.njit(cache=True, nogil=True)
def cholesky_solve(chol, b, out):  # pragma: no cover - compiled
    """Solve ``L L' x = b`` for the lower factor ``chol``."""
    p = chol.shape[0]
    for i in range(p):
        s = b[i]
        for k in range(i):
            s -= chol[i, k] * out[k]
        out[i] = s / chol[i, i]
    for i in range(p - 1, -1, -1):
        s = out[i]
        for k in range(i + 1, p):
            s -= chol[k, i] * out[k]
        out[i] = s / chol[i, i]


@numba.njit(cache=True, nogil=True)
def cholesky_inverse(chol, out):  # pragma: no cover - compiled
    """``(L L')^-1`` for the lower factor ``chol`` (full symmetric matrix)."""
    p = chol.shape[0]
    # inverse of L (lower), column by column, into out's lower triangle
    for j in range(p):
        out[j, j] = 1.0 / chol[j, j]
        for i in range(j + 1, p):
            s = 0.0
            for k in range(j, i):
                s -= chol[i, k] * out[k, j]
            out[i, j] = s / chol[i, i]
    # (L^-1)' L^-1, lower triangle first
    for i in range(p):
        for j in range(i + 1):
            s = 0.0
            for k in range(i, p):
                s += out[k, i] * out[k, j]
            out[j, i] = s  # upper triangle holds the result while the lower is still read
    for i in range(p):
        for j in range(i):
            out[i, j] = out[j, i]


@numba.njit(cache=True, nogil=True)
def quadratic_form(matrix, x):  # pragma: no cover - compiled
    """``x' A x``."""
    p = x.shape[0]
    total = 0.0
    for a in range(p):
        row = 0.0
        for b in range(p):
            row += matrix[a, b] * x[b]
        total += x[a] * row
    return total
