"""Normalisation.

DESeq2 median-of-ratios size factors and the blind variance-stabilising transformation (VST).

The VST is DESeq2's ``vst()``: a parametric dispersion-mean trend ``a0 + a1/mu`` is fitted blind
(intercept-only design) on ``vst_n_genes`` genes spread over the mean range (DESeq2's ``nsub``;
0 = all genes) with alsig's DESeq2 engine (:func:`alsig.deseq2.vst.fit_vst_trend`, pydeseq2's
estimators in compiled gene-batched loops), then the closed-form transform is applied to every
gene (:func:`apply_vst`). If the parametric fit fails, the mean-dispersion transform is used (as
DESeq2/pydeseq2 do) and the log says so.
"""

from __future__ import annotations

import logging
from typing import Any

import anndata as ad
import numpy as np

from alsig.blocks import GENE_BLOCK, SAMPLE_BLOCK, blocks, gene_means, map_gene_blocks
from alsig.counts import dense_counts
from alsig.deseq2.vst import fit_vst_trend
from alsig.errors import AlsigError, name_some
from alsig.keys import NORMALIZED, QC_NORMALISATION, VST

log = logging.getLogger(__name__)


def size_factors(
    counts: np.ndarray, *, block_size: int = GENE_BLOCK, sample_block: int = SAMPLE_BLOCK
) -> tuple[np.ndarray, str]:
    """Return DESeq2 median-of-ratios size factors of samples x genes counts, and the method.

    ``poscounts`` (DESeq2's variant using positive counts only) when every gene has a zero in
    some sample. The log counts are computed block by block (:mod:`alsig.blocks`),
    never as one samples x genes float64 matrix.

    Parameters
    ----------
    counts
        Samples x genes counts.
    block_size
        Genes per block of the per-gene log means.
    sample_block
        Samples per block of the per-sample medians.

    Returns
    -------
    tuple
        One factor per sample, and ``"ratio"`` or ``"poscounts"``.

    Raises
    ------
    AlsigError
        A sample has no counts at all.
    """
    counts = np.asarray(counts)
    if counts.shape[1] == 0 or (counts.sum(axis=1) == 0).any():
        empty = np.flatnonzero(counts.sum(axis=1) == 0).tolist()
        raise AlsigError(
            f"{len(empty)} sample(s) at positions {name_some(empty)} have no counts at all; remove them from the "
            "sample sheet (or check the count matrix columns)."
        )
    all_positive = np.concatenate(
        [(counts[:, columns] > 0).all(axis=0) for columns in blocks(counts.shape[1], block_size)]
    )
    if all_positive.any():
        logmeans = gene_means(counts, _log, block_size, columns=np.flatnonzero(all_positive))
        sf = np.concatenate(
            [
                _median_log_ratio(counts[rows][:, all_positive], logmeans)
                for rows in blocks(counts.shape[0], sample_block)
            ]
        )
        return np.exp(sf), "ratio"
    logmeans = gene_means(counts, _log_positive, block_size)
    usable = logmeans > 0
    sf = np.empty(counts.shape[0])
    for i in range(counts.shape[0]):
        m = usable & (counts[i] > 0)
        sf[i] = np.exp(np.median(_log(counts[i, m]) - logmeans[m]))
    return sf / np.exp(np.mean(np.log(sf))), "poscounts"


def _log(counts: np.ndarray) -> np.ndarray:
    """Natural log of counts as float64 (``-inf`` for a zero, silently)."""
    with np.errstate(divide="ignore"):
        return np.log(np.asarray(counts, dtype=float))


def _log_positive(counts: np.ndarray) -> np.ndarray:
    """Natural log of the positive counts, 0 for the zeros (``poscounts``)."""
    return np.where(counts > 0, _log(counts), 0.0)


def _median_log_ratio(counts: np.ndarray, logmeans: np.ndarray) -> np.ndarray:
    """Per-sample median over genes of ``log(count) - logmeans`` (samples x voting genes)."""
    return np.median(_log(counts) - logmeans, axis=1)


