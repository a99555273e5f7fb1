"""Entry points of the subtype rules (``workflow/rules/subtypes.smk``).

- :func:`run` (rule ``subtypes``): the projection, its donor view, the shares by condition, the
  label-free states and their cell mix, and the figures;
- :func:`run_discovery` (rule ``subtypes_discovery``, when ``subtypes.discovery``): the
  consensus NMF;
- :func:`run_de`, :func:`run_enrich`, :func:`run_axis_tests` (rules ``subtypes_de``,
  ``subtypes_enrich``, ``subtypes_axis_tests``): what each called subtype carries against the
  controls.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import pandas as pd
import polars as pl

from alsig.io import read_h5ad_counts, save_figure, write_parquet, write_tsv
from alsig.settings import DeSettings, SubtypesSettings
from alsig.stages.axes.figures import plot_axis_forest
from alsig.stages.subtypes.calls import collapsed_members
from alsig.stages.subtypes.carry import subtype_axis_tests, subtype_de
from alsig.stages.subtypes.discovery import discovery_table
from alsig.stages.subtypes.enrich_job import subtype_settings
from alsig.stages.subtypes.figures import plot_consensus, plot_projection, plot_states
from alsig.stages.subtypes.reference_model import load_shipped
from alsig.stages.subtypes.table import shares, subtype_table
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
    write_parquet(table, outputs["parquet"])
    write_tsv(table, outputs["tsv"])
    write_tsv(result.donors, outputs["donors"])
    write_tsv(result.shares, outputs["shares"])
    cellmix = result.cellmix if result.cellmix is not None else schemas.empty("subtypes_cellmix")
    write_tsv(cellmix, outputs["cellmix"])
    save_figure(plot_projection(table, dataset, label), outputs["projection"])
    save_figure(plot_states(table, label), outputs["states"])


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


def _calls(path: str) -> tuple[pl.DataFrame, pd.Series]:
    table = pl.read_parquet(path)
    calls = pd.Series(table["subtype_call"].to_list(), index=table["sample"].to_list())
    return table, calls


def run_de(
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    settings: DeSettings,
    threads: int,
    *,
    dataset: str,
    subtype: str,
    subtypes: SubtypesSettings | Mapping[str, Any],
) -> None:
    """Rule ``subtypes_de``: DE of one called subtype vs the controls.

    Parameters
    ----------
    inputs
        ``h5ad``: the QC'd AnnData; ``subtypes``: the stage's per-sample table.
    outputs
        ``parquet``, ``tsv`` (DE table with ``model_feature``), ``summary`` (TSV).
    settings
        The dataset's ``de:`` settings.
    threads
        DE workers.
    dataset, subtype
        The job's wildcards.
    subtypes
        The dataset's ``subtypes:`` settings.
    """
    chosen = subtype_settings(subtypes)
    table, calls = _calls(inputs["subtypes"])
    model = load_shipped(str(table["subtype_model"][0]))
    adata = read_h5ad_counts(inputs["h5ad"])
    de, summary = subtype_de(
        adata,
        calls,
        subtype,
        dataset=dataset,
        de_settings=settings,
        settings=chosen,
        model_gene_ids=set(model.genes),
        n_cpus=int(threads),
    )
    log.info("dataset %s, %s vs %s: %s", dataset, subtype, chosen.control_label, summary["note"])
    write_parquet(de, outputs["parquet"])
    write_tsv(de, outputs["tsv"])
    write_tsv(pl.DataFrame([{k: _plain(v) for k, v in summary.items()}]), outputs["summary"])


def _plain(value: Any) -> Any:
    """Return a summary value as a TSV cell (lists and mappings as JSON)."""
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, default=str)
    return value


def run_axis_tests(
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    settings: DeSettings,
    threads: int,
    *,
    dataset: str,
    subtypes: SubtypesSettings | Mapping[str, Any],
) -> None:
    """Rule ``subtypes_axis_tests``: every score of each called subtype vs the controls.

    Parameters
    ----------
    inputs
        ``scores``, ``h5ad`` (its obs), ``subtypes`` (the per-sample table).
    outputs
        ``parquet``, ``tsv`` (schema ``axis_tests``), ``forest`` (PNG).
    settings
        The dataset's ``de:`` settings (design).
    threads
        Unused.
    dataset
        The job's dataset id.
    subtypes
        The dataset's ``subtypes:`` settings.
    """
    import anndata as ad

    chosen = subtype_settings(subtypes)
    scores = read_scores(inputs["scores"])
    obs = ad.read_h5ad(inputs["h5ad"], backed="r").obs.copy()
    _, calls = _calls(inputs["subtypes"])
    table, skipped = subtype_axis_tests(scores, obs, calls, de_settings=settings, settings=chosen)
    for reason in skipped:
        log.info("dataset %s: no axis tests for %s", dataset, reason)
    write_parquet(table, outputs["parquet"])
    write_tsv(table, outputs["tsv"])
    methods = table["method"].unique(maintain_order=True).to_list()
    method = "singscore" if "singscore" in methods or not methods else methods[0]
    save_figure(plot_axis_forest(table, method=method), outputs["forest"])
