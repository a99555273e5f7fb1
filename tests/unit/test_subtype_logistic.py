"""The subtype models' logistic regression is scikit-learn's, to the bit, on the problems it meets."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from alsig.subtype_model.logistic import fit_multinomial


def _problem(seed: int, n: int, p: int, shares: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """SVD scores of a standardised n x p problem with one informative feature, as training fits."""
    rng = np.random.default_rng(seed)
    y = rng.choice(len(shares), size=n, p=shares)
    z = rng.normal(size=(n, p))
    z[:, 0] += y
    u, s, _ = np.linalg.svd((z - z.mean(axis=0)) / z.std(axis=0, ddof=1), full_matrices=False)
    return u * s, y


@pytest.mark.parametrize(
    ("seed", "n", "p", "C"),
    [
        (0, 118, 300, 3e-4),  # the training folds' shape: fewer samples than features
        (1, 118, 300, 0.003),
        (2, 95, 60, 0.1),
        (3, 40, 400, 0.3),
        (4, 148, 20, 10.0),  # weakly penalised: many L-BFGS steps
    ],
)
def test_fit_equals_scikit_learn_bit_for_bit(seed, n, p, C):
    x, y = _problem(seed, n, p, (0.6, 0.2, 0.2))
    model = LogisticRegression(C=C, class_weight="balanced", max_iter=10000, tol=1e-8).fit(x, y)
    classes, coef, intercept = fit_multinomial(x, y, C, tol=1e-8, max_iter=10000)
    np.testing.assert_array_equal(classes, model.classes_)
    np.testing.assert_array_equal(coef, model.coef_)
    np.testing.assert_array_equal(intercept, model.intercept_)
    # the layout too: products with the coefficients (back to feature space) match to the bit
    back = np.random.default_rng(seed).normal(size=(coef.shape[1], 7))
    np.testing.assert_array_equal(coef @ back, model.coef_ @ back)


def test_labels_need_not_be_0_1_2_and_two_classes_go_to_scikit_learn():
    x, y = _problem(5, 90, 50, (0.5, 0.3, 0.2))
    labels = np.array([2, 5, 9])[y]
    model = LogisticRegression(C=0.01, class_weight="balanced", max_iter=10000, tol=1e-8)
    model.fit(x, labels)
    classes, coef, _ = fit_multinomial(x, labels, 0.01, tol=1e-8, max_iter=10000)
    assert classes.tolist() == [2, 5, 9]
    np.testing.assert_array_equal(coef, model.coef_)
    # an inner fold without one subtype: the binary model, scikit-learn's own fit
    two = y < 2
    classes, coef, intercept = fit_multinomial(x[two], y[two], 0.01, tol=1e-8, max_iter=10000)
    binary = LogisticRegression(C=0.01, class_weight="balanced", max_iter=10000, tol=1e-8)
    binary.fit(x[two], y[two])
    assert classes.tolist() == [0, 1]
    np.testing.assert_array_equal(coef, binary.coef_)
    np.testing.assert_array_equal(intercept, binary.intercept_)
