"""The score stage's AnnData output: the scored expression with the scores in ``obsm``."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from alsig.io import write_h5ad
from alsig.stages.score.scoring import ScoreResult, expression_matrix
from alsig.tables import SCHEMA_VERSION
from alsig.tables.writers import spreadsheet_name

if TYPE_CHECKING:
    import anndata as ad
    import pandas as pd


def z_frame(
    long: pl.DataFrame, method: str, signatures: list[str], samples: list[str]
) -> pd.DataFrame:
    """Return the samples x signatures ``z_vs_control`` of one method (NaN = no z).

    Parameters
    ----------
    long
        The long score table.
    method
        The scoring method.
    signatures
        The columns, in order (those of the method's score frame).
    samples
        The rows, in order.

    Returns
    -------
    pandas.DataFrame
        Float z scores.
    """
    rows = long.filter(pl.col("method") == method).select("sample", "signature", "z_vs_control")
    wide = rows.pivot(on="signature", index="sample", values="z_vs_control").to_pandas()
    wide = wide.set_index("sample").reindex(index=samples, columns=signatures)
    return wide.astype(float)


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
    ``obsm['alsig_scores_<method>']`` holds samples x signatures (NaN = not scored) and
    ``obsm['alsig_z_<method>']`` their ``z_vs_control`` (NaN = no z); the columns are named as
    in the wide TSV (``axis.<axis>`` for a composite, :func:`alsig.tables.writers.spreadsheet_name`).
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
    samples = [str(s) for s in out.obs_names]
    for method, frame in result.wide.items():
        names = [spreadsheet_name(str(c)) for c in frame.columns]
        out.obsm[f"alsig_scores_{method}"] = frame.reindex(out.obs_names).set_axis(names, axis=1)
        z = z_frame(result.long, method, [str(c) for c in frame.columns], samples)
        out.obsm[f"alsig_z_{method}"] = z.set_axis(out.obs_names).set_axis(names, axis=1)
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
