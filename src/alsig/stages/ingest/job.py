"""Entry point of rule ``ingest`` (one dataset -> ``counts.h5ad``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from alsig.io import write_h5ad
from alsig.stages.ingest.geo import ingest_geo
from alsig.stages.ingest.local import ingest_local


def run(
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    settings: Mapping[str, Any],
    threads: int = 1,
    *,
    dataset: str,
) -> None:
    """Rule ``ingest``: a dataset's counts and sample sheet -> ``counts.h5ad``.

    Parameters
    ----------
    inputs
        ``source: geo``: ``counts``, ``annotation``, ``series_matrix`` (the cached downloads).
        ``source: local``: ``counts``, ``samples`` (the same files the settings name).
    outputs
        ``h5ad``.
    settings
        The dataset's entry of ``config["datasets"]``.
    threads
        Unused (ingest is single-threaded).
    dataset
        The job's dataset id.
    """
    if settings["source"] == "geo":
        adata = ingest_geo(
            dataset,
            settings,
            counts_path=inputs["counts"],
            annotation_path=inputs["annotation"],
            series_matrix_path=inputs["series_matrix"],
        )
    else:
        adata = ingest_local(dataset, settings)
    write_h5ad(adata, outputs["h5ad"])
