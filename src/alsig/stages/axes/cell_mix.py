"""The axis tests' second view: the condition effect with the cell-mix covariates added.

For each score, the covariates are chosen from QC's cell-type marker indices recomputed without
the score's genes (:mod:`alsig.cellmix`: the neuron, astrocyte, microglia and oligodendrocyte
indices; themselves, or their first principal components explaining >= 80 % of their variance;
at most 3 and at most one per 10 donors of the fitted samples; otherwise "not estimable" with the
reason). The same model as the unadjusted view is fitted with and without them on the same
samples (:func:`alsig.cellmix.effect_with_and_without`), so the difference between the two views
and the share of the unadjusted effect the indices account for come with joint confidence
intervals.

The adjusted effect is the part of the difference the indices do not linearly explain. It is
neither the cell-intrinsic effect (the indices are noisy, so some composition stays in it) nor
the more correct one (neuron loss and gliosis are part of ALS); both views are reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from alsig.cellmix import ADJUSTMENT_TYPES, adjustment_covariates, effect_with_and_without
from alsig.stages.axes.models import Design, Fit

#: the two views of every score's effect (schema column ``adjustment``)
NONE, CELL_MIX = "none", "cell_mix"
ADJUSTMENTS = (NONE, CELL_MIX)
#: methods whose scores are already composition residuals: no second adjustment
RESIDUAL_METHODS = ("singscore_adjusted",)


@dataclass
class CellMixFit(Fit):
    """The adjusted view of one score: a :class:`Fit` plus what the adjustment removed.

    ``estimate``/``se``/``statistic``/``pvalue`` are the adjusted model's; ``sd`` is the
    *unadjusted* model's residual SD, the one ruler of both views' standardised effects.
    ``difference`` = unadjusted - adjusted estimate (score units) with its Wald CI; ``share`` =
    difference / unadjusted with Fieller's CI (None bounds: unbounded); ``joint`` = the 2 x 2
    covariance of the (unadjusted, adjusted) standardised estimates, for the meta-analysis.
    """

    covariates: str | None = None
    difference: float = np.nan
    difference_low: float = np.nan
    difference_high: float = np.nan
    share: float = np.nan
    share_low: float | None = None
    share_high: float | None = None
    joint: np.ndarray = field(default_factory=lambda: np.full((2, 2), np.nan))


def cell_mix_fit(
    y: pd.Series, design: Design, indices: pd.DataFrame | None, *, method: str = ""
) -> CellMixFit:
    """Fit one score with the cell-mix covariates, next to its unadjusted fit.

    Parameters
    ----------
    y
        The score per sample (index = sample ids; NaN = not scored).
    design
        The fitted samples' design (:func:`~alsig.stages.axes.effects.model_design`).
    indices
        Samples x cell-type indices recomputed without the score's genes; None: not available.
    method
        The scoring method (``singscore_adjusted`` is not adjusted again).

    Returns
    -------
    CellMixFit
        Null values and a ``note`` saying why when there is no adjusted view: not scored, not
        estimable (the covariate rule's reason), or already composition residuals.
    """
    if method in RESIDUAL_METHODS:
        return CellMixFit(
            note=f"{method} is already the residual on the cell indices (its 'none' row is the "
            "adjusted view)"
        )
    y = y.reindex(design.matrix.index).astype(float)
    rows = y.notna().to_numpy()
    if not rows.any():
        return CellMixFit(note="not scored in this dataset (see signature_coverage.tsv)")
    if indices is None:
        return CellMixFit(note="no cell indices for this score")
    samples = design.matrix.index[rows]
    types = [t for t in ADJUSTMENT_TYPES if t in indices]
    values = indices.reindex(samples)[types]
    types = [t for t in types if values[t].notna().all()]
    if not types:
        return CellMixFit(note="not estimable: no cell index covers the fitted samples")
    subjects = design.subjects[rows]
    choice = adjustment_covariates(values[types], subjects)
    if choice.covariates is None:
        return CellMixFit(covariates=choice.description, note=f"not estimable: {choice.reason}")
    pair = effect_with_and_without(
        y[rows],
        design.matrix[rows],
        choice.covariates,
        design.coefficient,
        subjects if design.repeated else None,
    )
    share = pair.share
    notes = [n for n in (pair.note, share.note) if n]
    if not np.isfinite(pair.estimate_adjusted):
        return CellMixFit(covariates=choice.description, note="; ".join(notes))
    _, _, joint = pair.standardised()
    statistic = pair.statistic_adjusted
    return CellMixFit(
        estimate=pair.estimate_adjusted,
        se=pair.se_adjusted,
        sd=pair.sd,
        statistic=statistic,
        pvalue=pair.pvalue_adjusted,
        df=pair.df,
        model=pair.model,
        note="; ".join(notes),
        covariates=choice.description,
        difference=share.difference,
        difference_low=share.difference_low,
        difference_high=share.difference_high,
        share=share.share,
        share_low=share.share_low,
        share_high=share.share_high,
        joint=joint,
    )
