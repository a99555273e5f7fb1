"""One contrast x one collection: prerank + ORA, coverage and the report for provenance.

Gene-set collections are local GMT files only: the shipped ones listed in
``resources/genesets/manifest.tsv`` (Hallmark, Reactome, GO BP, the alsig resistance signatures)
and user GMT files given by path in config. gseapy is only ever given gene sets as ``dict``
objects, so it never contacts Enrichr, BioMart or any other web service.

Steps for one DE table (one contrast) and one collection:

1. :func:`~alsig.stages.enrich.sets.load_collection` reads the GMT (errors name file and line)
   and harmonises its symbols to the current HGNC symbols ingest uses.
2. :func:`~alsig.stages.enrich.ranking.prepare_ranking` turns the DE table into a ranking on the
   DE ``stat`` (Wald z, or moderated t with repeated donors): genes without a statistic are dropped and counted, ties are broken
   deterministically and counted.
3. :func:`~alsig.stages.enrich.prerank.prerank_result` runs GSEA preranked over all eligible
   sets of the collection (``enrich.engine``: alsig's positions-based engine,
   :mod:`alsig.gsea.alsig_engine`, or gseapy's ``prerank``).
4. :func:`~alsig.stages.enrich.camera.camera_table` tests the same sets with camera (Wu & Smyth
   2012) on the same ``stat``, allowing for the correlation between a set's genes estimated
   from the contrast's residuals (given by the ``enrich`` job, :mod:`alsig.stages.enrich.residuals`,
   and for per-subtype enrichment by :func:`alsig.stages.subtypes.carry.subtype_residuals`, the
   subtypes' own fit); its ``camera_fdr`` is the prerank rows' significance, GSEA's columns
   describe. Without residuals (a caller that passes none) the camera columns are null.
5. :func:`~alsig.stages.enrich.ora.ora_result` runs the hypergeometric test of gseapy ``enrich``
   (:mod:`alsig.gsea.hypergeom`) on the up- and the down-regulated genes, background = the
   tested genes.
6. Both results share one table schema, ``workflow/schemas/enrichment.schema.yaml`` (the meaning
   of every column; p-value floor in :mod:`alsig.stages.enrich.results`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from alsig.gsea.camera import Residuals
from alsig.gsea.records import PrerankOptions, pvalue_floor
from alsig.settings import EnrichSettings
from alsig.stages.enrich.camera import camera_table, with_camera
from alsig.stages.enrich.ora import OraResult, ora_options, ora_result
from alsig.stages.enrich.prerank import PrerankResult, prerank_options, prerank_result
from alsig.stages.enrich.ranking import RankingReport, check_de_columns, prepare_ranking
from alsig.stages.enrich.results import check_result, conform_result, coverage_table, empty_result

log = logging.getLogger(__name__)

#: Report fields that only exist once something was tested.
_TESTED_ONLY = (
    "ora",
    "pvalue_floor",
    "n_prerank_pvalue_at_floor",
    "n_prerank_pvalue_multilevel",
)


@dataclass(frozen=True)
class ContrastReport:
    """What one contrast x collection run saw and tested (provenance ``report``)."""

    n_sets: int
    n_sets_with_overlap: int
    median_coverage: float | None
    ranking: RankingReport | None = None
    n_sets_tested_prerank: int = 0
    n_sets_tested_ora: int = 0
    ora: dict[str, int] | None = None  # n_background, n_up, n_down
    pvalue_floor: float | None = None
    n_prerank_pvalue_at_floor: int | None = None  # still at a floor: 1/(n+1), or eps
    n_prerank_pvalue_multilevel: int | None = None  # beyond every permutation: multilevel p

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict; without the tested-only fields when the collection shared no gene."""
        out = dataclasses.asdict(self)
        if self.ranking is None:
            for key in _TESTED_ONLY:
                del out[key]
        return out


@dataclass(frozen=True)
class ContrastResult:
    """Enrichment of one DE table against one collection."""

    table: pl.DataFrame  # enrichment schema, prerank rows first
    coverage: pl.DataFrame  # enrichment_coverage schema, one row per set
    report: ContrastReport


