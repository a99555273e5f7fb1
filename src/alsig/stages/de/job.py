"""Entry point of rule ``de``: every contrast and test of one dataset from one fit per design.

Writes, in the folder of ``outputs["summary"]`` (``<output_dir>/<dataset>/de/``), per contrast
``<name>.{parquet,tsv}``, ``<name>.summary.tsv``, ``<name>.volcano.png`` and ``<name>.ma.png``;
per test ``<name>.{parquet,tsv}`` and ``<name>.summary.tsv``; and ``summary.tsv`` with one row
per contrast and test. The file names are :func:`alsig.planning.de_files`'.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from alsig.io import read_h5ad_counts, save_figure, write_parquet, write_tsv
from alsig.keys import DATASET
from alsig.settings import DeSettings
from alsig.stages.de.dataset import Outcome, read_vst, run_dataset
from alsig.stages.de.figures import ma_plot, volcano
from alsig.stages.de.tables import RESULT, summary_frame
from alsig.tables import schemas

log = logging.getLogger(__name__)


def run(
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    settings: DeSettings,
    threads: int,
    *,
    dataset: str,
) -> None:
    """Rule ``de``.

    Parameters
    ----------
    inputs
        ``h5ad``: the QC'd AnnData.
    outputs
        ``summary``: the dataset's DE summary (TSV); every other file is in its folder.
    settings
        The dataset's resolved ``de:`` settings.
    threads
        Threads of the engine (results do not depend on them).
    dataset
        The job's dataset id.
    """
    adata = read_h5ad_counts(inputs["h5ad"])
    expression = read_vst(inputs["h5ad"], adata) if settings.adjust_cell_mix else None
    outcomes = run_dataset(adata, settings, n_cpus=int(threads), expression=expression)
    folder = Path(outputs["summary"]).parent
    name = str(adata.uns.get(DATASET, dataset))
    for outcome in outcomes:
        outcome.summary["dataset"] = name
        write_outcome(outcome, folder, dataset, settings.alpha)
    write_tsv(summary_frame([o.summary for o in outcomes]), outputs["summary"])


def write_outcome(outcome: Outcome, folder: Path, dataset: str, alpha: float) -> None:
    """Write one contrast's or test's table, summary and (contrasts) figures.

    Parameters
    ----------
    outcome
        The contrast's or test's results.
    folder
        The dataset's DE folder.
    dataset
        The dataset id (the table's label).
    alpha
        Significance level of the figures.
    """
    labelled = outcome.table.select(
        pl.lit(dataset).alias("dataset"), pl.lit(outcome.name).alias("contrast"), pl.all()
    )
    base = folder / outcome.name
    schemas.validate(labelled, RESULT, f"{base}.parquet")
    write_parquet(labelled, f"{base}.parquet", schema=RESULT)
    write_tsv(labelled, f"{base}.tsv")
    write_tsv(summary_frame([outcome.summary]), f"{base}.summary.tsv")
    if outcome.contrast is not None:
        _figures(outcome, base, alpha)


def _figures(outcome: Outcome, base: Path, alpha: float) -> None:
    table, summary = outcome.table, outcome.summary
    assert outcome.contrast is not None
    test, ref = outcome.contrast.test, outcome.contrast.reference
    title = (
        f"{summary.get('dataset', '')} {outcome.name}: {test} vs {ref} "
        f"({summary['design']}; {summary['model']})"
    )
    padj = table["padj"].fill_null(np.nan).to_numpy()
    save_figure(
        volcano(
            table["log2_fold_change"].fill_null(np.nan).to_numpy(),
            padj,
            labels=table["symbol"].to_list(),
            alpha=alpha,
            title=title,
        ),
        f"{base}.volcano.png",
    )
    lfc = table["log2_fold_change_shrunk"]
    shrunk = lfc.is_not_null().any()
    save_figure(
        ma_plot(
            table["base_mean"].to_numpy(),
            (lfc if shrunk else table["log2_fold_change"]).fill_null(np.nan).to_numpy(),
            padj,
            alpha=alpha,
            title=title,
            ylabel="shrunken log2 fold change" if shrunk else "log2 fold change",
        ),
        f"{base}.ma.png",
    )
