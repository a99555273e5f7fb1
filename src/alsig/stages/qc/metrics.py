"""Per-sample QC metrics (scanpy)."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd

from alsig.blocks import SAMPLE_BLOCK, blocks
from alsig.counts import dense_counts


def gene_masks(var: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(mitochondrial, ribosomal) gene masks: chromosome MT or ``MT-`` symbols.

    ``RPS``/``RPL`` ribosomal protein genes (not pseudo/mito ``MRPS``/``MRPL``).
    """
    names = var.index.to_series().astype(str).str.upper()
    mito = names.str.startswith("MT-").to_numpy()
    if "chromosome" in var:
        mito |= var["chromosome"].astype(str).str.upper().isin(["MT", "M", "CHRM"]).to_numpy()
    ribo = names.str.match(r"^RP[SL]\d+[A-Z]?\d*$|^RPLP[0-2]$|^RPSA$").to_numpy()
    return mito, ribo


def compute_metrics(adata: ad.AnnData, *, block_size: int = SAMPLE_BLOCK) -> pd.DataFrame:
    """Per-sample QC metrics with scanpy ``calculate_qc_metrics``.

    Each metric reads one sample's counts only, so scanpy runs on ``block_size`` samples at a
    time: its float32 copy and its sorted copy (the top-50 share) are a block, not the matrix.

    Parameters
    ----------
    adata
        Samples x genes counts.
    block_size
        Samples per scanpy call.

    Returns
    -------
    pandas.DataFrame
        ``total_counts``, ``n_genes_detected``, ``pct_mito``, ``pct_ribo``, ``pct_top50`` per
        sample.
    """
    mito, ribo = gene_masks(adata.var)
    counts = dense_counts(adata)
    obs = pd.concat(
        [
            _scanpy_metrics(counts[rows], adata.obs_names[rows], adata.var_names, mito, ribo)
            for rows in blocks(adata.n_obs, block_size)
        ]
    )
    n_top = min(50, adata.n_vars)
    metrics = pd.DataFrame(index=adata.obs_names)
    metrics["total_counts"] = obs["total_counts"].to_numpy().astype(np.int64)
    metrics["n_genes_detected"] = obs["n_genes_by_counts"].to_numpy().astype(np.int64)
    metrics["pct_mito"] = obs["pct_counts_mito"].to_numpy().astype(float)
    metrics["pct_ribo"] = obs["pct_counts_ribo"].to_numpy().astype(float)
    metrics["pct_top50"] = obs[f"pct_counts_in_top_{n_top}_genes"].to_numpy().astype(float)
    return metrics


def _scanpy_metrics(
    counts: np.ndarray,
    obs_names: pd.Index,
    var_names: pd.Index,
    mito: np.ndarray,
    ribo: np.ndarray,
) -> pd.DataFrame:
    """Return scanpy's ``calculate_qc_metrics`` (per sample) of a block of samples."""
    import scanpy as sc

    tmp = ad.AnnData(X=counts.astype(np.float32), obs=pd.DataFrame(index=obs_names))
    tmp.var_names = var_names
    tmp.var["mito"] = mito
    tmp.var["ribo"] = ribo
    obs, _ = sc.pp.calculate_qc_metrics(
        tmp,
        qc_vars=["mito", "ribo"],
        percent_top=[min(50, len(var_names))],
        inplace=False,
        log1p=False,
    )
    return obs
