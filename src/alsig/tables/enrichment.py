"""Which FDR of an enrichment table calls a set: camera's for prerank rows, BH for ORA rows.

GSEA's gene-set permutation FDR (the ``fdr`` of a prerank row) assumes a set's genes are
independent; on tissue it calls about 20 of the 50 Hallmark sets on donor-permuted labels
(bench/results/enrich_null.md). camera's ``camera_fdr`` allows for the correlation between a
set's genes and is the prerank rows' significance; ORA rows keep their BH ``fdr``. The enrich
stage's dot plot and the report read the call from here, so both say the same.
"""

from __future__ import annotations

import polars as pl

#: The column :func:`with_significance` adds.
SIGNIFICANCE = "significance_fdr"
#: What the significance column is, for notes and captions.
SIGNIFICANCE_TEXT = "camera FDR for GSEA prerank sets, BH FDR for ORA"


def with_significance(table: pl.DataFrame) -> pl.DataFrame:
    """Return ``table`` with :data:`SIGNIFICANCE`: the FDR that decides each row's call.

    Parameters
    ----------
    table
        An enrichment table (schema ``enrichment``). A table of schema 2 or older has no
        ``camera_fdr``: its prerank rows get a null (no call), not GSEA's FDR.

    Returns
    -------
    polars.DataFrame
        ``table`` and the column: ``camera_fdr`` for prerank rows, ``fdr`` for ORA rows.
    """
    camera = pl.col("camera_fdr") if "camera_fdr" in table.columns else pl.lit(None, pl.Float64)
    return table.with_columns(
        pl.when(pl.col("method") == "prerank")
        .then(camera)
        .otherwise(pl.col("fdr"))
        .cast(pl.Float64)
        .alias(SIGNIFICANCE)
    )
