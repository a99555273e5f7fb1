"""Entry points of rules ``subtypes_de`` and ``subtypes_axis_tests``.

What each called subtype carries against the controls (its enrichment: :mod:`.enrich_job`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import pandas as pd
import polars as pl

from alsig.io import read_h5ad_counts, save_figure, write_parquet, write_tsv
from alsig.settings import DeSettings, SubtypesSettings, de_settings_without_null
from alsig.stages.axes.effects import SCHEMA as AXIS_TESTS
from alsig.stages.axes.figures import plot_axis_forest
from alsig.stages.subtypes.carry import DE_EXTRA, SUBTYPES, subtype_axis_tests, subtypes_de
from alsig.stages.subtypes.enrich_job import subtype_settings
from alsig.stages.subtypes.reference_model import load_shipped
from alsig.tables import read_scores

log = logging.getLogger(__name__)


def _calls(path: str) -> tuple[pl.DataFrame, pd.Series]:
    table = pl.read_parquet(path)
    calls = pd.Series(table["subtype_call"].to_list(), index=table["sample"].to_list())
    return table, calls


def run_de(
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    settings: DeSettings | Mapping[str, Any],
    threads: int,
    *,
    dataset: str,
    subtypes: SubtypesSettings | Mapping[str, Any],
) -> None:
    """Rule ``subtypes_de``: DE of each called subtype vs the controls, from one fit.

    Parameters
    ----------
    inputs
        ``h5ad``: the QC'd AnnData; ``subtypes``: the stage's per-sample table.
    outputs
        ``parquet``, ``tsv`` (DE tables with ``model_feature``), ``summary`` (TSV): one path
        each per subtype of :data:`~alsig.stages.subtypes.carry.SUBTYPES`, in that order.
    settings
        The dataset's ``de:`` settings, or the rule's ``params.settings`` (their resolved
        mapping without the permutation null's keys: this fit runs no null).
    threads
        DE workers.
    dataset
        The job's wildcard.
    subtypes
        The dataset's ``subtypes:`` settings.
    """
    de_settings = (
        settings if isinstance(settings, DeSettings) else de_settings_without_null(settings)
    )
    chosen = subtype_settings(subtypes)
    table, calls = _calls(inputs["subtypes"])
    model = load_shipped(str(table["subtype_model"][0]))
    adata = read_h5ad_counts(inputs["h5ad"])
    results = subtypes_de(
        adata,
        calls,
        SUBTYPES,
        dataset=dataset,
        de_settings=de_settings,
        settings=chosen,
        model_gene_ids=set(model.genes),
        n_cpus=int(threads),
    )
    paths = zip(outputs["parquet"], outputs["tsv"], outputs["summary"], strict=True)
    for (subtype, (de, summary)), (parquet, tsv, summary_tsv) in zip(
        results.items(), paths, strict=True
    ):
        log.info(
            "dataset %s, %s vs %s: %s", dataset, subtype, chosen.control_label, summary["note"]
        )
        write_parquet(de, parquet, schema=DE_EXTRA)
        write_tsv(de, tsv)
        write_tsv(pl.DataFrame([{k: _plain(v) for k, v in summary.items()}]), summary_tsv)


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
    write_parquet(table, outputs["parquet"], schema=AXIS_TESTS)
    write_tsv(table, outputs["tsv"])
    methods = table["method"].unique(maintain_order=True).to_list()
    method = "singscore" if "singscore" in methods or not methods else methods[0]
    empty = "no axis tests: " + ("; ".join(skipped) if skipped else "no subtype was called")
    figure = plot_axis_forest(table, method=method, dataset=dataset, empty_note=empty)
    save_figure(figure, outputs["forest"])
