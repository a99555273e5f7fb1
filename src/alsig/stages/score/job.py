"""Entry points of rules ``score`` (one dataset's scores) and ``score_figures`` (its figures)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import anndata as ad

from alsig.cellmix.dataset import SIGNATURE_SCHEMA
from alsig.io import write_parquet, write_tsv
from alsig.settings import ScoreSettings
from alsig.signatures import signatures_of_run
from alsig.stages.score.composition import composition_share
from alsig.stages.score.h5ad import write_scores_h5ad
from alsig.stages.score.scoring import score_anndata
from alsig.tables import REFERENCE_BY_KEY, write_coverage, write_long, write_wide

log = logging.getLogger(__name__)


def run(
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    settings: ScoreSettings,
    threads: int,
    *,
    dataset: str,
) -> None:
    """Rule ``score``.

    The QC'd AnnData -> the score tables, their reference strata, the composition share and
    ``scores.h5ad``.

    Parameters
    ----------
    inputs
        ``h5ad``: the QC'd AnnData; ``signatures``: the user signature files (read through
        ``settings["extra_signatures"]``; listed so that a change reruns the job).
    outputs
        ``long`` (parquet), ``wide``, ``coverage``, ``references``, ``composition`` (tsv),
        ``cell_indices`` (parquet: the cell indices without each signature's genes, read by the
        axis tests), ``h5ad``.
    settings
        The job's resolved ``score:`` settings.
    threads
        Unused (scoring is single-threaded).
    dataset
        The job's dataset id.
    """
    signatures, te_signatures = signatures_of_run(
        settings.extra_signatures,
        replace=settings.replace_signatures,
        harmonise=settings.harmonise_symbols,
    )
    log.info(
        "dataset %s: %d signatures (+%d TE signatures)",
        dataset,
        len(signatures),
        len(te_signatures),
    )
    adata = ad.read_h5ad(inputs["h5ad"])
    log.info("dataset %s: %d samples x %d genes", dataset, adata.n_obs, adata.n_vars)
    result = score_anndata(
        adata,
        signatures,
        te_signatures,
        settings=settings,
        dataset=dataset,
        with_cell_indices=True,
    )
    assert result.cell_indices is not None  # asked for above
    metadata = {REFERENCE_BY_KEY: ",".join(result.reference_by) or "(all controls)"}
    write_long(result.long, outputs["long"], metadata=metadata)
    write_wide(result.long, outputs["wide"])
    write_coverage(result.coverage, outputs["coverage"])
    assert result.references is not None  # score_anndata always gives the strata
    write_tsv(result.references, outputs["references"])
    write_tsv(composition_share(result.long, result.cell_indices), outputs["composition"])
    write_parquet(
        result.cell_indices.table(dataset), outputs["cell_indices"], schema=SIGNATURE_SCHEMA
    )
    write_scores_h5ad(adata, result, outputs["h5ad"], layer=settings.layer)
    log.info(
        "dataset %s: wrote %d score rows; references by %s",
        dataset,
        result.long.height,
        metadata[REFERENCE_BY_KEY],
    )
