"""Entry point of rule ``catalog``: every dataset's score table -> the catalog of the run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from alsig.stages.catalog.manifest import write_catalog


def run(
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    settings: Mapping[str, Any],
    threads: int = 1,
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
        Unused (the rule has no settings).
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