def _vst_genes(means: np.ndarray, n_genes: int) -> np.ndarray:
    """Return indices of the genes used to fit the VST trend, from the normalised means.

    DESeq2 ``vst(nsub=)`` uses genes with mean normalised count > 5; here they are picked evenly
    over the ranked means (deterministic).
    """
    nonzero = np.flatnonzero(means > 0)
    if n_genes <= 0 or len(nonzero) <= n_genes:
        return nonzero
    eligible = np.flatnonzero(means > 5)
    if len(eligible) < n_genes:
        eligible = nonzero
    order = eligible[np.argsort(means[eligible], kind="stable")]
    picks = np.unique(np.linspace(0, len(order) - 1, n_genes).round().astype(int))
    return np.sort(order[picks])


def normalised_counts(
    counts: np.ndarray,
    sf: np.ndarray,
    *,
    dtype: np.dtype | type = np.float64,
    block_size: int = GENE_BLOCK,
) -> np.ndarray:
    """Return counts / size factors (samples x genes) as ``dtype``, gene block by gene block.

    Parameters
    ----------
    counts
        Samples x genes counts.
    sf
        One size factor per sample.
    dtype
        Of the result: the values are divided in float64 and then cast, as
        ``(counts / sf[:, None]).astype(dtype)`` would, without the float64 matrix.
    block_size
        Genes per block.

    Returns
    -------
    numpy.ndarray
        The normalised counts.
    """
    return map_gene_blocks(counts, lambda block: block / sf[:, None], dtype, block_size)


def vst(
    counts: np.ndarray,
    sf: np.ndarray,
    *,
    n_genes: int,
    n_cpus: int,
    dtype: np.dtype | type = np.float64,
    block_size: int = GENE_BLOCK,
) -> tuple[np.ndarray, dict[str, Any]]:
    """DESeq2-style blind VST of all genes (samples x genes).

    Parameters
    ----------
    counts
        Samples x genes counts.
    sf
        One size factor per sample.
    n_genes
        Genes of the trend fit (:func:`fit_vst`).
    n_cpus
        Threads of the dispersion fit.
    dtype
        Of the result: computed in float64 block by block (:func:`vst_counts`), then cast.
    block_size
        Genes per block.

    Returns
    -------
    tuple
        The VST, and the fit as :func:`fit_vst` returns it.
    """
    info = fit_vst(counts, sf, n_genes=n_genes, n_cpus=n_cpus, block_size=block_size)
    return vst_counts(counts, sf, info, dtype=dtype, block_size=block_size), info


def fit_vst(
    counts: np.ndarray, sf: np.ndarray, *, n_genes: int, n_cpus: int, block_size: int = GENE_BLOCK
) -> dict[str, Any]:
    """Fit the blind VST's dispersion trend on ``n_genes`` genes (0: all).

    Parameters
    ----------
    counts
        Samples x genes counts.
    sf
        One size factor per sample (from all genes, not the fitting subset).
    n_genes
        Genes of the fit, spread over the mean range (:func:`_vst_genes`).
    n_cpus
        Threads of the dispersion fit (the result does not depend on it).
    block_size
        Genes per block of the normalised means.

    Returns
    -------
    dict
        ``vst_fit_genes`` and ``vst_fit_type`` with its coefficients, as :func:`apply_vst`
        reads them.

    Raises
    ------
    AlsigError
        Fewer than 3 genes have counts.
    """
    counts = np.asarray(counts)
    genes = _vst_genes(gene_means(counts, lambda block: block / sf[:, None], block_size), n_genes)
    if len(genes) < 3:
        raise AlsigError(
            f"only {len(genes)} genes have any counts; the variance stabilising transformation "
            "needs more genes (check the count matrix)."
        )
    # alsig's DESeq2 engine (held to pydeseq2's vst_fit in tests/unit/test_qc.py): compiled
    # gene-batched loops, no worker processes to start for a fit of seconds
    trend = fit_vst_trend(counts[:, genes], sf, n_threads=n_cpus, fit_type="parametric")
    info: dict[str, Any] = {"vst_fit_genes": int(len(genes))}
    if trend.kind == "parametric":
        a0, a1 = trend.coefficients
        info.update(vst_fit_type="parametric", vst_a0=a0, vst_a1=a1)
    else:
        info.update(vst_fit_type="mean", vst_mean_dispersion=trend.coefficients[0])
        log.warning("VST: parametric dispersion trend did not converge; used the mean dispersion")
    return info


