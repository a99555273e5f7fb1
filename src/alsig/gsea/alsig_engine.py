"""alsig's GSEA preranked engine: the gene-set permutation test from set positions alone.

A set's weighted Kolmogorov-Smirnov score depends only on the ranks of its genes, so a null score
is the walk of a random ``k``-subset of ranks: O(k), not O(N). Each set gets its own random sets
and its own counter-based random stream, so results do not depend on threads. Statistics (ES,
NES, nominal p, FDR, leading edge) are defined as gseapy's ``prerank`` defines them. Why, and
how it differs from gseapy: ``docs/methods.md``, "GSEA preranked".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from alsig.gsea.kernels import numba_threads, observed_scores, random_set_scores
from alsig.gsea.positions import set_positions
from alsig.gsea.records import PrerankOptions, PrerankRecord, finite_float

#: Sets normalised at a time in :func:`set_statistics` (bounds its temporaries).
STATISTICS_BATCH = 256


@dataclass(frozen=True)
class NullScores:
    """Permutation null per set: ``scores[j]``, the ES of random sets of size ``sizes[j]``."""

    sizes: np.ndarray  # one per set
    scores: np.ndarray  # (sets, permutations)


def alsig_records(
    genes: list[str],
    values: np.ndarray,
    sets: Mapping[str, Sequence[str]],
    options: PrerankOptions,
) -> list[PrerankRecord]:
    """Run :func:`positions_prerank` with the engine seam's arguments.

    The seam is :data:`alsig.gsea.engines.ENGINES`: every engine takes the ranking, the eligible
    sets and the options.

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
        weight=1.0,
        threads=options.threads,
    )


