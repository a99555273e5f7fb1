"""Multilevel p-values below the permutation floor (alsig.gsea.multilevel): mirrored walks, seeds
and threads, the stopping rule, the table flags. The brute-force check against 10^6 random sets
per gene set is in ``tests/integration/test_multilevel_brute_force.py``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

from alsig.gsea.alsig_engine import enrichment_scores
from alsig.gsea.multilevel import expected_log_share, multilevel_pvalues
from tests.helpers import prerank_table

N_GENES = 5000
SET_SIZE = 20


def candidate_sets() -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """A normal ranking and 30 sets of 20 genes drawn from its top ``span`` ranks, with their ES."""
    rng = np.random.default_rng(3)
    weights = np.abs(np.sort(rng.normal(size=N_GENES))[::-1])
    candidates = [
        np.sort(rng.choice(span, size=SET_SIZE, replace=False))
        for span in np.linspace(1200, 2600, 30).astype(int)
    ]
    return weights, candidates, enrichment_scores(weights, candidates)


@pytest.fixture(scope="module")
def ranking_and_sets():
    """The candidate sets and their ES (no brute-force p-values: these tests compare runs of the
    estimator with each other; the brute-force check is in
    ``tests/integration/test_multilevel_brute_force.py``)."""
    weights, candidates, es = candidate_sets()
    return weights, candidates, es, None


def test_negative_side_is_the_mirrored_walk(ranking_and_sets):
    """A set with ES < 0 is estimated on the reversed ranking: mirroring the ranking and the
    sets gives the same p-values, to the last bit."""
    weights, sets, es, _ = ranking_and_sets
    mirrored_weights = weights[::-1].copy()
    mirrored_sets = [np.sort(N_GENES - 1 - s) for s in sets]
    mirrored_es = enrichment_scores(mirrored_weights, mirrored_sets)
    assert np.all(mirrored_es < 0)
    np.testing.assert_allclose(mirrored_es, -es, rtol=1e-12)
    positive, _ = multilevel_pvalues(weights, sets, es, seed=5, eps=1e-10, threads=1)
    negative, _ = multilevel_pvalues(
        mirrored_weights, mirrored_sets, mirrored_es, seed=5, eps=1e-10, threads=1
    )
    np.testing.assert_array_equal(negative, positive)


def test_same_seed_same_pvalues_at_any_thread_count(ranking_and_sets):
    weights, sets, es, _ = ranking_and_sets
    one, _ = multilevel_pvalues(weights, sets, es, seed=7, eps=1e-10, threads=1)
    two, _ = multilevel_pvalues(weights, sets, es, seed=7, eps=1e-10, threads=2)
    other_seed, _ = multilevel_pvalues(weights, sets, es, seed=8, eps=1e-10, threads=1)
    np.testing.assert_array_equal(one, two)
    assert not np.array_equal(one, other_seed)


def test_a_set_gets_the_estimate_of_its_own_run(ranking_and_sets):
    """Sets of one size share a run, and each gets what a run for it alone gives."""
    weights, sets, es, _ = ranking_and_sets
    sets, es = sets[:12], es[:12]
    shared, _ = multilevel_pvalues(weights, sets, es, seed=11, eps=1e-10, threads=2)
    alone = [
        multilevel_pvalues(weights, [s], [e], seed=11, eps=1e-10, threads=1)[0][0]
        for s, e in zip(sets, es, strict=True)
    ]
    np.testing.assert_array_equal(shared, alone)


def test_estimate_stops_at_eps():
    weights = np.abs(np.sort(np.random.default_rng(0).normal(size=3000))[::-1])
    top = np.arange(25)  # the 25 highest-ranked genes: p far below 1e-6
    es = enrichment_scores(weights, [top])
    pvalues, bounded = multilevel_pvalues(weights, [top], es, seed=123, eps=1e-6, threads=1)
    assert bounded.tolist() == [True] and pvalues.tolist() == [1e-6]
    with pytest.raises(ValueError, match="eps must be in"):
        multilevel_pvalues(weights, [top], es, seed=123, eps=0, threads=1)


def test_expected_log_share_is_the_beta_mean_log():
    """[a]: E[log] of the tail beyond the a-th largest of 101 uniforms, a Beta(a, 102 - a)
    variable (integrated numerically here)."""
    from scipy.stats import beta

    share = expected_log_share(101)
    assert share[0] == -np.inf
    for a in (1, 51, 101):
        assert share[a] == pytest.approx(beta(a, 102 - a).expect(np.log), rel=1e-6)
    assert share[51] < np.log(51 / 101)  # why the plain share overestimates


def test_prerank_table_flags_multilevel_rows():
    """In the enrichment table, sets at the permutation floor get a multilevel p below it
    (``pvalue_method`` multilevel, no longer at the floor); the others keep their permutation p;
    with multilevel off the floor stays."""
    rng = np.random.default_rng(1)
    genes = [f"G{i}" for i in range(3000)]
    ranking = pd.Series(np.sort(rng.normal(size=3000))[::-1], index=genes)
    sets = {
        "PLANTED_UP": list(rng.choice(genes[:900], 20, replace=False)),
        "PLANTED_DOWN": list(rng.choice(genes[-900:], 20, replace=False)),
        "STRONGEST": genes[:40:2],  # 20 of the top 40: beyond eps
        "RANDOM": list(rng.choice(genes, 30, replace=False)),
    }
    table = prerank_table(ranking, sets, collection="c", permutations=100, seed=3)
    rows = {r["term"]: r for r in table.iter_rows(named=True)}
    for term in ("PLANTED_UP", "PLANTED_DOWN"):
        row = rows[term]
        assert row["pvalue_method"] == "multilevel"
        assert 1e-10 < row["pvalue"] < 1 / 101 and row["pvalue_at_floor"] is False
        assert row["pvalue_display"] == f"{row['pvalue']:.3g}"
    assert rows["PLANTED_DOWN"]["nes"] < 0
    strongest = rows["STRONGEST"]
    assert strongest["pvalue_method"] == "multilevel" and strongest["pvalue_at_floor"] is True
    assert strongest["pvalue"] == 1e-10 and strongest["pvalue_display"] == "< 1e-10"
    assert rows["RANDOM"]["pvalue_method"] == "permutation"
    assert rows["RANDOM"]["pvalue"] > 1 / 101
    plain = prerank_table(ranking, sets, collection="c", permutations=100, seed=3, multilevel=False)
    floor = plain.filter(pl.col("term") == "PLANTED_UP").row(0, named=True)
    assert floor["pvalue_method"] == "permutation" and floor["pvalue_at_floor"] is True
    assert floor["pvalue"] == pytest.approx(1 / 101)
    # the other columns do not move
    assert (
        plain.drop("pvalue", "pvalue_at_floor", "pvalue_display", "pvalue_method")
        .sort("term")
        .equals(
            table.drop("pvalue", "pvalue_at_floor", "pvalue_display", "pvalue_method").sort("term")
        )
    )
