"""One dataset's subtype table.

Per-sample states and calls, the donor view and the NMF discovery clusters, in the shipped
``subtypes`` schema.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import polars as pl

from alsig.settings import SubtypesSettings
from alsig.stages.subtypes.nmf import Discovery, discover, name_clusters, nmf_features
from alsig.stages.subtypes.states import StateCalls, call_states, member_z, subject_view
from alsig.tables import schemas

SCHEMA = "subtypes"


@dataclass(frozen=True)
class SubtypeResult:
    """What the subtype stage produces for a dataset."""

    table: pl.DataFrame
    states: StateCalls
    discovery: Discovery | None
    note: str


def nmf_view(
    vst: pd.DataFrame, te_log2cpm: pd.DataFrame | None, settings: SubtypesSettings
) -> tuple[Discovery | None, str]:
    """Consensus NMF of the disease samples (rows of ``vst``), or ``None`` with the reason."""
    if vst.shape[0] < settings.nmf_min_samples:
        return None, (
            f"{vst.shape[0]} disease samples (< subtypes.nmf_min_samples = "
            f"{settings.nmf_min_samples}): no NMF discovery view"
        )
    matrix = nmf_features(vst, te_log2cpm, settings.nmf_features)
    found = discover(
        matrix,
        list(vst.index),
        ranks=range(settings.nmf_k_min, settings.nmf_k_max + 1),
        restarts=settings.nmf_restarts,
        seed=settings.seed,
    )
    return found, ""


def subtype_table(
    dataset: str,
    scores: pl.DataFrame,
    obs: pd.DataFrame,
    vst: pd.DataFrame,
    te_log2cpm: pd.DataFrame | None,
    settings: SubtypesSettings,
) -> SubtypeResult:
    """States, calls and NMF clusters of every sample of one dataset.

    Parameters
    ----------
    dataset
        Dataset id.
    scores
        The dataset's long score table (with ``z_vs_control``).
    obs
        Sample table (``condition``, ``subject``).
    vst
        Samples x genes variance-stabilised expression (all samples; NMF uses the disease ones).
    te_log2cpm
        Samples x TEs log2 CPM, or None without TE input.
    settings
        The resolved ``subtypes`` settings.
    """
    z = member_z(scores)
    samples = list(z.index)
    condition = obs["condition"].reindex(samples).astype("string")
    is_control = [c == settings.control_label for c in condition.fillna("")]
    states = call_states(z, is_control, margin=settings.margin, min_score=settings.min_score)
    disease = [s for s in samples if condition.get(s) == settings.disease_label]
    subjects = (
        obs["subject"].reindex(samples).astype(str)
        if "subject" in obs
        else pd.Series(samples, samples)
    )
    subject_call, concordance = subject_view(states.call[disease], subjects[disease])
    discovery, note = nmf_view(
        vst.loc[disease], None if te_log2cpm is None else te_log2cpm.loc[disease], settings
    )
    cluster = pd.Series(pd.NA, index=samples, dtype="Int64")
    cluster_state = pd.Series(None, index=samples, dtype=object)
    if discovery is not None:
        labels = discovery.chosen.labels
        names = name_clusters(labels, states.scores.loc[disease])
        cluster[disease] = labels + 1
        cluster_state[disease] = [names[c] for c in labels]
    frame = pl.DataFrame(
        {
            "dataset": [dataset] * len(samples),
            "sample": samples,
            "subject": subjects.tolist(),
            "condition": [None if pd.isna(c) else str(c) for c in condition],
            "ox_score": _nullable(states.scores["ox"]),
            "glia_score": _nullable(states.scores["glia"]),
            "te_score": _nullable(states.scores["te"]),
            "call": states.call.tolist(),
            "confidence": states.confidence.astype(float).tolist(),
            "subject_call": [subject_call.get(s) for s in samples],
            "subject_concordance": [concordance.get(s) for s in samples],
            "nmf_cluster": [None if pd.isna(c) else int(c) for c in cluster],
            "nmf_cluster_state": [v if isinstance(v, str) else None for v in cluster_state],
            "nmf_k": [
                discovery.k if discovery is not None and s in disease else None for s in samples
            ],
        },
        schema=schemas.polars_schema(SCHEMA),
    )
    table = frame
    return SubtypeResult(
        schemas.validate(table, SCHEMA, f"subtypes of {dataset}"), states, discovery, note
    )


def _nullable(values: pd.Series) -> pl.Series:
    return pl.Series(values.to_numpy(dtype=float), dtype=pl.Float64, nan_to_null=True)


def shares(table: pl.DataFrame, disease_label: str = "ALS") -> dict[str, float]:
    """Share of each call among the disease samples."""
    calls = table.filter(pl.col("condition") == disease_label)["call"]
    n = max(calls.len(), 1)
    return {str(k): v / n for k, v in calls.value_counts().iter_rows()}
