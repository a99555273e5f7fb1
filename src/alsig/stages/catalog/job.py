"""Entry points of the run-level rules ``catalog`` and ``axis_meta``.

``catalog``: every dataset's scores in one partitioned table; ``axis_meta``: the cohorts compared,
axis by axis.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from alsig.errors import AlsigError
from alsig.io import save_figure, write_parquet, write_tsv
from alsig.stages.catalog.figures import plot_axis_meta
from alsig.stages.catalog.manifest import write_catalog
from alsig.stages.catalog.meta import SCHEMA, axis_meta
from alsig.stages.catalog.overlap import LIBRARY_FINGERPRINT, overlap_note, shared_samples
from alsig.tables import read_tsv

log = logging.getLogger(__name__)


def run(
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    settings: None,
    threads: int,
    *,
    catalog: str,
) -> None:
    """Rule ``catalog``: rewrite the partitioned catalog and write its manifest.

    Parameters
    ----------
    inputs
        ``tables``: every dataset's long score table (parquet).
    outputs
        ``manifest``: the manifest TSV.
    settings
        None: the rule has no settings.
    threads
        Unused.
    catalog
        The partitioned catalog directory. It is written as a side effect, not declared as an
        output, so that Snakemake never deletes it before the atomic per-partition rewrite.
    """
    tables = inputs["tables"]
    write_catalog(
        [tables] if isinstance(tables, str) else list(tables), catalog, outputs["manifest"]
    )


def run_meta(
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    settings: None,
    threads: int,
) -> None:
    """Rule ``axis_meta``: every dataset's axis tests -> the cross-cohort meta-analysis.

    Parameters
    ----------
    inputs
        ``tests``: every dataset's ``axis_tests.parquet``; ``samples``: every dataset's QC
        ``sample_qc.tsv`` (which samples, and libraries, two datasets share).
    outputs
        ``parquet``, ``tsv``, ``figure`` (PNG).
    settings
        None: the rule has no settings.
    threads
        Unused.
    """
    tests = inputs["tests"]
    tables = [_read_tests(p) for p in ([tests] if isinstance(tests, str) else tests)]
    # diagonal: a dataset's table of axis_tests schema 2 (no ``df`` column, which the pooling
    # does not read) still combines with the others
    meta = axis_meta(pl.concat(tables, how="diagonal"))
    samples = inputs.get("samples") or []
    shared = shared_samples(
        {
            Path(path).parent.parent.name: read_tsv(path, "sample_qc").with_columns(
                pl.col(column).cast(pl.Float64) for column in LIBRARY_FINGERPRINT
            )
            for path in ([samples] if isinstance(samples, str) else samples)
        }
    )
    if shared:
        note = overlap_note(shared)
        log.warning(
            "%s: the meta-analysis counts them as independent cohorts, so their samples enter "
            "more than once and the pooled effects look more certain than they are; drop one "
            "of each pair from the config's datasets (with alsig reprocess: add one to "
            "reprocess.exclude) for a pooled result",
            note,
        )
        meta = meta.with_columns(
            pl.when(pl.col("note").fill_null("") == "")
            .then(pl.lit(note))
            .otherwise(pl.col("note") + "; " + note)
            .alias("note")
        )
    singscore = meta.filter((pl.col("method") == "singscore") & (pl.col("k") > 1))
    for view in ("none", "cell_mix"):
        log.info(
            "axis meta-analysis over %d dataset(s), adjustment %s: %d singscore signatures "
            "consistent",
            len(tables),
            view,
            singscore.filter(pl.col("consistent") & (pl.col("adjustment") == view)).height,
        )
    reasons: dict[str, str] = {}  # dataset -> its first not-estimable reason
    for note in meta.filter(pl.col("adjustment") == "cell_mix")["note"].to_list():
        for item in note.split("; "):
            dataset, _, reason = item.partition(": ")
            if reason.startswith("not estimable"):
                reasons.setdefault(dataset, reason)
    for dataset, reason in sorted(reasons.items()):
        log.info("cell-mix view leaves out %s (%s)", dataset, reason)
    write_parquet(meta, outputs["parquet"], schema=SCHEMA)
    write_tsv(meta, outputs["tsv"])
    save_figure(plot_axis_meta(meta), outputs["figure"])


def _read_tests(path: str) -> pl.DataFrame:
    """Read one dataset's axis tests, refusing a table of an older layout."""
    table = pl.read_parquet(path)
    if "adjustment" not in table.columns:
        raise AlsigError(
            f"file '{path}': axis tests without the 'adjustment' column (axis_tests schema 1, "
            "an older alsig); rerun rule axis_tests for this dataset (delete the file or run "
            "snakemake with --forcerun axis_tests)."
        )
    return table
