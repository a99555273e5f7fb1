"""Replicates: how many samples share a donor, and summing a donor's libraries (``qc.collapse_by``)."""

from __future__ import annotations

import logging

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from alsig.counts import as_counts
from alsig.errors import AlsigError
from alsig.stages.qc.metrics import dense_counts

log = logging.getLogger(__name__)


def replicate_counts(obs: pd.DataFrame, column: str = "subject") -> pd.Series:
    """Number of samples sharing each sample's ``column`` value (1 = no replicate)."""
    if column not in obs:
        return pd.Series(1, index=obs.index)
    return obs.groupby(column, observed=True)[column].transform("size").astype(int)


def collapse_replicates(adata: ad.AnnData, by: str) -> ad.AnnData:
    """Sum counts of samples sharing ``obs[by]`` (e.g. technical replicates of a subject).

    The result has one sample per ``by`` value (index = that value). obs columns constant within
    a group keep their value; others become the sorted unique values joined by ``;``.
    ``n_collapsed`` and ``collapsed_samples`` record what was summed.
    """
    if by not in adata.obs:
        raise AlsigError(
            f"config key qc.collapse_by: '{by}' is not a sample column; available: "
            f"{sorted(map(str, adata.obs.columns))}."
        )
    keys = adata.obs[by]
    if keys.isna().any():
        missing = adata.obs_names[keys.isna().to_numpy()].tolist()
        raise AlsigError(
            f"config key qc.collapse_by: column '{by}' is empty for samples {missing[:10]}; "
            "fill it in the sample sheet or unset collapse_by."
        )
    keys = keys.astype(str)
    groups = list(dict.fromkeys(keys))
    counts = dense_counts(adata)
    codes = pd.Categorical(keys, categories=groups).codes
    indicator = sp.csr_matrix(
        (np.ones(len(codes)), (codes, np.arange(len(codes)))), shape=(len(groups), len(codes))
    )
    summed = np.asarray(indicator @ counts.astype(np.int64))
    rows = {}
    for group, frame in adata.obs.groupby(keys.to_numpy(), sort=False, observed=True):
        row = {}
        for column in adata.obs.columns:
            values = frame[column]
            uniq = pd.unique(values.dropna().astype(str))
            if values.nunique(dropna=False) <= 1:
                row[column] = values.iloc[0]
            else:
                row[column] = ";".join(sorted(uniq))
        row["n_collapsed"] = len(frame)
        row["collapsed_samples"] = ";".join(map(str, frame.index))
        rows[group] = row
    obs = pd.DataFrame.from_dict(rows, orient="index").loc[groups]
    obs.index = obs.index.astype(str)
    obs.index.name = None
    out = ad.AnnData(X=as_counts(summed), obs=obs, var=adata.var.copy(), uns=dict(adata.uns))
    if "te_counts" in adata.obsm:  # the TE block is summed the same way
        te = adata.obsm["te_counts"]
        out.obsm["te_counts"] = pd.DataFrame(
            np.asarray(indicator @ te.to_numpy(dtype=np.int64)), index=out.obs_names,
            columns=te.columns,
        )  # fmt: skip
    log.info("collapsed %d samples into %d by '%s'", adata.n_obs, out.n_obs, by)
    return out
