"""New samples placed against a finished dataset.

Their singscores, z against the controls of one reference stratum of the dataset and percentiles
among those controls and among that stratum's disease samples, plus the subtype model's call.

singscore ranks each sample's genes among themselves, so the new samples and the dataset's samples
are scored by the same function on the same genes: the dataset's QC'd VST restricted to the genes
the new counts have (all of them, when none is missing, and then a dataset sample scored as new
gets exactly its score and z in the dataset's table). Missing genes are handled by
:mod:`alsig.newsamples.overlap`: within a documented share every row is flagged, above it the
placement is refused.

The table has the columns of the long score table (schema ``signature_scores``; ``dataset`` is the
label given to the new samples, ``condition`` is null) followed by :data:`PLACEMENT_COLUMNS` and the
subtype columns, so :func:`alsig.read_scores` reads it and it concatenates with the catalog.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import anndata as ad
import numpy as np
import pandas as pd
import polars as pl

from alsig.errors import AlsigError
from alsig.keys import GENE_ID, VST, excluded_samples
from alsig.newsamples.depth import low_library_flags, outlier_nmads, reference_library_sizes
from alsig.newsamples.overlap import MAX_MISSING_SHARE, check_overlap, gene_overlap
from alsig.newsamples.scale import new_sample_vst
from alsig.newsamples.subtypes import SUBTYPE_COLUMNS, region_of_stratum, subtype_columns
from alsig.settings import complete
from alsig.signatures import signatures_of_run
from alsig.stages.ingest.counts import read_gene_matrix
from alsig.stages.ingest.harmonise import harmonise_checked
from alsig.stages.ingest.te_counts import read_te_counts
from alsig.stages.score.composites import MIN_CONTROLS
from alsig.stages.score.scoring import score_anndata
from alsig.tables import COLUMNS, read_scores
from alsig.validation.advice import InputAdvice

log = logging.getLogger(__name__)

METHOD = "singscore"
#: Columns after the long table's: where each new row was placed and how.
PLACEMENT_COLUMNS: dict[str, pl.DataType] = {
    "reference_dataset": pl.String(),
    "control_percentile": pl.Float64(),
    "disease_percentile": pl.Float64(),
    "n_controls": pl.Int32(),
    "n_reference_genes": pl.Int32(),
    "n_reference_genes_missing": pl.Int32(),
}


class NewCounts(NamedTuple):
    """New samples' counts after harmonisation."""

    counts: pd.DataFrame  # samples x current symbols
    gene_ids: dict[str, str | None]  # symbol -> Entrez id
    te_counts: pd.DataFrame | None = None  # samples x TE ids (subfamily:family:class), if given


class Reference(NamedTuple):
    """The dataset's samples a new sample is placed among (one stratum)."""

    stratum: str
    controls: list[str]
    disease: list[str]


def score_advice(counts_path: str | Path, te_path: str | Path | None = None) -> InputAdvice:
    """Word the readers' remedies for ``alsig score``: its files and options, no sample sheet.

    Parameters
    ----------
    counts_path
        ``--counts``.
    te_path
        ``--te-counts``, if given.

    Returns
    -------
    InputAdvice
    """
    counts_name = Path(counts_path).name
    te_name = Path(te_path).name if te_path is not None else None
    return InputAdvice(
        rounding="run alsig score with `--counts-rounding round`",
        rounding_setting="--counts-rounding round",
        empty_library=(
            f"An empty library cannot be normalised: remove the sample's column from "
            f"'{counts_name}', or check that the column holds this sample's counts."
        ),
        empty_te_library=(
            "An empty TE library is no measurement (the subtype call would read every TE as "
            f"absent): remove the sample's column from '{counts_name}' and '{te_name}', or give the TE "
            "counts of these samples (--te-counts; check that the column holds this sample's TE "
            "counts)."
        ),
        gene_column="--gene-column",
        annotation_columns=(
            f"delete them from '{counts_name}': every column but the gene ids is read as a sample"
        ),
    )