def positions_prerank(
    genes: Sequence[str],
    values: np.ndarray,
    sets: Mapping[str, Sequence[str]],
    *,
    permutations: int,
    seed: int,
    min_size: int,
    max_size: int,
    weight: float,
    threads: int,
) -> list[PrerankRecord]:
    """Run GSEA preranked (gene-set permutation) of one ranking against ``sets``.

    Parameters
    ----------
    genes
        Unique gene names in ranking order (highest statistic first, ties already broken, as
        :func:`alsig.stages.enrich.ranking.prepare_ranking` gives them).
    values
        Their statistics, same order.
    sets
        ``{term: genes}``; genes not in ``genes`` and repeated genes are ignored.
    permutations
        Random sets of its size drawn per set (at least 1).
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
        null = null_scores(weights, set_sizes, int(permutations), int(seed))
    stats = set_statistics(observed, null)
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


def enrichment_scores(weights: np.ndarray, positions: Sequence[np.ndarray]) -> np.ndarray:
    """Return the observed ES of each set (gseapy's walk over its sorted ranks).

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
    observed_scores(weights, np.concatenate(positions), offsets, out)
    return out


def null_scores(weights: np.ndarray, sizes: np.ndarray, permutations: int, seed: int) -> NullScores:
    """Null ES of each set: the scores of ``permutations`` random sets of its size.

    Parameters
    ----------
    weights
        ``|stat|^p`` per ranked gene.
    sizes
        Each set's size (below ``len(weights)``).
    permutations
        Random sets per set.
    seed
        Seed of the draws (any integer; taken modulo 2^64). The ``m``-th set of size ``k`` (in
        the order given) draws from streams keyed by (seed, k, m, permutation): its null does
        not depend on sets of other sizes, on threads or on the order of work.

    Returns
    -------
    NullScores
        ``scores[j]``: the ``permutations`` null scores of set ``j``.
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    occurrence = np.zeros(sizes.size, dtype=np.int64)  # m: earlier sets of the same size
    for size in np.unique(sizes):
        same = np.flatnonzero(sizes == size)
        occurrence[same] = np.arange(same.size)
    scores = np.zeros((permutations, sizes.size))
    if sizes.size and permutations > 0:
        random_set_scores(weights, sizes, occurrence, np.uint64(int(seed) % 2**64), scores)
    return NullScores(sizes, np.ascontiguousarray(scores.T))


@dataclass(frozen=True)
class SetStatistics:
    """NES, nominal p and FDR per set (same order as the observed scores)."""

    nes: np.ndarray
    pvalue: np.ndarray
    fdr: np.ndarray


def set_statistics(observed: np.ndarray, null: NullScores) -> SetStatistics:
    """NES, nominal p-values and FDR of the observed scores against each set's null.

    Parameters
    ----------
    observed
        Each set's ES.
    null
        From :func:`null_scores`, same sets and order.

    Returns
    -------
    SetStatistics
        gseapy's definitions (see the module docstring).
    """
    observed = np.asarray(observed, dtype=float)
    nes = np.empty(observed.size)
    pvalue = np.empty(observed.size)
    null_nes = np.empty_like(null.scores)
    for start in range(0, observed.size, STATISTICS_BATCH):  # bounds the temporaries
        rows = slice(start, start + STATISTICS_BATCH)
        nes[rows], pvalue[rows], null_nes[rows] = _normalised(observed[rows], null.scores[rows])
    return SetStatistics(nes, pvalue, gsea_fdr(nes, null_nes))


def _normalised(es: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """NES, nominal p and null NES of sets (rows of ``scores``: each set's null)."""
    up, down = scores >= 0, scores < 0
    n_up, n_down = up.sum(axis=1), down.sum(axis=1)
    is_up = es >= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        up_mean = np.where(up, scores, 0.0).sum(axis=1) / n_up  # NaN without positive scores
        down_mean = np.abs(np.where(down, scores, 0.0).sum(axis=1) / n_down)
        divisor = np.where(is_up, up_mean, down_mean)
        # a side without null scores: gseapy divides by the ES itself (NES +1 or -1)
        divisor = np.where(np.isnan(divisor), np.abs(es), divisor)
        at_least = np.where(
            is_up, (scores >= es[:, None]).sum(axis=1), (scores <= es[:, None]).sum(axis=1)
        )
        same_sign = np.where(is_up, n_up, n_down)
        pvalue = np.where(same_sign > 0, at_least / np.maximum(same_sign, 1), 1.0)
        null_nes = np.where(up, scores / up_mean[:, None], scores / down_mean[:, None])
    return es / divisor, pvalue, null_nes


def gsea_fdr(nes: np.ndarray, null_nes: np.ndarray) -> np.ndarray:
    """Return gseapy's FDR from the observed NES and the pooled null NES of all tested sets.

    For NES >= 0: ``(share of null NES >= NES among null NES >= 0) / (share of observed NES >=
    NES among observed NES >= 0)``, mirrored for NES < 0, capped to [0, 1]; 1 when no observed
    NES is as extreme.

    Parameters
    ----------
    nes
        Observed NES per set.
    null_nes
        Each set's null NES, ``(sets, permutations)``; all are pooled.

    Returns
    -------
    numpy.ndarray
        FDR per set (NaN where the NES is not finite).
    """
    fdr = np.full(nes.size, np.nan)
    finite = np.isfinite(nes)
    pooled = null_nes[np.isfinite(null_nes)]  # a copy: sorting it leaves null_nes intact
    pooled.sort()
    observed = np.sort(nes[finite])
    e = nes[finite]
    down = e < 0
    null_down = np.searchsorted(pooled, 0.0, side="left")
    obs_down = np.searchsorted(observed, 0.0, side="left")
    null_beyond = np.where(
        down,
        np.searchsorted(pooled, e, side="right"),
        pooled.size - np.searchsorted(pooled, e, side="left"),
    )
    obs_beyond = np.where(
        down,
        np.searchsorted(observed, e, side="right"),
        observed.size - np.searchsorted(observed, e, side="left"),
    )
    null_side = np.where(down, null_down, pooled.size - null_down)
    obs_side = np.where(down, obs_down, observed.size - obs_down)
    phi_null = np.where(null_side > 0, null_beyond / np.maximum(null_side, 1), 0.0)
    phi_obs = np.where(obs_side > 0, obs_beyond / np.maximum(obs_side, 1), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        fdr[finite] = np.where(phi_obs == 0, 1.0, np.clip(phi_null / phi_obs, 0.0, 1.0))
    return fdr


def leading_edge(weights: np.ndarray, positions: np.ndarray, es: float) -> np.ndarray:
    """Return the ranks of a set's leading edge, as gseapy's ``_to_df``.

    Its hits up to the running sum's first maximum (ES >= 0), or from its first minimum on, last
    hit first (ES < 0).

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
