"""alsig's GSEA preranked engine: the gene-set permutation test from set positions alone.

The weighted (p = 1) Kolmogorov-Smirnov enrichment score of a set (Subramanian et al. 2005)
depends only on the ranks of its genes and their ``|stat|`` weights: walking the ranking, the
running sum steps up by ``w_i / sum(w)`` at each of the ``k`` hits and down by ``1 / (N - k)`` at
each miss, so its extremes sit just before and just after the hits and one score costs O(k), not
O(N). A permutation of the gene labels puts the set's ``k`` genes at ``k`` uniformly random
ranks, so the null distribution depends only on the set's size, and one null per distinct size
serves every set of that size (the fgsea "simple" algorithm, Korotkevich et al., bioRxiv
060012). Each permutation draws ``K`` (the largest size tested) ranks without replacement in
random order; its first ``k`` draws are a uniform random ``k``-subset, so the scores of all
sizes come from one sorted, growing prefix (each draw is inserted into place, and the score is
taken whenever the prefix reaches a tested size). Work is O(permutations x sum of distinct
sizes), independent of the number of genes ranked and of the number of sets; memory is one
``sizes x permutations`` array of scores (never a genes x permutations matrix).

Statistics are defined exactly as gseapy's ``prerank`` (gseapy 1.3, ``src/stats.rs``) defines
them, so everything downstream of :class:`~alsig.stages.enrich.prerank.PrerankRecord` is
unchanged:

- ES: the running sum's value of largest ``|.|`` met first on the walk (gseapy's
  ``fast_random_walk``, same arithmetic, so observed scores equal gseapy's to the last bits);
- NES: ES divided by the mean of the null scores of the same sign (``>= 0`` / ``< 0``), the
  positive and negative sides normalised separately (a side without null scores divides by the
  ES itself, as gseapy does);
- nominal p: the share of same-sign null scores at least as extreme (``0`` when none is, raised
  to the floor by :mod:`alsig.stages.enrich.prerank`; ``1`` when the null has no score of that
  sign);
- FDR: gseapy's NES-based estimate, ``(share of all sets' null NES at least as extreme) / (share
  of observed NES at least as extreme)``, positive and negative sides separately, capped to
  [0, 1] (gseapy does not make it monotone; neither does this). All tested sets form one family
  (gseapy splits terms of the form ``library__term`` by library; alsig runs one collection per
  call);
- leading edge: the hits up to the running sum's peak (from its trough for ES < 0), ranking
  order (reversed for ES < 0), as gseapy's ``_to_df``.

Differences from gseapy: which random permutations are drawn (so NES, p and FDR agree only up to
permutation noise), and a set whose genes all have ``stat == 0`` is walked with equal weights
(fgsea's rule; gseapy's walk divides by zero).

Why numba: the incremental prefix (insert a draw, score the prefix at each tested size) is a
scalar loop of about 10^8 steps for GO BP at 1000 permutations; vectorised numpy would have to
re-sort and re-materialise every prefix (about 10x the work and a ``permutations x K`` temporary
per size). The compiled loop runs permutations in parallel (``prange``): each permutation's draws
come from one seeded numpy generator, consumed in order before the parallel part, and every score
is computed by one thread from its own draws, so results are identical for any thread count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numba
import numpy as np

from alsig.stages.enrich.prerank import PrerankOptions, PrerankRecord
from alsig.stages.enrich.results import finite_float

#: Permutations drawn and scored per batch: bounds the draws held at once (batch x K ranks).
PERMUTATION_BATCH = 1024


@dataclass(frozen=True)
class NullScores:
    """Permutation null per distinct set size: ``scores[j]`` holds the null ES of size ``sizes[j]``."""

    sizes: np.ndarray  # distinct tested sizes, ascending
    scores: np.ndarray  # (len(sizes), permutations)


def alsig_records(
    genes: list[str],
    values: np.ndarray,
    sets: Mapping[str, Sequence[str]],
    options: PrerankOptions,
) -> list[PrerankRecord]:
    """:func:`positions_prerank` with the arguments of
    :func:`~alsig.stages.enrich.prerank.gseapy_records` (the engine seam).

    Parameters
    ----------
    genes, values, sets
        As for :func:`positions_prerank`.
    options
        Permutations, seed, set-size range and threads.

    Returns
    -------
    list of PrerankRecord
        One per set of ``min_size``-``max_size`` genes in ``genes``, sorted by term.
    """
    return positions_prerank(
        genes,
        values,
        sets,
        permutations=options.permutations,
        seed=options.seed,
        min_size=options.min_size,
        max_size=options.max_size,
        threads=options.threads,
    )


def positions_prerank(
    genes: Sequence[str],
    values: np.ndarray,
    sets: Mapping[str, Sequence[str]],
    *,
    permutations: int = 1000,
    seed: int = 123,
    min_size: int = 15,
    max_size: int = 500,
    weight: float = 1.0,
    threads: int = 1,
) -> list[PrerankRecord]:
    """GSEA preranked (gene-set permutation) of one ranking against ``sets``.

    Parameters
    ----------
    genes
        Unique gene names in ranking order (highest statistic first, ties already broken, as
        :func:`~alsig.stages.enrich.prepare_ranking` gives them).
    values
        Their statistics, same order.
    sets
        ``{term: genes}``; genes not in ``genes`` and repeated genes are ignored.
    permutations
        Random sets drawn per distinct set size (at least 1).
    seed
        Seed of the draws: same seed, same records.
    min_size, max_size
        Sets with fewer or more genes in ``genes`` are not tested (and not returned).
    weight
        Exponent ``p`` of the hit weights ``|stat|^p`` (1: the standard weighted score).
    threads
        Threads for the permutations (results do not depend on it).

    Returns
    -------
    list of PrerankRecord
        One per tested set, sorted by term: ES, NES, nominal p (0 when no null score is as
        extreme), FDR and leading edge (names from ``genes``).
    """
    positions = set_positions(genes, sets, min_size, max_size)
    if not positions:
        return []
    weights = np.abs(np.asarray(values, dtype=np.float64)) ** float(weight)
    if not np.all(np.isfinite(weights)):
        raise ValueError("ranking statistics must be finite (prepare_ranking clips infinities)")
    # a set holding every ranked gene has no misses: no walk, no score (gseapy gives NaN)
    scorable = {t: p for t, p in positions.items() if p.size < len(genes)}
    observed = enrichment_scores(weights, list(scorable.values()))
    set_sizes = np.array([p.size for p in scorable.values()], dtype=np.int64)
    with numba_threads(threads):
        null = null_scores(weights, np.unique(set_sizes), int(permutations), int(seed))
    stats = set_statistics(observed, set_sizes, null)
    names = np.asarray(genes, dtype=object)
    index = {term: i for i, term in enumerate(scorable)}
    records = []
    for term, pos in positions.items():
        i = index.get(term)
        if i is None:
            records.append(PrerankRecord(term, None, None, None, None, ()))
            continue
        lead = names[leading_edge(weights, pos, observed[i])]
        records.append(
            PrerankRecord(
                term=term,
                es=finite_float(observed[i]),
                nes=finite_float(stats.nes[i]),
                pvalue=finite_float(stats.pvalue[i]),
                fdr=finite_float(stats.fdr[i]),
                leading_edge=tuple(str(g) for g in lead),
            )
        )
    return records


def set_positions(
    genes: Sequence[str], sets: Mapping[str, Sequence[str]], min_size: int, max_size: int
) -> dict[str, np.ndarray]:
    """Each set's ranks in ``genes`` (ascending, unique), for the sets of ``min_size`` to
    ``max_size`` ranked genes, sorted by term (gseapy's order).

    Parameters
    ----------
    genes
        Unique ranked gene names.
    sets
        ``{term: genes}``.
    min_size, max_size
        Inclusive range of ranked genes a set needs to be tested.

    Returns
    -------
    dict
        ``{term: int64 ranks}``.
    """
    rank = {gene: i for i, gene in enumerate(genes)}
    if len(rank) != len(genes):
        raise ValueError("ranked gene names must be unique")
    positions = {}
    for term in sorted(sets):
        found = np.unique(np.fromiter((rank[g] for g in sets[term] if g in rank), dtype=np.int64))
        if min_size <= found.size <= max_size:
            positions[term] = found
    return positions


def enrichment_scores(weights: np.ndarray, positions: Sequence[np.ndarray]) -> np.ndarray:
    """The observed ES of each set (gseapy's walk over its sorted ranks).

    Parameters
    ----------
    weights
        ``|stat|^p`` per ranked gene.
    positions
        Each set's ascending ranks (fewer than ``len(weights)``).

    Returns
    -------
    numpy.ndarray
        One ES per set.
    """
    out = np.empty(len(positions))
    if not positions:
        return out
    offsets = np.zeros(len(positions) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([p.size for p in positions])
    _observed_scores(weights, np.concatenate(positions), offsets, out)
    return out


def null_scores(weights: np.ndarray, sizes: np.ndarray, permutations: int, seed: int) -> NullScores:
    """Null ES of random sets of each size: ``permutations`` seeded random prefixes, scored at
    every size in ``sizes``.

    Parameters
    ----------
    weights
        ``|stat|^p`` per ranked gene.
    sizes
        Distinct set sizes, ascending, each below ``len(weights)``.
    permutations
        Random sets per size.
    seed
        Seed of the draws (any integer; negative ones are taken modulo 2^64).

    Returns
    -------
    NullScores
        ``scores[j]``: the ``permutations`` null scores of size ``sizes[j]``.
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    scores = np.zeros((permutations, sizes.size))  # one row per permutation: a thread's own
    if sizes.size == 0 or permutations < 1:
        return NullScores(sizes, scores.T.copy())
    rng = np.random.default_rng(int(seed) % 2**64)
    depth = int(sizes[-1])
    for start in range(0, permutations, PERMUTATION_BATCH):
        count = min(PERMUTATION_BATCH, permutations - start)
        draws = np.empty((count, depth), dtype=np.int64)
        for row in range(count):  # the sequential, seeded part: same draws for any threads
            draws[row] = rng.choice(weights.size, depth, replace=False)
        _prefix_scores(weights, draws, sizes, scores[start : start + count])
    return NullScores(sizes, np.ascontiguousarray(scores.T))


@dataclass(frozen=True)
class SetStatistics:
    """NES, nominal p and FDR per set (same order as the observed scores)."""

    nes: np.ndarray
    pvalue: np.ndarray
    fdr: np.ndarray


def set_statistics(observed: np.ndarray, set_sizes: np.ndarray, null: NullScores) -> SetStatistics:
    """NES, nominal p-values and FDR of the observed scores against the per-size null.

    Parameters
    ----------
    observed
        Each set's ES.
    set_sizes
        Each set's size (one of ``null.sizes``).
    null
        From :func:`null_scores`.

    Returns
    -------
    SetStatistics
        gseapy's definitions (see the module docstring).
    """
    size_index = np.searchsorted(null.sizes, set_sizes)
    nes = np.full(observed.size, np.nan)
    pvalue = np.full(observed.size, np.nan)
    null_nes = np.empty_like(null.scores)
    for j, scores in enumerate(null.scores):
        members = np.flatnonzero(size_index == j)
        nes[members], pvalue[members], null_nes[j] = _size_statistics(observed[members], scores)
    multiplicity = np.bincount(size_index, minlength=null.sizes.size)
    return SetStatistics(nes, pvalue, gsea_fdr(nes, null_nes, multiplicity))


def _size_statistics(
    es: np.ndarray, scores: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """NES and nominal p of sets of one size, and that size's null normalised (null NES)."""
    up_null = np.sort(scores[scores >= 0])
    down_null = np.sort(scores[scores < 0])
    up_mean = up_null.mean() if up_null.size else np.nan
    down_mean = abs(down_null.mean()) if down_null.size else np.nan
    up = es >= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        # a side without null scores: gseapy divides by the ES itself (NES +1 or -1)
        divisor = np.where(up, up_mean, down_mean)
        divisor = np.where(np.isnan(divisor), np.abs(es), divisor)
        nes = es / divisor
        at_least = np.where(
            up,
            up_null.size - np.searchsorted(up_null, es, side="left"),
            np.searchsorted(down_null, es, side="right"),
        )
        same_sign = np.where(up, up_null.size, down_null.size)
        pvalue = np.where(same_sign > 0, at_least / np.maximum(same_sign, 1), 1.0)
        null_nes = np.where(scores >= 0, scores / up_mean, scores / down_mean)
    return nes, pvalue, null_nes


def gsea_fdr(nes: np.ndarray, null_nes: np.ndarray, multiplicity: np.ndarray) -> np.ndarray:
    """gseapy's FDR from the observed NES and the pooled null NES of all tested sets.

    For NES >= 0: ``(share of null NES >= NES among null NES >= 0) / (share of observed NES >=
    NES among observed NES >= 0)``, mirrored for NES < 0, capped to [0, 1]; 1 when no observed
    NES is as extreme.

    Parameters
    ----------
    nes
        Observed NES per set.
    null_nes
        Null NES per distinct size, ``(sizes, permutations)``.
    multiplicity
        Sets tested per size: each set contributes its size's null, as in gseapy's pool.

    Returns
    -------
    numpy.ndarray
        FDR per set (NaN where the NES is not finite).
    """
    fdr = np.full(nes.size, np.nan)
    finite = np.isfinite(nes)
    values = null_nes.ravel()
    counts = np.repeat(np.asarray(multiplicity, dtype=np.int64), null_nes.shape[1])
    keep = np.isfinite(values)
    order = np.argsort(values[keep], kind="stable")
    pooled = values[keep][order]
    weight_before = np.concatenate([[0], np.cumsum(counts[keep][order])])  # weight of pooled[:i]
    total = weight_before[-1]
    observed = np.sort(nes[finite])
    e = nes[finite]
    down = e < 0
    null_down = weight_before[np.searchsorted(pooled, 0.0, side="left")]
    obs_down = np.searchsorted(observed, 0.0, side="left")
    null_beyond = np.where(
        down,
        weight_before[np.searchsorted(pooled, e, side="right")],
        total - weight_before[np.searchsorted(pooled, e, side="left")],
    )
    obs_beyond = np.where(
        down,
        np.searchsorted(observed, e, side="right"),
        observed.size - np.searchsorted(observed, e, side="left"),
    )
    null_side = np.where(down, null_down, total - null_down)
    obs_side = np.where(down, obs_down, observed.size - obs_down)
    phi_null = np.where(null_side > 0, null_beyond / np.maximum(null_side, 1), 0.0)
    phi_obs = np.where(obs_side > 0, obs_beyond / np.maximum(obs_side, 1), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        fdr[finite] = np.where(phi_obs == 0, 1.0, np.clip(phi_null / phi_obs, 0.0, 1.0))
    return fdr


def leading_edge(weights: np.ndarray, positions: np.ndarray, es: float) -> np.ndarray:
    """Ranks of a set's leading edge: its hits up to the running sum's first maximum (ES >= 0),
    or from its first minimum on, last hit first (ES < 0), as gseapy's ``_to_df``.

    Parameters
    ----------
    weights
        ``|stat|^p`` per ranked gene.
    positions
        The set's ascending ranks.
    es
        Its ES (decides the side).

    Returns
    -------
    numpy.ndarray
        Ranks in ranking order (reversed for ES < 0); empty when ``es`` is not finite.
    """
    k = positions.size
    if not np.isfinite(es) or k == 0:
        return positions[:0]
    hit = weights[positions]
    total = hit.sum()
    step = hit / total if total > 0 else np.full(k, 1.0 / k)
    tops = np.cumsum(step) - (positions - np.arange(k)) / (weights.size - k)
    if es >= 0:
        return positions[: int(np.argmax(tops)) + 1]
    # the running sum just before hit i (rank positions[i] - 1) is tops[i] - step[i]
    inside = np.flatnonzero(positions > 0)
    if inside.size == 0:
        return positions[:0]
    trough = positions[inside[int(np.argmin((tops - step)[inside]))]] - 1
    return positions[positions >= trough][::-1]


@contextmanager
def numba_threads(threads: int):
    """Run the block with ``threads`` numba threads (capped at numba's pool), then restore."""
    before = numba.get_num_threads()
    numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
    try:
        yield
    finally:
        numba.set_num_threads(before)


@numba.njit(cache=True, nogil=True)
def _walk_score(weights, ranks, k, n_genes):  # pragma: no cover - compiled
    """gseapy's ``fast_random_walk`` on the ascending hit ranks ``ranks[:k]``: the running sum's
    value of largest |.| met first, checked just before and just after each hit."""
    total = 0.0
    for i in range(k):
        total += weights[ranks[i]]
    miss_step = 1.0 / (n_genes - k)
    uniform = total <= 0.0  # every hit has stat 0: equal weights (fgsea)
    hit_scale = 1.0 / total if not uniform else 0.0
    best = 0.0
    running = 0.0
    last = -1.0
    for i in range(k):
        rank = float(ranks[i])
        running -= miss_step * (rank - last - 1.0)
        if abs(running) > abs(best):
            best = running
        running += 1.0 / k if uniform else hit_scale * weights[ranks[i]]
        if abs(running) > abs(best):
            best = running
        last = rank
    return best


@numba.njit(cache=True)
def _observed_scores(weights, flat, offsets, out):  # pragma: no cover - compiled
    for s in range(offsets.size - 1):
        ranks = flat[offsets[s] : offsets[s + 1]]
        out[s] = _walk_score(weights, ranks, ranks.size, weights.size)


@numba.njit(cache=True, parallel=True)
def _prefix_scores(weights, draws, sizes, out):  # pragma: no cover - compiled
    """``out[p, j]``: the score of the first ``sizes[j]`` draws of permutation ``p``; the draws
    are inserted one by one into an ascending array, scored whenever it reaches a tested size."""
    n_perm, depth = draws.shape
    for p in numba.prange(n_perm):
        ranks = np.empty(depth, dtype=np.int64)
        j = 0
        for t in range(depth):
            value = draws[p, t]
            lo = np.searchsorted(ranks[:t], value)
            for m in range(t, lo, -1):
                ranks[m] = ranks[m - 1]
            ranks[lo] = value
            if t + 1 == sizes[j]:
                out[p, j] = _walk_score(weights, ranks, t + 1, weights.size)
                j += 1
                if j == sizes.size:
                    break