def read_new_samples(
    path: str | Path,
    *,
    gene_column: str | None = None,
    id_type: str = "auto",
    te_path: str | Path | None = None,
    rounding: str = "none",
) -> NewCounts:
    """Read new samples' counts as samples x current symbols, with their Entrez ids.

    Parameters
    ----------
    path
        A genes x samples TSV/CSV[.gz] or an ``.h5ad``.
    gene_column
        The gene id column (default: the first).
    id_type
        ``auto``, ``symbol``, ``entrez`` or ``ensembl`` (``--gene-id-type``).
    te_path
        A TEcount table (TE-only or combined gene + TE, TSV/CSV[.gz]) of the same samples, read
        as ingest reads a dataset's ``te_counts:`` (``--te-counts``), or None.
    rounding
        ``--counts-rounding``: ``none`` (a fraction is an error) or ``round`` (estimated counts
        rounded half to even, counted in the log), as a dataset's ``counts_rounding``.

    Returns
    -------
    NewCounts
        The counts, the symbol -> Entrez map and the TE counts (rows in the counts' order).

    Raises
    ------
    AlsigError
        Read and harmonised as ingest does (:mod:`alsig.validation`): same checks, same messages
        (a sample missing from the TE table is named).
    """
    advice = score_advice(path, te_path)
    matrix = read_gene_matrix(path, gene_column=gene_column, rounding=rounding, advice=advice)
    counts, var, _ = harmonise_checked(
        matrix, id_type=id_type, id_type_key="--gene-id-type", advice=advice
    )
    frame = pd.DataFrame(counts.T, index=matrix.sample_ids, columns=var.index.astype(str))
    gene_ids = {str(s): (None if pd.isna(g) else str(g)) for s, g in var[GENE_ID].items()}
    te_counts = (
        None
        if te_path is None
        else read_te_counts(te_path, sample_ids=list(frame.index), advice=advice)
    )
    return NewCounts(frame, gene_ids, te_counts)


def read_new_counts(
    path: str | Path, *, gene_column: str | None = None, id_type: str = "auto"
) -> pd.DataFrame:
    """Return new samples' counts as samples x current symbols (:func:`read_new_samples`).

    Parameters
    ----------
    path, gene_column, id_type
        As :func:`read_new_samples`.

    Returns
    -------
    pandas.DataFrame
        Samples x symbols.
    """
    return read_new_samples(path, gene_column=gene_column, id_type=id_type).counts


def singscore_rows(adata: ad.AnnData, label: str) -> pl.DataFrame:
    """Score every sample of ``adata`` (layer ``vst``) with the shipped signatures by singscore.

    The new samples and the dataset's rescored samples both come from here, so they are scored
    alike; singscore uses each sample alone, which makes the result independent of the others.

    Parameters
    ----------
    adata
        Samples x genes with a ``vst`` layer.
    label
        The ``dataset`` value of the rows.

    Returns
    -------
    polars.DataFrame
        The long table's rows (z not yet meaningful: the caller places them).
    """
    settings = dataclasses.replace(complete("score"), methods=(METHOD,), layer=VST)
    signatures, _ = signatures_of_run(
        settings.extra_signatures,
        replace=settings.replace_signatures,
        harmonise=settings.harmonise_symbols,
    )
    # these AnnDatas carry no condition: the stage's "no controls" warnings would only confuse,
    # and the signatures left unscored are reported once by the caller
    scoring_log = logging.getLogger("alsig.stages.score.scoring")
    level = scoring_log.level
    scoring_log.setLevel(logging.ERROR)
    try:
        return score_anndata(adata, signatures, (), settings=settings, dataset=label).long
    finally:
        scoring_log.setLevel(level)


def choose_reference(
    table: pl.DataFrame, obs: pd.DataFrame, stratum: str | None, *, dataset: str
) -> Reference:
    """Return the dataset's reference controls and disease samples of one stratum.

    Parameters
    ----------
    table
        The dataset's long score table (its ``condition`` and ``reference_stratum`` per sample).
    obs
        The dataset's QC'd sample table (QC exclusions).
    stratum
        ``--stratum``; may be None when the dataset has one stratum.
    dataset
        The dataset's folder, for messages.

    Returns
    -------
    Reference
        The stratum, its usable controls and its disease samples.

    Raises
    ------
    AlsigError
        Several strata and none chosen, an unknown stratum, or fewer than
        :data:`~alsig.stages.score.composites.MIN_CONTROLS` usable controls in it.
    """
    settings = complete("score")
    rows = table.filter(pl.col("method") == METHOD).unique(
        "sample", keep="first", maintain_order=True
    )
    strata = sorted(s for s in rows["reference_stratum"].drop_nulls().unique())
    if stratum is None:
        if len(strata) != 1:
            raise AlsigError(
                f"dataset {dataset}: its controls are stratified ({' | '.join(strata)}); choose "
                "the new samples' reference with --stratum (e.g. --stratum "
                f"'{strata[0] if strata else 'region=Frontal Cortex'}')."
            )
        stratum = strata[0]
    if stratum not in strata:
        raise AlsigError(
            f"--stratum '{stratum}' is not a reference stratum of dataset {dataset}; "
            f"strata: {' | '.join(strata)}."
        )
    excluded = excluded_samples(obs)
    in_stratum = rows.filter(pl.col("reference_stratum") == stratum)
    control_rows = in_stratum.filter(pl.col("condition") == settings.control_label)
    controls = [s for s in control_rows["sample"] if s not in excluded]
    if len(controls) < MIN_CONTROLS:
        left_out = [s for s in control_rows["sample"] if s in excluded]
        raise AlsigError(
            f"dataset {dataset}: reference stratum '{stratum}' has {len(controls)} usable "
            f"control(s) (QC-excluded: {left_out or 'none'}); a z score needs at least "
            f"{MIN_CONTROLS}. Choose another stratum with --stratum (strata: {' | '.join(strata)})."
        )
    disease_label = complete("subtypes").disease_label
    disease = in_stratum.filter(pl.col("condition") == disease_label)["sample"].to_list()
    return Reference(stratum, controls, disease)


