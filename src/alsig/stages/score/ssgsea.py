"""Single-sample GSEA (Barbie et al. 2009) exactly as gseapy 1.3.1 ``gseapy.ssgsea`` computes it.

gseapy's defaults are reproduced (``sample_norm_method='rank'``, ``correl_norm_type='rank'``,
``weight=0.25``): the enrichment score of each set (ES) is the sum of the running walk and equals
gseapy's ``ES``; the reported score is gseapy's ``NES`` = ES divided by the range (max - min) of
all ES of the run (every sample x every gene set of the dataset). **NES is cohort-dependent**: it
changes when samples or signatures are added. Signatures with a down part score
``NES_up - NES_dn``; there is no dispersion. Agreement with gseapy and timings:
``bench/results/scoring_vs_gseapy.md``.
"""

from __future__ import annotations

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
    signature_parts,
)


def ssgsea_es(
    X: Any,
    genes: Sequence[str],
    sets: Mapping[str, Sequence[str]],
    *,
    weight: float,
    chunk_size: int,
) -> np.ndarray:
    """Gseapy ``ssgsea`` enrichment scores (``ES``) of every set in every sample.

    gseapy ranks each sample (average ties), scales ranks to ``10000 * rank / N``, weights genes by
    that value to the power ``weight``, orders genes by it (ties in input order) and sums the
    running enrichment walk. In closed form, with ``a_i`` the ascending position of set gene ``i``
    (ties broken by gene order, i.e. ordinal ranks) and ``w_i`` its weight:
    ``ES = sum(w_i a_i) / sum(w_i) - (N (N + 1) / 2 - sum(a_i)) / (N - k)``.

    Parameters
    ----------
    X
        Expression, samples x genes (dense or sparse).
    genes
        Gene names of the columns of ``X``.
    sets
        ``{set name: genes}``.
    weight
        gseapy's ``weight`` (exponent of the rank weights).
    chunk_size
        Samples ranked at once.

    Returns
    -------
    numpy.ndarray
        ES, samples x sets; NaN for sets without a present gene or covering every gene.
    """
    n_samples, n_genes = X.shape
    indicator, _, k = gene_set_matrix(genes, sets)
    es = np.full((n_samples, len(sets)), np.nan)
    ok = (k > 0) & (k < n_genes)
    total = n_genes * (n_genes + 1) / 2.0
    miss = np.where(ok, n_genes - k, 1).astype(np.float64)
    for start, stop in sample_chunks(n_samples, chunk_size):
        block = dense_rows(X, start, stop)
        position = rankdata(block, method="ordinal", axis=1).astype(np.float64)
        w = rankdata(block, method="average", axis=1)
        del block
        w *= 10000.0 / n_genes
        np.power(w, weight, out=w)
        sum_w = w @ indicator
        w *= position
        sum_wa = w @ indicator
        del w
        sum_a = position @ indicator
        with np.errstate(invalid="ignore", divide="ignore"):
            chunk_es = sum_wa / sum_w - (total - sum_a) / miss
        es[start:stop, ok] = chunk_es[:, ok]
    return es


def ssgsea_nes(es: np.ndarray) -> np.ndarray:
    """Gseapy's ssGSEA normalisation (cohort-dependent).

    Parameters
    ----------
    es
        Enrichment scores of the whole run (:func:`ssgsea_es`).

    Returns
    -------
    numpy.ndarray
        ``es / (max ES - min ES)`` over every finite value; all NaN when the range is 0.
    """
    finite = es[np.isfinite(es)]
    if finite.size == 0:
        return es.copy()
    spread = finite.max() - finite.min()
    return es / spread if spread > 0 else np.full_like(es, np.nan)


def ssgsea(
    X: Any,
    genes: Sequence[str],
    signatures: Sequence[Signature],
    *,
    weight: float,
    chunk_size: int,
) -> np.ndarray:
    """SsGSEA NES of each signature in each sample.

    Parameters
    ----------
    X
        Expression, samples x genes (dense or sparse).
    genes
        Gene names of the columns of ``X``.
    signatures
        The signatures to score.
    weight
        gseapy's ``weight``.
    chunk_size
        Samples ranked at once.

    Returns
    -------
    numpy.ndarray
        ``NES_up - NES_dn``, samples x signatures (the NES range is taken over every part set
        of ``signatures``).
    """
    parts = signature_parts(signatures)
    nes = ssgsea_nes(ssgsea_es(X, genes, parts, weight=weight, chunk_size=chunk_size))
    return combine_parts(signatures, list(parts), nes, lambda s: s, lambda s: -s)
