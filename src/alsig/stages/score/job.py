"""Entry points of rules ``score`` (one dataset's scores) and ``score_figures`` (its figures)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from alsig.io import read_h5ad_obs, save_figure, write_parquet, write_tsv
from alsig.resources import signature_dir
from alsig.stages.score.composition import composition_share
from alsig.stages.score.figures import axis_distributions, axis_heatmap
from alsig.stages.score.h5ad import write_scores_h5ad
from alsig.stages.score.retrotransposons import te_signature_table
from alsig.stages.score.scoring import score_anndata
from alsig.stages.score.signatures import (
    Signature,
    configured_signatures,
    harmonise_signatures,
    read_signatures,
)
from alsig.tables import read_scores, write_coverage, write_long, write_wide

log = logging.getLogger(__name__)


def signatures_from_settings(
    settings: Mapping[str, Any],
) -> tuple[list[Signature], list[Signature]]:
    """The gene signatures and the transposable-element signatures a score job scores.

    Parameters
    ----------
    settings
        The job's resolved ``score:`` settings.

    Returns
    -------
    ``(gene signatures, TE signatures)``: the shipped resistance signatures and ALS-Ox markers
    (unless ``replace_signatures``) plus ``extra_signatures``, harmonised to current symbols;
    the shipped retrotransposon signatures (unless ``replace_signatures``).
    """
    signatures = configured_signatures(
        settings["extra_signatures"], replace=bool(settings["replace_signatures"])
    )
    if not settings["replace_signatures"]:
        signatures += read_signatures(signature_dir() / "subtype_markers.tsv")
    if settings["harmonise_symbols"]:
        harmonise_signatures(signatures)
    te = [] if settings["replace_signatures"] else read_signatures(te_signature_table())
    return signatures, te


def run(
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    settings: Mapping[str, Any],
    threads: int = 1,
    *,
    dataset: str,
) -> None:
    """Rule ``score``: the QC'd AnnData -> the score tables, their reference strata, the
    composition share and ``scores.h5ad``.

    Parameters
    ----------
    inputs
        ``h5ad``: the QC'd AnnData; ``signatures``: the user signature files (read through
        ``settings["extra_signatures"]``; listed so that a change reruns the job).
    outputs
        ``long`` (parquet), ``wide``, ``coverage``, ``references``, ``composition`` (tsv),
        ``h5ad``.
    settings
        The job's resolved ``score:`` settings.
    threads
        Unused (scoring is single-threaded).
    dataset
        The job's dataset id.
    """
    import anndata as ad

    signatures, te_signatures = signatures_from_settings(settings)
    log.info("dataset %s: %d signatures (+%d TE signatures)", dataset, len(signatures),
             len(te_signatures))  # fmt: skip
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
        te_signatures=te_signatures,
        reference_by=settings["reference_by"],
    )
    metadata = {"alsig.reference_by": ",".join(result.reference_by) or "(all controls)"}
    write_long(result.long, outputs["long"], metadata=metadata)
    write_wide(result.long, outputs["wide"])
    write_coverage(result.coverage, outputs["coverage"])
    write_tsv(result.references, outputs["references"])
    write_tsv(composition_share(result.long), outputs["composition"])
    write_scores_h5ad(adata, result, outputs["h5ad"], layer=settings["layer"])
    log.info("dataset %s: wrote %d score rows; references by %s", dataset, result.long.height,
             metadata["alsig.reference_by"])  # fmt: skip


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
        ``scores``: the dataset's long table (parquet); optional ``obs``: the scored h5ad, whose
        region / sex / batch columns become heatmap tracks.
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
    obs = read_h5ad_obs(inputs["obs"]) if inputs.get("obs") else None
    save_figure(axis_heatmap(long, method=method, dataset=dataset, obs=obs), outputs["heatmap"])
    save_figure(axis_distributions(long, method=method, dataset=dataset), outputs["distributions"])


def run_axis_tests(
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    settings: Mapping[str, Any],
    threads: int = 1,
    *,
    dataset: str,
    de: Mapping[str, Any],
) -> None:
    """Rule ``axis_tests``: the condition effect on every score under the DE design.

    Parameters
    ----------
    inputs
        ``scores``: the long table; ``h5ad``: the QC'd AnnData (its ``obs``).
    outputs
        ``parquet``, ``tsv``, ``forest`` (PNG).
    settings
        The job's resolved ``score:`` settings (unused).
    threads
        Unused.
    dataset
        The job's dataset id.
    de
        The dataset's resolved ``de:`` settings: design, contrasts, missing_covariates.
    """
    import anndata as ad
    import polars as pl

    from alsig.stages.qc import excluded_samples
    from alsig.stages.score.axis_figures import plot_axis_forest
    from alsig.stages.score.axis_tests import axis_tests, contrasts_of

    scores = read_scores(inputs["scores"])
    obs = ad.read_h5ad(inputs["h5ad"], backed="r").obs.copy()
    exclude = excluded_samples(obs)
    tables = [
        axis_tests(scores, obs, design=str(de["design"]), contrast=contrast, exclude=exclude,
                   missing_covariates="drop" if de["missing_covariates"] == "drop" else "error")
        for contrast in contrasts_of(de)
    ]  # fmt: skip
    table = pl.concat(tables)
    for row in table.filter(pl.col("signature").str.starts_with("axis:") & (pl.col("qvalue") < 0.05)
                            & (pl.col("method") == "singscore")).iter_rows(named=True):  # fmt: skip
        log.info("dataset %s, %s: %s std effect %+.2f (q %.2g, %s)", dataset, row["contrast"],
                 row["signature"], row["std_effect"], row["qvalue"], row["model"])  # fmt: skip
    write_parquet(table, outputs["parquet"])
    write_tsv(table, outputs["tsv"])
    method = "singscore" if "singscore" in table["method"].to_list() else table["method"][0]
    save_figure(plot_axis_forest(table, method=method), outputs["forest"])
