"""The score models of the axis tests: the design they share and one score's fit.

:func:`model_design` builds the fitted samples' design exactly as the DE stage builds its own;
:func:`fit_score` fits one score under it: ordinary least squares, or a linear mixed model with a
random intercept per donor when donors contribute several samples (its coefficient referred to
t on Satterthwaite degrees of freedom; donor-mean OLS with donor-clustered errors when the mixed
model fails). Why: ``docs/methods.md``, "Axis tests".
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from alsig.distributions import t_sf
from alsig.errors import AlsigError
from alsig.settings import Contrast
from alsig.stages.de.design import design_matrix, prepare_metadata


@dataclass
class Fit:
    """One fitted score model: the contrast coefficient and how it was obtained."""

    estimate: float = np.nan
    se: float = np.nan
    sd: float = np.nan
    statistic: float = np.nan
    pvalue: float = np.nan
    df: float = np.inf
    model: str = ""
    note: str = ""


@dataclass(frozen=True)
class Design:
    """The fitted samples' design: model matrix, contrast column and donors."""

    matrix: pd.DataFrame
    coefficient: str
    subjects: pd.Series
    groups: pd.Series  # levels of the contrast factor
    repeated: bool


def model_design(
    obs: pd.DataFrame,
    design: str,
    contrast: Contrast,
    *,
    exclude: Mapping[str, str],
    subject_column: str = "subject",
    missing_covariates: str = "drop",
    categorical: Collection[str] = (),
) -> tuple[Design, dict[str, str]]:
    """Return the design the score models share, built exactly as the DE stage builds its own.

    Parameters
    ----------
    obs
        Sample table (index = sample ids) with the design's columns.
    design
        The DE design formula, e.g. ``"~ sex + region + condition"``.
    contrast
        The contrast whose coefficient is reported.
    exclude
        ``{sample: reason}`` left out before fitting (e.g. QC's sex-label mismatches).
    subject_column
        Donor column; a donor with several samples makes the model a mixed model.
    missing_covariates
        ``"drop"`` (default) or ``"error"`` for samples with an empty design variable.
    categorical
        Design variables always categorical (``de.categorical``), as in the DE fit.

    Returns
    -------
    The :class:`Design` and ``{sample: reason}`` of every sample not fitted.
    """
    kept = obs.loc[[s for s in obs.index if s not in exclude]]
    meta, dropped = prepare_metadata(
        kept,
        design,
        contrast.name,
        (contrast.factor, contrast.test, contrast.reference),
        min_samples_per_level=2,
        missing_covariates=missing_covariates,
        categorical=categorical,
    )
    left_out = dict(exclude) | {s: "missing design value" for s in dropped}
    matrix = design_matrix(meta, design)
    coefficient = f"{contrast.factor}[T.{contrast.test}]"
    if coefficient not in matrix.columns:
        raise AlsigError(f"{contrast.name}: design matrix has no column '{coefficient}'.")
    subjects = (
        obs.loc[meta.index, subject_column].astype(str)
        if subject_column in obs
        else pd.Series(meta.index, index=meta.index)
    )
    return (
        Design(
            matrix=matrix.astype(float),
            coefficient=coefficient,
            subjects=subjects,
            groups=meta[contrast.factor].astype(str),
            repeated=bool(subjects.duplicated().any()),
        ),
        left_out,
    )


def fit_score(y: pd.Series, design: Design) -> Fit:
    """Fit one score (index = samples; NaN = not scored) and return the contrast coefficient."""
    y = y.reindex(design.matrix.index).astype(float)
    rows = y.notna().to_numpy()
    if not rows.any():
        return Fit(note="not scored in this dataset (see signature_coverage.tsv)")
    X, subjects = design.matrix[rows], design.subjects[rows]
    if X.shape[0] <= X.shape[1] or np.linalg.matrix_rank(X.to_numpy()) < X.shape[1]:
        return Fit(note=f"{X.shape[0]} scored samples do not identify the model")
    if design.repeated and subjects.duplicated().any():
        fit = _mixed_model(y[rows], X, subjects, design.coefficient)
        if not fit.note:
            return fit
        fallback = _subject_means(y[rows], X, subjects, design.coefficient)
        fallback.note = f"mixed model failed ({fit.note}); {fallback.note}".rstrip("; ")
        return fallback
    return _ols(y[rows], X, design.coefficient)


def _ols(y: pd.Series, X: pd.DataFrame, coefficient: str, groups=None) -> Fit:
    # the class alone: ``statsmodels.api`` imports all of statsmodels (~0.4 s more per job)
    from statsmodels.regression.linear_model import OLS

    model = OLS(y.to_numpy(), X)
    if groups is None:
        result = model.fit()
        kind = "ols"
        df = float(result.df_resid)
    else:
        # t on donors - 1, as the cell-mix view's cluster fallback (statsmodels' default for
        # clustered errors is the normal, whose p-value would disagree with the reported df)
        result = model.fit(
            cov_type="cluster", cov_kwds={"groups": pd.factorize(groups)[0]}, use_t=True
        )
        kind = "ols_subject_means_cluster_se"
        df = float(result.df_resid_inference)
    j = list(X.columns).index(coefficient)
    return Fit(
        estimate=float(result.params.iloc[j]),
        se=float(result.bse.iloc[j]),
        sd=float(np.sqrt(result.scale)),
        statistic=float(result.tvalues.iloc[j]),
        pvalue=float(result.pvalues.iloc[j]),
        df=df,
        model=kind,
    )


def _mixed_model(y: pd.Series, X: pd.DataFrame, subjects: pd.Series, coefficient: str) -> Fit:
    # here, not at the top: jobs that import the axis models without fitting a mixed model
    # (subtypes) would load the compiled kernels for nothing
    from alsig.voom.models import fit_random_intercept
    from alsig.voom.satterthwaite import random_intercept_df

    try:
        fit = fit_random_intercept(y.to_numpy(), X, subjects.to_numpy())
    except AlsigError as exc:
        return Fit(note=str(exc))
    j = list(X.columns).index(coefficient)
    se = float(np.sqrt(max(fit.covariance[j, j], 0.0)))
    if not np.isfinite(se) or se <= 0:
        return Fit(note="the mixed model's standard error is not positive")
    estimate = float(fit.coefficients[j])
    statistic = estimate / se
    # t on Satterthwaite df, as lmerTest: with few donors the normal reference rejects a true
    # null too often (docs/methods.md, "Axis tests")
    df = random_intercept_df(fit, X, subjects.to_numpy(), j)
    return Fit(
        estimate=estimate,
        se=se,
        sd=float(np.sqrt(fit.residual_variance + fit.subject_variance)),
        statistic=statistic,
        pvalue=float(2 * t_sf(abs(statistic), df)),
        df=df,
        model="mixed_random_subject",
    )


def _subject_means(y: pd.Series, X: pd.DataFrame, subjects: pd.Series, coefficient: str) -> Fit:
    frame = pd.DataFrame({"_y": y.to_numpy()}, index=y.index)
    frame = pd.concat([frame, X], axis=1)
    frame["_subject"] = subjects.to_numpy()
    means = frame.groupby(["_subject", *X.columns], sort=False, observed=True).mean().reset_index()
    if means.shape[0] <= X.shape[1]:
        return Fit(note="too few donor means", model="ols_subject_means_cluster_se")
    return _ols(means["_y"], means[list(X.columns)], coefficient, groups=means["_subject"])
