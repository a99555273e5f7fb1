"""Entry point of rule ``axis_tests``: the condition effect on every score of one dataset."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import anndata as ad
import polars as pl

from alsig.io import save_figure, write_parquet, write_tsv
from alsig.keys import excluded_samples
from alsig.settings import DeSettings
from alsig.stages.axes.effects import axis_tests
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
        ``scores``: the long table; ``h5ad``: the QC'd AnnData (its ``obs``).
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
            )
            for contrast in settings.contrasts
        ]
    )
    headline = (
        pl.col("signature").str.starts_with("axis:")
        & (pl.col("qvalue") < 0.05)
        & (pl.col("method") == "singscore")
    )
    for row in table.filter(headline).iter_rows(named=True):
        log.info(
            "dataset %s, %s: %s std effect %+.2f (q %.2g, %s)",
            dataset,
            row["contrast"],
            row["signature"],
            row["std_effect"],
            row["qvalue"],
            row["model"],
        )
    write_parquet(table, outputs["parquet"])
    write_tsv(table, outputs["tsv"])
    method = "singscore" if "singscore" in table["method"].to_list() else table["method"][0]
    save_figure(plot_axis_forest(table, method=method), outputs["forest"])