def place(new: pl.DataFrame, reference: pl.DataFrame, chosen: Reference) -> pl.DataFrame:
    """Z and percentiles of the new samples' scores against the chosen reference samples.

    Parameters
    ----------
    new
        The new samples' rows (``sample``, ``signature``, ``score``).
    reference
        The dataset's samples scored the same way (``sample``, ``signature``, ``score``).
    chosen
        The stratum's controls and disease samples.

    Returns
    -------
    polars.DataFrame
        ``new`` with ``z_vs_control`` (sd with n - 1, as the dataset's own z), the control and
        disease percentiles (share of them scoring at most the new score, in %) and
        ``n_controls`` (controls with a score).
    """
    scores = reference.select("sample", "signature", "score").drop_nulls("score")
    controls = (
        scores.filter(pl.col("sample").is_in(chosen.controls))
        .group_by("signature")
        .agg(pl.col("score").alias("controls"))
    )
    disease = (
        scores.filter(pl.col("sample").is_in(chosen.disease))
        .group_by("signature")
        .agg(pl.col("score").alias("disease"))
    )
    joined = new.join(controls, on="signature", how="left").join(
        disease, on="signature", how="left"
    )
    z, pct_control, pct_disease, n_controls = [], [], [], []
    for value, ctrl, dis in joined.select("score", "controls", "disease").iter_rows():
        ctrl = np.asarray(ctrl or [], dtype=float)
        dis = np.asarray(dis or [], dtype=float)
        sd = float(np.std(ctrl, ddof=1)) if ctrl.size >= MIN_CONTROLS else 0.0
        usable = value is not None and sd > 0
        z.append((value - float(ctrl.mean())) / sd if usable else None)
        pct_control.append(100.0 * float((ctrl <= value).mean()) if usable else None)
        pct_disease.append(
            100.0 * float((dis <= value).mean()) if value is not None and dis.size else None
        )
        n_controls.append(int(ctrl.size))
    return joined.drop("controls", "disease").with_columns(
        pl.Series("z_vs_control", z, dtype=pl.Float64),
        pl.Series("control_percentile", pct_control, dtype=pl.Float64),
        pl.Series("disease_percentile", pct_disease, dtype=pl.Float64),
        pl.Series("n_controls", n_controls, dtype=pl.Int32),
    )


def _report_unscored(rows: pl.DataFrame, dataset: str) -> None:
    unscored = rows.filter(pl.col("score").is_null())["signature"].unique().sort().to_list()
    if unscored:
        log.warning(
            "%d signature(s) have too few of their genes in the genes shared with dataset %s and "
            "are not scored (null): %s",
            len(unscored),
            dataset,
            ", ".join(unscored),
        )


def _qc_flags(
    samples: pl.Series, every_row: str | None, per_sample: Mapping[str, str]
) -> pl.Series:
    """Return each row's ``qc_flag``: the flag of every row and its sample's, ``;``-joined."""
    flags = [
        ";".join(f for f in (every_row, per_sample.get(str(sample))) if f) or None
        for sample in samples
    ]
    return pl.Series("qc_flag", flags, dtype=pl.String)


