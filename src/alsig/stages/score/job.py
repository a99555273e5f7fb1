"""Entry points of rules ``score`` (one dataset's scores) and ``score_figures`` (its figures)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from alsig.io import save_figure
from alsig.stages.score.figures import axis_distributions, axis_heatmap
from alsig.stages.score.h5ad import write_scores_h5ad
from alsig.stages.score.scoring import score_anndata
from alsig.stages.score.signatures import (
    Signature,
    configured_signatures,
    harmonise_signatures,
)
from alsig.tables import read_scores, write_coverage, write_long, write_wide

log = logging.getLogger(__name__)


def signatures_from_settings(settings: Mapping[str, Any]) -> list[Signature]:
    """The signatures a score job scores: shipped and/or ``extra_signatures``, harmonised.

    Parameters
    ----------
    settings
        The job's resolved ``score:`` settings.

    Returns
    -------
    list of Signature
    """
    signatures = configured_signatures(
        settings["extra_signatures"], replace=bool(settings["replace_signatures"])
    )
    if settings["harmonise_symbols"]:
        harmonise_signatures(signatures)
    return signatures


def run(
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    settings: Mapping[str, Any],
    threads: int = 1,
    *,
    dataset: str,
) -> None:
    """Rule ``score``: the QC'd AnnData -> long, wide and coverage tables and ``scores.h5ad``.

    Parameters
    ----------
    inputs
        ``h5ad``: the QC'd AnnData; ``signatures``: the user signature files (read through
        ``settings["extra_signatures"]``; listed so that a change reruns the job).
    outputs
        ``long`` (parquet), ``wide`` (tsv), ``coverage`` (tsv), ``h5ad``.
    settings
        The job's resolved ``score:`` settings.
    threads
        Unused (scoring is single-threaded).
    dataset
        The job's dataset id.
    """
    import anndata as ad

    signatures = signatures_from_settings(settings)
    log.info("dataset %s: %d signatures from the config", dataset, len(signatures))
    adata = ad.read_h5ad(inputs["h5ad"])
    log.info("dataset %s: %d samples x %d genes", dataset, adata.n_obs, adata.n_vars)
    result = score_anndata(
        adata,
        signatures,
        methods=settings["methods"],
        layer=settings["layer"],
        min_coverage=float(settings["min_coverage"]),
        control_label=str(settings["control_label"]),
        control_column=str(settings["control_column"]),
        dataset=dataset,
        ssgsea_weight=float(settings["ssgsea_weight"]),
        chunk_size=int(settings["chunk_size"]),
    )
    write_long(result.long, outputs["long"])
    write_wide(result.long, outputs["wide"])
    write_coverage(result.coverage, outputs["coverage"])
    write_scores_h5ad(adata, result, outputs["h5ad"], layer=settings["layer"])
    log.info("dataset %s: wrote %d score rows", dataset, result.long.height)


def run_figures(
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    settings: Mapping[str, Any],
    threads: int = 1,
    *,
    dataset: str,
) -> None:
    """Rule ``score_figures``: the long table -> axis heatmap and distributions (PNG).

    Parameters
    ----------
    inputs
        ``scores``: the dataset's long table (parquet).
    outputs
        ``heatmap``, ``distributions``: PNG files.
    settings
        Unused (the rule has no settings).
    threads
        Unused.
    dataset
        The job's dataset id (figure titles).

    Notes
    -----
    The figures show singscore when the table has it, otherwise the first method by name.
    """
    long = read_scores(inputs["scores"])
    methods = long["method"].unique().to_list()
    method = "singscore" if "singscore" in methods else sorted(methods)[0]
    log.info("dataset %s: figures of %s axis scores", dataset, method)
    save_figure(axis_heatmap(long, method=method, dataset=dataset), outputs["heatmap"])
    save_figure(axis_distributions(long, method=method, dataset=dataset), outputs["distributions"])
