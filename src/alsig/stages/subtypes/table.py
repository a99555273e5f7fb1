"""One dataset's subtype tables: the projection, its donor view, the call shares, the states.

:func:`subtype_table` is the subtype stage's work on objects in memory: the reference projection
of every sample (:mod:`.calls`), the donor view and the shares by condition (:mod:`.donors`), the
label-free states (:mod:`.states`) and how much of each is cell mix (:mod:`.statemix`), in the
shipped schemas ``subtypes``, ``subtypes_donors``, ``subtypes_shares`` and ``subtypes_cellmix``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import polars as pl

from alsig.cellmix import expression_frame
from alsig.keys import CONDITION, VST, sample_subjects
from alsig.settings import SubtypesSettings
from alsig.signatures import Signature, signatures_of_run
from alsig.stages.subtypes.calls import DatasetProjection, project_dataset, projection_columns
from alsig.stages.subtypes.donors import call_shares, donor_calls
from alsig.stages.subtypes.reference_model import (
    OUT_OF_REFERENCE,
    PROBABILITY_COLUMNS,
    ReferenceModel,
)
from alsig.stages.subtypes.statemix import state_cellmix, state_genes
from alsig.stages.subtypes.states import StateCalls, call_states, member_z
from alsig.tables import schemas
from alsig.validation import check_label

SCHEMA = "subtypes"
#: the ``x-schema-version`` of ``workflow/schemas/subtypes.schema.yaml``
SCHEMA_VERSION = "2"
DONORS = "subtypes_donors"
SHARES = "subtypes_shares"
CELLMIX = "subtypes_cellmix"


@dataclass(frozen=True)
class SubtypeResult:
    """What the subtype stage produces for a dataset."""

    table: pl.DataFrame  # per sample (schema ``subtypes``)
    donors: pl.DataFrame  # per donor (``subtypes_donors``)
    shares: pl.DataFrame  # per condition x call (``subtypes_shares``)
    cellmix: pl.DataFrame | None  # per state (``subtypes_cellmix``); None without a VST layer
    states: StateCalls
    projection: DatasetProjection


def sample_conditions(obs: pd.DataFrame) -> pd.Series:
    """Return each sample's condition as text (None where missing)."""
    names = obs.index.astype(str)
    if CONDITION not in obs:
        return pd.Series([None] * len(names), index=names, dtype=object)
    values = obs[CONDITION].astype(object).to_numpy()
    return pd.Series([None if pd.isna(v) else str(v) for v in values], index=names, dtype=object)


def label_free_states(
    scores: pl.DataFrame, samples: Sequence[str], conditions: pd.Series, settings: SubtypesSettings
) -> StateCalls:
    """Return the label-free state scores and calls of ``samples`` (:func:`.states.call_states`).

    Parameters
    ----------
    scores
        The dataset's long score table (``z_vs_control``).
    samples
        The samples, in table order (a sample the score table lacks gets no state).
    conditions
        Condition of each sample (controls standardise the state scores).
    settings
        ``subtypes:`` settings (``margin``, ``min_score``, ``control_label``).
    """
    z = member_z(scores).reindex(list(samples))
    is_control = [conditions.get(s) == settings.control_label for s in samples]
    return call_states(z, is_control, margin=settings.margin, min_score=settings.min_score)


def donor_table(
    dataset: str,
    projection: DatasetProjection,
    subjects: pd.Series,
    conditions: pd.Series,
) -> pd.DataFrame:
    """Return the donor view (schema ``subtypes_donors``) of one dataset's projection.

    Parameters
    ----------
    dataset
        Dataset id.
    projection
        The dataset's projection (:func:`.calls.project_dataset`).
    subjects, conditions
        Donor and condition of each sample.

    Returns
    -------
    pandas.DataFrame
        One row per donor; the library columns are filled for collapsed datasets.
    """
    model = projection.model
    donors = donor_calls(projection.samples, subjects, min_probability=model.min_probability)
    condition_of = conditions.groupby(subjects.reindex(conditions.index).to_numpy()).agg(
        lambda values: ";".join(sorted({str(v) for v in values if v is not None})) or None
    )
    donors.insert(0, "condition", condition_of.reindex(donors.index).to_numpy())
    donors.insert(0, "subject", donors.index.astype(str))
    donors.insert(0, "dataset", dataset)
    for column in ("n_libraries", "library_call", "library_concordance", "library_calls"):
        donors[column] = None
    if projection.libraries is not None:
        libraries, library_subject = _library_rows(projection, subjects)
        by_library = donor_calls(libraries, library_subject, min_probability=model.min_probability)
        donors["n_libraries"] = by_library["n_samples"].reindex(donors.index).to_numpy()
        donors["library_call"] = by_library["donor_call"].reindex(donors.index).to_numpy()
        donors["library_concordance"] = (
            by_library["donor_concordance"].reindex(donors.index).to_numpy()
        )
        donors["library_calls"] = by_library["sample_calls"].reindex(donors.index).to_numpy()
    return donors.reset_index(drop=True)


def _library_rows(
    projection: DatasetProjection, subjects: pd.Series
) -> tuple[pd.DataFrame, pd.Series]:
    """Every library's projection (a sample not collapsed is its own library) and its donor."""
    assert projection.libraries is not None
    single = [s for s in projection.samples.index if s not in projection.members]
    libraries = pd.concat([projection.libraries, projection.samples.loc[single]])
    donor = {lib: subjects[s] for s, libs in projection.members.items() for lib in libs}
    donor |= {s: subjects[s] for s in single}
    return libraries, pd.Series({lib: donor.get(lib, lib) for lib in libraries.index})


