"""The reference projection of one dataset, as the subtype stage runs it.

:func:`project_dataset` applies the shipped reference model (:mod:`.projection`) to every sample
of the QC'd AnnData (disease samples, controls and any other group alike):

- the model: ``subtypes.model`` (``auto``: genes+TE when the dataset's TE counts cover it,
  :func:`.projection.choose_model`), with ``subtypes.min_probability`` overriding the model's
  own threshold when set (for reference samples too, whose calls otherwise keep their outer
  fold's thresholds: :func:`.projection.project`);
- the counts: the raw counts of the model's genes, keyed by the Entrez ids ingest puts in
  ``var["gene_id"]`` (only those columns are read, so a 60,000-gene matrix is never densified);
  TE counts from ``obsm["te_counts"]``; library sizes from QC's ``total_counts``;
- the regions: ``obs["region"]`` read by :func:`.projection.canonical_region` against
  ``subtypes.reference_regions`` (one out-of-reference rule, reference samples included: a
  known region outside the list, then the distance).

Collapsed samples (``qc.collapse_by``): the unit stays the sample as configured, so a collapsed
sample is projected from its summed counts. The exception is the reference cohort itself: a
summed donor is no longer recognised as a reference sample by its content and would get an
in-sample call. So the member libraries of every collapsed sample are projected too (from the
uncollapsed counts), and a collapsed sample with a reference library among its members gets the
mean of its members' probabilities, distances and thresholds (their stored outer-fold values for
reference libraries; a donor's libraries share one outer fold) and the call of the same rule; it
is a ``reference_sample`` when every member is.
The per-library calls also feed the donor view's library concordance (:mod:`.donors`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from alsig.counts import dense_counts
from alsig.errors import AlsigError
from alsig.keys import COLLAPSED_SAMPLES, GENE_ID, REGION, library_sizes, te_block
from alsig.settings import SubtypesSettings
from alsig.stages.subtypes.projection import call_rule, canonical_region, choose_model, project
from alsig.stages.subtypes.reference_model import (
    GENES_MODEL,
    GENES_TE_MODEL,
    OUT_OF_REFERENCE,
    PROBABILITY_COLUMNS,
    ReferenceModel,
    load_shipped,
)
from alsig.tables import schemas

log = logging.getLogger(__name__)

#: The projection's columns of a subtype table (schema ``subtypes``, in its order): the stage's
#: table and ``alsig score``'s table both carry them, with these names and meanings.
PROJECTION_COLUMNS = (
    "region",
    "subtype_call",
    *PROBABILITY_COLUMNS,
    "reference_distance",
    "distance_threshold",
    "out_of_reference_by",
    "in_reference_region",
    "min_probability",
    "subtype_model",
    "reference_sample",
    "gene_coverage",
    "te_coverage",
)


def projection_dtypes() -> dict[str, pl.DataType]:
    """Return the polars dtype of each of :data:`PROJECTION_COLUMNS` (schema ``subtypes``)."""
    stage = schemas.polars_schema("subtypes")
    return {column: stage[column] for column in PROJECTION_COLUMNS}


def projection_columns(table: pd.DataFrame) -> dict[str, pl.Series]:
    """Return a projection's :data:`PROJECTION_COLUMNS` as polars columns, in table order.

    Parameters
    ----------
    table
        A projection (:func:`project_counts`, :func:`project_dataset`'s ``samples``).

    Returns
    -------
    dict
        Column name -> polars Series (missing values null, NaN included).
    """
    return {
        column: pl.Series(column, [_cell(v) for v in table[column].tolist()], dtype=dtype)
        for column, dtype in projection_dtypes().items()
    }


def dataset_model(
    te_counts: pd.DataFrame | None,
    settings: SubtypesSettings,
    models: Mapping[str, ReferenceModel] | None = None,
) -> ReferenceModel:
    """Return the reference model a dataset is projected with.

    Parameters
    ----------
    te_counts
        The dataset's TE counts (samples x ``subfamily:family:class``), or None.
    settings
        ``subtypes:`` settings: ``model`` and ``min_probability``.
    models
        ``{name: model}`` to choose from (default: the shipped ``genes`` and ``genes_te``).

    Returns
    -------
    ReferenceModel
        The shipped model, with ``min_probability`` replaced when the settings set it.

    Raises
    ------
    AlsigError
        ``subtypes.model: genes_te`` for a dataset without TE counts.
    """
    if settings.model == "auto":
        model = choose_model(te_counts, models)
    elif settings.model == GENES_TE_MODEL and te_counts is None:
        raise AlsigError(
            "config key subtypes.model: 'genes_te' needs TE counts (datasets.<id>.te_counts) and "
            "this dataset has none; use 'auto' or 'genes'."
        )
    else:
        name = GENES_MODEL if settings.model == GENES_MODEL else GENES_TE_MODEL
        model = models[name] if models is not None else load_shipped(name)
    if settings.min_probability is not None:
        model = dataclasses.replace(model, min_probability=float(settings.min_probability))
    return model


def model_gene_counts(adata: Any, model: ReferenceModel) -> pd.DataFrame:
    """Return the raw counts of the model's genes: samples x Entrez ids.

    Parameters
    ----------
    adata
        An AnnData of the workflow (integer counts in ``X``, Entrez ids in ``var["gene_id"]``).
    model
        The reference model.

    Returns
    -------
    pandas.DataFrame
        Samples x the model genes present (rows naming the same Entrez id summed, as ingest sums
        duplicated symbols).

    Raises
    ------
    AlsigError
        ``var["gene_id"]`` is missing.
    """
    if GENE_ID not in adata.var:
        raise AlsigError(
            "the AnnData has no var['gene_id'] (Entrez ids): the subtype model's genes cannot be "
            "found. Run ingest, which maps every gene to its Entrez id."
        )
    ids = adata.var[GENE_ID].astype(str).to_numpy()
    keep = np.isin(ids, model.genes)
    counts = dense_counts(adata[:, keep]) if keep.any() else np.zeros((adata.n_obs, 0))
    frame = pd.DataFrame(
        np.asarray(counts, dtype=float), index=adata.obs_names.astype(str), columns=ids[keep]
    )
    if frame.columns.duplicated().any():
        frame = frame.T.groupby(level=0, sort=False).sum().T
    return frame


def regions_of(adata: Any) -> pd.Series | None:
    """Return ``obs["region"]`` by sample, or None when the dataset has no region column."""
    if REGION not in adata.obs:
        return None
    return pd.Series(adata.obs[REGION].astype(object).to_numpy(), index=adata.obs_names.astype(str))


def project_adata(adata: Any, model: ReferenceModel, settings: SubtypesSettings) -> pd.DataFrame:
    """Project every sample of ``adata`` with ``model`` (:func:`project_counts`).

    Parameters
    ----------
    adata
        An AnnData of the workflow.
    model
        The reference model (:func:`dataset_model`).
    settings
        ``subtypes:`` settings (``reference_regions``, ``min_probability``).

    Returns
    -------
    pandas.DataFrame
        :data:`.projection.COLUMNS` and ``out_of_reference_by``, indexed by sample.
    """
    return project_counts(
        model,
        model_gene_counts(adata, model),
        settings,
        te_counts=te_block(adata) if model.uses_te else None,
        libraries=library_sizes(adata),
        regions=regions_of(adata),
    )


def project_counts(
    model: ReferenceModel,
    gene_counts: pd.DataFrame,
    settings: SubtypesSettings,
    *,
    te_counts: pd.DataFrame | None = None,
    libraries: np.ndarray | None = None,
    regions: pd.Series | Mapping[str, object] | None = None,
    check: str = "that the genes are Entrez ids of a whole-transcriptome count matrix",
) -> pd.DataFrame:
    """Project samples given as count frames, as the subtype stage does (``alsig score`` too).

    Parameters
    ----------
    model
        The reference model (:func:`dataset_model`).
    gene_counts
        Samples x genes raw counts, columns Entrez ids.
    settings
        ``subtypes:`` settings (``reference_regions``, ``min_probability``).
    te_counts
        Samples x TE ids, for a model with TE features.
    libraries
        Gene-assigned reads per sample (default: row sums of ``gene_counts``).
    regions
        Region of each sample (any spelling; None: judged by distance alone).
    check
        What the coverage warning tells the user to check (ends the sentence "Check ...").

    Returns
    -------
    pandas.DataFrame
        :data:`.projection.COLUMNS` and ``out_of_reference_by``, indexed by sample. Below the
        model's minimum gene coverage (50 %) nothing is projected: every sample is
        ``out_of_reference`` by ``coverage`` with no probabilities, and a warning says so.

    Raises
    ------
    AlsigError
        TE counts missing, or too few TE subfamilies, for a model with TE features.
    """
    present = {str(c) for c in gene_counts.columns}
    coverage = float(np.mean([g in present for g in model.genes])) if model.genes else 1.0
    if coverage < model.min_coverage:
        samples = [str(s) for s in gene_counts.index]
        return refuse(samples, regions, model, settings, coverage, check)
    table = project(
        model,
        gene_counts,
        te_counts=te_counts,
        libraries=libraries,
        regions=regions,
        reference_regions=settings.reference_regions,
        min_probability=settings.min_probability,
    )
    table["out_of_reference_by"] = out_of_reference_reasons(table)
    return table


def out_of_reference_reasons(table: pd.DataFrame) -> list[str | None]:
    """Return why each ``out_of_reference`` sample is out: ``region`` or ``distance`` (else None).

    The call rule tests the region first, so a sample outside ``reference_regions`` is out by
    region whatever its distance.
    """
    return [
        None if call != OUT_OF_REFERENCE else ("region" if _known_false(in_region) else "distance")
        for call, in_region in zip(table["subtype_call"], table["in_reference_region"], strict=True)
    ]


def collapsed_members(obs: pd.DataFrame) -> dict[str, list[str]]:
    """Return ``{collapsed sample: [member libraries]}`` for samples QC summed from several."""
    if COLLAPSED_SAMPLES not in obs:
        return {}
    members = {}
    for sample, value in obs[COLLAPSED_SAMPLES].items():
        names = [v for v in str(value).split(";") if v] if isinstance(value, str) else []
        if len(names) > 1:
            members[str(sample)] = names
    return members


def with_reference_members(
    table: pd.DataFrame,
    libraries: pd.DataFrame,
    members: dict[str, list[str]],
    model: ReferenceModel,
) -> pd.DataFrame:
    """Give collapsed samples made of reference libraries their members' outer-fold values.

    Parameters
    ----------
    table
        The projection of the samples as configured (collapsed), indexed by sample.
    libraries
        The projection of the uncollapsed libraries, indexed by library.
    members
        ``{collapsed sample: [libraries]}`` (:func:`collapsed_members`).
    model
        The model both projections used.

    Returns
    -------
    pandas.DataFrame
        ``table`` with, for each collapsed sample that has a reference library among its
        members: the mean of the members' probabilities, distances and thresholds, the call of
        the same rule, and ``reference_sample`` true when every member is a reference library.
    """
    out = table.copy()
    for sample, names in members.items():
        part = libraries.reindex([n for n in names if n in libraries.index])
        if part.empty or not part["reference_sample"].astype(bool).any():
            continue
        probabilities = part[list(PROBABILITY_COLUMNS)].astype(float).mean(axis=0)
        distance = float(part["reference_distance"].astype(float).mean())
        min_probability = float(part["min_probability"].astype(float).mean())
        distance_threshold = float(part["distance_threshold"].astype(float).mean())
        in_region = not _known_false(out.at[sample, "in_reference_region"])
        (call,) = call_rule(
            probabilities.to_numpy()[None, :],
            np.array([distance]),
            np.array([in_region]),
            classes=model.classes,
            min_probability=min_probability,
            distance_threshold=distance_threshold,
        )
        for column, value in probabilities.items():
            out.at[sample, column] = float(value)
        out.at[sample, "reference_distance"] = distance
        out.at[sample, "min_probability"] = min_probability
        out.at[sample, "distance_threshold"] = distance_threshold
        out.at[sample, "subtype_call"] = call
        out.at[sample, "reference_sample"] = bool(part["reference_sample"].astype(bool).all())
    return out


@dataclasses.dataclass(frozen=True)
class DatasetProjection:
    """One dataset's projection: per sample as configured, and per library when collapsed."""

    model: ReferenceModel
    samples: pd.DataFrame  # :data:`.projection.COLUMNS` by sample
    libraries: pd.DataFrame | None  # the same by library, for collapsed datasets
    members: dict[str, list[str]]  # collapsed sample -> its libraries


def project_dataset(
    adata: Any,
    settings: SubtypesSettings,
    *,
    libraries: Any | None = None,
    models: Mapping[str, ReferenceModel] | None = None,
) -> DatasetProjection:
    """Project one dataset's samples, and its libraries when QC collapsed them.

    Parameters
    ----------
    adata
        The QC'd AnnData (samples as configured).
    settings
        ``subtypes:`` settings.
    libraries
        The uncollapsed AnnData (ingest's ``counts.h5ad``); used only when ``adata`` has
        collapsed samples.
    models
        ``{name: model}`` to choose from (default: the shipped models).

    Returns
    -------
    DatasetProjection
        Below the model's minimum gene coverage (50 %) nothing is projected: every sample is
        ``out_of_reference`` by ``coverage``, with no probabilities (the refusal of the
        projection, said in the log; the rest of the stage still runs).

    Raises
    ------
    AlsigError
        ``subtypes.model`` impossible for the dataset (``genes_te`` without TE counts).
    """
    model = dataset_model(te_block(adata), settings, models)
    members = collapsed_members(adata.obs)
    coverage = gene_coverage(adata, model)
    if coverage < model.min_coverage:
        samples = list(adata.obs_names.astype(str))
        check = "that var['gene_id'] holds Entrez ids of a whole-transcriptome count matrix"
        table = refuse(samples, regions_of(adata), model, settings, coverage, check)
        return DatasetProjection(model, table, None, members)
    table = project_adata(adata, model, settings)
    by_library = None
    if members and libraries is not None:
        wanted = sorted({n for names in members.values() for n in names} & set(libraries.obs_names))
        if wanted:
            by_library = project_adata(libraries[wanted], model, settings)
            table = with_reference_members(table, by_library, members, model)
            table["out_of_reference_by"] = out_of_reference_reasons(table)
    return DatasetProjection(model, table, by_library, members)


def gene_coverage(adata: Any, model: ReferenceModel) -> float:
    """Return the share of the model's genes whose Entrez id is in ``var["gene_id"]``."""
    if GENE_ID not in adata.var or not model.genes:
        return 0.0 if model.genes else 1.0
    ids = set(adata.var[GENE_ID].astype(str))
    return float(np.mean([g in ids for g in model.genes]))


def refuse(
    samples: list[str],
    regions: pd.Series | Mapping[str, object] | None,
    model: ReferenceModel,
    settings: SubtypesSettings,
    coverage: float,
    check: str,
) -> pd.DataFrame:
    """Refuse to project samples with too few of the model's genes: say so, return their rows.

    Parameters
    ----------
    samples
        The samples.
    regions
        Region of each sample, or None.
    model
        The model that would have run.
    settings
        ``subtypes:`` settings (``reference_regions``).
    coverage
        The share of the model's genes present.
    check
        What the warning tells the user to check (ends the sentence "Check ...").

    Returns
    -------
    pandas.DataFrame
        :data:`.projection.COLUMNS` plus ``out_of_reference_by``: no probability or distance,
        every sample ``out_of_reference`` by ``coverage`` (the model refuses to call on so few
        features; the region columns are still filled).
    """
    log.warning(
        "subtype model '%s': only %.0f %% of its genes are in the input (minimum %.0f %%): "
        "no sample is projected; every sample is out_of_reference by coverage. Check %s.",
        model.name,
        100 * coverage,
        100 * model.min_coverage,
        check,
    )
    region_of = pd.Series(regions, dtype=object) if regions is not None else None
    region = [
        canonical_region(region_of.get(s)) if region_of is not None else None for s in samples
    ]
    allowed = {canonical_region(r) for r in settings.reference_regions}
    table = pd.DataFrame(
        np.nan, index=pd.Index(samples, name="sample"), columns=list(PROBABILITY_COLUMNS)
    )
    table["subtype_call"] = OUT_OF_REFERENCE
    table["reference_distance"] = np.nan
    table["distance_threshold"] = float(model.distance_threshold)
    table["min_probability"] = float(model.min_probability)
    table["region"] = region
    table["in_reference_region"] = [None if r is None else bool(r in allowed) for r in region]
    table["gene_coverage"] = coverage
    table["te_coverage"] = np.nan
    table["subtype_model"] = model.name
    table["reference_sample"] = False
    table["out_of_reference_by"] = "coverage"
    return table


def _cell(value: object) -> object:
    """Return a table cell as a plain Python value: None when missing (None, NaN, NA)."""
    if value is None or bool(pd.isna(value)):
        return None
    return value.item() if isinstance(value, np.generic) else value


def _known_false(value: object) -> bool:
    """Whether an ``in_reference_region`` value is a known ``False`` (not missing)."""
    return value is not None and not pd.isna(value) and not bool(value)
