"""Which controls each sample's ``z_vs_control`` is measured against.

Tissues differ more than diseases: in GSE67196 a cerebellum sample compared with the pooled
controls of cerebellum and frontal cortex mostly says which tissue it is. So the reference is
stratified: ``score.reference_by`` lists sample columns (e.g. ``[region]``), and each sample is
compared with the controls of its own stratum (same values of those columns). Left unset, the
dataset's ``region`` column is used when it has more than one level, else all controls are one
stratum. A stratum with fewer than ``MIN_CONTROLS`` usable controls gets null z scores, with the
reason in ``reference_strata.tsv`` — never a silent fall back to pooled controls. Controls that
QC leaves out of every comparison (``obs["qc_exclusion"]``, e.g. a sex-label mismatch) are not
used as a reference; they are still scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import polars as pl

from alsig.errors import AlsigError
from alsig.keys import QC_EXCLUSION, QC_FLAG
from alsig.stages.score.composites import MIN_CONTROLS, control_reference
from alsig.tables import schemas
from alsig.validation import check_label

POOLED = "all samples"


@dataclass(frozen=True)
class References:
    """Each sample's reference stratum and the controls that serve as its reference."""

    columns: list[str]
    stratum: list[str | None]  # None: a reference column is empty for the sample
    is_reference: np.ndarray  # control and not excluded by QC
    table: pl.DataFrame  # one row per stratum (reference_strata schema)

    def z(self, scores: np.ndarray, min_controls: int = MIN_CONTROLS) -> np.ndarray:
        """Return samples x columns z scores against each sample's stratum controls.

        NaN when the stratum has too few controls with a score.
        """
        z = np.full(scores.shape, np.nan)
        strata = np.array([s if s is not None else "" for s in self.stratum], dtype=object)
        for stratum in dict.fromkeys(s for s in self.stratum if s is not None):
            members = strata == stratum
            controls = members & self.is_reference
            if controls.sum() < min_controls:
                continue
            reference = control_reference(scores[controls], min_controls=min_controls)
            z[members] = reference.z(scores[members])
        return z


def _text(values: pd.Series) -> list[str | None]:
    return [None if pd.isna(v) or str(v).strip() == "" else str(v) for v in values]


def reference_columns(obs: pd.DataFrame, reference_by: Sequence[str] | None) -> list[str]:
    """Return the configured columns, or by default ``[region]`` when it has several levels."""
    if reference_by is not None:
        return list(reference_by)
    if "region" in obs and len({v for v in _text(obs["region"]) if v}) > 1:
        return ["region"]
    return []


def reference_strata(
    obs: pd.DataFrame,
    *,
    control_column: str,
    control_label: str,
    reference_by: Sequence[str] | None,
    min_controls: int = MIN_CONTROLS,
) -> References:
    """Strata, reference controls and the per-stratum table of one dataset.

    Parameters
    ----------
    obs
        The QC'd sample table.
    control_column, control_label
        Controls are the samples with ``obs[control_column] == control_label``.
    reference_by
        Sample columns defining the strata (``None``: automatic, see the module docstring).
    min_controls
        Fewest usable controls per stratum.
    """
    columns = reference_columns(obs, reference_by)
    absent = [c for c in columns if c not in obs]
    if absent:
        raise AlsigError(
            f"config key score.reference_by: {absent} are not sample columns; available: "
            f"{sorted(map(str, obs.columns))}."
        )
    parts = [_text(obs[c]) for c in columns]
    stratum = [
        POOLED
        if not columns
        else None
        if any(p is None for p in values)
        else "; ".join(f"{c}={v}" for c, v in zip(columns, values, strict=True))
        for values in (zip(*parts, strict=True) if parts else [()] * len(obs))
    ]
    # without the column (new samples of `alsig score`) no sample is a control; the caller warns
    values: list[str | None] = [None] * len(obs)
    if control_column in obs:
        values = _text(obs[control_column])
        check_label(
            control_label,
            values,
            "score.control_label",
            consequence=f"no control in column '{control_column}', so z_vs_control is null "
            "for every sample",
        )
    control = np.array([v == control_label for v in values], dtype=bool)
    excluded = (
        np.array([v is not None for v in _text(obs[QC_EXCLUSION])])
        if QC_EXCLUSION in obs
        else np.zeros(len(obs), bool)
    )
    is_reference = control & ~excluded
    return References(
        columns, stratum, is_reference, _strata_table(stratum, control, excluded, min_controls)
    )


def _strata_table(stratum, control, excluded, min_controls) -> pl.DataFrame:
    rows = []
    labels = np.array([s if s is not None else "" for s in stratum], dtype=object)
    for name in dict.fromkeys(stratum):
        members = labels == (name if name is not None else "")
        n_ref = int((members & control & ~excluded).sum())
        usable = name is not None and n_ref >= min_controls
        reason = (
            ""
            if usable
            else "a reference column is empty for these samples"
            if name is None
            else f"{n_ref} usable control(s) (< {min_controls}): z_vs_control is null"
        )
        rows.append(
            (
                name or "(missing)",
                int(members.sum()),
                int((members & control).sum()),
                int((members & control & excluded).sum()),
                n_ref,
                usable,
                reason,
            )
        )
    return pl.DataFrame(rows, schema=schemas.polars_schema("reference_strata"), orient="row")


def sample_flags(obs: pd.DataFrame) -> list[str | None]:
    """QC's flags per sample (``obs["qc_flag"]``), None when unflagged or absent."""
    return _text(obs[QC_FLAG]) if QC_FLAG in obs else [None] * len(obs)
