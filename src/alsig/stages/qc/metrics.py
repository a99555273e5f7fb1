"""Per-sample QC metrics (scanpy)."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd

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


def compute_metrics(adata: ad.AnnData) -> pd.DataFrame:
    """Per-sample QC metrics with scanpy ``calculate_qc_metrics``."""
    import scanpy as sc

    mito, ribo = gene_masks(adata.var)
    tmp = ad.AnnData(
        X=dense_counts(adata).astype(np.float32), obs=pd.DataFrame(index=adata.obs_names)
    )
    tmp.var_names = adata.var_names
    tmp.var["mito"] = mito
    tmp.var["ribo"] = ribo
    n_top = min(50, adata.n_vars)
    obs, _ = sc.pp.calculate_qc_metrics(
        tmp, qc_vars=["mito", "ribo"], percent_top=[n_top], inplace=False, log1p=False
    )
    metrics = pd.DataFrame(index=adata.obs_names)
    metrics["total_counts"] = obs["total_counts"].astype(np.int64)
    metrics["n_genes_detected"] = obs["n_genes_by_counts"].astype(np.int64)
    metrics["pct_mito"] = obs["pct_counts_mito"].astype(float)
    metrics["pct_ribo"] = obs["pct_counts_ribo"].astype(float)
    metrics["pct_top50"] = obs[f"pct_counts_in_top_{n_top}_genes"].astype(float)
    return metrics
