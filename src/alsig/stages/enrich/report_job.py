"""Rule ``enrich_report``: the dot plot and provenance of one contrast's enrichment tables.

Kept apart from :mod:`alsig.stages.enrich.job` so that this short job does not import the GSEA
engines (numba) it does not run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from alsig.io import save_figure, write_text
from alsig.settings import EnrichSettings
from alsig.stages.enrich.dotplot import dotplot

#: Collection fields the per-contrast provenance repeats from each run record.
COLLECTION_FIELDS = ("name", "version", "source", "license", "sha256", "n_sets")


def run_report(
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    settings: EnrichSettings,
    threads: int,
    *,
    dataset: str,
    contrast: str,
) -> None:
    """Rule ``enrich_report``: all collections of one contrast -> dot plot + provenance.json.

    Parameters
    ----------
    inputs
        ``tables``: each collection's enrichment table (parquet); ``json``: their run records,
        same order.
    outputs
        ``dotplot`` (png) and ``provenance`` (json).
    settings
        The job's resolved ``enrich:`` settings (``dotplot_top_n``).
    threads
        Unused (the rule runs on one thread).
    dataset, contrast
        The job's wildcards.
    """
    tables = {}
    runs = {}
    for parquet, sidecar in zip(inputs["tables"], inputs["json"], strict=True):
        meta = json.loads(Path(sidecar).read_text())
        cid = meta["collection"]["id"]
        tables[cid] = pl.read_parquet(parquet)
        runs[cid] = meta
    title = f"{dataset}: {contrast} (GSEA preranked on DE stat)"
    fig = dotplot(tables, title=title, top_n=settings.dotplot_top_n)
    save_figure(fig, outputs["dotplot"])
    provenance = contrast_provenance(dataset, contrast, runs)
    write_text(json.dumps(provenance, indent=2, default=str) + "\n", outputs["provenance"])


def contrast_provenance(
    dataset: str, contrast: str, runs: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """``provenance.json`` of one contrast.

    Per collection its source, version, licence and what was tested, then every run record in
    full.

    Parameters
    ----------
    dataset, contrast
        The job's wildcards.
    runs
        ``{collection id: run record}`` (the ``{collection}.run.json`` files).
    """
    collections = {}
    for cid, meta in runs.items():
        report = meta["report"]
        collections[cid] = {
            **{k: meta["collection"][k] for k in COLLECTION_FIELDS},
            "prerank_engine": meta.get("prerank_engine", {}).get("name"),
            "n_sets_tested_prerank": report.get("n_sets_tested_prerank"),
            "n_sets_tested_ora": report.get("n_sets_tested_ora"),
            "median_coverage": report.get("median_coverage"),
        }
    return {
        "dataset": dataset,
        "contrast": contrast,
        "collections": collections,
        "runs": dict(runs),
    }
