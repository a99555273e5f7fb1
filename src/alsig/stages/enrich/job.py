"""Entry points of rules ``enrich`` and ``enrich_report``, with their provenance records.

``enrich``: one contrast x one collection; ``enrich_report``: all collections of one contrast.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import polars as pl

from alsig import __version__
from alsig.io import sha256_file, write_parquet, write_text, write_tsv
from alsig.settings import DeSettings, EnrichSettings
from alsig.settings.stages import de_settings_without_null
from alsig.stages.enrich.contrast import ContrastResult, enrich_contrast
from alsig.stages.enrich.residuals import ContrastResiduals, contrast_residuals
from alsig.stages.enrich.results import COVERAGE, RESULT, SCHEMA_VERSION
from alsig.stages.enrich.sets import collection_for, load_collection
from alsig.tables import schemas

log = logging.getLogger(__name__)

#: ``enrich:`` settings recorded in each run record (``parameters``).
PARAMETERS = (
    "engine",
    "permutations",
    "seed",
    "min_size",
    "max_size",
    "ora_padj",
    "ora_min_abs_lfc",
    "multilevel",
    "multilevel_eps",
)


def run(
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    settings: EnrichSettings,
    threads: int,
    *,
    dataset: str,
    contrast: str,
    collection: str,
    de: DeSettings | Mapping[str, Any],
) -> None:
    """Rule ``enrich``: one DE table x one collection -> table (parquet + tsv), coverage, json.

    Parameters
    ----------
    inputs
        ``de``: the DE table (parquet); ``h5ad``: the QC'd AnnData the DE job read (camera's
        residuals of the contrast's samples); ``gmt``: the collection's file (read through the
        configured collection, which also holds its checksum).
    outputs
        ``parquet``, ``tsv``: the enrichment table; ``coverage``: per-set coverage (tsv);
        ``json``: the run record.
    settings
        The job's resolved ``enrich:`` settings.
    threads
        Threads for prerank.
    dataset, contrast, collection
        The job's wildcards.
    de
        The dataset's ``de:`` settings (or their resolved mapping, the rule's ``params.de``):
        which samples and design the contrast was fitted on.
    """
    log.info("enrich %s / %s / %s", dataset, contrast, collection)
    chosen = collection_for(settings, collection)
    de_path = str(inputs["de"])
    sets, info = load_collection(chosen)
    de_settings = de if isinstance(de, DeSettings) else de_settings_without_null(de)
    residuals = contrast_residuals(str(inputs["h5ad"]), de_settings, contrast)
    result = enrich_contrast(
        pl.read_parquet(de_path),
        sets,
        collection=chosen.id,
        settings=settings,
        threads=int(threads),
        source=de_path,
        residuals=residuals.residuals,
    )
    schemas.validate(result.table, RESULT, outputs["parquet"])
    schemas.validate(result.coverage, COVERAGE, outputs["coverage"])
    write_parquet(result.table, outputs["parquet"], schema=RESULT)
    write_tsv(result.table, outputs["tsv"])
    write_tsv(result.coverage, outputs["coverage"])
    record = run_record(result, info, de_path, settings, int(threads), residuals)
    write_text(json.dumps(record, indent=2, default=str) + "\n", outputs["json"])


def run_record(
    result: ContrastResult,
    collection_info: Mapping[str, Any],
    de_path: str,
    settings: EnrichSettings,
    threads: int,
    residuals: ContrastResiduals | None = None,
) -> dict[str, Any]:
    """Return the run record (``{collection}.run.json``).

    Collection, DE table, parameters, the prerank engine that ran, camera's residuals, report,
    row counts and software versions.

    Parameters
    ----------
    result
        What :func:`~alsig.stages.enrich.contrast.enrich_contrast` returned.
    collection_info
        The provenance of :func:`~alsig.stages.enrich.sets.load_collection`.
    de_path
        The DE table's path.
    settings
        The job's ``enrich:`` settings.
    threads
        The job's threads.
    residuals
        What camera's residuals were computed on (``None``: no camera).
    """
    from importlib.metadata import version

    table = result.table
    engine = settings.engine
    # the version from the package metadata: importing gseapy costs a second per job
    engine_version = version("gseapy") if engine == "gseapy" else __version__
    return {
        "table_schema_version": SCHEMA_VERSION,
        "collection": dict(collection_info),
        "de_table": {"path": de_path, "sha256": sha256_file(de_path)},
        "parameters": {k: getattr(settings, k) for k in PARAMETERS},
        "prerank_engine": {"name": engine, "version": engine_version},
        "threads": threads,
        "camera": None if residuals is None else residuals.as_dict(),
        "report": result.report.as_dict(),
        "n_rows": {
            "prerank": table.filter(pl.col("method") == "prerank").height,
            "ora": table.filter(pl.col("method") == "ora").height,
        },
        "software": {
            "alsig": __version__,
            "gseapy": version("gseapy"),
            "numba": version("numba"),
            "polars": pl.__version__,
        },
    }
