"""Cook's distances, DESeq2's outlier flags and the replacement of outlier counts.

Cook's distance of sample i (DESeq2 ``calculateCooksDistance``; pydeseq2 ``calculate_cooks``):
``(y_i - mu_i)^2 / (mu_i + a mu_i^2) / p * h_i / (1 - h_i)^2`` with the fitted means ``mu``, hat
diagonals ``h`` and a robust method-of-moments dispersion ``a`` (trimmed variance within each
design cell of 3 or more samples, the largest over cells; at least 0.04). A count is an outlier
when its distance exceeds the 0.99 quantile of ``F(p, n - p)``.

Two uses (as pydeseq2): *replacement* (``refit_cooks``) replaces outlier counts of samples in
cells of at least ``min_replicates`` (7) by the gene's 20 %-trimmed mean of normalised counts
times the size factor, and refits those genes; *p-value filtering* flags a gene whose largest
distance among samples in cells of 3 or more is beyond the cutoff, unless 3 or more samples have
a higher count than the sample with the largest distance. After replacement, a refitted gene's
replaced samples no longer count for the flag.

Everything per gene is computed in one compiled pass over a chunk; what is kept per gene is a
few flags (never the samples x genes distance matrix), plus the outlier mask of the few genes
that have one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from alsig.deseq2.design import Design
from alsig.distributions import f_ppf

#: smallest robust dispersion (DESeq2: a smaller one gives extreme distances to every count
#: in the outlier's cell)
MIN_ROBUST_DISPERSION = 0.04
#: trimming by cell size (< 3.5, < 23.5, larger) and the matching variance scale factors
TRIM_RATIOS = np.array([1.0 / 3.0, 1.0 / 4.0, 1.0 / 8.0])
TRIM_SCALES = np.array([2.04, 1.86, 1.51])
#: trim of the whole-sample variance when no cell has 3 samples
WHOLE_TRIM = 0.125
WHOLE_SCALE = 1.51
#: trim of the base mean that replaces an outlier count
REPLACEMENT_TRIM = 0.2


def cooks_cutoff(n_samples: int, n_coefficients: int) -> float:
    """0.99 quantile of ``F(p, n - p)``."""
    return float(f_ppf(0.99, n_coefficients, n_samples - n_coefficients))


@dataclass(frozen=True)
class CooksLayout:
    """Which samples play which part in the outlier rules (from the design).

    Attributes
    ----------
    cell_members, cell_offsets
        Samples of each design cell with 3 or more samples, concatenated, and where each cell
        starts (plus the end); no cells when none has 3.
    cell_trim
        Index into :data:`TRIM_RATIOS` of each cell.
    use_for_max
        Samples in cells of 3 or more (their distances flag a gene).
    replaceable
        Samples in cells of at least ``min_replicates`` (their outliers are replaced).
    cutoff
        The distance cutoff.
    """

    cell_members: np.ndarray
    cell_offsets: np.ndarray
    cell_trim: np.ndarray
    use_for_max: np.ndarray
    replaceable: np.ndarray
    cutoff: float

    @classmethod
    def from_design(cls, design: Design, min_replicates: int = 7) -> CooksLayout:
        """Build the layout of ``design`` (``min_replicates``: DESeq2's ``minReplicatesForReplace``)."""
        three = design.replicated(3)
        members: list[int] = []
        offsets = [0]
        trims = []
        for g in np.unique(design.group[three]):  # cell order does not matter (a max)
            cell = np.flatnonzero(three & (design.group == g))
            members.extend(cell.tolist())
            offsets.append(len(members))
            size = cell.size
            trims.append(2 if size >= 23.5 else 1 if size >= 3.5 else 0)
        return cls(
            cell_members=np.asarray(members, dtype=np.int64),
            cell_offsets=np.asarray(offsets, dtype=np.int64),
            cell_trim=np.asarray(trims, dtype=np.int64),
            use_for_max=three,
            replaceable=design.replicated(min_replicates),
            cutoff=cooks_cutoff(design.n_samples, design.n_coefficients),
        )


@numba.njit(cache=True, nogil=True)
def _trimmed_mean_sorted(values, trim):  # pragma: no cover - compiled
    n = values.shape[0]
    ntrim = math.floor(n * trim)
    total = 0.0
    for k in range(ntrim, n - ntrim):
        total += values[k]
    return total / (n - 2 * ntrim)


@numba.njit(cache=True, nogil=True)
def _trimmed_variance(values, trim, scale, scratch):  # pragma: no cover - compiled
    """Return ``scale`` x the trimmed mean of squared deviations from the trimmed mean.

    ``scale`` x trimmed mean of squared deviations from the trimmed mean (pydeseq2); ``values`` is
    sorted in place, ``scratch`` (same length) receives the squares.
    """
    values.sort()
    centre = _trimmed_mean_sorted(values, trim)
    for k in range(values.shape[0]):
        scratch[k] = (values[k] - centre) ** 2
    scratch.sort()
    return scale * _trimmed_mean_sorted(scratch, trim)


@numba.njit(cache=True, nogil=True)
def robust_dispersion(normed, members, offsets, trims, ratios, scales, work):  # pragma: no cover
    """Compute DESeq2's robust moments dispersion of one gene.

    DESeq2's ``robustMethodOfMomentsDisp`` for one gene's normalised counts; ``work``: two scratch
    rows as long as the samples.
    """
    n = normed.shape[0]
    n_cells = offsets.shape[0] - 1
    if n_cells > 0:
        variance = -np.inf
        for c in range(n_cells):
            size = offsets[c + 1] - offsets[c]
            cell = work[0, :size]
            for k in range(size):
                cell[k] = normed[members[offsets[c] + k]]
            t = trims[c]
            variance = max(variance, _trimmed_variance(cell, ratios[t], scales[t], work[1, :size]))
    else:
        values = work[0, :n]
        values[:] = normed
        variance = _trimmed_variance(values, WHOLE_TRIM, WHOLE_SCALE, work[1, :n])
    mean = 0.0
    for i in range(n):
        mean += normed[i]
    mean /= n
    return max((variance - mean) / (mean * mean), MIN_ROBUST_DISPERSION)


@numba.njit(cache=True, nogil=True)
def cooks_chunk(
    lo,
    hi,
    counts,
    size_factors,
    mu,
    hat,
    n_coefficients,
    members,
    offsets,
    trims,
    ratios,
    scales,
    use_for_max,
    replaceable,
    cutoff,
    robust,
    any_exceeds,
    flagged,
    flagged_unreplaced,
    n_higher,
    exceeds,
):  # pragma: no cover - compiled
    """Cook's distances of every gene (row) and what the outlier rules need of them.

    Writes per gene: the robust dispersion (NaN where no distance can exceed the cutoff even at
    the dispersion floor, so it was not needed); whether any sample exceeds the cutoff (the gene's
    outliers get replaced); whether a sample in a cell of 3 or more exceeds it (p-value flag),
    and the same over those samples that cannot be replaced (the flag after a refit); how many
    samples have a higher count than the sample of largest distance; and per sample whether it
    exceeds the cutoff.
    """
    n = counts.shape[1]
    normed = np.empty(n)
    work = np.empty((2, n))
    for j in range(lo, hi):
        # distances fall as the dispersion grows, and the robust dispersion is at least the
        # floor: no distance beyond the cutoff at the floor, none at all (the trimmed variances
        # are then not needed)
        possible = False
        for i in range(n):
            m = mu[j, i]
            d = (counts[j, i] - m) ** 2 / (m * m * MIN_ROBUST_DISPERSION + m) / n_coefficients
            d *= hat[j, i] / (1.0 - hat[j, i]) ** 2
            if not d <= cutoff:  # also NaN
                possible = True
                break
        if not possible:
            robust[j] = np.nan
            any_exceeds[j] = False
            flagged[j] = False
            flagged_unreplaced[j] = False
            n_higher[j] = 0
            for i in range(n):
                exceeds[j, i] = False
            continue
        for i in range(n):
            normed[i] = counts[j, i] / size_factors[i]
        a = robust_dispersion(normed, members, offsets, trims, ratios, scales, work)
        robust[j] = a
        best = -np.inf
        best_i = 0
        found_nan = False
        any_j = False
        flag = False
        flag_unreplaced = False
        for i in range(n):
            m = mu[j, i]
            res = (counts[j, i] - m) ** 2
            res /= m * m * a + m
            res /= n_coefficients
            h = hat[j, i]
            d = res * (h / (1.0 - h) ** 2)
            over = d > cutoff
            exceeds[j, i] = over
            if over:
                any_j = True
                if use_for_max[i]:
                    flag = True
                    if not replaceable[i]:
                        flag_unreplaced = True
            # numpy argmax: the first NaN, else the first maximum
            if not found_nan:
                if math.isnan(d):
                    found_nan = True
                    best_i = i
                elif d > best:
                    best = d
                    best_i = i
        any_exceeds[j] = any_j
        flagged[j] = flag
        flagged_unreplaced[j] = flag_unreplaced
        higher = 0
        top = counts[j, best_i]
        for i in range(n):
            if counts[j, i] > top:
                higher += 1
        n_higher[j] = higher


def replacement_counts(
    counts: np.ndarray, size_factors: np.ndarray, exceeds: np.ndarray, replaceable: np.ndarray
) -> np.ndarray:
    """Return the counts with outliers replaced (pydeseq2 ``_replace_outliers``).

    Parameters
    ----------
    counts
        Genes x samples counts of the genes with an outlier (float).
    size_factors
        Sample size factors.
    exceeds
        Genes x samples: distance beyond the cutoff.
    replaceable
        Samples whose counts may be replaced.

    Returns
    -------
    numpy.ndarray
        Genes x samples counts, outliers of replaceable samples replaced by
        ``int(trimmed mean(y / s, 0.2) * s)``.
    """
    normed = np.sort(counts / size_factors[None, :], axis=1)
    n = counts.shape[1]
    ntrim = math.floor(n * REPLACEMENT_TRIM)
    trimmed = normed[:, ntrim : n - ntrim].mean(axis=1)
    values = (trimmed[:, None] * size_factors[None, :]).astype(np.int64).astype(float)
    out = counts.copy()
    mask = exceeds & replaceable[None, :]
    out[mask] = values[mask]
    return out
