"""alsig's positions-based prerank engine against gseapy (the reference) and against brute force:
identical ES and leading edges, gseapy's definitions of p, NES and FDR, determinism, the p-value
floor, size limits and empty input. NES and FDR calls on a realistic ranking against three gseapy
seeds: ``tests/integration/test_enrich_vs_gseapy.py``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

from alsig.gsea import PrerankOptions
from alsig.gsea.alsig_engine import (
    NullScores,
    gsea_fdr,
    leading_edge,
    null_scores,
    positions_prerank,
    set_statistics,
)
from alsig.gsea.gseapy_engine import gseapy_records
from alsig.gsea.positions import set_positions
from tests.helpers import prerank_table


def prerank(
    genes, values, sets, *, permutations=1000, seed=123, min_size=15, max_size=500, threads=1
):
    """The engine with this file's test settings (weight 1, the standard weighted score)."""
    return positions_prerank(
        genes,
        values,
        sets,
        permutations=permutations,
        seed=seed,
        min_size=min_size,
        max_size=max_size,
        weight=1.0,
        threads=threads,
    )


def walk_reference(weights: np.ndarray, positions: np.ndarray) -> tuple[float, np.ndarray]:
    """The textbook running sum over all N genes (O(N)): ES = the extreme of largest |.| (the
    first one on ties) and the whole curve."""
    n = weights.size
    hit = np.zeros(n, dtype=bool)
    hit[positions] = True
    steps = np.where(hit, weights / weights[hit].sum(), -1.0 / (n - positions.size))
    running = np.cumsum(steps)
    return float(running[np.argmax(np.abs(running))]), running


