"""Entry point of rule ``axis_tests``: the condition effect on every score of one dataset."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import anndata as ad
import polars as pl

from alsig.cellmix import indices_from_table
from alsig.io import save_figure, write_parquet, write_tsv
from alsig.keys import excluded_samples
from alsig.settings import DeSettings
from alsig.stages.axes.effects import SCHEMA, axis_tests
from alsig.stages.axes.figures import plot_axis_forest
from alsig.stages.de.design import subset_samples
from alsig.tables import read_scores

log = logging.getLogger(__name__)


def run(
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    settings: DeSettings,
    threads: int,
    *,
    dataset: str,
) -> None:
    """Rule ``axis_tests``: the condition effect on every score under the DE design.

    Parameters
    ----------
    inputs
        ``scores``: the long table; ``h5ad``: the QC'd AnnData (its ``obs``); ``cell_indices``:
        the cell indices per signature (the score stage's ``cell_indices_by_signature``).
    outputs
        ``parquet``, ``tsv``, ``forest`` (PNG).
    settings
        The dataset's ``de:`` settings: design, contrasts, missing_covariates.
    threads
        Unused.
    dataset
        The job's dataset id.
    """
    scores = read_scores(inputs["scores"])
    obs = ad.read_h5ad(inputs["h5ad"], backed="r").obs.copy()
    exclude = excluded_samples(obs)
    cell_indices = indices_from_table(pl.read_parquet(inputs["cell_indices"]))
    missing = "drop" if settings.missing_covariates == "drop" else "error"
    table = pl.concat(
        [
            axis_tests(
                scores,
                subset_samples(obs, contrast.subset, f"contrast '{contrast.name}'"),
                design=settings.design_of(contrast),  # a contrast's own design and subset
                contrast=contrast,
                exclude=exclude,
                missing_covariates=missing,
                categorical=settings.categorical,
                cell_indices=cell_indices,
            )
            for contrast in settings.contrasts
        ]
    )
    headline = (
        pl.col("signature").str.starts_with("axis:")
        & (pl.col("qvalue") < 0.05)
        & (pl.col("method") == "singscore")
    )
    for row in table.filter(headline & (pl.col("adjustment") == "none")).iter_rows(named=True):
        adjusted = table.filter(
            (pl.col("adjustment") == "cell_mix")
            & (pl.col("method") == row["method"])
            & (pl.col("signature") == row["signature"])
            & (pl.col("contrast") == row["contrast"])
        ).row(0, named=True)
        log.info(
            "dataset %s, %s: %s std effect %+.2f (q %.2g, %s); with the cell mix %s",
            dataset,
            row["contrast"],
            row["signature"],
            row["std_effect"],
            row["qvalue"],
            row["model"],
            _adjusted_text(adjusted),
        )
    not_estimable = table.filter(
        (pl.col("adjustment") == "cell_mix") & pl.col("note").str.starts_with("not estimable")
    )
    if not_estimable.height:
        log.info("dataset %s: cell-mix adjustment %s", dataset, not_estimable["note"][0])
    write_parquet(table, outputs["parquet"], schema=SCHEMA)
    write_tsv(table, outputs["tsv"])
    method = "singscore" if "singscore" in table["method"].to_list() else table["method"][0]
    save_figure(plot_axis_forest(table, method=method, dataset=dataset), outputs["forest"])


def _adjusted_text(row: Mapping[str, Any]) -> str:
    """One log phrase for a cell_mix row: the adjusted effect and the share removed, or why not."""
    if row["std_effect"] is None:
        return row["note"] or "no value"
    share = (
        f"{row['share_removed']:.2f} [{row['share_ci_low']:.2f}, {row['share_ci_high']:.2f}]"
        if row["share_ci_low"] is not None and row["share_removed"] is not None
        else "unbounded CI"
    )
    return f"{row['std_effect']:+.2f}, share removed {share}"
