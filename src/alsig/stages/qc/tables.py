"""The QC stage's tables: per-sample QC, per-gene filter, and obs made safe for h5ad."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import polars as pl

from alsig.keys import EXPRESSED, NORMALIZED

#: the row schema of ``qc/gene_filter.tsv`` (``workflow/schemas/gene_filter.schema.yaml``)
GENE_FILTER = "gene_filter"


def gene_filter_table(adata: ad.AnnData) -> pl.DataFrame:
    """One row per gene: symbol, gene_id, mean normalised count, expressed (:data:`GENE_FILTER`)."""
    return pl.DataFrame(
        {
            "symbol": adata.var_names.astype(str).tolist(),
            "gene_id": adata.var["gene_id"].astype(str).tolist()
            if "gene_id" in adata.var
            else adata.var_names.astype(str).tolist(),
            "mean_normalized": np.asarray(adata.layers[NORMALIZED].mean(axis=0), dtype=float),
            "expressed": adata.var[EXPRESSED].astype(bool).tolist(),
        }
    )


def sample_table(table: pd.DataFrame) -> pl.DataFrame:
    """Return the sample QC table as polars (strings for object columns)."""
    frame = table.copy()
    for column in frame.columns:
        if frame[column].dtype == object or str(frame[column].dtype) in ("string", "category"):
            frame[column] = frame[column].astype("string")
    return pl.from_pandas(frame.reset_index(drop=True))


def clean_obs(obs: pd.DataFrame) -> pd.DataFrame:
    """Obs with text columns as categoricals of str (missing -> NaN), as ingest writes them.

    H5ad writing trips on mixed None/str objects and (anndata < 0.11 compatibility) refuses
    pandas' nullable string arrays.
    """
    obs = obs.copy()
    for column in obs.columns:
        if obs[column].dtype == object or isinstance(obs[column].dtype, pd.StringDtype):
            obs[column] = pd.Categorical([None if pd.isna(v) else str(v) for v in obs[column]])
    return obs
