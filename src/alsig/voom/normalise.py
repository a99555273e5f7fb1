"""Library sizes and log2 counts per million, the scale voom models.

Normalisation (stated once, used everywhere in :mod:`alsig.voom`). A sample's *effective library
size* is its column sum times a normalisation factor, ``N_j * f_j``, and log-CPM is
``log2((count + 0.5) / (N_j f_j + 1) * 1e6)`` (Law et al. 2014, eq. 1). The default factors come
from DESeq2's median-of-ratios size factors ``s_j`` (Anders & Huber 2010): ``f_j = (s_j / N_j) /
geomean(s / N)``, so the effective library sizes are proportional to ``s_j`` and their geometric
mean equals that of the column sums (edgeR's convention for normalisation factors). Why median of
ratios rather than TMM: it is the normalisation alsig's DESeq2 path already uses, so the two
models of one contrast see the same depth correction, it is robust to a minority of strongly
changed genes (as TMM is), and it needs no reference sample. ``method="none"`` keeps plain column
sums (limma's default when no factors are given).
"""

from __future__ import annotations

import numpy as np

from alsig.errors import AlsigError

#: voom's offsets: half a count on the numerator, one read on the library size
PRIOR_COUNT = 0.5
#: genes per block of the whole-matrix steps: their temporaries stay a few MB per block instead
#: of one samples x genes float64 copy each (fixed, so results never depend on the machine)
GENE_CHUNK = 2048


def median_ratio_size_factors(counts: np.ndarray) -> np.ndarray:
    """DESeq2's median-of-ratios size factors (geometric mean 1 over the samples).

    Parameters
    ----------
    counts
        Counts, samples x genes.

    Returns
    -------
    numpy.ndarray
        One factor per sample; genes with a zero in any sample do not vote.

    Raises
    ------
    AlsigError
        If no gene is non-zero in every sample.
    """
    counts = np.asarray(counts)
    positive = np.all(counts > 0, axis=0)
    if not positive.any():
        raise AlsigError(
            "median-of-ratios size factors: no gene has a count above zero in every sample; "
            "use normalisation 'none' or filter samples with very low depth."
        )
    # one float64 samples x voting-genes matrix of log ratios; the rest in gene blocks
    genes = np.flatnonzero(positive)
    log_ratio = np.empty((counts.shape[0], genes.size))
    for lo in range(0, genes.size, GENE_CHUNK):
        block = np.log(counts[:, genes[lo : lo + GENE_CHUNK]].astype(float))
        log_ratio[:, lo : lo + GENE_CHUNK] = block - block.mean(axis=0, keepdims=True)
    factors = np.exp(np.median(log_ratio, axis=1, overwrite_input=True))
    return factors / np.exp(np.mean(np.log(factors)))


def effective_library_sizes(counts: np.ndarray, method: str = "median_ratio") -> np.ndarray:
    """Column sums times normalisation factors (see the module docstring).

    Parameters
    ----------
    counts
        Counts, samples x genes.
    method
        ``median_ratio`` (default) or ``none`` (plain column sums).

    Returns
    -------
    numpy.ndarray
        Effective library size per sample.

    Raises
    ------
    AlsigError
        For an unknown method or a sample without counts.
    """
    counts = np.asarray(counts)
    totals = counts.sum(axis=1, dtype=float)
    if np.any(totals <= 0):
        empty = np.flatnonzero(totals <= 0).tolist()
        raise AlsigError(f"samples at rows {empty} have no counts; remove them before voom.")
    if method == "none":
        return totals
    if method != "median_ratio":
        raise AlsigError(f"normalisation '{method}' is not one of: median_ratio, none.")
    ratio = median_ratio_size_factors(counts) / totals
    factors = ratio / np.exp(np.mean(np.log(ratio)))
    return totals * factors


def log_cpm(counts: np.ndarray, lib_size: np.ndarray) -> np.ndarray:
    """Voom's log2 counts per million, samples x genes.

    Parameters
    ----------
    counts
        Counts, samples x genes.
    lib_size
        Effective library size per sample.

    Returns
    -------
    numpy.ndarray
        ``log2((count + 0.5) / (lib_size + 1) * 1e6)``.
    """
    counts = np.asarray(counts, dtype=float)
    lib = np.asarray(lib_size, dtype=float)[:, None]
    return np.log2((counts + PRIOR_COUNT) / (lib + 1.0) * 1e6)


def log_cpm_by_gene(counts: np.ndarray, lib_size: np.ndarray) -> np.ndarray:
    """Return :func:`log_cpm` transposed (genes x samples, C order), made gene block by block.

    The same numbers as ``log_cpm(counts, lib_size).T`` without a samples x genes float64 copy
    of the counts (the models read genes as rows).

    Parameters
    ----------
    counts
        Counts, samples x genes (any numeric dtype).
    lib_size
        Effective library size per sample.

    Returns
    -------
    numpy.ndarray
        Genes x samples log2 counts per million.
    """
    counts = np.asarray(counts)
    lib = np.asarray(lib_size, dtype=float)[:, None]
    out = np.empty((counts.shape[1], counts.shape[0]))
    for lo in range(0, counts.shape[1], GENE_CHUNK):
        block = counts[:, lo : lo + GENE_CHUNK].astype(float)
        out[lo : lo + GENE_CHUNK] = np.log2((block + PRIOR_COUNT) / (lib + 1.0) * 1e6).T
    return out


def normalised_means(counts: np.ndarray, lib_size: np.ndarray) -> np.ndarray:
    """Return the mean over samples of :func:`normalised_counts`, gene block by gene block.

    Parameters
    ----------
    counts
        Samples x genes counts.
    lib_size
        Effective library size per sample.

    Returns
    -------
    numpy.ndarray
        Mean normalised count per gene (``base_mean``).
    """
    counts = np.asarray(counts)
    lib = np.asarray(lib_size, dtype=float)
    scale = lib / np.exp(np.mean(np.log(lib)))
    out = np.empty(counts.shape[1])
    for lo in range(0, counts.shape[1], GENE_CHUNK):
        block = counts[:, lo : lo + GENE_CHUNK].astype(float) / scale[:, None]
        out[lo : lo + GENE_CHUNK] = block.mean(axis=0)
    return out


def normalised_counts(counts: np.ndarray, lib_size: np.ndarray) -> np.ndarray:
    """Divide counts by the effective library size over its geometric mean.

    This is the unit of ``base_mean`` (the same unit as DESeq2's normalised counts when the
    factors are median of ratios).

    Parameters
    ----------
    counts
        Samples x genes counts.
    lib_size
        Effective library size per sample (:func:`effective_library_sizes`).

    Returns
    -------
    numpy.ndarray
        Samples x genes normalised counts (float).
    """
    lib = np.asarray(lib_size, dtype=float)
    scale = lib / np.exp(np.mean(np.log(lib)))
    return np.asarray(counts, dtype=float) / scale[:, None]
