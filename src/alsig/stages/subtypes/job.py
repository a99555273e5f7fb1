"""Entry point of rule ``subtypes`` (``workflow/rules/subtypes.smk``).

The projection, its donor view, the shares by condition, the label-free states and their cell
mix, and the figures.

The other subtype rules have their own entry modules (:mod:`.discovery_job`, :mod:`.carry_job`,
:mod:`.enrich_job`), so each job imports only the engines it runs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import polars as pl

from alsig.io import save_figure, write_parquet, write_tsv
from alsig.settings import SubtypesSettings
from alsig.stages.subtypes.calls import collapsed_members
from alsig.stages.subtypes.figures import plot_projection, plot_states
from alsig.stages.subtypes.table import SCHEMA, shares, subtype_table
from alsig.tables import read_scores, schemas

log = logging.getLogger(__name__)


def _share_text(table: pl.DataFrame, label: str, column: str) -> str:
    share = shares(table, label, column)
    return ", ".join(f"{k} {100 * v:.0f}%" for k, v in sorted(share.items())) or "none"


def run(
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    settings: SubtypesSettings,
    threads: int,
    *,
    dataset: str,
) -> None:
    """Rule ``subtypes``: the projection, donor view, shares, states, cell mix and figures.

    Parameters
    ----------
    inputs
        ``scores``: the long score table; ``h5ad``: the QC'd AnnData; ``counts``: ingest's
        uncollapsed AnnData (read only when QC collapsed libraries).
    outputs
        ``parquet``, ``tsv`` (per sample), ``donors``, ``shares``, ``cellmix`` (TSV),
        ``projection``, ``states`` (PNG).
    settings
        The job's resolved ``subtypes:`` settings.
    threads
        Unused.
    dataset
        The job's dataset id.
    """
    import anndata as ad

    scores = read_scores(inputs["scores"])
    adata = ad.read_h5ad(inputs["h5ad"])
    libraries = None
    if collapsed_members(adata.obs):
        libraries = ad.read_h5ad(inputs["counts"])
    result = subtype_table(dataset, scores, adata, settings, libraries=libraries)
    table, model = result.table, result.projection.model
    label = settings.disease_label
    log.info(
        "dataset %s: model %s (gene coverage %.3f, min_probability %g, distance threshold %.3f); "
        "%s calls: %s; %s calls: %s; %d reference samples",
        dataset,
        model.name,
        float(table["gene_coverage"][0]) if table.height else float("nan"),
        model.min_probability,
        model.distance_threshold,
        label,
        _share_text(table, label, "subtype_call"),
        settings.control_label,
        _share_text(table, settings.control_label, "subtype_call"),
        int(table["reference_sample"].sum()),
    )
    discordant = result.donors.filter(pl.col("donor_concordance") == "discordant")
    log.info(
        "dataset %s: %d donors, %d with discordant samples; label-free states (%s): %s",
        dataset,
        result.donors.height,
        discordant.height,
        label,
        _share_text(table, label, "state_call"),
    )
    write_parquet(table, outputs["parquet"], schema=SCHEMA)
    write_tsv(table, outputs["tsv"])
    write_tsv(result.donors, outputs["donors"])
    write_tsv(result.shares, outputs["shares"])
    cellmix = result.cellmix if result.cellmix is not None else schemas.empty("subtypes_cellmix")
    write_tsv(cellmix, outputs["cellmix"])
    save_figure(plot_projection(table, dataset, label), outputs["projection"])
    save_figure(plot_states(table, label), outputs["states"])
