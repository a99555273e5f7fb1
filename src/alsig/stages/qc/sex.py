"""Sex check.

Inferred sex from XIST vs the Y genes, mismatches with the reported sex, and what
``qc.sex_mismatch`` does with them (``exclude`` / ``use_inferred`` / ``keep``).

A sample whose inferred sex contradicts the reported one is a likely mislabel or sample swap;
kept with its reported sex it puts Y expression into the wrong sex and tops the DE list with chrY
genes (GSE124439, ``bench/results/sex_mismatch_de.md``). An ambiguous inference is never judged.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from alsig.keys import QC_EXCLUSION, SEX_DECISION, SEX_INFERRED
from alsig.validation import sex_label

XIST = "XIST"
Y_GENES = ("RPS4Y1", "DDX3Y", "UTY", "KDM5D", "EIF1AY")
#: |mean log2 CPM(Y genes) - log2 CPM(XIST)| below this: sex not inferred ("ambiguous")
SEX_MARGIN = 1.0
#: inferred sex when XIST and the Y genes do not tell clearly
AMBIGUOUS = "ambiguous"
SEX_MISMATCH_MODES = ("exclude", "use_inferred", "keep")


def infer_sex(
    normalized_log: pd.DataFrame, margin: float = SEX_MARGIN
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Infer sex from log2 CPM of XIST and the Y genes (columns of ``normalized_log``).

    ``sex_score`` = mean Y-gene log2 CPM - XIST log2 CPM; > ``margin``: male, < -``margin``:
    female, otherwise "ambiguous" (neither clearly; never used to judge or replace a label). Returns a frame (xist, y_mean, sex_score, sex_inferred) and info.
    """
    ys = [g for g in Y_GENES if g in normalized_log.columns]
    has_xist = XIST in normalized_log.columns
    out = pd.DataFrame(index=normalized_log.index)
    info = {"xist_present": has_xist, "y_genes_used": ys}
    if not has_xist or not ys:
        out["sex_xist"] = np.nan
        out["sex_y_mean"] = np.nan
        out["sex_score"] = np.nan
        out[SEX_INFERRED] = None
        return out, info
    out["sex_xist"] = normalized_log[XIST].astype(float)
    out["sex_y_mean"] = normalized_log[ys].astype(float).mean(axis=1)
    out["sex_score"] = out["sex_y_mean"] - out["sex_xist"]
    out[SEX_INFERRED] = np.where(
        out["sex_score"] > margin,
        "male",
        np.where(out["sex_score"] < -margin, "female", AMBIGUOUS),
    )
    return out, info


def reported_sex(values: pd.Series) -> pd.Series:
    """Return reported sex as ``female`` / ``male`` (:func:`alsig.validation.sex_label`).

    Ingest has already refused a sex it cannot read, so only missing values become None here.
    """
    return values.astype(object).map(sex_label)


def sex_decisions(table: pd.DataFrame, mode: str) -> pd.DataFrame:
    """Return what QC does with each sex-label mismatch (``qc.sex_mismatch``).

    ``exclude``: the sample leaves DE and the control references of the scores
    (``qc_exclusion``) but is still scored, flagged (``qc_flag``); ``use_inferred``: the
    ``sex`` covariate becomes the inferred sex; ``keep``: the reported sex stays. An ambiguous
    inference is never a mismatch. Returns ``sex_decision`` and ``qc_exclusion`` per sample.
    """
    mismatch = table["sex_mismatch"].to_numpy(dtype=bool)
    labels = [
        f"sex_mismatch(reported {r}, inferred {i})"
        for r, i in zip(table["sex_reported"], table[SEX_INFERRED], strict=True)
    ]
    decision = {"exclude": "excluded", "use_inferred": "sex_replaced", "keep": "kept"}[mode]
    out = pd.DataFrame(index=table.index)
    out[SEX_DECISION] = np.where(mismatch, decision, "")
    out[QC_EXCLUSION] = [
        label if m and mode == "exclude" else "" for m, label in zip(mismatch, labels, strict=True)
    ]
    return out
