"""Multilevel p-values below the permutation floor (alsig.gsea.multilevel) held to a brute-force
permutation null of 10^6 random sets per gene set (16 s of null sampling)."""

from __future__ import annotations

import numpy as np
import pytest

from alsig.gsea.alsig_engine import null_scores
from alsig.gsea.multilevel import multilevel_pvalues
from tests.unit.test_enrich_multilevel import SET_SIZE, candidate_sets

# one xdist worker runs this module, so its module-scoped fixture is built once
pytestmark = pytest.mark.xdist_group("multilevel_brute_force")


@pytest.fixture(scope="module")
def ranking_and_sets():
    """The candidate sets kept when their brute-force p (10^6 random sets each) lies in
    3 x 10^-5 - 3 x 10^-3: beyond a 1000-permutation floor and still countable."""
    weights, candidates, es = candidate_sets()
    null = null_scores(weights, np.full(len(candidates), SET_SIZE), 1_000_000, 5).scores
    brute = np.array(
        [(null[j] >= e).sum() / (null[j] >= 0).sum() for j, e in enumerate(es)], dtype=float
    )
    keep = (brute > 3e-5) & (brute < 3e-3)
    assert keep.sum() >= 10  # the fixture makes enough sets in the range
    sets = [c for c, k in zip(candidates, keep, strict=True) if k]
    return weights, sets, es[keep], brute[keep]


def test_estimates_match_a_million_permutations(ranking_and_sets):
    """The sets are all of one size, so one seed gives one shared run (the estimates' errors are
    correlated, as in fgsea): unbiasedness is checked over eight seeds."""
    weights, sets, es, brute = ranking_and_sets
    errors = []
    for seed in range(11, 19):
        pvalues, bounded = multilevel_pvalues(weights, sets, es, seed=seed, eps=1e-10, threads=1)
        assert not bounded.any()
        # far below what 1000 permutations can say
        assert (pvalues < 1 / 1001).sum() >= len(sets) // 2
        errors.append(np.log10(pvalues / brute))
    error = np.array(errors)
    # unbiased (mean log10 error over 8 runs x ~15 sets) and each within a factor of ~4
    assert abs(error.mean()) < 0.1, error.mean(axis=1)
    assert np.abs(error).max() < 0.6, np.abs(error).max(axis=1)
