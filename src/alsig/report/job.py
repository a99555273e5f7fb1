"""Entry point of rule ``browse_tables``: one dataset's stage tables -> one browsable page."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from alsig.report.browse import Section, write_tables_page
from alsig.report.rows import de_top_genes, enrichment_terms, sample_decisions, sample_scores
from alsig.tables import read_tsv

log = logging.getLogger(__name__)

#: The page's sections: key (HTML id) and heading, in page order.
SECTIONS = (
    ("samples", "samples kept / excluded"),
    ("de", "DE top genes"),
    ("enrich", "enrichment terms"),
    ("scores", "axis scores per sample"),
)


def _enrichment_by_contrast(paths: list[str]) -> dict[str, list[pl.DataFrame]]:
    """Enrichment tables grouped by contrast (``enrich/<contrast>/<collection>.parquet``)."""
    grouped: dict[str, list[pl.DataFrame]] = {}
    for path in paths:
        grouped.setdefault(Path(path).parent.name, []).append(pl.read_parquet(path))
    return grouped


def run(
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    settings: None,
    threads: int,
    *,
    dataset: str,
) -> None:
    """Rule ``browse_tables``.

    Sample decisions, DE top genes, enrichment terms and per-sample axis scores of one dataset
    on one offline HTML page for ``snakemake --report``.

    Parameters
    ----------
    inputs
        ``samples``: ``qc/sample_qc.tsv``; ``de``: the DE tables (parquet, every contrast);
        ``enrich``: the enrichment tables (parquet, every contrast and collection); ``scores``:
        the long score table.
    outputs
        ``tables``: the HTML page.
    settings
        None: the rule has no settings.
    threads
        Unused.
    dataset
        The job's dataset id (page title).
    """
    # the notes name the files where this run wrote them (its output_dir), not a default root:
    # the dataset's folder is the one holding qc/sample_qc.tsv
    samples = str(inputs["samples"])
    enrich_folder = str(Path(samples).parents[1] / "enrich")
    selections = {
        "samples": sample_decisions(
            read_tsv(samples, "sample_qc"),
            source=samples,  # ids stay text: 027 is not 27
        ),
        "de": de_top_genes([pl.read_parquet(p) for p in _as_list(inputs["de"])]),
        "enrich": enrichment_terms(
            _enrichment_by_contrast(_as_list(inputs["enrich"])), folder=enrich_folder
        ),
        "scores": sample_scores(pl.read_parquet(inputs["scores"])),
    }
    sections = [
        Section(key, heading, selections[key].note, selections[key].rows)
        for key, heading in SECTIONS
    ]
    write_tables_page(
        sections,
        outputs["tables"],
        title=f"{dataset}: tables to browse",
        note="Sortable and searchable; the links jump to each table. "
        "P-values in scientific notation; sample ids in natural order.",
    )
    for section in sections:
        log.info("%s: %d rows", section.heading, section.rows.height)
    log.info("one page -> %s", outputs["tables"])


def _as_list(value: Any) -> list[str]:
    """Snakemake hands one file as a string and several as a list."""
    return [value] if isinstance(value, str) else [str(v) for v in value]
