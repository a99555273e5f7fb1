"""The score stage's AnnData output: the scored expression with the scores in ``obsm``."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from alsig.io import write_h5ad
from alsig.stages.score.scoring import ScoreResult, expression_matrix
from alsig.tables import SCHEMA_VERSION

if TYPE_CHECKING:
    import anndata as ad


def write_scores_h5ad(
    adata: ad.AnnData,
    result: ScoreResult,
    path: str | os.PathLike[str],
    *,
    layer: str,
) -> None:
    """Write ``scores.h5ad`` for scanpy users.

    Parameters
    ----------
    adata
        The scored AnnData.
    result
        Its :class:`~alsig.stages.score.scoring.ScoreResult`.
    path
        Output ``.h5ad`` file (written atomically).
    layer
        The layer that was scored; it becomes ``X`` (float32).

    Notes
    -----
    ``obsm['alsig_scores_<method>']`` holds samples x signatures (NaN = not scored);
    ``uns['alsig_scores']`` the schema version, methods, layer, flagged signatures and notes.
    ``obs``/``var`` are the input's.
    """
    import anndata as ad

    X = expression_matrix(adata, layer)
    out = ad.AnnData(
        X=X.astype(np.float32) if hasattr(X, "astype") else X,
        obs=adata.obs.copy(),
        var=adata.var.copy(),
    )
    for method, frame in result.wide.items():
        out.obsm[f"alsig_scores_{method}"] = frame.reindex(out.obs_names)
    out.uns["alsig_scores"] = {
        "schema_version": SCHEMA_VERSION,
        "methods": list(result.wide),
        "expression": str(layer),
        "flagged_signatures": result.coverage.filter(pl.col("flagged"))["signature"].to_list(),
        "notes": list(result.notes),
        "reference_by": list(result.reference_by),
    }
    if "dataset" in adata.uns:
        out.uns["dataset"] = adata.uns["dataset"]
    write_h5ad(out, path)
