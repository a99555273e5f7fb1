"""Compiled loops of the alsig prerank engine (:mod:`alsig.gsea.alsig_engine`).

The walk over a set's sorted ranks, and the random sets of the permutation null.

Random sets come from SplitMix64 (Steele, Lea & Flood, OOPSLA 2014), a counter-based generator:
each random set has its own stream keyed by (seed, set size, the set's index among sets of that
size, permutation), so a score does not depend on which thread computes it or on the order of
work.
"""

from __future__ import annotations

from contextlib import contextmanager

import numba
import numpy as np

#: SplitMix64's increment (2^64 / golden ratio).
GOLDEN = np.uint64(0x9E3779B97F4A7C15)
#: 2^-53: the top 53 bits of a draw as a float in [0, 1).
TO_UNIT = 1.0 / 9007199254740992.0


@numba.njit(cache=True, nogil=True)
def walk_score(weights, ranks, k, n_genes):  # pragma: no cover - compiled
    """Gseapy's ``fast_random_walk`` on ascending hit ranks (same arithmetic, same order).

    Parameters
    ----------
    weights
        ``|stat|^p`` per ranked gene.
    ranks
        The hits' ranks, ascending (first ``k`` used).
    k
        Number of hits (below ``n_genes``).
    n_genes
        Genes ranked.

    Returns
    -------
    float
        The running sum's value of largest ``|.|`` met first, checked just before and just
        after each hit. Hits that all weigh 0 are walked with equal weights (fgsea's rule).
    """
    total = 0.0
    for i in range(k):
        total += weights[ranks[i]]
    miss_step = 1.0 / (n_genes - k)
    uniform = total <= 0.0
    hit_scale = 1.0 / total if not uniform else 0.0
    best = 0.0
    best_abs = 0.0  # |best|, kept rather than recomputed at every comparison
    running = 0.0
    last = -1
    for i in range(k):
        rank = ranks[i]
        running -= miss_step * float(rank - last - 1)  # the gap is exact in integers
        size = abs(running)
        if size > best_abs:
            best = running
            best_abs = size
        running += hit_scale * weights[rank] if not uniform else 1.0 / k
        size = abs(running)
        if size > best_abs:
            best = running
            best_abs = size
        last = rank
    return best


@numba.njit(cache=True)
def observed_scores(weights, flat, offsets, out):  # pragma: no cover - compiled
    """``out[s]``: :func:`walk_score` of set ``s``, whose ranks are ``flat[offsets[s].

    Offsets[s + 1]]``.

    Parameters
    ----------
    weights
        ``|stat|^p`` per ranked gene.
    flat, offsets
        All sets' ascending ranks, concatenated, and where each set starts (plus the end).
    out
        One score per set (written).
    """
    for s in range(offsets.size - 1):
        ranks = flat[offsets[s] : offsets[s + 1]]
        out[s] = walk_score(weights, ranks, ranks.size, weights.size)


@numba.njit(cache=True, inline="always")
def splitmix(z):  # pragma: no cover - compiled
    """SplitMix64's output function (a 64-bit bijective mix).

    Parameters
    ----------
    z
        A ``uint64``.

    Returns
    -------
    numpy.uint64
        The mixed value.
    """
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@numba.njit(cache=True, parallel=True)
def random_set_scores(weights, sizes, occurrence, seed, out):  # pragma: no cover - compiled
    """``out[j, i]``: the score of random set ``i`` for set ``j``.

    ``sizes[j]`` distinct ranks drawn from the stream keyed by (seed, size, occurrence, i),
    sorted, walked. Permutations run in parallel.

    Parameters
    ----------
    weights
        ``|stat|^p`` per ranked gene.
    sizes
        Each set's size (below ``len(weights)``).
    occurrence
        Each set's index among the sets of its size.
    seed
        ``uint64`` seed.
    out
        ``(len(sizes), permutations)`` scores (written; each thread fills its own columns).
    """
    n_perm, n_sets = out.shape
    n_genes = weights.size
    depth = sizes.max()
    keys = np.empty(n_sets, dtype=np.uint64)
    for j in range(n_sets):
        key = (np.uint64(sizes[j]) << np.uint64(32)) | np.uint64(occurrence[j])
        keys[j] = splitmix(seed ^ splitmix(key))
    for i in numba.prange(n_perm):
        drawn_for = np.zeros(n_genes, dtype=np.int32)  # 1 + the set that last drew a rank
        draws = np.empty(depth, dtype=np.int64)
        ranks = np.empty(depth, dtype=np.int64)
        starts = np.empty(depth + 1, dtype=np.int64)
        buckets = np.empty(depth, dtype=np.int64)
        for j in range(n_sets):
            k = sizes[j]
            state = splitmix(keys[j] + GOLDEN * np.uint64(i + 1))
            filled = 0
            while filled < k:  # rejection of repeats: uniform over the k-subsets
                state += GOLDEN
                rank = np.int64((splitmix(state) >> np.uint64(11)) * TO_UNIT * n_genes)
                if drawn_for[rank] != j + 1:
                    drawn_for[rank] = j + 1
                    draws[filled] = rank
                    filled += 1
            sort_uniform(draws, k, n_genes, starts, buckets, ranks)
            out[i, j] = walk_score(weights, ranks, k, n_genes)


@numba.njit(cache=True, nogil=True)
def sort_uniform(draws, k, n_genes, starts, buckets, out):  # pragma: no cover - compiled
    """Sort distinct uniform ranks in expected O(k).

    ``k`` equal-width buckets, then an insertion sort that only has to order ranks within a
    bucket.

    Parameters
    ----------
    draws
        Distinct ranks below ``n_genes`` (first ``k`` used).
    k
        How many.
    n_genes
        Genes ranked.
    starts
        Scratch of at least ``k + 1`` integers.
    buckets
        Scratch of at least ``k`` integers (each draw's bucket, computed once).
    out
        ``out[:k]``: the ranks, ascending (written).
    """
    starts[: k + 1] = 0
    scale = k / n_genes  # bucket = floor(rank * k / n): monotone in rank, below k
    for t in range(k):
        bucket = np.int64(draws[t] * scale)
        buckets[t] = bucket
        starts[bucket + 1] += 1
    for b in range(k):
        starts[b + 1] += starts[b]
    for t in range(k):
        bucket = buckets[t]
        out[starts[bucket]] = draws[t]
        starts[bucket] += 1
    for t in range(1, k):
        value = out[t]
        m = t
        while m > 0 and out[m - 1] > value:
            out[m] = out[m - 1]
            m -= 1
        out[m] = value


@contextmanager
def numba_threads(threads: int):
    """Run the block with ``threads`` numba threads (capped at numba's pool), then restore."""
    before = numba.get_num_threads()
    pool = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]  # set at numba's import
    numba.set_num_threads(max(1, min(int(threads), pool)))
    try:
        yield
    finally:
        numba.set_num_threads(before)