def enrich_contrast(
    de: pl.DataFrame,
    sets: Mapping[str, Sequence[str]],
    *,
    collection: str,
    settings: EnrichSettings,
    threads: int,
    source: str,
    residuals: Residuals | None = None,
) -> ContrastResult:
    """Run prerank, camera and ORA for one DE table and one collection.

    A collection sharing no gene with the data gives a warning and an empty, schema-valid table.

    Parameters
    ----------
    de
        The DE stage's table for one contrast.
    sets
        ``{set name: [symbols]}`` of one (harmonised) collection.
    collection
        Collection id.
    settings
        The ``enrich:`` settings.
    threads
        Threads for prerank.
    source
        Where ``de`` came from, for messages and logs (``""``: in memory).
    residuals
        The contrast's standardised residuals (:mod:`alsig.stages.enrich.residuals`) for
        camera; ``None``: no camera, its columns null.

    Returns
    -------
    ContrastResult
        The enrichment table (prerank rows first), the per-set coverage table and the report.
    """
    check_de_columns(de, source or "(in memory)")
    data_genes = [s for s in de["symbol"].cast(pl.String).to_list() if s]
    coverage = coverage_table(sets, data_genes, collection)
    seen = ContrastReport(
        n_sets=len(sets),
        n_sets_with_overlap=coverage.filter(pl.col("n_in_data") > 0).height,
        median_coverage=float(coverage["coverage"].median()) if coverage.height else None,  # type: ignore[arg-type]  # a number
    )
    if seen.n_sets_with_overlap == 0:
        _warn_no_overlap(collection, len(sets), len(data_genes), source)
        return ContrastResult(empty_result(), coverage, seen)
    ranking, ranking_report = prepare_ranking(de, source)
    options = prerank_options(settings, threads)
    prerank = prerank_result(ranking, sets, collection=collection, options=options)
    if residuals is not None and prerank.tested:
        camera = camera_table(ranking, prerank.tested, residuals, collection=collection)
        prerank = dataclasses.replace(prerank, table=with_camera(prerank.table, camera))
    ora = ora_result(de, sets, collection=collection, options=ora_options(settings))
    coverage = _mark_tested(coverage, prerank, ora)
    report = _tested_report(seen, ranking_report, prerank, ora, options)
    return ContrastResult(_combined_table(prerank, ora, coverage), coverage, report)


def _mark_tested(coverage: pl.DataFrame, prerank: PrerankResult, ora: OraResult) -> pl.DataFrame:
    return coverage.with_columns(
        pl.col("term").is_in(list(prerank.tested)).alias("tested_prerank"),
        pl.col("term").is_in(list(ora.tested)).alias("tested_ora"),
    )


def _warn_no_overlap(collection: str, n_sets: int, n_genes: int, source: str) -> None:
    log.warning(
        "collection '%s': none of its %d gene sets shares a gene with the %d genes of the DE "
        "table %s; check that the GMT uses gene symbols. Writing an empty table.",
        collection,
        n_sets,
        n_genes,
        source,
    )


def _tested_report(
    seen: ContrastReport,
    ranking: RankingReport,
    prerank: PrerankResult,
    ora: OraResult,
    options: PrerankOptions,
) -> ContrastReport:
    """``seen`` (sets and coverage) completed with what the two methods tested."""
    return dataclasses.replace(
        seen,
        ranking=ranking,
        n_sets_tested_prerank=len(prerank.tested),
        n_sets_tested_ora=len(ora.tested),
        ora=ora.genes.counts(),
        pvalue_floor=pvalue_floor(options.permutations),
        n_prerank_pvalue_at_floor=prerank.table.filter(pl.col("pvalue_at_floor")).height,
        n_prerank_pvalue_multilevel=prerank.table.filter(
            pl.col("pvalue_method") == "multilevel"
        ).height,
    )


def _combined_table(prerank: PrerankResult, ora: OraResult, coverage: pl.DataFrame) -> pl.DataFrame:
    """Prerank rows, then ORA rows, with each set's ``set_size`` and ``coverage``."""
    table = pl.concat([prerank.table, ora.table]) if ora.table.height else prerank.table
    sizes = coverage.select("term", "set_size", "coverage")
    joined = table.drop(*sizes.columns[1:]).join(
        sizes, on="term", how="left", maintain_order="left"
    )
    return check_result(conform_result(joined))
