"""Entry point of rule ``subtypes_discovery`` (when ``subtypes.discovery``).

The consensus NMF of the disease samples.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import polars as pl

from alsig.io import save_figure, write_tsv
from alsig.settings import SubtypesSettings
from alsig.stages.subtypes.discovery import discovery_table
from alsig.stages.subtypes.figures import plot_consensus

log = logging.getLogger(__name__)


def run_discovery(
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    settings: SubtypesSettings,
    threads: int,
    *,
    dataset: str,
) -> None:
    """Rule ``subtypes_discovery``: the consensus NMF of the disease samples.

    Parameters
    ----------
    inputs
        ``h5ad``: the QC'd AnnData; ``subtypes``: the stage's per-sample table.
    outputs
        ``tsv`` (schema ``subtypes_nmf``), ``consensus`` (PNG).
    settings
        The job's resolved ``subtypes:`` settings.
    threads
        Unused.
    dataset
        The job's dataset id.
    """
    import anndata as ad

    adata = ad.read_h5ad(inputs["h5ad"])
    table = pl.read_parquet(inputs["subtypes"])
    result = discovery_table(dataset, adata, table, settings)
    if result.note:
        log.warning("dataset %s: %s", dataset, result.note)
    else:
        assert result.discovery is not None
        chosen = result.discovery.chosen
        log.info(
            "dataset %s: consensus NMF k = %d (PAC %.3f) of ranks %s",
            dataset,
            chosen.k,
            chosen.pac,
            sorted(result.discovery.fits),
        )
    write_tsv(result.table, outputs["tsv"])
    calls = table.select("sample", "subtype_call", "state_call", "region")
    save_figure(plot_consensus(result.discovery, calls, dataset), outputs["consensus"])
