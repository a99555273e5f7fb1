"""The discovery view: whether the cohort's own structure matches the three published states.

As in Tam et al. (2019), the disease samples are clustered by consensus non-negative matrix
factorisation (Brunet et al. 2004): the most variable features (genes of the VST layer, plus
transposable elements as log2 CPM when the dataset has them) are factorised at each rank k of
a range with several seeded random starts; each start assigns every sample to its strongest
factor, and the consensus matrix is the share of starts that put two samples together. The rank
is chosen on both measures Tam et al. used: the most stable consensus (cophenetic correlation,
Brunet et al. 2004) and, among equally stable ranks, the best-separated clusters (silhouette
width of the consensus distance; :func:`choose_rank`). Each cluster is then named by the state
(:mod:`alsig.stages.subtypes.states`) with the highest mean score among its samples.

Unlike the per-sample calls, this view is cohort-dependent by construction: the features, the
factorisation and hence the clusters change when samples are added or removed.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from alsig.stages.subtypes.states import LABELS, UNASSIGNED


@dataclass(frozen=True)
class RankFit:
    """The consensus of one rank."""

    k: int
    consensus: np.ndarray  # samples x samples, share of starts co-clustering
    labels: np.ndarray  # cluster of each sample (0..k-1) from the consensus
    cophenetic: float
    silhouette: float


@dataclass(frozen=True)
class Discovery:
    """Consensus NMF over a range of ranks and the rank chosen."""

    samples: list[str]
    fits: dict[int, RankFit]
    k: int

    @property
    def chosen(self) -> RankFit:
        """The fit at the chosen rank."""
        return self.fits[self.k]


def nmf_features(vst: pd.DataFrame, te_log2cpm: pd.DataFrame | None, n_features: int) -> np.ndarray:
    """Return samples x features matrix for NMF.

    The ``n_features`` most variable genes of ``vst`` (samples x genes) and, when given, every
    TE of ``te_log2cpm``, each feature shifted to a minimum of 0 (NMF needs non-negative input)
    and scaled to unit variance so TEs and genes weigh alike.
    """
    variance = vst.var(axis=0).to_numpy()
    top = np.argsort(variance)[::-1][: min(n_features, vst.shape[1])]
    blocks = [vst.iloc[:, np.sort(top)].to_numpy(dtype=float)]
    if te_log2cpm is not None and te_log2cpm.shape[1]:
        blocks.append(te_log2cpm.reindex(vst.index).to_numpy(dtype=float))
    matrix = np.column_stack(blocks)
    matrix = matrix[:, np.nanstd(matrix, axis=0) > 0]
    matrix = (matrix - np.nanmin(matrix, axis=0)) / np.nanstd(matrix, axis=0)
    return np.nan_to_num(matrix)


def consensus_for_rank(matrix: np.ndarray, k: int, *, restarts: int, seed: int) -> RankFit:
    """Consensus clustering of the rows of ``matrix`` by NMF at rank ``k``."""
    from scipy.cluster.hierarchy import cophenet, fcluster, linkage
    from scipy.spatial.distance import squareform
    from sklearn.decomposition import NMF
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import silhouette_score

    n = matrix.shape[0]
    together = np.zeros((n, n))
    for start in range(restarts):
        model = NMF(n_components=k, init="random", random_state=seed + start, max_iter=400)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            loadings = model.fit_transform(matrix)
        labels = loadings.argmax(axis=1)
        together += labels[:, None] == labels[None, :]
    consensus = together / restarts
    distance = 1.0 - consensus
    np.fill_diagonal(distance, 0.0)
    condensed = squareform(distance, checks=False)
    tree = linkage(condensed, method="average")
    cophenetic = float(cophenet(tree, condensed)[0])
    labels = fcluster(tree, t=k, criterion="maxclust") - 1
    silhouette = (
        float(silhouette_score(distance, labels, metric="precomputed"))
        if 1 < len(set(labels)) < n
        else float("nan")
    )
    return RankFit(k, consensus, labels, cophenetic, silhouette)


#: ranks whose cophenetic correlation is this close to the best count as equally stable
COPHENETIC_TOLERANCE = 0.01


def choose_rank(fits: dict[int, RankFit]) -> int:
    """Return the most stable rank.

    Among the ranks whose cophenetic correlation is within :data:`COPHENETIC_TOLERANCE` of the
    highest, the one with the highest silhouette width (the smaller rank on a tie). A stable
    consensus that splits a real cluster in two keeps a high cophenetic correlation but loses
    silhouette width, which breaks the tie.
    """
    best = max(f.cophenetic for f in fits.values())
    stable = [k for k, f in fits.items() if f.cophenetic >= best - COPHENETIC_TOLERANCE]
    return max(sorted(stable), key=lambda k: (np.nan_to_num(fits[k].silhouette, nan=-1.0), -k))


def discover(
    matrix: np.ndarray,
    samples: list[str],
    *,
    ranks: range,
    restarts: int,
    seed: int,
) -> Discovery:
    """Consensus NMF of ``matrix`` (samples x features) at every rank of ``ranks``.

    Parameters
    ----------
    matrix
        Non-negative samples x features (:func:`nmf_features`).
    samples
        Row names.
    ranks
        Ranks tried (ranks >= the number of samples are skipped).
    restarts
        Seeded random starts per rank (seeds ``seed``, ``seed + 1``, ...).
    seed
        First seed; the result is identical for the same seed.
    """
    usable = [k for k in ranks if 2 <= k < len(samples)]
    fits = {k: consensus_for_rank(matrix, k, restarts=restarts, seed=seed) for k in usable}
    if not fits:
        raise ValueError(f"{len(samples)} samples are too few for consensus NMF")
    return Discovery(samples=list(samples), fits=fits, k=choose_rank(fits))


def name_clusters(labels: np.ndarray, state_scores: pd.DataFrame) -> dict[int, str]:
    """Each cluster named by the state whose mean score is highest among its samples."""
    names = {}
    for cluster in sorted(set(labels.tolist())):
        means = state_scores[labels == cluster].mean(axis=0, skipna=True)
        names[cluster] = LABELS[means.idxmax()] if means.notna().any() else UNASSIGNED
    return names
