"""Label-free molecular states of ALS tissue (Ox-, Glia-, TE-like, after Tam et al. 2019).

The interpretable view beside the reference projection (:mod:`.projection`). Each state score is
the mean control-referenced z score of the axes that describe it (:data:`STATES`, chosen from the
published descriptions before any label was seen; no per-sample label chooses or drops a member,
so the states are label-free), standardised by the controls' own state scores. A sample is
called by the state that leads the second by ``margin`` control SDs, else ``unassigned``;
confidence ``lead / (lead + margin)``. A call depends only on the sample and its stratum's
controls. On the published GSE124439 labels these calls reach a balanced accuracy of 0.26
(``bench/results/subtype_states.md``): they describe which biology dominates a sample, they do
not reproduce the published subtypes; the projection does. The TE-like state contains the
TDP-43 loss proxy (gene-level STMN2/UNC13A decrease, ``tdp43_proxy_stmn2_unc13a``), which falls
with neuron content; how much of every state is cell mix is in ``state_cellmix.tsv``
(:mod:`.statemix`). Why, and what the calls do not say: ``docs/methods.md``, "Molecular
subtypes and states".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import polars as pl

STATES: dict[str, tuple[str, ...]] = {
    "ox": (
        "axis:oxidative_stress",
        "axis:mitochondria",
        "axis:er_stress",
        "axis:heat_shock",
        "axis:proteasome",
        "als_ox_markers",
    ),
    "glia": (
        "axis:microglia_activation",
        "axis:reactive_astrocytes",
        "celltype_microglia",
        "celltype_astrocytes",
    ),
    "te": ("axis:retrotransposons", "axis:tdp43_loss"),
}
LABELS = {"ox": "Ox-like", "glia": "Glia-like", "te": "TE-like"}
UNASSIGNED = "unassigned"
#: rows of these methods carry the state members (TE signatures are scored as log2cpm)
MEMBER_METHODS = ("singscore", "log2cpm")


@dataclass(frozen=True)
class StateCalls:
    """Samples x states scores, the call per sample and its confidence."""

    scores: pd.DataFrame  # samples x STATES (NaN: no member scored)
    call: pd.Series
    confidence: pd.Series
    members_used: dict[str, list[str]]


def member_z(scores: pl.DataFrame, states: Mapping[str, Sequence[str]] = STATES) -> pd.DataFrame:
    """Return samples x state members: the members' ``z_vs_control`` (singscore / log2cpm rows)."""
    wanted = {m for members in states.values() for m in members}
    part = scores.filter(
        pl.col("method").is_in(MEMBER_METHODS) & pl.col("signature").is_in(sorted(wanted))
    )
    if part.is_empty():
        return pd.DataFrame(index=pd.Index(scores["sample"].unique(maintain_order=True)))
    wide = part.pivot(
        on="signature", index="sample", values="z_vs_control", aggregate_function="first"
    )
    frame = wide.to_pandas().set_index("sample")
    samples = scores["sample"].unique(maintain_order=True).to_list()
    return frame.reindex(samples).astype(float)


def call_states(
    z: pd.DataFrame,
    is_control: Sequence[bool] | None,
    *,
    margin: float,
    min_score: float | None,
    states: Mapping[str, Sequence[str]] = STATES,
) -> StateCalls:
    """State scores, calls and confidences for every sample of ``z``.

    Parameters
    ----------
    z
        Samples x state members (:func:`member_z`).
    is_control
        Per sample (``z`` order): a control. A state score is the mean of its members' z,
        standardised by the controls' own state scores (mean 0, SD 1 over the controls), so a
        control is as likely to cross ``min_score`` as a draw from its own distribution;
        without 3 controls the means are used as they are.
    margin
        Lead (in control SDs) the top state needs over the second to be called.
    min_score
        Optional score (control SDs) the top state also needs; ``None``: the call is relative
        (the state clearly ahead), as the published subtypes are.
    states
        ``{state: members}`` (default :data:`STATES`).
    """
    scores = pd.DataFrame(index=z.index)
    used = {}
    for state, members in states.items():
        present = [m for m in members if m in z.columns and z[m].notna().any()]
        used[state] = present
        scores[state] = z[present].mean(axis=1, skipna=True) if present else np.nan
    scores = _standardised(scores, is_control)
    values = scores.to_numpy(dtype=float)
    call, confidence = [], []
    for row in values:
        label, conf = _call(row, list(scores.columns), margin, min_score)
        call.append(label)
        confidence.append(conf)
    return StateCalls(
        scores=scores,
        call=pd.Series(call, index=z.index),
        confidence=pd.Series(confidence, index=z.index),
        members_used=used,
    )


def _standardised(scores: pd.DataFrame, is_control: Sequence[bool] | None) -> pd.DataFrame:
    if is_control is None:
        return scores
    controls = scores[np.asarray(is_control, dtype=bool)]
    mean, sd = controls.mean(axis=0), controls.std(axis=0, ddof=1)
    usable = (controls.notna().sum(axis=0) >= 3) & (sd > 0)
    out = scores.copy()
    out.loc[:, usable] = (scores.loc[:, usable] - mean[usable]) / sd[usable]
    return out


def _call(
    row: np.ndarray, names: list[str], margin: float, min_score: float | None
) -> tuple[str, float]:
    finite = np.isfinite(row)
    if finite.sum() < 2:
        return UNASSIGNED, 0.0
    order = np.argsort(np.where(finite, row, -np.inf))[::-1]
    best, second = row[order[0]], row[order[1]]
    lead = best - second
    if lead < margin or (min_score is not None and best < min_score):
        return UNASSIGNED, 0.0
    return LABELS[names[order[0]]], float(lead / (lead + margin))