def subtype_table(
    dataset: str,
    scores: pl.DataFrame,
    adata: Any,
    settings: SubtypesSettings,
    *,
    libraries: Any | None = None,
    signatures: Sequence[Signature] | None = None,
    models: Mapping[str, ReferenceModel] | None = None,
) -> SubtypeResult:
    """Project, view by donor, count by condition and describe the states of one dataset.

    Parameters
    ----------
    dataset
        Dataset id.
    scores
        The dataset's long score table (with ``z_vs_control``).
    adata
        The QC'd AnnData: raw counts in ``X``, Entrez ids in ``var["gene_id"]``, TE counts in
        ``obsm``, ``obs`` with ``condition``, ``subject``, ``region``; the VST layer for the
        cell-mix view.
    settings
        The resolved ``subtypes`` settings.
    libraries
        The uncollapsed AnnData when QC collapsed libraries (:func:`.calls.project_dataset`).
    signatures
        The gene signatures behind the states (default: the shipped library).
    models
        ``{name: model}`` to choose from (default: the shipped reference models).

    Returns
    -------
    SubtypeResult

    Raises
    ------
    AlsigError
        The projection's refusals (too few model genes, no Entrez ids).
    """
    projection = project_dataset(adata, settings, libraries=libraries, models=models)
    samples = list(projection.samples.index)
    subjects = sample_subjects(adata.obs)
    conditions = sample_conditions(adata.obs)
    check_label(
        settings.control_label,
        conditions.to_numpy(),
        "subtypes.control_label",
        consequence="the state scores are not standardised against controls, and no control "
        "call share is reported",
    )
    check_label(
        settings.disease_label,
        conditions.to_numpy(),
        "subtypes.disease_label",
        consequence="no sample counts as a disease sample: no disease call shares, states or NMF",
    )
    states = label_free_states(scores, samples, conditions, settings)
    donors = donor_table(dataset, projection, subjects, conditions)
    table = _sample_frame(dataset, projection, states, donors, subjects, conditions)
    shares = call_shares(table.to_pandas(), donors)
    shares.insert(0, "dataset", dataset)
    cellmix = None
    if VST in adata.layers:
        disease = [s for s in samples if conditions.get(s) == settings.disease_label]
        cellmix = _cellmix(dataset, adata, disease, states, projection, signatures)
    return SubtypeResult(
        table=schemas.validate(table, SCHEMA, f"subtypes of {dataset}"),
        donors=schemas.validate(
            schemas.conform(pl.from_pandas(donors), DONORS), DONORS, f"donors of {dataset}"
        ),
        shares=schemas.validate(
            schemas.conform(pl.from_pandas(shares).fill_nan(None), SHARES),
            SHARES,
            f"call shares of {dataset}",
        ),
        cellmix=cellmix,
        states=states,
        projection=projection,
    )


def _sample_frame(
    dataset: str,
    projection: DatasetProjection,
    states: StateCalls,
    donors: pd.DataFrame,
    subjects: pd.Series,
    conditions: pd.Series,
) -> pl.DataFrame:
    table = projection.samples
    samples = list(table.index)
    donor = donors.set_index("subject")
    subject = [subjects[s] for s in samples]
    columns = {
        "dataset": [dataset] * len(samples),
        "sample": samples,
        "subject": subject,
        "condition": [conditions.get(s) for s in samples],
        **projection_columns(table),
        "donor_call": [donor.at[s, "donor_call"] for s in subject],
        "donor_concordance": [donor.at[s, "donor_concordance"] for s in subject],
        "ox_score": _floats(states.scores["ox"]),
        "glia_score": _floats(states.scores["glia"]),
        "te_score": _floats(states.scores["te"]),
        "state_call": states.call.astype(str).tolist(),
        "state_confidence": states.confidence.astype(float).tolist(),
    }
    return pl.DataFrame(columns, schema=schemas.polars_schema(SCHEMA))


def _floats(values: pd.Series) -> pl.Series:
    return pl.Series(values.to_numpy(dtype=float), dtype=pl.Float64, nan_to_null=True)


def _cellmix(
    dataset: str,
    adata: Any,
    disease: list[str],
    states: StateCalls,
    projection: DatasetProjection,
    signatures: Sequence[Signature] | None,
) -> pl.DataFrame | None:
    if len(disease) < 3:
        return None
    if signatures is None:
        signatures, _ = signatures_of_run((), replace=False, harmonise=False)
    expression = expression_frame(adata[disease], VST)
    # probabilities of out-of-reference samples mean nothing: described within the reference only
    within = projection.samples.loc[disease]
    within = within[within["subtype_call"] != OUT_OF_REFERENCE]
    called = within[list(PROBABILITY_COLUMNS)].dropna()
    frame = state_cellmix(
        expression,
        states.scores.loc[disease],
        state_genes(signatures),
        probabilities=called,
        model_genes=projection.model.gene_symbols,
    )
    frame.insert(0, "dataset", dataset)
    table = pl.from_pandas(frame).fill_nan(None)
    return schemas.validate(
        schemas.conform(table, CELLMIX), CELLMIX, f"state cell mix of {dataset}"
    )


def shares(
    table: pl.DataFrame, disease_label: str = "ALS", column: str = "subtype_call"
) -> dict[str, float]:
    """Return the share of each call among the disease samples.

    Parameters
    ----------
    table
        The per-sample table (schema ``subtypes``).
    disease_label
        The disease condition.
    column
        ``subtype_call`` (the projection) or ``state_call`` (the label-free states).

    Returns
    -------
    dict
        Call -> share of the disease samples.
    """
    calls = table.filter(pl.col("condition") == disease_label)[column]
    n = max(calls.len(), 1)
    return {str(k): v / n for k, v in calls.value_counts().iter_rows()}
