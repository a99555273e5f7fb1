"""Pathway enrichment per contrast (GSEA preranked and over-representation), offline."""

from alsig.genesets import (
    COLLECTION_ID,
    MANIFEST_COLUMNS,
    Collection,
    count_gene_sets,
    read_gmt,
    read_manifest,
    resolve_collections,
)
from alsig.stages.enrich.contrast import ContrastReport, ContrastResult, enrich_contrast
from alsig.stages.enrich.dotplot import dotplot, plot_label, top_terms
from alsig.stages.enrich.engine import NullScores, alsig_records, null_scores, positions_prerank
from alsig.stages.enrich.job import run, run_report
from alsig.stages.enrich.ora import (
    ORA_PVALUE_MIN,
    OraGenes,
    OraOptions,
    OraResult,
    ora_gene_lists,
    ora_result,
    run_ora,
)
from alsig.stages.enrich.prerank import (
    ENGINES,
    PrerankOptions,
    PrerankRecord,
    PrerankResult,
    engine_records,
    gseapy_records,
    prerank_result,
    run_prerank,
)
from alsig.stages.enrich.ranking import DE_COLUMNS, RankingReport, prepare_ranking
from alsig.stages.enrich.results import (
    benjamini_hochberg,
    check_result,
    conform_result,
    coverage_table,
    empty_result,
    format_pvalue,
    pvalue_floor,
)
from alsig.stages.enrich.sets import (
    configured_collections,
    harmonise_gene_sets,
    load_collection,
)

__all__ = [
    "COLLECTION_ID",
    "DE_COLUMNS",
    "ENGINES",
    "MANIFEST_COLUMNS",
    "NullScores",
    "ORA_PVALUE_MIN",
    "Collection",
    "ContrastReport",
    "ContrastResult",
    "OraGenes",
    "OraOptions",
    "OraResult",
    "PrerankOptions",
    "PrerankRecord",
    "PrerankResult",
    "RankingReport",
    "alsig_records",
    "benjamini_hochberg",
    "check_result",
    "configured_collections",
    "conform_result",
    "count_gene_sets",
    "coverage_table",
    "dotplot",
    "empty_result",
    "engine_records",
    "enrich_contrast",
    "format_pvalue",
    "gseapy_records",
    "harmonise_gene_sets",
    "load_collection",
    "null_scores",
    "ora_gene_lists",
    "ora_result",
    "plot_label",
    "positions_prerank",
    "prepare_ranking",
    "prerank_result",
    "pvalue_floor",
    "read_gmt",
    "read_manifest",
    "resolve_collections",
    "run",
    "run_ora",
    "run_prerank",
    "run_report",
    "top_terms",
]
