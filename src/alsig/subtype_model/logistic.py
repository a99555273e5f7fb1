"""scikit-learn's multinomial logistic regression (lbfgs, balanced classes), without its per-call cost.

The subtype models' training (:mod:`.training`) fits ~2,500 small multinomial L2 logistic
regressions per model (the inner-CV grid), each ~120 L-BFGS steps. ``LogisticRegression.fit``
spends most of that time outside the arithmetic: its loss function looks up the array namespace
and device of its arguments at every step (0.20 ms a step under cProfile on these ~118 x 118
problems, against 0.07 ms for the same step here).

:func:`fit_multinomial` runs the same optimisation with the same pieces: scikit-learn's own
multinomial loss (the compiled ``HalfMultinomialLoss``), the same objective (mean weighted loss
+ ``||W||^2 / (2 C sum(w))``), the same starting point, array layouts and L-BFGS-B options, so
the coefficients are scikit-learn's to the bit (``tests/unit/test_subtype_logistic.py`` holds
them so on several problems, the subtype models' rebuild check holds the shipped files so).
Two classes (an inner fold without one subtype) go to ``LogisticRegression`` itself.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.optimize import minimize
from sklearn._loss.loss import HalfMultinomialLoss
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.utils.class_weight import compute_class_weight


def fit_multinomial(
    x: np.ndarray, y: np.ndarray, C: float, *, tol: float, max_iter: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fit ``LogisticRegression(C=C, class_weight="balanced", tol=tol, max_iter=max_iter)``.

    Parameters
    ----------
    x
        Samples x features.
    y
        One integer class per sample.
    C
        Inverse L2 penalty.
    tol
        L-BFGS-B's gradient tolerance (``tol`` of ``LogisticRegression``).
    max_iter
        Most L-BFGS-B iterations.

    Returns
    -------
    classes, coef, intercept
        The sorted classes present in ``y``, ``coef_`` (classes x features) and ``intercept_``
        as ``LogisticRegression.fit`` leaves them.
    """
    classes = np.unique(y)
    if classes.size < 3:  # the binary model is parametrised otherwise: leave it to sklearn
        model = LogisticRegression(C=C, class_weight="balanced", max_iter=max_iter, tol=tol)
        model.fit(x, y)
        return model.classes_, model.coef_, model.intercept_
    x = np.asarray(x, dtype=np.float64, order="C")
    encoded = np.searchsorted(classes, y)
    sample_weight = np.ones(x.shape[0], dtype=np.float64)
    sample_weight *= compute_class_weight(
        "balanced", classes=classes, y=y, sample_weight=sample_weight
    )[encoded]
    target = encoded.astype(np.float64)
    start = np.zeros((classes.size, x.shape[1] + 1), order="F").ravel(order="F")
    loss = HalfMultinomialLoss(n_classes=classes.size)
    result = minimize(
        _loss_gradient,
        start,
        method="L-BFGS-B",
        jac=True,
        args=(loss, x, target, sample_weight, 1.0 / (C * float(np.sum(sample_weight)))),
        options={"maxiter": max_iter, "maxls": 50, "gtol": tol, "ftol": 64 * np.finfo(float).eps},
    )
    if result.status != 0:
        warnings.warn(
            f"lbfgs failed to converge after {result.nit} iterations: {result.message}",
            ConvergenceWarning,
            stacklevel=2,
        )
    # an F-ordered copy, as LogisticRegression keeps it (products with coef_ then take the
    # same BLAS path)
    fitted = np.reshape(result.x, (classes.size, -1), order="F").copy(order="K")
    return classes, fitted[:, :-1], fitted[:, -1]


def _loss_gradient(
    coef: np.ndarray,
    loss: HalfMultinomialLoss,
    x: np.ndarray,
    target: np.ndarray,
    sample_weight: np.ndarray,
    l2_reg_strength: float,
) -> tuple[float, np.ndarray]:
    """``LinearModelLoss.loss_gradient`` of a multinomial model with intercept, on numpy arrays.

    The same operations on the same layouts (so the same BLAS calls) as scikit-learn's.
    """
    n_classes = loss.n_classes
    n_features = x.shape[1]
    weights = coef.reshape((n_classes, -1), order="F")
    intercept = weights[:, -1]
    weights = weights[:, :-1]
    raw_prediction = x @ weights.T + intercept
    pointwise, grad_pointwise = loss.loss_gradient(
        y_true=target, raw_prediction=raw_prediction, sample_weight=sample_weight, n_threads=1
    )
    sw_sum = np.sum(sample_weight)
    value = float(np.sum(pointwise) / sw_sum)
    flat = np.ravel(weights, order="K")
    value += float(0.5 * l2_reg_strength * np.dot(flat, flat))
    grad_pointwise /= sw_sum
    grad = np.empty((n_classes, n_features + 1), dtype=weights.dtype, order="F")
    grad[:, :n_features] = grad_pointwise.T @ x + l2_reg_strength * weights
    grad[:, -1] = np.sum(grad_pointwise, axis=0)
    return value, grad.ravel(order="F")