def ranking_with_ties(n: int = 2000, seed: int = 11) -> tuple[list[str], np.ndarray]:
    """Decreasing statistics with blocks of equal |stat| (equal values, and +x/-x pairs)."""
    rng = np.random.default_rng(seed)
    values = np.sort(rng.normal(size=n))[::-1].copy()
    values[200:215] = values[200]  # a block of equal statistics
    values[-215:-200] = values[-215]
    values[n // 2 - 3 : n // 2 + 3] = 0.0  # zeros: weight 0
    values[5], values[-6] = 2.0, -2.0  # equal |stat| on both sides
    values = np.sort(values)[::-1]
    return [f"G{i:05d}" for i in range(n)], values


def synthetic_sets(genes: list[str], seed: int = 5, n_sets: int = 50) -> dict[str, list[str]]:
    """Up, down, null and two-ended sets, 15-200 genes, some genes outside the ranking."""
    rng = np.random.default_rng(seed)
    n = len(genes)
    sets = {}
    for s in range(n_sets):
        k = int(rng.integers(15, 200))
        pool = [np.arange(0, n // 4), np.arange(3 * n // 4, n), np.arange(n)][s % 3]
        idx = rng.choice(pool, min(k, pool.size), replace=False)
        if s % 7 == 0:
            idx = np.unique(np.r_[0, 1, n - 1, n - 2, idx])  # genes at both ends
        sets[f"SET_{s:02d}"] = [genes[i] for i in idx] + ["NOT_RANKED"]
    sets["BOTH_ENDS"] = genes[:20] + genes[-20:]
    return sets


def realistic_ranking(
    n: int = 2000, seed: int = 3, n_sets: int = 200
) -> tuple[list[str], np.ndarray, dict]:
    """A DE-like ranking (Wald-like statistics) and sets of 15-150 genes with graded enrichment,
    many near the FDR threshold."""
    rng = np.random.default_rng(seed)
    stat = rng.standard_t(8, size=n)
    genes = [f"R{i:05d}" for i in range(n)]
    sets = {}
    for s in range(n_sets):
        k = int(rng.integers(15, 150))
        members = rng.choice(n, k, replace=False)
        shift = rng.choice([0.0, 0.0, 0.15, 0.3, 0.5, -0.15, -0.3, -0.5])
        stat[members] += shift
        sets[f"PATH_{s:03d}"] = members
    order = np.argsort(-stat, kind="stable")
    rank_of = np.empty(n, dtype=np.int64)
    rank_of[order] = np.arange(n)
    ranked = [genes[i] for i in order]
    named = {t: [ranked[r] for r in rank_of[m]] for t, m in sets.items()}
    return ranked, stat[order], named


def gseapy_run(genes, values, sets, permutations=1000, seed=123, min_size=15):
    options = PrerankOptions(
        permutations=permutations,
        seed=seed,
        min_size=min_size,
        max_size=500,
        threads=1,
        engine="gseapy",
        multilevel=False,
        multilevel_eps=1e-10,
    )
    restricted = {t: [g for g in gs if g in set(genes)] for t, gs in sets.items()}
    return {r.term: r for r in gseapy_records(list(genes), values, restricted, options)}


def fdr_calls(records, alpha: float = 0.05) -> set[str]:
    return {t for t, r in records.items() if r.fdr is not None and r.fdr < alpha}


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


@pytest.fixture(scope="module")
def tied_case():
    genes, values = ranking_with_ties()
    sets = synthetic_sets(genes)
    ours = {r.term: r for r in prerank(genes, values, sets, permutations=200, seed=9)}
    return genes, values, sets, ours, gseapy_run(genes, values, sets, permutations=200, seed=9)


# ---------------------------------------------------------------------------------------------
# against gseapy
# ---------------------------------------------------------------------------------------------
def test_es_and_leading_edges_equal_gseapy_with_ties_and_both_ends(tied_case):
    genes, values, _, ours, reference = tied_case
    assert set(ours) == set(reference) and len(ours) == 51
    es = np.array([ours[t].es for t in reference])
    assert (es < 0).sum() >= 10 and (es > 0).sum() >= 10
    assert max(abs(ours[t].es - reference[t].es) for t in reference) <= 1e-9
    for term, ref in reference.items():
        assert ours[term].leading_edge == ref.leading_edge, term
    assert ours["BOTH_ENDS"].leading_edge  # a set with genes at both ends has a leading edge


def test_es_equals_the_full_running_sum(tied_case):
    genes, values, sets, ours, _ = tied_case
    weights = np.abs(values)
    for term, positions in set_positions(genes, sets, 15, 500).items():
        es, running = walk_reference(weights, positions)
        assert ours[term].es == pytest.approx(es, abs=1e-12)
        side = running.argmax() if es >= 0 else running.argmin()
        assert ours[term].es == pytest.approx(running[side], abs=1e-12)


# ---------------------------------------------------------------------------------------------
# gseapy's definitions, checked by brute force
# ---------------------------------------------------------------------------------------------
def test_random_sets_are_uniform_over_subsets():
    """Every k-subset of the ranks is equally likely: the null ES frequencies of 6 genes, sets
    of 3, match the exact distribution over the 20 subsets (distinct weights: distinct ES)."""
    from itertools import combinations

    weights = np.array([3.0, 0.5, 2.0, 1.0, 0.25, 4.0])
    exact = [walk_reference(weights, np.array(c))[0] for c in combinations(range(6), 3)]
    values, expected = np.unique(np.round(exact, 9), return_counts=True)
    draws = 20000
    null = null_scores(weights, np.array([3]), draws, seed=17).scores[0]
    distance = np.abs(null[:, None] - values[None, :])
    assert distance.min(axis=1).max() < 1e-9  # every null score is the ES of some 3-subset
    observed = np.bincount(distance.argmin(axis=1), minlength=values.size)
    share = expected / expected.sum()
    assert np.all(np.abs(observed / draws - share) <= 4 * np.sqrt(share * (1 - share) / draws))


def test_each_set_has_its_own_null_independent_of_other_sizes():
    weights = np.abs(np.random.default_rng(0).normal(size=400))
    alone = null_scores(weights, np.array([30]), 200, seed=5).scores
    mixed = null_scores(weights, np.array([50, 30, 30, 15]), 200, seed=5).scores
    assert np.array_equal(mixed[1], alone[0])  # the first set of size 30: same streams
    assert not np.array_equal(mixed[1], mixed[2])  # the second one draws its own sets
    other_seed = null_scores(weights, np.array([30]), 200, seed=6).scores
    assert not np.array_equal(other_seed, alone)
    assert np.all(np.abs(mixed) <= 1) and np.all(mixed.std(axis=1) > 0)


def test_nes_pvalue_and_fdr_follow_gseapy_definitions():
    rng = np.random.default_rng(4)
    observed = np.array([0.5, -0.6, 0.1, -0.05, 0.9, 0.0])
    null = NullScores(np.full(6, 20), rng.normal(scale=0.3, size=(6, 400)))
    stats = set_statistics(observed, null)
    null_nes_pool, nes_expected = [], []
    for es, scores in zip(observed, null.scores, strict=True):
        up, down = scores[scores >= 0], scores[scores < 0]
        if es >= 0:
            nes_expected.append(es / up.mean())
            p = (up >= es).sum() / up.size
        else:
            nes_expected.append(es / abs(down.mean()))
            p = (down <= es).sum() / down.size
        assert stats.pvalue[len(nes_expected) - 1] == pytest.approx(p, abs=1e-15)
        null_nes_pool.append(np.where(scores >= 0, scores / up.mean(), scores / abs(down.mean())))
    assert stats.nes == pytest.approx(np.array(nes_expected), abs=1e-12)
    pool = np.concatenate(null_nes_pool)  # gseapy concatenates every set's null NES
    nes = np.array(nes_expected)
    for i, e in enumerate(nes):
        if e < 0:
            phi_null = (pool <= e).sum() / (pool < 0).sum()
            phi_obs = (nes <= e).sum() / (nes < 0).sum()
        else:
            phi_null = (pool >= e).sum() / (pool >= 0).sum()
            phi_obs = (nes >= e).sum() / (nes >= 0).sum()
        assert stats.fdr[i] == pytest.approx(min(phi_null / phi_obs, 1.0), abs=1e-12)


def test_a_side_without_null_scores_gives_nes_one_and_p_one():
    null = NullScores(np.array([15, 15]), np.full((2, 10), 0.25))
    stats = set_statistics(np.array([-0.4, 0.5]), null)
    assert stats.nes.tolist() == [-1.0, 2.0]
    assert stats.pvalue.tolist() == [1.0, 0.0]
    # one null NES of two at least 2.0, the only observed NES: FDR (1/2) / (1/1)
    assert gsea_fdr(np.array([2.0]), np.array([[3.0, 1.0]]))[0] == 0.5


def test_zero_weight_hits_walk_with_equal_weights():
    weights = np.r_[np.ones(5), np.zeros(10), np.ones(5)]
    positions = np.arange(5, 15)
    (record,) = prerank(
        [f"g{i}" for i in range(20)],
        weights,
        {"ZERO": [f"g{i}" for i in positions]},
        permutations=10,
        min_size=5,
    )
    assert record.es == pytest.approx(-5 / 10)  # 5 misses of 1/10 before evenly weighted hits
    assert leading_edge(weights, positions, record.es).tolist() == list(range(14, 4, -1))


# ---------------------------------------------------------------------------------------------
# determinism, floor, limits, empty input
# ---------------------------------------------------------------------------------------------
def test_same_seed_same_records_any_threads_other_seed_other_null(tied_case):
    genes, values, sets, ours, _ = tied_case
    again = prerank(genes, values, sets, permutations=200, seed=9, threads=2)
    assert [r for r in again] == [ours[r.term] for r in again]
    other = prerank(genes, values, sets, permutations=200, seed=10)
    assert [r.es for r in other] == [r.es for r in again]
    assert [r.nes for r in other] != [r.nes for r in again]


def test_extreme_set_reaches_the_pvalue_floor_in_the_table():
    genes = [f"G{i}" for i in range(500)]
    values = np.linspace(3, -3, 500)
    ranking = pd.Series(values, index=genes)
    sets = {"TOP": genes[:20], "MIDDLE": genes[240:260]}
    table = prerank_table(ranking, sets, collection="t", permutations=99, seed=1, multilevel=False)
    top = table.filter(pl.col("term") == "TOP").row(0, named=True)
    assert top["pvalue"] == pytest.approx(1 / 100) and top["pvalue_at_floor"] is True
    assert top["pvalue_display"] == "< 0.01" and top["direction"] == "up"
    assert top["leading_edge"] == genes[:20]
    (raw,) = [r for r in prerank(genes, values, sets, permutations=99) if r.es > 0.9]
    assert raw.pvalue == 0.0 and raw.fdr == 0.0


def test_size_limits_repeated_and_unranked_genes():
    genes = [f"G{i}" for i in range(100)]
    values = np.linspace(2, -2, 100)
    sets = {
        "TOO_SMALL": genes[:4],
        "SMALLEST": genes[10:15] + genes[10:12] + ["ABSENT"],  # 5 distinct ranked genes
        "LARGEST": genes[20:40],
        "TOO_LARGE": genes[:21],
    }
    records = prerank(genes, values, sets, permutations=20, min_size=5, max_size=20)
    assert [r.term for r in records] == ["LARGEST", "SMALLEST"]
    positions = set_positions(genes, sets, 5, 20)
    assert positions["SMALLEST"].tolist() == [10, 11, 12, 13, 14]


def test_empty_input_gives_no_records_and_an_empty_table():
    genes = [f"G{i}" for i in range(50)]
    assert prerank(genes, np.linspace(1, -1, 50), {}) == []
    assert prerank(genes, np.linspace(1, -1, 50), {"X": ["NOPE"]}) == []
    table = prerank_table(
        pd.Series(np.linspace(1, -1, 50), index=genes), {"X": genes[:3]}, collection="c"
    )
    assert table.height == 0


def test_ranked_names_must_be_unique():
    with pytest.raises(ValueError, match="unique"):
        prerank(["A", "A", "B"], np.array([1.0, 0.5, 0.0]), {"S": ["A"]}, min_size=1)
