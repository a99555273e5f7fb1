"""What a DE report says about repeated subjects: how many, how correlated, how much power.

* Subjects and samples per level of the tested factor, and how many samples each subject has.
* The intra-subject correlation (ICC) gene by gene: its distribution and the genes where donors
  matter most. Genotype-driven genes (deletion polymorphisms such as GSTM1, HLA genes) are
  expected at the top; that is a sanity check of the model, not a finding.
* The minimum detectable log2 fold change at 80 % power given those donors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from alsig.voom.power import minimum_detectable_lfc

#: genes listed as the most donor-correlated
N_TOP = 10


def subject_counts(subjects: Sequence, groups: Sequence | None = None) -> dict[str, Any]:
    """Count samples per subject and, per level of ``groups``, subjects and samples.

    Parameters
    ----------
    subjects
        Subject per sample.
    groups
        Level of the tested factor per sample (optional).

    Returns
    -------
    dict
        ``n_samples``, ``n_subjects``, ``n_subjects_repeated``, ``samples_per_subject`` (e.g.
        ``"1: 46, 2: 17, 3: 32"``) and ``per_level`` (``"ALS: 148 samples / 77 subjects; ..."``).
    """
    subj = pd.Series([str(s) for s in subjects])
    sizes = subj.value_counts()
    histogram = sizes.value_counts().sort_index()
    out: dict[str, Any] = {
        "n_samples": int(len(subj)),
        "n_subjects": int(sizes.size),
        "n_subjects_repeated": int((sizes > 1).sum()),
        "samples_per_subject": ", ".join(f"{k}: {v}" for k, v in histogram.items()),
    }
    if groups is not None:
        frame = pd.DataFrame({"subject": subj, "group": [str(g) for g in groups]})
        parts = [
            f"{level}: {len(part)} samples / {part['subject'].nunique()} subjects"
            for level, part in frame.groupby("group", sort=True)
        ]
        out["per_level"] = "; ".join(parts)
    return out


def icc_summary(icc: pd.Series, *, n_top: int = N_TOP) -> dict[str, Any]:
    """Distribution of the gene-wise intra-subject correlation and the top genes.

    Parameters
    ----------
    icc
        ICC per gene (index = gene names).
    n_top
        Genes listed.

    Returns
    -------
    dict
        Quantiles, the share of genes above 0.5, and ``top_icc_genes`` as
        ``"GSTM1 (0.97); ..."``.
    """
    values = icc.dropna()
    if values.empty:
        return {
            "icc_median": np.nan,
            "icc_q10": np.nan,
            "icc_q90": np.nan,
            "icc_share_above_0_5": np.nan,
            "top_icc_genes": "",
        }
    top = values.sort_values(ascending=False).head(n_top)
    return {
        "icc_median": float(values.median()),
        "icc_q10": float(values.quantile(0.1)),
        "icc_q90": float(values.quantile(0.9)),
        "icc_share_above_0_5": float((values > 0.5).mean()),
        "top_icc_genes": "; ".join(f"{g} ({v:.2f})" for g, v in top.items()),
    }


def mde_summary(
    se: np.ndarray, df: np.ndarray, *, alpha: float = 0.05, power: float = 0.8
) -> dict[str, Any]:
    """Median and quartiles over genes of the minimum detectable |log2FC|.

    Parameters
    ----------
    se, df
        Standard errors and test degrees of freedom per gene.
    alpha, power
        Two-sided level (unadjusted) and target power.

    Returns
    -------
    dict
        ``mde_alpha``, ``mde_power``, ``mde_median``, ``mde_q25``, ``mde_q75``.
    """
    mde = minimum_detectable_lfc(se, df, alpha=alpha, power=power)
    mde = mde[np.isfinite(mde)]
    q25, q50, q75 = (np.quantile(mde, q) if mde.size else np.nan for q in (0.25, 0.5, 0.75))
    return {
        "mde_alpha": alpha,
        "mde_power": power,
        "mde_median": float(q50),
        "mde_q25": float(q25),
        "mde_q75": float(q75),
    }
