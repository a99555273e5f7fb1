"""Normalisation.

DESeq2 median-of-ratios size factors and the blind variance-stabilising transformation (VST).

The VST is DESeq2's ``vst()``: a parametric dispersion-mean trend ``a0 + a1/mu`` is fitted blind
(intercept-only design) on ``vst_n_genes`` genes spread over the mean range (DESeq2's ``nsub``;
0 = all genes) with pydeseq2's estimators, then the closed-form transform is applied to every
gene (:func:`apply_vst`). If the parametric fit fails, the mean-dispersion transform is used (as
DESeq2/pydeseq2 do) and the log says so.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

from alsig.counts import dense_counts
from alsig.deseq import pydeseq2
from alsig.errors import AlsigError
from alsig.keys import NORMALIZED, QC_NORMALISATION, VST

log = logging.getLogger(__name__)


def size_factors(counts: np.ndarray) -> tuple[np.ndarray, str]:
    """Return DESeq2 median-of-ratios size factors of samples x genes counts, and the method.

    ``poscounts`` (DESeq2's variant using positive counts only) when every gene has a zero in
    some sample.
    """
    counts = np.asarray(counts, dtype=float)
    if counts.shape[1] == 0 or (counts.sum(axis=1) == 0).any():
        empty = np.flatnonzero(counts.sum(axis=1) == 0).tolist()
        raise AlsigError(
            f"samples at positions {empty[:10]} have no counts at all; remove them from the "
            "sample sheet (or check the count matrix columns)."
        )
    with np.errstate(divide="ignore"):
        logs = np.log(counts)
    all_positive = np.isfinite(logs).all(axis=0)
    if all_positive.any():
        logmeans = logs[:, all_positive].mean(axis=0)
        sf = np.exp(np.median(logs[:, all_positive] - logmeans, axis=1))
        method = "ratio"
    else:
        log_pos = np.where(counts > 0, logs, 0.0)
        logmeans = log_pos.mean(axis=0)
        usable = logmeans > 0
        sf = np.empty(counts.shape[0])
        for i in range(counts.shape[0]):
            m = usable & (counts[i] > 0)
            sf[i] = np.exp(np.median(logs[i, m] - logmeans[m]))
        sf = sf / np.exp(np.mean(np.log(sf)))
        method = "poscounts"
    return sf, method


def _vst_genes(normed: np.ndarray, n_genes: int) -> np.ndarray:
    """Return indices of the genes used to fit the VST trend.

    DESeq2 ``vst(nsub=)`` uses genes with mean normalised count > 5; here they are picked evenly
    over the ranked means (deterministic).
    """
    means = normed.mean(axis=0)
    nonzero = np.flatnonzero(means > 0)
    if n_genes <= 0 or len(nonzero) <= n_genes:
        return nonzero
    eligible = np.flatnonzero(means > 5)
    if len(eligible) < n_genes:
        eligible = nonzero
    order = eligible[np.argsort(means[eligible], kind="stable")]
    picks = np.unique(np.linspace(0, len(order) - 1, n_genes).round().astype(int))
    return np.sort(order[picks])


def vst(
    counts: np.ndarray,
    sf: np.ndarray,
    *,
    n_genes: int,
    n_cpus: int,
) -> tuple[np.ndarray, dict[str, Any]]:
    """DESeq2-style blind VST of all genes (samples x genes); returns (vst, fit info)."""
    DeseqDataSet, _, DefaultInference = pydeseq2()
    counts = np.asarray(counts)
    normed = counts / sf[:, None]
    genes = _vst_genes(normed, n_genes)
    if len(genes) < 3:
        raise AlsigError(
            f"only {len(genes)} genes have any counts; the variance stabilising transformation "
            "needs more genes (check the count matrix)."
        )
    sub_counts = pd.DataFrame(
        counts[:, genes].astype(int),
        index=[f"s{i}" for i in range(counts.shape[0])],
        columns=[f"g{j}" for j in range(len(genes))],
    )
    meta = pd.DataFrame(index=sub_counts.index)
    design = pd.DataFrame(1.0, index=sub_counts.index, columns=["Intercept"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dds = DeseqDataSet(
            counts=sub_counts,
            metadata=meta,
            design=design,
            inference=DefaultInference(n_cpus=n_cpus),
            quiet=True,
        )
        # size factors come from all genes, not the fitting subset
        dds.obs["size_factors"] = sf
        dds.obsm["size_factors"] = sf
        dds.layers["normed_counts"] = normed[:, genes]
        dds.var["_normed_means"] = normed[:, genes].mean(axis=0)
        dds.logmeans = np.zeros(len(genes))
        dds.filtered_genes = np.ones(len(genes), dtype=bool)
        dds.vst_fit_type = "parametric"
        dds.vst_fit(use_design=False)
    for w in caught:
        log.info("pydeseq2 (vst): %s", w.message)
    info: dict[str, Any] = {"vst_fit_genes": int(len(genes))}
    if "vst_trend_coeffs" in dds.uns:
        a0, a1 = (float(v) for v in dds.uns["vst_trend_coeffs"])
        info.update(vst_fit_type="parametric", vst_a0=a0, vst_a1=a1)
    else:
        from scipy.stats import trim_mean

        disp = dds.var["vst_genewise_dispersions"].to_numpy(dtype=float)
        disp = disp[np.isfinite(disp) & (disp > 10 * dds.min_disp)]
        info.update(vst_fit_type="mean", vst_mean_dispersion=float(trim_mean(disp, 0.001)))
        log.warning("VST: parametric dispersion trend did not converge; used the mean dispersion")
    return apply_vst(normed, info), info


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
    """Add ``obs["size_factor"]`` and layers ``normalized`` and ``vst`` (float32, all genes)."""
    counts = dense_counts(adata)
    sf, method = size_factors(counts)
    log.info("size factors (%s): %.3g-%.3g", method, sf.min(), sf.max())
    adata.obs["size_factor"] = sf
    adata.layers[NORMALIZED] = (counts / sf[:, None]).astype(np.float32)
    log.info("VST on %d samples x %d genes", adata.n_obs, adata.n_vars)
    transformed, info = vst(counts, sf, n_genes=vst_n_genes, n_cpus=n_cpus)
    adata.layers[VST] = transformed.astype(np.float32)
    adata.uns[QC_NORMALISATION] = {"size_factor_method": method, **info}
    return adata
