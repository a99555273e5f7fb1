"""camera as the enrich stage tables it: the prerank sets' significance, allowing for gene correlation.

GSEA's gene-set permutation p-values and FDR (:mod:`alsig.stages.enrich.prerank`) assume a set's
genes are independent. On tissue they are not, and on donor-permuted condition labels about half of
the Hallmark sets reach p < 0.05 (bench/results/enrich_null.md). camera (:mod:`alsig.gsea.camera`)
tests each set GSEA tested, on the same DE ``stat``, with the variance of the set's mean statistic
inflated by the inter-gene correlation estimated from the contrast's residuals
(:mod:`alsig.stages.enrich.residuals`). Its BH-adjusted p-value, ``camera_fdr``, is the prerank
rows' significance call (:data:`SIGNIFICANCE`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import polars as pl

from alsig.distributions import benjamini_hochberg
from alsig.errors import AlsigError, name_some
from alsig.gsea.camera import Residuals, camera_test
from alsig.stages.enrich.ranking import Ranking
from alsig.stages.enrich.sets import upper_map

log = logging.getLogger(__name__)

#: The camera columns of the enrichment table, in schema order.
CAMERA_COLUMNS = ("inter_gene_correlation", "camera_pvalue", "camera_fdr", "camera_direction")
#: Smallest stored camera p-value (the schema's p-values are above 0).
PVALUE_UNDERFLOW = 1e-300


def camera_table(
    ranking: Ranking,
    tested: Mapping[str, list[str]],
    residuals: Residuals,
    *,
    collection: str,
) -> pl.DataFrame:
    """Run camera on every set prerank tested: one row per set with the camera columns.

    Parameters
    ----------
    ranking
        The DE ranking (:func:`~alsig.stages.enrich.ranking.prepare_ranking`): genes and stats.
    tested
        The sets prerank tested, upper-case symbols among the ranked genes
        (:attr:`~alsig.stages.enrich.prerank.PrerankResult.tested`).
    residuals
        The contrast's standardised residuals (row names: the DE table's symbols).
    collection
        Collection id, for messages.

    Returns
    -------
    polars.DataFrame
        ``term`` and :data:`CAMERA_COLUMNS`; ``camera_fdr`` is BH over these sets.

    Raises
    ------
    AlsigError
        Ranked genes without residuals (the DE table does not come from this expression data).
    """
    upper = upper_map(ranking.symbols)
    genes = list(upper)
    by_upper = {symbol.upper(): i for i, symbol in enumerate(residuals.genes)}
    missing = [upper[g] for g in genes if g not in by_upper]
    if missing:
        named = name_some(missing)
        raise AlsigError(
            f"camera ({collection}): {len(missing)} ranked genes of the DE table are not among "
            f"the {len(residuals.genes)} genes of the contrast's expression ({named}); the DE "
            "table and qc/filtered.h5ad must come from the same run (rerun the enrich rule "
            "after DE)."
        )
    rows = [by_upper[g] for g in genes]
    aligned = Residuals(genes, residuals.values[rows], residuals.df_residual)
    records = camera_test(np.asarray(ranking.stats, dtype=float), genes, tested, aligned)
    pvalues = np.array([max(r.pvalue, PVALUE_UNDERFLOW) for r in records])
    fdr = benjamini_hochberg(pvalues) if records else np.array([])
    table = pl.DataFrame(
        {
            "term": [r.term for r in records],
            "inter_gene_correlation": [
                None if np.isnan(r.correlation) else r.correlation for r in records
            ],
            "camera_pvalue": pvalues,
            "camera_fdr": fdr,
            "camera_direction": [r.direction.lower() for r in records],
        },
        schema={
            "term": pl.String,
            "inter_gene_correlation": pl.Float64,
            "camera_pvalue": pl.Float64,
            "camera_fdr": pl.Float64,
            "camera_direction": pl.String,
        },
    )
    log.info(
        "camera %s: %d sets, median inter-gene correlation %.3f, %d at camera FDR < 0.05",
        collection,
        table.height,
        float(table["inter_gene_correlation"].median() or 0.0),  # type: ignore[arg-type]  # a number
        int((table["camera_fdr"] < 0.05).sum()),
    )
    return table


def with_camera(prerank: pl.DataFrame, camera: pl.DataFrame) -> pl.DataFrame:
    """Return the prerank rows with the camera columns, most significant by camera first.

    Parameters
    ----------
    prerank
        The prerank rows (enrichment schema; camera columns null).
    camera
        :func:`camera_table`'s rows.

    Returns
    -------
    polars.DataFrame
        ``prerank``'s columns, the camera ones filled, sorted by camera p, then GSEA p, |NES|
        and term.
    """
    joined = prerank.drop(*CAMERA_COLUMNS).join(camera, on="term", how="left")
    return joined.select(prerank.columns).sort(
        [pl.col("camera_pvalue"), pl.col("pvalue"), pl.col("nes").abs(), pl.col("term")],
        descending=[False, False, True, False],
        nulls_last=True,
    )
