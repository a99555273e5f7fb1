"""The donor view of the projection, and the call shares of ALS samples and controls.

The unit of the stage is the sample as configured (a library, or a donor's summed libraries
with ``qc.collapse_by``). Tam et al. 2019 found donors whose cortical regions fall in different
subtypes, so a donor's samples are never forced into one call; the donor view adds, per donor:

- the mean of ``p_ox``, ``p_glia``, ``p_te`` over the donor's samples that are within the
  reference (``subtype_call`` not ``out_of_reference``), and the call of the same rule
  (``unassigned`` below ``min_probability``); ``out_of_reference`` when none of its samples is
  within the reference (e.g. only cerebellum). Reference samples enter with their stored
  outer-fold probabilities, so the donor view of the reference cohort is a donor view of
  outer-fold calls, never of in-sample ones; the threshold is the one the donor's samples were
  called with when they share one (a reference donor's samples share one outer fold, whose
  own ``min_probability`` applies unless the run sets one), else the run's;
- ``concordant`` when all those samples have the same call, ``discordant`` when they do not,
  ``single`` for one sample (a donor with no sample within the reference is judged on all its
  samples: two ``out_of_reference`` samples are concordant);
- for collapsed datasets, the same over the donor's libraries (``library_call``,
  ``library_concordance``): whether technical replicates of one donor land in one subtype.

:func:`call_shares` counts the calls per condition, of samples and of donors: the controls'
distribution is shown beside the ALS shares. The reference has no controls, so a control's
call is its position in the reference's subtype space, not a false-positive rate.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from alsig.stages.subtypes.projection import call_rule
from alsig.stages.subtypes.reference_model import (
    CLASSES,
    OUT_OF_REFERENCE,
    PROBABILITY_COLUMNS,
    UNASSIGNED,
)

#: the calls in display order
CALL_ORDER = (*CLASSES, UNASSIGNED, OUT_OF_REFERENCE)
SINGLE, CONCORDANT, DISCORDANT = "single", "concordant", "discordant"


def donor_calls(
    table: pd.DataFrame,
    subjects: pd.Series,
    *,
    min_probability: float,
    classes: Sequence[str] = CLASSES,
) -> pd.DataFrame:
    """Return the donor view of per-sample (or per-library) calls.

    Parameters
    ----------
    table
        Indexed by sample: ``p_ox``, ``p_glia``, ``p_te``, ``subtype_call``,
        ``reference_distance``, ``reference_sample``.
    subjects
        Donor of each sample (index: samples of ``table``).
    min_probability
        The threshold of the call rule (the model's, or ``subtypes.min_probability``); a donor
        whose scored samples were all called with one other threshold (``table``'s
        ``min_probability`` column: reference samples of one outer fold) is called with that.
    classes
        The class of each probability column.

    Returns
    -------
    pandas.DataFrame
        Indexed by donor (first-seen order): ``n_samples``, ``n_in_reference``, ``p_ox``,
        ``p_glia``, ``p_te``, ``reference_distance`` (means over the samples within the
        reference), ``donor_call``, ``donor_concordance``, ``sample_calls`` (``sample:call``
        joined with ``;``) and ``reference_sample`` (every sample a reference sample).
    """
    frame = table.copy()
    frame["_subject"] = subjects.reindex(frame.index).astype(str).to_numpy()
    rows = {}
    for subject, part in frame.groupby("_subject", sort=False):
        within = part[(part["subtype_call"] != OUT_OF_REFERENCE).to_numpy()]
        scored = within.dropna(subset=list(PROBABILITY_COLUMNS))
        if scored.empty:
            means = pd.Series(np.nan, index=list(PROBABILITY_COLUMNS))
            distance = float(part["reference_distance"].astype(float).mean())
            call = OUT_OF_REFERENCE if within.empty else UNASSIGNED
        else:
            means = scored[list(PROBABILITY_COLUMNS)].astype(float).mean(axis=0)
            distance = float(scored["reference_distance"].astype(float).mean())
            (call,) = call_rule(
                means.to_numpy()[None, :],
                np.zeros(1),
                np.ones(1, dtype=bool),
                classes=classes,
                min_probability=_shared_threshold(scored, min_probability),
                distance_threshold=np.inf,  # each member already passed the distance rule
            )
        # concordance among the samples within the reference; of all samples when none is
        calls = (within if len(within) else part)["subtype_call"].astype(str)
        concordance = (
            SINGLE if len(calls) <= 1 else CONCORDANT if calls.nunique() == 1 else DISCORDANT
        )
        rows[subject] = {
            "n_samples": len(part),
            "n_in_reference": len(within),
            **{c: float(means[c]) for c in PROBABILITY_COLUMNS},
            "reference_distance": distance,
            "donor_call": str(call),
            "donor_concordance": concordance,
            "sample_calls": ";".join(f"{s}:{c}" for s, c in part["subtype_call"].items()),
            "reference_sample": bool(part["reference_sample"].astype(bool).all()),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def _shared_threshold(samples: pd.DataFrame, default: float) -> float:
    """Return the ``min_probability`` all ``samples`` were called with, else ``default``."""
    if "min_probability" not in samples:
        return default
    values = samples["min_probability"].astype(float).unique()
    return float(values[0]) if len(values) == 1 else default


def call_shares(samples: pd.DataFrame, donors: pd.DataFrame) -> pd.DataFrame:
    """Count the calls per condition, of samples and of donors.

    Parameters
    ----------
    samples
        One row per sample: ``condition`` and ``subtype_call``.
    donors
        One row per donor: ``condition`` and ``donor_call``.

    Returns
    -------
    pandas.DataFrame
        One row per condition x call (every call of :data:`CALL_ORDER`, zeros included):
        ``condition``, ``subtype_call``, ``n_samples``, ``share_samples`` (of the condition's
        samples), ``share_called`` (of its samples with a subtype call; null for
        ``unassigned``/``out_of_reference``), ``n_donors``, ``share_donors``.
    """
    rows = []
    conditions = [c for c in pd.unique(samples["condition"].astype(str))]
    for condition in conditions:
        calls = samples.loc[samples["condition"].astype(str) == condition, "subtype_call"]
        donor = donors.loc[donors["condition"].astype(str) == condition, "donor_call"]
        called = int(calls.isin(CLASSES).sum())
        for call in CALL_ORDER:
            n = int((calls == call).sum())
            n_donors = int((donor == call).sum())
            rows.append(
                {
                    "condition": condition,
                    "subtype_call": call,
                    "n_samples": n,
                    "share_samples": n / len(calls) if len(calls) else np.nan,
                    "share_called": n / called if call in CLASSES and called else np.nan,
                    "n_donors": n_donors,
                    "share_donors": n_donors / len(donor) if len(donor) else np.nan,
                }
            )
    return pd.DataFrame(rows)
