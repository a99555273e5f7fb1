"""The discovery view: whether the cohort's own structure matches the three published states.

As in Tam et al. (2019), the disease samples are clustered by consensus non-negative matrix
factorisation (Brunet et al. 2004): the most variable features (genes of the VST layer, plus
transposable elements as log2 CPM when the dataset has them) are factorised at each rank k of
a range with several seeded random starts; each start assigns every sample to its strongest
factor, and the consensus matrix is the share of starts that put two samples together.

Rank (:func:`choose_rank`): the proportion of ambiguous clustering (PAC, Senbabaoglu et al.
2014: the share of sample pairs whose consensus lies strictly between 0.1 and 0.9) measures how
unstable a rank's consensus is; the chosen rank is the *largest* whose PAC is within
:data:`PAC_TOLERANCE` of the lowest. Why the largest: with three real clusters, rank 2 can be
perfectly stable too (every start merges the same two clusters), so "most stable, smaller on a
tie" (the former rule, on cophenetic correlation and silhouette width) chose 2 for most seeds
of planted three-cluster data; the finest partition that is still stable is Brunet et al.'s own
reading (the rank after which stability falls). On planted data with 2, 3 or 4 clusters the
rule finds the planted rank for every seed tried (``tests/unit/test_subtypes.py``). A rank
whose smallest cluster holds fewer than 3 samples (or 5 % of them) is not chosen: near the
number of samples, singletons split off in every start and look perfectly stable. When no rank
is stable (lowest PAC above 0.1) the clusters are reported but say little. Cophenetic
correlation and silhouette width are still computed (the cophenetic one is drawn). Each cluster
is then named by the state (:mod:`alsig.stages.subtypes.states`) with the highest mean score
among its samples.

Unlike the per-sample calls, this view is cohort-dependent by construction: the features, the
factorisation and hence the clusters change when samples are added or removed. It is optional
(``subtypes.discovery``): about 100 s at 2,000 samples.
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
    pac: float  # proportion of ambiguous clustering (lower: more stable)


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
    return RankFit(k, consensus, labels, cophenetic, silhouette, ambiguous_share(consensus))


#: the consensus interval whose pairs count as ambiguous (Senbabaoglu et al. 2014)
PAC_INTERVAL = (0.1, 0.9)
#: ranks whose PAC is this close to the lowest count as equally stable
PAC_TOLERANCE = 0.02
#: lowest PAC above which no rank is called stable (said in the log and the figure)
STABLE_PAC = 0.1
#: a chosen rank's clusters hold at least this many samples and this share of the cohort
MIN_CLUSTER = 3
MIN_CLUSTER_SHARE = 0.05


def ambiguous_share(consensus: np.ndarray, interval: tuple[float, float] = PAC_INTERVAL) -> float:
    """Return the proportion of ambiguous clustering (PAC) of a consensus matrix.

    Parameters
    ----------
    consensus
        Samples x samples share of starts co-clustering.
    interval
        Consensus values strictly inside it are ambiguous.

    Returns
    -------
    float
        Share of sample pairs (upper triangle) with an ambiguous consensus.
    """
    values = np.asarray(consensus)[np.triu_indices(len(consensus), 1)]
    if not values.size:
        return float("nan")
    low, high = interval
    return float(np.mean((values > low) & (values < high)))


def smallest_cluster(fit: RankFit) -> int:
    """Return the size of the smallest consensus cluster of a rank."""
    return int(np.bincount(fit.labels).min()) if len(fit.labels) else 0


def min_cluster_size(n_samples: int) -> int:
    """Return the fewest samples a cluster may hold for its rank to be chosen.

    :data:`MIN_CLUSTER` samples and :data:`MIN_CLUSTER_SHARE` of the cohort: at a rank close to
    the number of samples, singletons are split off in every start and look perfectly stable.
    """
    return max(MIN_CLUSTER, int(np.ceil(MIN_CLUSTER_SHARE * n_samples)))


def choose_rank(fits: dict[int, RankFit]) -> int:
    """Return the largest rank whose consensus is as stable as the most stable one.

    Parameters
    ----------
    fits
        The consensus of each rank tried.

    Returns
    -------
    int
        Among the ranks whose smallest cluster holds at least :func:`min_cluster_size` samples
        (all ranks when none does), the largest whose PAC is within :data:`PAC_TOLERANCE` of
        the lowest PAC (the module docstring says why the largest).
    """
    n = max(len(f.labels) for f in fits.values())
    eligible = {k: f for k, f in fits.items() if smallest_cluster(f) >= min_cluster_size(n)}
    eligible = eligible or {min(fits): fits[min(fits)]}
    best = min(np.nan_to_num(f.pac, nan=1.0) for f in eligible.values())
    return max(
        k for k, f in eligible.items() if np.nan_to_num(f.pac, nan=1.0) <= best + PAC_TOLERANCE
    )


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
