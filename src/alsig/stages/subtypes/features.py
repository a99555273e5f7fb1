"""Per-sample features of the subtype reference model: nothing here looks at another sample.

A classifier trained on one cohort and applied to another must not depend on who else is in the
table it scores (sample stability), so every feature is computed from one sample's counts alone:

- **genes**: the within-sample rank of each model gene's count among the model genes present,
  turned into a normal score ``Phi^-1((rank - 0.5) / n_present)`` (ties share their mean rank).
  Ranks need no library size, no VST and no cohort, and are unchanged by sequencing depth or any
  gene-wise scaling that hits all model genes alike. A model gene absent from the input is left
  out of the ranking (so the others keep their quantiles) and marked missing (``NaN``).
- **transposable elements**: each TE subfamily's reads per million gene-assigned reads of the
  same library, ``log2(1e6 x counts / gene library + 1)`` — exactly how the retrotransposon axis
  normalises its subfamilies (:func:`alsig.stages.score.retrotransposons.te_log2cpm`), so a
  global de-repression stays visible.

Genes are keyed by Entrez id (the ``gene_id`` ingest puts in ``var``); TEs by their TEcount
subfamily name (``L1HS``), counts of a subfamily summed over its ``subfamily:family:class`` rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.special import ndtri

from alsig.distributions import rankdata
from alsig.genes import GeneMap
from alsig.signatures import Signature
from alsig.stages.score.retrotransposons import te_log2cpm


def rank_normal_scores(counts: np.ndarray) -> np.ndarray:
    """Turn ``counts`` (samples x features) into within-sample normal scores, ``NaN`` kept.

    Parameters
    ----------
    counts
        Samples x features; ``NaN`` marks a feature the sample does not have.

    Returns
    -------
    numpy.ndarray
        Same shape: ``Phi^-1((rank - 0.5) / n)`` with ``rank`` the average rank of the value
        among the sample's non-missing features and ``n`` their number; ``NaN`` where missing.
    """
    values = np.asarray(counts, dtype=float)
    out = np.full(values.shape, np.nan)
    present = ~np.isnan(values)
    if present.all():
        ranks = rankdata(values, axis=1)
        return ndtri((ranks - 0.5) / values.shape[1])
    for i in range(values.shape[0]):
        keep = present[i]
        n = int(keep.sum())
        if n:
            out[i, keep] = ndtri((rankdata(values[i, keep]) - 0.5) / n)
    return out


def gene_rank_features(counts: pd.DataFrame, genes: Sequence[str]) -> pd.DataFrame:
    """Compute the model genes' normal scores of within-sample ranks (:func:`rank_normal_scores`).

    Parameters
    ----------
    counts
        Samples x genes raw counts, columns Entrez ids (extra genes are ignored).
    genes
        The model genes (Entrez ids), in model order.

    Returns
    -------
    pandas.DataFrame
        Samples x ``genes``; a gene absent from ``counts`` is ``NaN`` in every sample.
    """
    present = counts.reindex(columns=list(genes))
    scores = rank_normal_scores(present.to_numpy(dtype=float))
    return pd.DataFrame(scores, index=counts.index, columns=list(genes))


def te_subfamily_counts(te_counts: pd.DataFrame) -> pd.DataFrame:
    """Sum TEcount rows (``subfamily:family:class``) by subfamily.

    Parameters
    ----------
    te_counts
        Samples x TEs counts as ingest stores them (``obsm["te_counts"]``).

    Returns
    -------
    pandas.DataFrame
        Samples x subfamily names, in order of first appearance.
    """
    subfamily = [str(c).split(":", 1)[0] for c in te_counts.columns]
    return te_counts.T.groupby(subfamily, sort=False).sum().T


def te_features(
    te_counts: pd.DataFrame, libraries: np.ndarray, subfamilies: Sequence[str]
) -> pd.DataFrame:
    """Compute log2 TE reads per million gene-assigned reads of the model's subfamilies.

    Parameters
    ----------
    te_counts
        Samples x TEs counts (columns ``subfamily:family:class``).
    libraries
        Gene-assigned reads per sample (same order): the denominator of the retrotransposon axis.
    subfamilies
        The model's TE subfamilies.

    Returns
    -------
    pandas.DataFrame
        Samples x ``subfamilies``; a subfamily absent from ``te_counts`` is ``NaN``.
    """
    signatures = [Signature(name=name, axis="retrotransposons", up=[name]) for name in subfamilies]
    values = te_log2cpm(te_counts, libraries, signatures)
    known = {str(c).split(":", 1)[0] for c in te_counts.columns}
    missing = [j for j, name in enumerate(subfamilies) if name not in known]
    values[:, missing] = np.nan
    return pd.DataFrame(values, index=te_counts.index, columns=list(subfamilies))


def log2_cpm(counts: np.ndarray, libraries: np.ndarray) -> np.ndarray:
    """Compute ``log2(1e6 x counts / library + 1)`` per sample (rows of ``counts``).

    Used only to pick genes inside a training fold (expression filter and F statistics); the
    model's gene features are ranks (:func:`gene_rank_features`).

    Parameters
    ----------
    counts
        Samples x genes counts.
    libraries
        Library size per sample (floored at 1).

    Returns
    -------
    numpy.ndarray
        Samples x genes log2 CPM.
    """
    libraries = np.maximum(np.asarray(libraries, dtype=float), 1.0)
    return np.log2(np.asarray(counts, dtype=float) / libraries[:, None] * 1e6 + 1.0)


def counts_by_entrez(
    counts: pd.DataFrame, gene_map: GeneMap | None = None
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Re-key samples x genes counts from symbols to Entrez ids, with current symbols.

    Symbols are harmonised as ingest does (:meth:`alsig.genes.GeneMap.harmonise`: current symbol,
    Excel repair, unique alias); rows naming the same Entrez gene are summed (as ingest sums
    duplicated symbols); symbols without an Entrez id are dropped.

    Parameters
    ----------
    counts
        Samples x genes raw counts, columns gene symbols.
    gene_map
        The offline map (default: the shipped one).

    Returns
    -------
    counts : pandas.DataFrame
        Samples x Entrez ids counts.
    symbols : dict of str to str
        Entrez id -> current symbol.
    """
    gene_map = gene_map or GeneMap.load()
    records, _ = gene_map.harmonise([str(c) for c in counts.columns], "symbol")
    entrez = [r.entrez_id for r in records]
    keep = [i for i, e in enumerate(entrez) if e]
    frame = counts.iloc[:, keep]
    frame.columns = [entrez[i] for i in keep]
    summed = frame.T.groupby(level=0, sort=False).sum().T
    symbols = {entrez[i]: records[i].symbol for i in keep}
    return summed, {e: symbols[e] for e in summed.columns}
