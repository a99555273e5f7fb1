"""One new patient sample against a finished dataset, without rerunning the cohort.

``alsig score`` takes counts of new samples and a dataset alsig has already run, and places the
new samples on that dataset's scale: the same genes (missing ones count 0, and are reported),
size factors against the dataset's own gene geometric means (DESeq2's ``geoMeans``), the
dataset's fitted VST (``uns["qc_normalisation"]``), the shipped signatures scored with singscore
(which uses only the sample itself, so a dataset sample scored this way gets exactly its score in
the dataset's table), and then the dataset's stored control distribution: z against the controls
of the chosen reference stratum and percentiles among those controls and among the disease
samples. The result describes biology associated with treatment resistance in the new sample
relative to the cohort; it predicts nothing about the patient's response to a drug.
"""

from __future__ import annotations

import logging
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import polars as pl

from alsig import __version__
from alsig import settings as alsig_settings
from alsig.errors import AlsigError
from alsig.stages.qc import apply_vst, excluded_samples

log = logging.getLogger(__name__)

METHOD = "singscore"


def reference_size_factors(reference_counts: np.ndarray, new_counts: np.ndarray) -> np.ndarray:
    """Median-of-ratios size factors of new samples against the reference samples' per-gene
    geometric means (genes with a count in every reference sample and in the new sample)."""
    with np.errstate(divide="ignore"):
        log_ref = np.log(np.asarray(reference_counts, dtype=float))
        log_new = np.log(np.asarray(new_counts, dtype=float))
    usable = np.isfinite(log_ref).all(axis=0)
    if not usable.any():
        raise AlsigError("the reference dataset has no gene counted in every sample.")
    logmeans = log_ref[:, usable].mean(axis=0)
    factors = np.empty(log_new.shape[0])
    for i, row in enumerate(log_new[:, usable]):
        ok = np.isfinite(row)
        if ok.sum() < 10:
            raise AlsigError(f"new sample {i + 1} shares fewer than 10 counted genes with the "
                             "reference: is it the same species and gene-id type?")  # fmt: skip
        factors[i] = np.exp(np.median(row[ok] - logmeans[ok]))
    return factors


def new_sample_vst(reference: ad.AnnData, counts: pd.DataFrame) -> tuple[ad.AnnData, int]:
    """The new samples (rows of ``counts``, columns gene symbols) as an AnnData on the
    reference's genes with its VST; returns it and the number of reference genes missing."""
    aligned = counts.reindex(columns=reference.var_names, fill_value=0).fillna(0)
    missing = int((~reference.var_names.isin(counts.columns)).sum())
    ref_counts = reference.X.toarray() if hasattr(reference.X, "toarray") else reference.X
    factors = reference_size_factors(ref_counts, aligned.to_numpy())
    normed = aligned.to_numpy(dtype=float) / factors[:, None]
    adata = ad.AnnData(X=aligned.to_numpy(dtype=np.float32), obs=pd.DataFrame(index=counts.index),
                       var=pd.DataFrame(index=reference.var_names))  # fmt: skip
    adata.layers["vst"] = apply_vst(normed, reference.uns["qc_normalisation"]).astype(np.float32)
    adata.obs["size_factor"] = factors
    return adata, missing


def control_distribution(
    scores: pl.DataFrame, obs: pd.DataFrame, stratum: str | None, control_label: str
) -> tuple[pl.DataFrame, str]:
    """The dataset's reference controls' singscore rows (of one stratum) and that stratum."""
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
        raise AlsigError(f"--stratum '{stratum}' is not a reference stratum of the dataset; "
                         f"strata: {', '.join(strata)}.")  # fmt: skip
    excluded = set(excluded_samples(obs))
    controls = rows.filter(
        (pl.col("condition") == control_label)
        & (pl.col("reference_stratum") == stratum)
        & ~pl.col("sample").is_in(sorted(excluded))
    )
    return controls, stratum


def place(new: pl.DataFrame, reference_rows: pl.DataFrame, controls: pl.DataFrame,
          disease_label: str) -> pl.DataFrame:  # fmt: skip
    """z and percentiles of the new samples' scores against the dataset's samples."""
    out = []
    disease = reference_rows.filter(pl.col("condition") == disease_label)
    for row in new.iter_rows(named=True):
        ctrl = controls.filter(pl.col("signature") == row["signature"])["score"].drop_nulls()
        dis = disease.filter(pl.col("signature") == row["signature"])["score"].drop_nulls()
        value = row["score"]
        z = pct_c = pct_d = None
        if value is not None and ctrl.len() >= 3 and ctrl.std() > 0:
            z = (value - ctrl.mean()) / ctrl.std()
            pct_c = 100.0 * float((ctrl <= value).mean())
        if value is not None and dis.len():
            pct_d = 100.0 * float((dis <= value).mean())
        out.append({**row, "z_vs_control": z, "control_percentile": pct_c,
                    "disease_percentile": pct_d, "n_controls": ctrl.len()})  # fmt: skip
    return pl.DataFrame(out)


def read_new_counts(
    path: str | Path, *, gene_column: str | None = None, id_type: str = "auto"
) -> pd.DataFrame:
    """New samples' counts (genes x samples TSV/CSV[.gz] or an ``.h5ad``) as samples x current
    symbols, read and harmonised as ingest does (same checks, same messages)."""
    from alsig.stages.ingest import harmonise_checked, read_gene_matrix

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
    from alsig.stages.score.job import signatures_from_settings
    from alsig.stages.score.scoring import score_anndata
    from alsig.tables import read_scores

    dataset_dir = Path(dataset_dir)
    reference = ad.read_h5ad(dataset_dir / "qc" / "filtered.h5ad")
    adata, missing = new_sample_vst(reference, counts)
    if missing:
        log.warning("%d of the dataset's %d genes are absent from the new counts (counted as 0)",
                    missing, reference.n_vars)  # fmt: skip
    settings = alsig_settings.defaults("score")
    signatures, _ = signatures_from_settings(settings)
    adata.obs["condition"] = "new"
    # the new samples have no controls of their own (their reference is the dataset's below):
    # the scoring stage's "no controls" warnings would only confuse here
    scoring_log = logging.getLogger("alsig.stages.score.scoring")
    level, scoring_log.level = scoring_log.level, logging.ERROR
    try:
        new = score_anndata(adata, signatures, methods=[METHOD], layer="vst", dataset="new").long
    finally:
        scoring_log.setLevel(level)
    table = read_scores(dataset_dir / "scores" / "signature_scores.parquet")
    controls, stratum = control_distribution(table, reference.obs, stratum,
                                             settings["control_label"])  # fmt: skip
    reference_rows = table.filter(pl.col("method") == METHOD)
    disease_label = alsig_settings.defaults("subtypes")["disease_label"]
    placed = place(new.select("sample", "signature", "axis", "score", "n_genes", "n_genes_used"),
                   reference_rows, controls, disease_label)  # fmt: skip
    return placed.with_columns(
        pl.lit(str(table["dataset"][0])).alias("reference_dataset"),
        pl.lit(stratum).alias("reference_stratum"),
        pl.lit(missing).alias("n_reference_genes_missing"),
        pl.lit(__version__).alias("alsig_version"),
    )
