"""New samples placed against a finished dataset.

Their scores, z against the dataset's controls and percentiles among its controls and disease
samples.

The shipped signatures are scored with singscore, which uses only the sample itself, so a
dataset sample scored this way gets exactly its score in the dataset's table.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import anndata as ad
import pandas as pd
import polars as pl

from alsig import __version__
from alsig.errors import AlsigError
from alsig.keys import excluded_samples
from alsig.newsamples.scale import new_sample_vst
from alsig.settings import complete
from alsig.signatures import signatures_of_run
from alsig.stages.ingest.counts import read_gene_matrix
from alsig.stages.ingest.harmonise import harmonise_checked
from alsig.stages.score.scoring import score_anndata
from alsig.tables import read_scores

log = logging.getLogger(__name__)

METHOD = "singscore"


def control_distribution(
    scores: pl.DataFrame, obs: pd.DataFrame, stratum: str | None, control_label: str
) -> tuple[pl.DataFrame, str]:
    """Return the dataset's reference controls' singscore rows (of one stratum) and that stratum."""
    rows = scores.filter(pl.col("method") == METHOD)
    strata = sorted(s for s in rows["reference_stratum"].drop_nulls().unique())
    if stratum is None:
        if len(strata) != 1:
            raise AlsigError(
                f"the dataset's controls are stratified ({', '.join(strata)}); choose the new "
                "sample's reference with --stratum (e.g. --stratum 'region=Frontal Cortex')."
            )
        stratum = strata[0]
    if stratum not in strata:
        raise AlsigError(
            f"--stratum '{stratum}' is not a reference stratum of the dataset; "
            f"strata: {', '.join(strata)}."
        )
    excluded = set(excluded_samples(obs))
    controls = rows.filter(
        (pl.col("condition") == control_label)
        & (pl.col("reference_stratum") == stratum)
        & ~pl.col("sample").is_in(sorted(excluded))
    )
    return controls, stratum


def place(
    new: pl.DataFrame, reference_rows: pl.DataFrame, controls: pl.DataFrame, disease_label: str
) -> pl.DataFrame:
    """Z and percentiles of the new samples' scores against the dataset's samples."""
    out = []
    disease = reference_rows.filter(pl.col("condition") == disease_label)
    for row in new.iter_rows(named=True):
        ctrl = controls.filter(pl.col("signature") == row["signature"])["score"].drop_nulls()
        dis = disease.filter(pl.col("signature") == row["signature"])["score"].drop_nulls()
        value = row["score"]
        z = pct_c = pct_d = None
        sd = ctrl.std() if ctrl.len() >= 3 else None
        if value is not None and isinstance(sd, float) and sd > 0:
            z = (value - ctrl.mean()) / sd
            pct_c = 100.0 * float((ctrl <= value).mean())
        if value is not None and dis.len():
            pct_d = 100.0 * float((dis <= value).mean())
        out.append(
            {
                **row,
                "z_vs_control": z,
                "control_percentile": pct_c,
                "disease_percentile": pct_d,
                "n_controls": ctrl.len(),
            }
        )
    return pl.DataFrame(out)


def read_new_counts(
    path: str | Path, *, gene_column: str | None = None, id_type: str = "auto"
) -> pd.DataFrame:
    """Return new samples' counts as samples x current symbols.

    Read from a genes x samples TSV/CSV[.gz] or an ``.h5ad`` and harmonised as ingest does (same
    checks, same messages).
    """
    matrix = read_gene_matrix(path, gene_column=gene_column)  # alsig.validation's rules
    counts, var, _ = harmonise_checked(matrix, id_type=id_type, id_type_key="--gene-id-type")
    return pd.DataFrame(counts.T, index=matrix.sample_ids, columns=var.index.astype(str))


def score_new_samples(
    counts: pd.DataFrame, dataset_dir: str | Path, *, stratum: str | None = None
) -> pl.DataFrame:
    """Score new samples and place them against a finished dataset.

    Parameters
    ----------
    counts
        Samples x genes raw integer counts, columns current gene symbols (as ingest harmonises).
    dataset_dir
        ``results/<dataset>`` of a finished run (``qc/filtered.h5ad``,
        ``scores/signature_scores.parquet``).
    stratum
        The reference stratum (``reference_stratum`` of the dataset's table) when the dataset's
        controls are stratified, e.g. ``"region=Frontal Cortex"``.

    Returns
    -------
    One row per sample x signature: score, z against the stratum's controls, percentile among
    those controls and among the disease samples, and where the reference came from.
    """
    dataset_dir = Path(dataset_dir)
    reference = ad.read_h5ad(dataset_dir / "qc" / "filtered.h5ad")
    adata, missing = new_sample_vst(reference, counts)
    if missing:
        log.warning(
            "%d of the dataset's %d genes are absent from the new counts (counted as 0)",
            missing,
            reference.n_vars,
        )
    # the dataset's own scores were made with its settings; the new samples get singscore of
    # the shipped signatures, which depends on nothing else
    settings = dataclasses.replace(complete("score"), methods=(METHOD,), layer="vst")
    signatures, _ = signatures_of_run(
        settings.extra_signatures,
        replace=settings.replace_signatures,
        harmonise=settings.harmonise_symbols,
    )
    adata.obs["condition"] = "new"
    # the new samples have no controls of their own (their reference is the dataset's below):
    # the scoring stage's "no controls" warnings would only confuse here
    scoring_log = logging.getLogger("alsig.stages.score.scoring")
    level, scoring_log.level = scoring_log.level, logging.ERROR
    try:
        new = score_anndata(adata, signatures, (), settings=settings, dataset="new").long
    finally:
        scoring_log.setLevel(level)
    table = read_scores(dataset_dir / "scores" / "signature_scores.parquet")
    controls, stratum = control_distribution(table, reference.obs, stratum, settings.control_label)
    reference_rows = table.filter(pl.col("method") == METHOD)
    disease_label = complete("subtypes").disease_label
    placed = place(
        new.select("sample", "signature", "axis", "score", "n_genes", "n_genes_used"),
        reference_rows,
        controls,
        disease_label,
    )
    return placed.with_columns(
        pl.lit(str(table["dataset"][0])).alias("reference_dataset"),
        pl.lit(stratum).alias("reference_stratum"),
        pl.lit(missing).alias("n_reference_genes_missing"),
        pl.lit(__version__).alias("alsig_version"),
    )
