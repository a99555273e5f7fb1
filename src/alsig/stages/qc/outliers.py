"""Outlier flags.

MAD rules on library size, detected genes and % mitochondrial reads, and isolation in PCA space
(distance to the k-th nearest neighbour on the first PCs of the VST).
"""

from __future__ import annotations

from collections.abc import Sequence

import anndata as ad
import numpy as np

from alsig.blocks import GENE_BLOCK, blocks
from alsig.keys import EXPRESSED

MAD_SCALE = 1.4826
#: chromosomes left out of the QC PCA (qc.pca_exclude_sex_chromosomes): otherwise PC2 is sex
SEX_CHROMOSOMES = {"X", "Y", "X;Y", "CHRX", "CHRY"}


def mad_outliers(
    values: Sequence[float] | np.ndarray, nmads: float, side: str
) -> tuple[np.ndarray, float]:
    """Return flags for values more than ``nmads`` scaled MADs from the median, and the threshold.

    ``side`` is "lower", "higher" or "both"; returns (flags, threshold). A MAD of 0 flags
    nothing.
    """
    x = np.asarray(values, dtype=float)
    med = float(np.nanmedian(x))
    mad = float(np.nanmedian(np.abs(x - med))) * MAD_SCALE
    if not np.isfinite(mad) or mad == 0:
        return np.zeros(len(x), dtype=bool), float("nan")
    low, high = med - nmads * mad, med + nmads * mad
    if side == "lower":
        return x < low, low
    if side == "higher":
        return x > high, high
    return (x < low) | (x > high), high


def pca(
    matrix: np.ndarray,
    n_genes: int = 500,
    n_components: int = 10,
    *,
    columns: np.ndarray | None = None,
    block_size: int = GENE_BLOCK,
) -> tuple[np.ndarray, np.ndarray]:
    """Return the PCA of samples x genes on the ``n_genes`` most variable genes.

    scanpy's ``pp.pca`` (full SVD in float64, signs fixed by scikit-learn's ``svd_flip``) on the
    most variable genes; a matrix without variance gives zero scores and ratios.

    Parameters
    ----------
    matrix
        Samples x genes (e.g. the float32 VST layer); read in float64.
    n_genes
        The most variable genes the PCA uses.
    n_components
        PCs returned.
    columns
        Indices of the genes to choose from (default: all), so a layer is not copied to pick
        them.
    block_size
        Genes per block of the variances (no samples x genes float64 copy).

    Returns
    -------
    tuple
        Scores (samples x PCs) and explained variance ratios.
    """
    import scanpy as sc  # the QC job's only scanpy users are this and the QC metrics

    columns = np.arange(matrix.shape[1]) if columns is None else np.asarray(columns)
    var = gene_variances(matrix, columns, block_size)
    order = np.argsort(-var, kind="stable")[: min(n_genes, len(columns))]
    sub = np.asarray(matrix[:, columns[order]], dtype=float)
    k = max(1, min(n_components, *sub.shape))
    if not np.any(var[order] > 0):
        return np.zeros((matrix.shape[0], k)), np.zeros(k)
    scores, _, ratio, _ = sc.pp.pca(
        sub, n_comps=k, zero_center=True, svd_solver="full", return_info=True, dtype="float64"
    )
    return np.asarray(scores), np.asarray(ratio)


def gene_variances(
    matrix: np.ndarray, columns: np.ndarray, block_size: int = GENE_BLOCK
) -> np.ndarray:
    """Return the float64 variance of each of ``columns`` of samples x genes ``matrix``.

    Equal to ``np.asarray(matrix[:, columns], dtype=float).var(axis=0)``, computed
    ``block_size`` genes at a time.
    """
    out = np.empty(len(columns))
    for part in blocks(len(columns), block_size):
        out[part] = np.asarray(matrix[:, columns[part]], dtype=float).var(axis=0)
    return out


def knn_distance(scores: np.ndarray, n_components: int, k: int | None = None) -> np.ndarray:
    """Return each sample's distance to its ``k``-th nearest other sample on the first PCs.

    Euclidean on the first ``n_components`` PCs, unscaled, so each PC keeps its weight.

    A kNN distance flags isolated samples but not groups of samples: condition, region or batch
    clusters (even small ones) have near neighbours, while a distance-from-the-median rule would
    flag every member of a minority cluster. ``k`` defaults to ``min(10, max(2, n // 10))``, so a
    pair of technical replicates that is far from everything else is still caught.
    """
    sub = np.asarray(scores[:, : max(1, min(n_components, scores.shape[1]))], dtype=float)
    n = sub.shape[0]
    if n < 3:
        return np.zeros(n)
    if k is None:
        k = min(10, max(2, n // 10))
    k = max(1, min(k, n - 1))
    sq = (sub**2).sum(axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * sub @ sub.T, 0.0)
    np.fill_diagonal(d2, np.inf)
    nearest = np.partition(d2, k - 1, axis=1)[:, :k]
    nearest.sort(axis=1)
    return np.sqrt(nearest[:, -1])


def pca_genes(adata: ad.AnnData, exclude_sex_chromosomes: bool) -> np.ndarray:
    """Return the genes the QC PCA may use.

    Parameters
    ----------
    adata
        The normalised AnnData (``var["expressed"]``, optionally ``var["chromosome"]``).
    exclude_sex_chromosomes
        ``qc.pca_exclude_sex_chromosomes``: leave chrX/chrY genes out (sex would otherwise take
        a leading PC).

    Returns
    -------
    numpy.ndarray
        A mask of the expressed genes (without chrX/chrY when asked); all genes when fewer than
        10 remain.
    """
    use = adata.var[EXPRESSED].to_numpy(dtype=bool).copy()
    if exclude_sex_chromosomes and "chromosome" in adata.var:
        chromosome = adata.var["chromosome"].astype(str).str.upper()
        use &= ~chromosome.isin(SEX_CHROMOSOMES).to_numpy()
    return use if use.sum() >= 10 else np.ones(adata.n_vars, dtype=bool)
