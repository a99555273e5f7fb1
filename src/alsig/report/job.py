"""Entry point of rule ``browse_tables``: one dataset's stage tables -> four browsable pages."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from alsig.report.browse import write_table_page
from alsig.report.rows import de_top_genes, enrichment_terms, sample_decisions, sample_scores

log = logging.getLogger(__name__)


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
    as offline HTML tables for ``snakemake --report``.

    Parameters
    ----------
    inputs
        ``samples``: ``qc/sample_qc.tsv``; ``de``: the DE tables (parquet, every contrast);
        ``enrich``: the enrichment tables (parquet, every contrast and collection); ``scores``:
        the long score table.
    outputs
        ``samples``, ``de``, ``enrich``, ``scores``: the HTML pages.
    settings
        None: the rule has no settings.
    threads
        Unused.
    dataset
        The job's dataset id (page titles).
    """
    pages = {
        "samples": (
            sample_decisions(
                pl.read_csv(inputs["samples"], separator="\t", infer_schema_length=None)
            ),
            "samples: kept and excluded",
        ),
        "de": (
            de_top_genes([pl.read_parquet(p) for p in _as_list(inputs["de"])]),
            "differential expression: top genes",
        ),
        "enrich": (
            enrichment_terms(_enrichment_by_contrast(_as_list(inputs["enrich"]))),
            "enrichment: terms",
        ),
        "scores": (sample_scores(pl.read_parquet(inputs["scores"])), "signature scores"),
    }
    for key, (selection, what) in pages.items():
        write_table_page(
            selection.rows,
            outputs[key],
            title=f"{dataset}: {what}",
            note=selection.note,
            table_id=f"alsig-{key}",
        )
        log.info("%s: %d rows -> %s", what, selection.rows.height, outputs[key])


def _as_list(value: Any) -> list[str]:
    """Snakemake hands one file as a string and several as a list."""
    return [value] if isinstance(value, str) else [str(v) for v in value]
