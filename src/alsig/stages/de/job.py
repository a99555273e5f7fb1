"""Entry point of rule ``de``: one contrast of one dataset -> DE table, summary, volcano, MA."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl

from alsig.io import read_h5ad_counts, save_figure, write_parquet, write_tsv
from alsig.settings import DeSettings
from alsig.stages.de.figures import ma_plot, volcano
from alsig.stages.de.fit import RESULT, run_de
from alsig.tables import schemas

log = logging.getLogger(__name__)


def run(
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    settings: DeSettings,
    threads: int,
    *,
    dataset: str,
    contrast: str,
) -> None:
    """Rule ``de``.

    Parameters
    ----------
    inputs
        ``h5ad``: the QC'd AnnData.
    outputs
        ``parquet``, ``tsv``, ``summary`` (TSV), ``volcano``, ``ma`` (PNG).
    settings
        The job's resolved ``de:`` settings.
    threads
        pydeseq2 workers.
    dataset, contrast
        The job's dataset id and contrast name.
    """
    chosen = settings.contrast(contrast)
    adata = read_h5ad_counts(inputs["h5ad"])
    table, summary = run_de(adata, chosen, settings, n_cpus=int(threads))
    summary["dataset"] = str(adata.uns.get("dataset", dataset))
    labelled = table.select(
        pl.lit(dataset).alias("dataset"), pl.lit(contrast).alias("contrast"), pl.all()
    )
    schemas.validate(labelled, RESULT, outputs["parquet"])
    write_parquet(labelled, outputs["parquet"])
    write_tsv(labelled, outputs["tsv"])
    write_tsv(pl.DataFrame([summary]), outputs["summary"])
    _figures(table, summary, chosen.spec, settings.alpha, outputs)


def _figures(table: pl.DataFrame, summary: dict, spec, alpha: float, outputs) -> None:
    _, test, ref = spec
    title = f"{summary['dataset']} {summary['contrast']}: {test} vs {ref} ({summary['design']})"
    padj = table["padj"].fill_null(np.nan).to_numpy()
    save_figure(
        volcano(
            table["log2_fold_change"].to_numpy(),
            padj,
            labels=table["symbol"].to_list(),
            alpha=alpha,
            title=title,
        ),
        outputs["volcano"],
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
        outputs["ma"],
    )
