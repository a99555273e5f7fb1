"""alsig.distributions equals scipy.stats exactly (the jobs use it to skip scipy.stats' import)."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from alsig import distributions as d

RNG = np.random.default_rng(7)
X = np.concatenate([RNG.normal(0, 3, 500), [0.0, -0.0, 1e-300, 40.0, -40.0, np.inf, -np.inf]])
Q = np.concatenate([RNG.uniform(0, 1, 500), [0.0, 1.0, 1e-300, 0.5, 1 - 1e-16]])
DF = np.concatenate([RNG.uniform(0.5, 200, 500), [1.0, 2.0, 1e6, np.inf, 10.0, 30.0, 4.0]])


def exact(ours, theirs) -> None:
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))


def test_normal_tails_and_quantiles():
    exact(d.norm_sf(X), stats.norm.sf(X))
    exact(d.norm_ppf(Q), stats.norm.ppf(Q))
    exact(d.norm_isf(Q), stats.norm.isf(Q))
    assert float(d.norm_sf(1.96)) == float(stats.norm.sf(1.96))


def test_t_f_and_chi2():
    exact(d.t_sf(X, DF), stats.t.sf(X, DF))
    exact(d.t_ppf(Q, DF[: Q.size]), stats.t.ppf(Q, DF[: Q.size]))
    exact(d.f_ppf(Q, 3, DF[: Q.size]), stats.f.ppf(Q, 3, DF[: Q.size]))
    exact(d.f_sf(np.abs(X), 3, DF), stats.f.sf(np.abs(X), 3, DF))
    chi = np.abs(X[np.isfinite(X)])
    exact(d.chi2_sf(chi, DF[: chi.size]), stats.chi2.sf(chi, DF[: chi.size]))


@pytest.mark.parametrize("method", ["average", "min", "ordinal"])
def test_ranks_with_ties_nan_and_axes(method):
    ties = RNG.integers(0, 6, size=(7, 40)).astype(float)
    for values, axis in [(ties, 1), (ties, 0), (ties[0], -1), (ties.astype(np.int32), 1)]:
        ours, theirs = (
            d.rankdata(values, method=method, axis=axis),
            stats.rankdata(values, method=method, axis=axis),
        )
        exact(ours, theirs)
        assert ours.dtype == theirs.dtype
    with_nan = ties.copy()
    with_nan[2, 5] = np.nan
    exact(d.rankdata(with_nan, method, axis=1), stats.rankdata(with_nan, method, axis=1))
    assert d.rankdata(np.empty((0,)), method).shape == (0,)


def test_spearman_trim_mean_and_bh():
    x, y = RNG.normal(size=30), RNG.normal(size=30)
    y[:5] = y[0]  # ties
    assert d.spearman(x, y) == stats.spearmanr(x, y).statistic
    values = RNG.gamma(1.0, 2.0, 5000)
    assert d.trim_mean(values, 0.001) == float(stats.trim_mean(values, proportiontocut=0.001))
    assert d.trim_mean(values, 0.2) == float(stats.trim_mean(values, proportiontocut=0.2))
    assert np.isnan(d.trim_mean(np.array([]), 0.1))
    p = np.concatenate([RNG.uniform(size=300), RNG.uniform(0, 1e-4, 50), [0.0, 1.0, 0.5, 0.5]])
    exact(d.bh_adjust(p), stats.false_discovery_control(p, method="bh"))
    exact(d.bh_adjust(p[:1]), stats.false_discovery_control(p[:1], method="bh"))
    with pytest.raises(ValueError, match="between 0 and 1"):
        d.bh_adjust(np.array([0.1, 1.5]))


def test_it_imports_no_scipy_stats():
    """Importing alsig.distributions does not import scipy.stats (its reason to exist)."""
    imported = {
        alias.name if isinstance(node, ast.Import) else node.module
        for node in ast.walk(ast.parse(Path(d.__file__).read_text()))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported == {"__future__", "typing", "numpy", "scipy"}
