"""Prerank p-values below the permutation floor: adaptive multilevel splitting (fgsea).

A set whose ES beats every one of ``P`` random sets only gets ``p < 1/(P+1)``; the multilevel
scheme estimates its nominal p in about ``log2(1/p)`` rounds of Metropolis moves instead of
``1/p`` random sets. As in fgsea, the sets of one size share a run: the sample climbs once and each
set's p is read off when the level passes its ES. Each run has its own SplitMix64 stream keyed by
(seed, size), so estimates do not depend on threads or on the other sets. The scheme, its
accuracy and how it differs from fgsea: ``docs/methods.md``, "multilevel splitting".
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence

import numba
import numpy as np

from alsig.gsea.kernels import (
    GOLDEN,
    TO_UNIT,
    numba_threads,
    observed_scores,
    sort_uniform,
    splitmix,
    walk_score,
)
from alsig.gsea.positions import set_positions
from alsig.gsea.records import PrerankOptions, PrerankRecord, pvalue_floor

log = logging.getLogger(__name__)

#: Random sets kept per level (fgsea's ``sampleSize`` default).
SAMPLE_SIZE = 101
#: Uniform random sets that estimate ``P(ES >= 0)`` of a set's size (the first ``sample_size``
#: of them start the sample).
NULL_DRAWS = 1000
#: Chunks a random set is held in, per square root of its size (fgsea's 0.5; 1.0 measured the
#: same).
CHUNKS_PER_SQRT_SIZE = 0.5
#: Accepted moves per level, per random set and gene of the set. fgsea asks for 1; 0.25 gave the
#: same estimates against 4 x 10^5 - 10^6 permutations (k = 20 and k = 300, mean log10 error
#: within 0.05 either way) at a quarter of the time, the difference between GO BP's 257 sets at
#: the floor taking 17 s and 5 s.
MOVES_PER_GENE = 0.25
#: Metropolis attempts per set and round, as a share of the set size (fgsea's 0.1).
ATTEMPTS_PER_GENE = 0.1
#: Rounds of attempts per level stop when ``MOVES_PER_GENE x sample_size x k`` moves were
#: accepted, or after this many attempts per set and gene (a region too thin to move in).
MAX_ATTEMPTS_PER_GENE = 50


def multilevel_pvalues(
    weights: np.ndarray,
    positions: Sequence[np.ndarray],
    es: Sequence[float],
    *,
    seed: int,
    eps: float,
    threads: int,
    sample_size: int = SAMPLE_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    """Estimate the nominal p-values of sets by multilevel splitting.

    Sets of one size and sign share one run (fgsea's ``fgseaMultilevel``): the sample climbs the
    levels once, and each set's p is read off when the level passes its ES.

    Parameters
    ----------
    weights
        ``|stat|^p`` per ranked gene, ranking order (the engine's weights).
    positions
        Each set's ascending ranks (fewer than ``len(weights)``).
    es
        Each set's observed ES (its sign picks the side).
    seed
        Seed of the draws; the run of the sets of size ``k`` draws from the stream
        keyed by (seed, ``k``), so a set's estimate does not depend on the other sets, on threads
        or on the order of work (a set with ES < 0 draws the same ranks, walked mirrored).
    eps
        Smallest p estimated; a set whose estimate falls below it gets ``eps`` and ``bounded``.
    threads
        Threads (sizes run in parallel; results do not depend on it).
    sample_size
        Random sets kept per level (at least 3).

    Returns
    -------
    tuple of numpy.ndarray
        ``pvalues`` (one per set, in ``[eps, 1]``) and ``bounded`` (true where ``p < eps``).
    """
    weights = np.ascontiguousarray(weights, dtype=np.float64)
    n_genes = weights.size
    observed = np.asarray(es, dtype=np.float64)
    pvalues = np.ones(observed.size)
    bounded = np.zeros(observed.size, dtype=bool)
    if observed.size == 0:
        return pvalues, bounded
    if not 0 < eps < 1:
        raise ValueError(f"eps must be in (0, 1), got {eps}")
    if not 3 <= sample_size <= NULL_DRAWS:
        raise ValueError(f"sample_size must be in 3-{NULL_DRAWS}, got {sample_size}")
    # a set with ES < 0 is walked on the reversed ranking, where its ES is positive
    mirrored = [
        np.sort(n_genes - 1 - np.asarray(p, dtype=np.int64)) if e < 0 else np.asarray(p, np.int64)
        for p, e in zip(positions, observed, strict=True)
    ]
    negative = observed < 0
    sizes = np.array([m.size for m in mirrored], dtype=np.int64)
    log_p = np.zeros(observed.size)
    hit_eps = np.zeros(observed.size, dtype=np.bool_)
    with numba_threads(threads):
        for side, side_weights in ((False, weights), (True, weights[::-1].copy())):
            chosen = np.flatnonzero(negative == side)
            if chosen.size == 0:
                continue
            flat = np.concatenate([mirrored[i] for i in chosen])
            offsets = np.zeros(chosen.size + 1, dtype=np.int64)
            offsets[1:] = np.cumsum(sizes[chosen])
            targets = np.empty(chosen.size)
            observed_scores(side_weights, flat, offsets, targets)
            # runs: the sets of one size, targets ascending
            order = np.lexsort((targets, sizes[chosen]))
            run_sizes, run_starts = np.unique(sizes[chosen][order], return_index=True)
            run_offsets = np.append(run_starts, order.size).astype(np.int64)
            side_log_p = np.zeros(chosen.size)
            side_bounded = np.zeros(chosen.size, dtype=np.bool_)
            _multilevel_runs(
                side_weights,
                run_sizes.astype(np.int64),
                run_offsets,
                np.ascontiguousarray(targets[order]),
                np.uint64(int(seed) % 2**64),
                int(sample_size),
                expected_log_share(int(sample_size)),
                math.log(eps),
                side_log_p,
                side_bounded,
            )
            log_p[chosen[order]], hit_eps[chosen[order]] = side_log_p, side_bounded
    pvalues = np.where(hit_eps, eps, np.clip(np.exp(log_p), eps, 1.0))
    return pvalues, hit_eps


def beyond_permutations(
    genes: list[str],
    values: np.ndarray,
    sets: Mapping[str, list[str]],
    records: list[PrerankRecord],
    options: PrerankOptions,
) -> dict[str, tuple[float, bool]]:
    """Estimate the p-values of the sets no permutation reached (p below ``1/(permutations+1)``).

    Parameters
    ----------
    genes
        Ranked gene names (upper case), highest statistic first.
    values
        Their statistics; the weights are ``|values|`` (the engines' ``p = 1``).
    sets
        The eligible sets the engine tested, restricted to ``genes``.
    records
        The engine's records.
    options
        The run's options (``seed``, ``multilevel_eps``, ``threads``, ``permutations``).

    Returns
    -------
    dict
        ``{term: (p, bounded)}``: the estimate (at least ``options.multilevel_eps``) and whether
        it stopped at that bound. The sets of one size share a run keyed by that size, so an
        estimate does not depend on which other sets are estimated.
    """
    floor = pvalue_floor(options.permutations)
    chosen = [r for r in records if r.pvalue is not None and r.pvalue < floor and r.es]
    if not chosen:
        return {}
    found = set_positions(genes, {r.term: sets[r.term] for r in chosen}, 1, len(genes))
    pvalues, bounded = multilevel_pvalues(
        np.abs(np.asarray(values, dtype=np.float64)),
        [found[r.term] for r in chosen],
        [float(r.es) for r in chosen if r.es is not None],
        seed=options.seed,
        eps=options.multilevel_eps,
        threads=options.threads,
    )
    log.info(
        "prerank: %d sets beyond every permutation; multilevel p %.3g-%.3g (%d at eps %.3g)",
        len(chosen),
        float(pvalues.min()),
        float(pvalues.max()),
        int(bounded.sum()),
        options.multilevel_eps,
    )
    return {r.term: (float(p), bool(b)) for r, p, b in zip(chosen, pvalues, bounded, strict=True)}


def expected_log_share(sample_size: int) -> np.ndarray:
    """Return ``[a]``.

    The expected log of the probability beyond the ``a``-th largest of ``sample_size`` draws,
    ``digamma(a) - digamma(sample_size + 1)`` (the log of a Beta(a, sample_size - a + 1)
    variable; fgsea's ``betaMeanLog``). The plain ``log(a / m)`` overestimates each level's
    factor slightly, and over ~13 levels (p ~ 10^-4) the estimate by about 0.09 in log10
    (measured). For integers ``digamma(m + 1) - digamma(a)`` is the harmonic sum ``1/a + ... +
    1/m``, so no special function is needed.
    """
    share = np.full(sample_size + 1, -np.inf)
    inverse = 1.0 / np.arange(1, sample_size + 1)
    share[1:] = -np.cumsum(inverse[::-1])[::-1]
    return share


@numba.njit(cache=True, parallel=True)
def _multilevel_runs(
    weights, sizes, offsets, targets, seed, sample_size, log_share, log_eps, out_log_p, out_bounded
):  # pragma: no cover - compiled
    """Estimate ``out_log_p[s]``, the log p of target ``s``, and ``out_bounded[s]``.

    Run ``r`` holds the sets of size ``sizes[r]``: their ES (positive on ``weights``) are
    ``targets[offsets[r]:offsets[r + 1]]``, ascending; ``out_bounded[s]``: the estimate fell
    below ``exp(log_eps)``.
    """
    for r in numba.prange(sizes.size):
        lo, hi = offsets[r], offsets[r + 1]
        state = splitmix(seed ^ splitmix(np.uint64(sizes[r]) + GOLDEN))
        _one_size(
            weights,
            sizes[r],
            targets[lo:hi],
            state,
            sample_size,
            log_share,
            log_eps,
            out_log_p[lo:hi],
            out_bounded[lo:hi],
        )


@numba.njit(cache=True, nogil=True)
def _draw(state, n):  # pragma: no cover - compiled
    """Next state of a SplitMix64 stream and a uniform integer below ``n``."""
    state += GOLDEN
    return state, np.int64((splitmix(state) >> np.uint64(11)) * TO_UNIT * n)


@numba.njit(cache=True, nogil=True)
def _positive_score(weights, ranks, k, n_genes):  # pragma: no cover - compiled
    """``S+``: the running sum's largest value (just after a hit), at least 0."""
    total = 0.0
    for i in range(k):
        total += weights[ranks[i]]
    if total <= 0.0:
        return 0.0
    miss_step = 1.0 / (n_genes - k)
    best = 0.0
    running = 0.0
    last = -1
    for i in range(k):
        running += weights[ranks[i]] / total - miss_step * (ranks[i] - last - 1)
        best = max(best, running)
        last = ranks[i]
    return best


@numba.njit(cache=True, nogil=True)
def _draw_set(state, n_genes, k, drawn, draw_id, draws, starts, buckets, out):  # pragma: no cover
    """``k`` distinct uniform ranks, sorted into ``out``; returns the stream's state."""
    filled = 0
    while filled < k:
        state, rank = _draw(state, n_genes)
        if drawn[rank] != draw_id:
            drawn[rank] = draw_id
            draws[filled] = rank
            filled += 1
    sort_uniform(draws, k, n_genes, starts, buckets, out)
    return state


@numba.njit(cache=True, nogil=True)
def _one_size(
    weights, k, targets, state, m, log_share, log_eps, out_log_p, out_bounded
):  # pragma: no cover - compiled
    """Estimate ``log P(ES >= t | ES >= 0)`` for the ES ``targets`` (ascending) of size ``k``.

    The levels are on ``S+`` (the walk's largest value), which a move can check by skipping the
    chunks that cannot reach the level; ``P(ES >= t) = P(S+ >= level) x P(ES >= t | S+ >=
    level)``, the last factor counted with the signed ES on the sample of the first level at or
    above ``t``. ``P(ES >= 0)`` is counted on ``NULL_DRAWS`` uniform random sets. A target's
    estimate is what a run for it alone from the same stream gives.
    """
    n_genes = weights.size
    n_targets = targets.size
    out_bounded[:] = False
    done = 0
    while done < n_targets and targets[done] <= 0.0:  # p = 1
        out_log_p[done] = 0.0
        done += 1
    if done == n_targets:
        return
    samples = np.empty((m, k), dtype=np.int64)
    scores = np.empty(m)
    signed = np.empty(m)
    drawn = np.zeros(n_genes, dtype=np.int64)  # the draw that last took a rank
    draws = np.empty(k, dtype=np.int64)
    starts = np.empty(k + 1, dtype=np.int64)
    buckets = np.empty(k, dtype=np.int64)
    scratch = np.empty(k, dtype=np.int64)
    non_negative = 0
    for d in range(NULL_DRAWS):  # P(ES >= 0); the first m draws start the sample
        row = samples[d] if d < m else scratch
        state = _draw_set(state, n_genes, k, drawn, d + 1, draws, starts, buckets, row)
        if walk_score(weights, row, k, n_genes) >= 0.0:
            non_negative += 1
    log_p = -math.log(max(non_negative, 1) / NULL_DRAWS)
    for i in range(m):
        scores[i] = _positive_score(weights, samples[i], k, n_genes)
    n_chunks = max(1, int(CHUNKS_PER_SQRT_SIZE * math.sqrt(k)))
    chunks = (
        np.empty(n_chunks, dtype=np.int64),  # bounds: each chunk holds the ranks below its bound
        np.empty((m, n_chunks, k), dtype=np.int64),  # members, ascending
        np.zeros((m, n_chunks), dtype=np.int64),  # sizes
        np.zeros((m, n_chunks)),  # sums of weights
        np.zeros(m),  # total weight of each set
    )
    for _ in range(int(-log_eps / math.log(2.0)) + 20):
        order = np.argsort(scores, kind="mergesort")
        level = scores[order[m // 2]]
        if targets[done] <= level:
            for i in range(m):
                signed[i] = walk_score(weights, samples[i], k, n_genes)
            while done < n_targets and targets[done] <= level:
                reached = 0
                for i in range(m):
                    if signed[i] >= targets[done]:
                        reached += 1
                out_log_p[done] = min(log_p + log_share[max(reached, 1)], 0.0)
                done += 1
            if done == n_targets:
                return
        above = 0
        for i in range(m):
            if scores[i] >= level:
                above += 1
        log_p += log_share[above]
        if log_p <= log_eps:
            out_log_p[done:] = log_eps
            out_bounded[done:] = True
            return
        for j in range(m - above):  # refill with copies of the sets at or above the level
            state, pick = _draw(state, above)
            src = order[m - above + pick]
            samples[order[j], :] = samples[src, :]
        state = _decorrelate(weights, samples, level, state, *chunks)
        for i in range(m):
            scores[i] = _positive_score(weights, samples[i], k, n_genes)
    out_log_p[done:] = log_p
    out_bounded[done:] = True


@numba.njit(cache=True, nogil=True)
def _decorrelate(
    weights, samples, level, state, bounds, members, sizes, sums, totals
):  # pragma: no cover
    """Metropolis moves of every random set that keep ``S+ >= level``.

    Rounds of the same number of attempts per set until ``MOVES_PER_GENE x m x k`` moves were
    accepted (every set gets the same attempts whatever it accepts: stopping a set after a count
    of *accepted* moves samples the jump chain, which over-weights sets far from the level and
    biased p upwards 10x at 10^-4, measured).

    A set is held in chunks of ranks (bounds: medians over the sample, as fgsea's), so a move
    inserts and removes within one chunk and the level check skips every chunk whose hits
    cannot lift the running sum to the level.
    """
    m, k = samples.shape
    n_genes = weights.size
    n_chunks = bounds.size
    column = np.empty(m, dtype=np.int64)
    at = 0
    for c in range(n_chunks - 1):
        at += (k + c) // n_chunks
        column[:] = samples[:, at]
        bounds[c] = np.sort(column)[m // 2]
    bounds[n_chunks - 1] = n_genes
    for i in range(m):
        sizes[i, :] = 0
        sums[i, :] = 0.0
        totals[i] = 0.0
        c = 0
        for t in range(k):
            rank = samples[i, t]
            while bounds[c] <= rank:
                c += 1
            members[i, c, sizes[i, c]] = rank
            sizes[i, c] += 1
            sums[i, c] += weights[rank]
            totals[i] += weights[rank]
    attempts = max(1, int(ATTEMPTS_PER_GENE * k))
    accepted = 0
    for _ in range(max(1, int(MAX_ATTEMPTS_PER_GENE * k / attempts))):
        if accepted >= MOVES_PER_GENE * m * k:
            break
        for i in range(m):
            for _ in range(attempts):
                state, moved = _move(
                    weights, level, state, bounds, members[i], sizes[i], sums[i], totals, i, k
                )
                accepted += moved
    for i in range(m):
        t = 0
        for c in range(n_chunks):
            for u in range(sizes[i, c]):
                samples[i, t] = members[i, c, u]
                t += 1
    return state


@numba.njit(cache=True, nogil=True)
def _move(weights, level, state, bounds, members, sizes, sums, totals, i, k):  # pragma: no cover
    """One Metropolis step of set ``i``.

    Swap a random rank of the set for a random rank outside it (a symmetric proposal), kept when
    ``S+`` stays ``>= level``. Returns (state, 1 if kept).
    """
    n_genes = weights.size
    state, out = _draw(state, k)
    state, new = _draw(state, n_genes)
    c_out = 0
    t_out = out
    while sizes[c_out] <= t_out:
        t_out -= sizes[c_out]
        c_out += 1
    old = members[c_out, t_out]
    # the chunk that holds rank ``new`` (the last bound is n_genes), then its first member >=
    # ``new``: plain loops, 6-8 % of the multilevel time less than np.searchsorted on these short
    # arrays (GO BP's 659 floor sets of GSE67196 cerebellum: 8.8 -> 8.2-8.3 s; the same estimates)
    c_new = 0
    while bounds[c_new] <= new:
        c_new += 1
    lo, hi = 0, sizes[c_new]
    while lo < hi:
        mid = (lo + hi) >> 1
        if members[c_new, mid] < new:
            lo = mid + 1
        else:
            hi = mid
    t_new = lo
    if t_new < sizes[c_new] and members[c_new, t_new] == new:
        return state, 0  # already in the set
    _remove(members[c_out], sizes, c_out, t_out)
    if c_new == c_out and t_out < t_new:
        t_new -= 1
    _insert(members[c_new], sizes, c_new, t_new, new)
    delta = weights[new] - weights[old]
    sums[c_out] -= weights[old]
    sums[c_new] += weights[new]
    totals[i] += delta
    if _reaches(weights, level, bounds, members, sizes, sums, totals[i], k):
        return state, 1
    _remove(members[c_new], sizes, c_new, t_new)
    _insert(members[c_out], sizes, c_out, t_out, old)
    sums[c_new] -= weights[new]
    sums[c_out] += weights[old]
    totals[i] -= delta
    return state, 0


@numba.njit(cache=True, nogil=True, inline="always")
def _remove(chunk, sizes, c, t):  # pragma: no cover - compiled
    for u in range(t, sizes[c] - 1):
        chunk[u] = chunk[u + 1]
    sizes[c] -= 1


@numba.njit(cache=True, nogil=True, inline="always")
def _insert(chunk, sizes, c, t, rank):  # pragma: no cover - compiled
    for u in range(sizes[c], t, -1):
        chunk[u] = chunk[u - 1]
    chunk[t] = rank
    sizes[c] += 1


@numba.njit(cache=True, nogil=True)
def _reaches(weights, level, bounds, members, sizes, sums, total, k):  # pragma: no cover
    """Whether the running sum of a chunked set reaches ``level`` (``S+ >= level``).

    A chunk whose hits together cannot lift the sum to the level is crossed in O(1).
    """
    if total <= 0.0:
        return level <= 0.0
    miss_step = 1.0 / (weights.size - k)
    hit_scale = 1.0 / total
    running = 0.0
    last = -1
    start = 0
    for c in range(bounds.size):
        end = bounds[c]
        if running + hit_scale * sums[c] < level:
            running += hit_scale * sums[c] - miss_step * (end - start - sizes[c])
        else:
            for u in range(sizes[c]):
                rank = members[c, u]
                running += hit_scale * weights[rank] - miss_step * (rank - last - 1)
                if running >= level:
                    return True
                last = rank
            running -= miss_step * (end - 1 - last)
        last = end - 1
        start = end
    return False
