"""The reference projection of one dataset, as the subtype stage runs it.

:func:`project_dataset` applies the shipped reference model (:mod:`.projection`) to every sample
of the QC'd AnnData (disease samples, controls and any other group alike):

- the model: ``subtypes.model`` (``auto``: genes+TE when the dataset's TE counts cover it,
  :func:`.projection.choose_model`), with ``subtypes.min_probability`` overriding the model's
  own threshold when set;
- the counts: the raw counts of the model's genes, keyed by the Entrez ids ingest puts in
  ``var["gene_id"]`` (only those columns are read, so a 60,000-gene matrix is never densified);
  TE counts from ``obsm["te_counts"]``; library sizes from QC's ``total_counts``;
- the regions: ``obs["region"]`` read by :func:`.projection.canonical_region` against
  ``subtypes.reference_regions`` (one out-of-reference rule: a known region outside the list,
  then the distance).

Collapsed samples (``qc.collapse_by``): the unit stays the sample as configured, so a collapsed
sample is projected from its summed counts. The exception is the reference cohort itself: a
summed donor is no longer recognised as a reference sample by its content and would get an
in-sample call. So the member libraries of every collapsed sample are projected too (from the
uncollapsed counts), and a collapsed sample with a reference library among its members gets the
mean of its members' probabilities and distances (their stored outer-fold values for reference
libraries) and the call of the same rule; it is a ``reference_sample`` when every member is.
The per-library calls also feed the donor view's library concordance (:mod:`.donors`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

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

log = logging.getLogger(__name__)


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
    """Project every sample of ``adata`` with ``model`` (:func:`.projection.project`).

    Parameters
    ----------
    adata
        An AnnData of the workflow.
    model
        The reference model (:func:`dataset_model`).
    settings
        ``subtypes:`` settings (``reference_regions``).

    Returns
    -------
    pandas.DataFrame
        :data:`.projection.COLUMNS`, indexed by sample.
    """
    return project(
        model,
        model_gene_counts(adata, model),
        te_counts=te_block(adata) if model.uses_te else None,
        libraries=library_sizes(adata),
        regions=regions_of(adata),
        reference_regions=settings.reference_regions,
    )


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
        members: the mean of the members' probabilities and distances, the call of the same
        rule, and ``reference_sample`` true when every member is a reference library.
    """
    out = table.copy()
    for sample, names in members.items():
        part = libraries.reindex([n for n in names if n in libraries.index])
        if part.empty or not part["reference_sample"].astype(bool).any():
            continue
        probabilities = part[list(PROBABILITY_COLUMNS)].astype(float).mean(axis=0)
        distance = float(part["reference_distance"].astype(float).mean())
        in_region = not _known_false(out.at[sample, "in_reference_region"])
        (call,) = call_rule(
            probabilities.to_numpy()[None, :],
            np.array([distance]),
            np.array([in_region]),
            classes=model.classes,
            min_probability=model.min_probability,
            distance_threshold=model.distance_threshold,
        )
        for column, value in probabilities.items():
            out.at[sample, column] = float(value)
        out.at[sample, "reference_distance"] = distance
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
        log.warning(
            "subtype model '%s': only %.0f %% of its genes are in the input (minimum %.0f %%): "
            "no sample is projected; every sample is out_of_reference by coverage. Check that "
            "var['gene_id'] holds Entrez ids of a whole-transcriptome count matrix.",
            model.name,
            100 * coverage,
            100 * model.min_coverage,
        )
        return DatasetProjection(model, refused(adata, model, settings, coverage), None, members)
    table = project_adata(adata, model, settings)
    by_library = None
    if members and libraries is not None:
        wanted = sorted({n for names in members.values() for n in names} & set(libraries.obs_names))
        if wanted:
            by_library = project_adata(libraries[wanted], model, settings)
            table = with_reference_members(table, by_library, members, model)
    table["out_of_reference_by"] = [
        None if call != OUT_OF_REFERENCE else ("region" if _known_false(in_region) else "distance")
        for call, in_region in zip(table["subtype_call"], table["in_reference_region"], strict=True)
    ]
    return DatasetProjection(model, table, by_library, members)


def gene_coverage(adata: Any, model: ReferenceModel) -> float:
    """Return the share of the model's genes whose Entrez id is in ``var["gene_id"]``."""
    if GENE_ID not in adata.var or not model.genes:
        return 0.0 if model.genes else 1.0
    ids = set(adata.var[GENE_ID].astype(str))
    return float(np.mean([g in ids for g in model.genes]))


def refused(
    adata: Any, model: ReferenceModel, settings: SubtypesSettings, coverage: float
) -> pd.DataFrame:
    """Return the table of a dataset the model cannot project (too few of its genes).

    Parameters
    ----------
    adata
        The QC'd AnnData.
    model
        The model that would have run.
    settings
        ``subtypes:`` settings (``reference_regions``).
    coverage
        The share of the model's genes present.

    Returns
    -------
    pandas.DataFrame
        :data:`.projection.COLUMNS` plus ``out_of_reference_by``: no probability or distance,
        every sample ``out_of_reference`` by ``coverage`` (the model refuses to call on so few
        features; the region columns are still filled).
    """
    samples = list(adata.obs_names.astype(str))
    regions = regions_of(adata)
    allowed = {canonical_region(r) for r in settings.reference_regions}
    region = [canonical_region(regions.get(s)) if regions is not None else None for s in samples]
    table = pd.DataFrame(
        np.nan, index=pd.Index(samples, name="sample"), columns=list(PROBABILITY_COLUMNS)
    )
    table["subtype_call"] = OUT_OF_REFERENCE
    table["reference_distance"] = np.nan
    table["region"] = region
    table["in_reference_region"] = [None if r is None else bool(r in allowed) for r in region]
    table["gene_coverage"] = coverage
    table["te_coverage"] = np.nan
    table["subtype_model"] = model.name
    table["reference_sample"] = False
    table["out_of_reference_by"] = "coverage"
    return table


def _known_false(value: object) -> bool:
    """Whether an ``in_reference_region`` value is a known ``False`` (not missing)."""
    return value is not None and not pd.isna(value) and not bool(value)
