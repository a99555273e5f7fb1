"""singscore (Foroutan et al. 2018; R package singscore ``simpleScore``).

A sample's score is the scaled, centred mean rank of a set's genes within the sample (down sets
enter as ``0.5 - score``), so it depends only on that sample; dispersion is the MAD of the set
genes' ranks divided by the gene count. Bounds use the genes present. Details and the difference
from the R package: ``docs/methods.md``, "singscore".
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from alsig.distributions import rankdata
from alsig.signatures.model import Signature
from alsig.stages.score.sets import (
    combine_parts,
    dense_rows,
    gene_set_matrix,
    sample_chunks,
    set_members,
    signature_parts,
)

log = logging.getLogger(__name__)

MAD_CONSTANT = 1.4826  # R stats::mad default


def singscore_sets(
    X: Any,
    genes: Sequence[str],
    sets: Mapping[str, Sequence[str]],
    *,
    chunk_size: int,
    dispersion: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Uncentred singscore of every set in every sample, and the MAD of the set genes' ranks.

    Parameters
    ----------
    X
        Expression, samples x genes (dense or sparse).
    genes
        Gene names of the columns of ``X``.
    sets
        ``{set name: genes}``.
    chunk_size
        Samples ranked at once (memory: ``chunk_size x N`` float64).
    dispersion
        Compute the MAD (the slower part); when false ``mad`` is all NaN.

    Returns
    -------
    tuple
        ``(score, mad)``, both samples x sets: ``score`` is the mean rank scaled to [0, 1]
        between its minimum and maximum for the set's present genes; ``mad`` is R ``mad()`` of
        the ranks (not divided by the number of genes). Sets without a present gene (or with
        every gene present) are NaN.
    """
    n_samples, n_genes = X.shape
    indicator, _, k = gene_set_matrix(genes, sets)
    members = set_members(indicator) if dispersion else []
    score = np.full((n_samples, len(sets)), np.nan)
    mad = np.full((n_samples, len(sets)), np.nan)
    ok = (k > 0) & (k < n_genes)
    low = (k + 1) / 2.0
    span = np.where(ok, n_genes - k, 1).astype(np.float64)
    for start, stop in sample_chunks(n_samples, chunk_size):
        ranks = rankdata(dense_rows(X, start, stop), method="min", axis=1)
        mean_rank = (ranks @ indicator) / np.where(k > 0, k, 1)
        score[start:stop, ok] = ((mean_rank - low) / span)[:, ok]
        for j in np.flatnonzero(ok) if dispersion else ():
            sub = ranks[:, members[j]]
            med = np.median(sub, axis=1, keepdims=True)
            mad[start:stop, j] = MAD_CONSTANT * np.median(np.abs(sub - med), axis=1)
        log.debug("singscore: samples %d-%d of %d", start + 1, stop, n_samples)
    return score, mad


def singscore(
    X: Any,
    genes: Sequence[str],
    signatures: Sequence[Signature],
    *,
    chunk_size: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Singscore ``TotalScore`` and dispersion of each signature in each sample.

    Parameters
    ----------
    X
        Expression, samples x genes (dense or sparse).
    genes
        Gene names of the columns of ``X``.
    signatures
        The signatures to score (up and/or down genes).
    chunk_size
        Samples ranked at once.

    Returns
    -------
    tuple
        ``(score, dispersion)``, both samples x signatures: ``up - 0.5`` plus ``0.5 - down``
        of the part scores, and the summed part MADs divided by the number of genes
        (singscore's ``TotalDispersion / N``).
    """
    parts = signature_parts(signatures)
    names = list(parts)
    score, mad = singscore_sets(X, genes, parts, chunk_size=chunk_size)
    total = combine_parts(signatures, names, score, lambda s: s - 0.5, lambda s: 0.5 - s)
    spread = combine_parts(signatures, names, mad, lambda m: m, lambda m: m) / X.shape[1]
    return total, spread
