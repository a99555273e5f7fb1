"""New samples on a finished dataset's scale.

Its genes, its size-factor geometric means and its fitted VST (``uns["qc_normalisation"]`` of
``qc/filtered.h5ad``).
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd

from alsig.errors import AlsigError
from alsig.keys import QC_NORMALISATION, SIZE_FACTOR, VST
from alsig.stages.qc.normalise import apply_vst


def reference_size_factors(reference_counts: np.ndarray, new_counts: np.ndarray) -> np.ndarray:
    """Return median-of-ratios size factors of new samples against the reference samples.

    The reference is the reference samples' per-gene geometric means, over the genes with a count
    in every reference sample and in the new sample.
    """
    with np.errstate(divide="ignore"):
        log_ref = np.log(np.asarray(reference_counts, dtype=float))
        log_new = np.log(np.asarray(new_counts, dtype=float))
    usable = np.isfinite(log_ref).all(axis=0)
    if not usable.any():
        raise AlsigError("the reference dataset has no gene counted in every sample.")
    logmeans = log_ref[:, usable].mean(axis=0)
    factors = np.empty(log_new.shape[0])
    for i, row in enumerate(log_new[:, usable]):
        ok = np.isfinite(row)
        if ok.sum() < 10:
            raise AlsigError(
                f"new sample {i + 1} shares fewer than 10 counted genes with the "
                "reference: is it the same species and gene-id type?"
            )
        factors[i] = np.exp(np.median(row[ok] - logmeans[ok]))
    return factors


def new_sample_vst(reference: ad.AnnData, counts: pd.DataFrame) -> ad.AnnData:
    """Return the new samples as an AnnData on the reference's genes, with its VST.

    Parameters
    ----------
    reference
        The dataset's QC'd AnnData (raw counts in ``X``, ``uns["qc_normalisation"]``), already
        restricted to the genes the new counts have (:mod:`alsig.newsamples.overlap`).
    counts
        The new samples as rows, gene symbols as columns (every gene of ``reference``).

    Returns
    -------
    anndata.AnnData
        Raw counts in ``X``, the reference's VST of them in layer ``vst``, size factors in obs.
    """
    aligned = counts.reindex(columns=reference.var_names).fillna(0)
    ref_counts = reference.X.toarray() if hasattr(reference.X, "toarray") else reference.X
    factors = reference_size_factors(ref_counts, aligned.to_numpy())
    normed = aligned.to_numpy(dtype=float) / factors[:, None]
    adata = ad.AnnData(
        X=aligned.to_numpy(dtype=np.float32),
        obs=pd.DataFrame(index=counts.index.astype(str)),
        var=pd.DataFrame(index=reference.var_names),
    )
    adata.layers[VST] = apply_vst(normed, reference.uns[QC_NORMALISATION]).astype(np.float32)
    adata.obs[SIZE_FACTOR] = factors
    return adata
