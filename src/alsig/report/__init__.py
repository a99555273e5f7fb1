"""The report's browsable tables: which rows of the stage tables a reader sees
(:mod:`.rows`) and the offline, sortable HTML page that holds them (:mod:`.browse`)."""

from alsig.report.browse import table_page, write_table_page
from alsig.report.job import run
from alsig.report.rows import (
    Selection,
    de_top_genes,
    enrichment_terms,
    sample_decisions,
    sample_scores,
)

__all__ = [
    "Selection",
    "de_top_genes",
    "enrichment_terms",
    "run",
    "sample_decisions",
    "sample_scores",
    "table_page",
    "write_table_page",
]