def score_new_samples(
    counts: pd.DataFrame,
    dataset_dir: str | Path,
    *,
    stratum: str | None = None,
    label: str = "new",
    max_missing_share: float = MAX_MISSING_SHARE,
    gene_ids: Mapping[str, str | None] | None = None,
    region: str | None = None,
    source: str = "the new counts",
    te_counts: pd.DataFrame | None = None,
) -> pl.DataFrame:
    """Score new samples and place them against a finished dataset.

    Parameters
    ----------
    counts
        Samples x genes raw integer counts, columns current gene symbols (as ingest harmonises).
    dataset_dir
        ``<output_dir>/<dataset>`` of a finished run (``qc/filtered.h5ad``,
        ``scores/signature_scores.parquet``).
    stratum
        The reference stratum (``reference_stratum`` of the dataset's table) when the dataset's
        controls are stratified, e.g. ``"region=Frontal Cortex"``.
    label
        The ``dataset`` value of the new rows (their catalog partition, if added to one).
    max_missing_share
        Refuse when a larger share of the dataset's genes is absent from ``counts``.
    gene_ids
        Symbol -> Entrez id of ``counts``' columns, for the subtype model (no subtype columns'
        values without it).
    region
        The new samples' region for the subtype call (default: the stratum's, if it names one).
    source
        Where the counts come from (their file), for messages.
    te_counts
        Samples x TE ids of the same samples (:func:`read_new_samples`' ``te_path``): the subtype call then
        uses the genes + TE model, as the workflow does for a dataset with TE counts.

    Returns
    -------
    polars.DataFrame
        One row per sample x signature: the long table's columns, then
        :data:`PLACEMENT_COLUMNS` and :data:`~alsig.newsamples.subtypes.SUBTYPE_COLUMNS`.
        ``qc_flag`` says ``genes_missing(...)`` on every row when genes were absent and
        ``low_library_size`` on a sample's rows when its library is far below the dataset's
        (:mod:`alsig.newsamples.depth`; a warning names it).

    Raises
    ------
    AlsigError
        Too many of the dataset's genes absent, no usable stratum, or too few shared counted
        genes to normalise against.
    """
    dataset_dir = Path(dataset_dir)
    for needed in ("qc/filtered.h5ad", "scores/signature_scores.parquet"):
        if not (dataset_dir / needed).is_file():
            raise AlsigError(
                f"--dataset {dataset_dir}: {dataset_dir / needed} does not exist; give the "
                "folder of one dataset of a finished run (<output_dir>/<dataset>, e.g. "
                "results/demo)."
            )
    table = read_scores(dataset_dir / "scores" / "signature_scores.parquet")
    reference = ad.read_h5ad(dataset_dir / "qc" / "filtered.h5ad")
    chosen = choose_reference(table, reference.obs, stratum, dataset=str(dataset_dir))
    overlap = gene_overlap(reference.var_names, counts.columns)
    check_overlap(overlap, str(dataset_dir), max_missing_share, source)
    if overlap.missing:
        log.warning(
            "%d of the %d genes of dataset %s (%s; e.g. %s) are absent from %s: the new and "
            "the dataset's samples are scored within the %d shared genes, every row flagged",
            len(overlap.missing),
            overlap.n_reference,
            dataset_dir,
            f"{overlap.share_missing:.0%}",
            ", ".join(overlap.missing[:5]),
            source,
            len(overlap.shared),
        )
    shared = reference[:, list(overlap.shared)]
    # only the VST is scored: the dataset's obs would start the stage's own reference logic
    bare = ad.AnnData(
        obs=pd.DataFrame(index=shared.obs_names),
        var=pd.DataFrame(index=shared.var_names),
        layers={VST: shared.layers[VST]},
    )
    rescored = singscore_rows(bare, "reference")
    new_counts = counts[list(overlap.shared)]
    low_library = low_library_flags(
        new_counts.sum(axis=1).to_dict(),
        reference_library_sizes(reference.obs),
        outlier_nmads(dataset_dir),
        dataset=str(dataset_dir),
    )
    new_adata = new_sample_vst(shared, new_counts)
    new = singscore_rows(new_adata, label)
    _report_unscored(new, str(dataset_dir))
    placed = place(new.drop("z_vs_control"), rescored, chosen)
    reference_name = str(table["dataset"][0])
    region = region if region is not None else region_of_stratum(chosen.stratum)
    subtypes = subtype_columns(counts, dict(gene_ids or {}), region, te_counts)
    return (
        placed.with_columns(
            pl.col("sample").alias("subject"),
            pl.lit(None, dtype=pl.String).alias("condition"),
            pl.lit(chosen.stratum).alias("reference_stratum"),
            _qc_flags(placed["sample"], overlap.flag(), low_library).alias("qc_flag"),
            pl.lit(reference_name).alias("reference_dataset"),
            pl.lit(overlap.n_reference, dtype=pl.Int32).alias("n_reference_genes"),
            pl.lit(len(overlap.missing), dtype=pl.Int32).alias("n_reference_genes_missing"),
        )
        .join(subtypes, on="sample", how="left")
        .select(*COLUMNS, *PLACEMENT_COLUMNS, *SUBTYPE_COLUMNS)
    )