def vst_counts(
    counts: np.ndarray,
    sf: np.ndarray,
    info: dict[str, Any],
    *,
    dtype: np.dtype | type = np.float64,
    block_size: int = GENE_BLOCK,
) -> np.ndarray:
    """Return :func:`apply_vst` of counts / size factors as ``dtype``, gene block by gene block.

    Parameters
    ----------
    counts
        Samples x genes counts.
    sf
        One size factor per sample.
    info
        The fit (:func:`fit_vst`).
    dtype
        Of the result: each block is transformed in float64 and then cast.
    block_size
        Genes per block.

    Returns
    -------
    numpy.ndarray
        Samples x genes VST.
    """
    return map_gene_blocks(
        counts, lambda block: apply_vst(block / sf[:, None], info), dtype, block_size
    )


def apply_vst(normed: np.ndarray, info: dict[str, Any]) -> np.ndarray:
    """Return the fitted VST of normalised counts.

    ``info`` as :func:`vst` returns it, stored in ``uns["qc_normalisation"]`` of the QC output,
    so new samples get the same transform.

    Parameters
    ----------
    normed
        Counts divided by size factors (samples x genes).
    info
        ``vst_fit_type`` ``parametric`` (``vst_a0``, ``vst_a1``) or ``mean``
        (``vst_mean_dispersion``).
    """
    normed = np.asarray(normed, dtype=float)
    if info["vst_fit_type"] == "parametric":
        a0, a1 = float(info["vst_a0"]), float(info["vst_a1"])
        return np.log2(
            (1 + a1 + 2 * a0 * normed + 2 * np.sqrt(a0 * normed * (1 + a1 + a0 * normed)))
            / (4 * a0)
        )
    mean_disp = float(info["vst_mean_dispersion"])
    return (2 * np.arcsinh(np.sqrt(mean_disp * normed)) - np.log(mean_disp) - np.log(4)) / np.log(2)


def normalise(adata: ad.AnnData, *, vst_n_genes: int, n_cpus: int) -> ad.AnnData:
    """Add ``obs["size_factor"]`` and layers ``normalized`` and ``vst`` (float32, all genes).

    Both layers are computed in float64 gene block by gene block and stored as float32, so the
    peak memory is the counts, the two float32 layers and a few blocks.

    Parameters
    ----------
    adata
        Samples x genes counts in ``X``; changed in place.
    vst_n_genes
        Genes of the VST trend fit (0: all).
    n_cpus
        Threads of the VST's dispersion fit.

    Returns
    -------
    anndata.AnnData
        ``adata``, with ``uns["qc_normalisation"]`` describing the size factors and the VST.
    """
    counts = dense_counts(adata)
    sf, method = size_factors(counts)
    log.info("size factors (%s): %.3g-%.3g", method, sf.min(), sf.max())
    adata.obs["size_factor"] = sf
    log.info("VST on %d samples x %d genes", adata.n_obs, adata.n_vars)
    info = fit_vst(counts, sf, n_genes=vst_n_genes, n_cpus=n_cpus)
    adata.layers[NORMALIZED] = normalised_counts(counts, sf, dtype=np.float32)
    adata.layers[VST] = vst_counts(counts, sf, info, dtype=np.float32)
    adata.uns[QC_NORMALISATION] = {"size_factor_method": method, **info}
    return adata
