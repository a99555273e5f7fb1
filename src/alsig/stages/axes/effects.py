"""The condition effect on every signature and axis score, under the study design.

:func:`axis_tests` fits, per scoring method and signature, the DE stage's own design with the
score in place of a gene (``score ~ sex + region + condition``) on the samples the DE stage fits,
minus those QC excludes, and reports the contrast's coefficient: ordinary least squares, or a
linear mixed model with a donor intercept when donors contribute several samples (donor-mean
OLS with clustered errors when that fails). ``std_effect`` is the effect in residual SDs;
``qvalue`` is BH within dataset x method, axis composites and signatures as two families. The
model choices and why: ``docs/methods.md``, "Axis tests". The effects describe biology
associated with treatment resistance; they predict nothing about any patient's drug response.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import polars as pl

from alsig.errors import AlsigError
from alsig.settings import Contrast
from alsig.stages.de.design import design_matrix, prepare_metadata
from alsig.tables import schemas

log = logging.getLogger(__name__)

SCHEMA = "axis_tests"
Z_95 = 1.959963984540054


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
    import statsmodels.api as sm

    model = sm.OLS(y.to_numpy(), X)
    if groups is None:
        result = model.fit()
        kind = "ols"
    else:
        result = model.fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(groups)[0]})
        kind = "ols_subject_means_cluster_se"
    j = list(X.columns).index(coefficient)
    return Fit(
        estimate=float(result.params.iloc[j]),
        se=float(result.bse.iloc[j]),
        sd=float(np.sqrt(result.scale)),
        statistic=float(result.tvalues.iloc[j]),
        pvalue=float(result.pvalues.iloc[j]),
        df=float(result.df_resid),
        model=kind,
    )


def _mixed_model(y: pd.Series, X: pd.DataFrame, subjects: pd.Series, coefficient: str) -> Fit:
    from statsmodels.regression.mixed_linear_model import MixedLM
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = MixedLM(y.to_numpy(), X, groups=subjects.to_numpy()).fit(reml=True)
        except (np.linalg.LinAlgError, ValueError) as exc:
            return Fit(note=str(exc))
    problems = [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]
    j = list(X.columns).index(coefficient)
    se = float(result.bse_fe.iloc[j])
    if not result.converged or not np.isfinite(se) or se <= 0:
        return Fit(note="; ".join(problems) or "did not converge")
    estimate = float(result.fe_params.iloc[j])
    donor_var = float(np.asarray(result.cov_re)[0, 0])
    z = estimate / se
    from scipy.stats import norm

    return Fit(
        estimate=estimate,
        se=se,
        sd=float(np.sqrt(result.scale + max(donor_var, 0.0))),
        statistic=z,
        pvalue=float(2 * norm.sf(abs(z))),
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


def benjamini_hochberg(pvalues: np.ndarray) -> np.ndarray:
    """BH-adjusted p-values; NaN stays NaN."""
    p = np.asarray(pvalues, dtype=float)
    q = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    n = int(ok.sum())
    if n:
        order = np.argsort(p[ok])
        ranked = p[ok][order] * n / np.arange(1, n + 1)
        adjusted = np.minimum.accumulate(ranked[::-1])[::-1].clip(max=1.0)
        out = np.empty(n)
        out[order] = adjusted
        q[ok] = out
    return q


def axis_tests(
    scores: pl.DataFrame,
    obs: pd.DataFrame,
    *,
    design: str,
    contrast: Contrast,
    exclude: Mapping[str, str] | None = None,
    subject_column: str = "subject",
    missing_covariates: str = "drop",
) -> pl.DataFrame:
    """Return the contrast's effect on every signature and axis score of one dataset.

    Parameters
    ----------
    scores
        The dataset's long score table (all methods; columns of ``signature_scores``).
    obs
        Sample table (index = sample ids) with the design's columns and ``subject_column``.
    design
        The DE design formula.
    contrast
        The contrast tested.
    exclude
        ``{sample: reason}`` left out of every fit and listed in ``excluded``.
    subject_column
        Donor column (repeated donors -> mixed model).
    missing_covariates
        What to do with samples lacking a design value (``drop`` or ``error``).

    Returns
    -------
    One row per method x signature, columns of the shipped ``axis_tests`` schema.
    """
    exclude = dict(exclude or {})
    model, left_out = model_design(
        obs,
        design,
        contrast,
        exclude=exclude,
        subject_column=subject_column,
        missing_covariates=missing_covariates,
    )
    rows = []
    keys = scores.select("dataset", "method", "signature", "axis").unique(maintain_order=True)
    for dataset, method, signature, axis in keys.iter_rows():
        part = scores.filter((pl.col("method") == method) & (pl.col("signature") == signature))
        y = pd.Series(part["score"].to_numpy(), index=part["sample"].to_list(), dtype=float)
        fit = fit_score(y, model)
        rows.append(_row(dataset, method, signature, axis, fit, y, model, contrast, left_out))
    table = pl.DataFrame(rows, schema=schemas.polars_schema(SCHEMA), orient="row")
    return schemas.validate(_with_qvalues(table), SCHEMA, "axis tests")


def _row(dataset, method, signature, axis, fit: Fit, y, model: Design, contrast, left_out):
    scored = y.reindex(model.matrix.index).notna()
    groups, subjects = model.groups[scored], model.subjects[scored]
    is_test, is_ref = groups == contrast.test, groups == contrast.reference
    std = fit.estimate / fit.sd if fit.sd > 0 else np.nan
    std_se = fit.se / fit.sd if fit.sd > 0 else np.nan
    crit = Z_95 if not np.isfinite(fit.df) else _t_crit(fit.df)
    note = fit.note or ("" if np.isfinite(fit.estimate) else "not scored")
    return (
        dataset,
        method,
        signature,
        axis,
        contrast.name,
        contrast.factor,
        contrast.test,
        contrast.reference,
        int(is_test.sum()),
        int(is_ref.sum()),
        int(subjects[is_test].nunique()),
        int(subjects[is_ref].nunique()),
        _finite(fit.estimate),
        _finite(std),
        _finite(fit.se),
        _finite(std_se),
        _finite(fit.estimate - crit * fit.se),
        _finite(fit.estimate + crit * fit.se),
        _finite(fit.statistic),
        _finite(fit.pvalue),
        None,
        fit.model or None,
        len(left_out),
        ";".join(f"{s}({r})" for s, r in left_out.items()),
        note,
    )


def _t_crit(df: float) -> float:
    from scipy.stats import t

    return float(t.ppf(0.975, df))


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _with_qvalues(table: pl.DataFrame) -> pl.DataFrame:
    family = pl.when(pl.col("signature").str.starts_with("axis:")).then(pl.lit("axis"))
    table = table.with_columns(family.otherwise(pl.lit("signature")).alias("_family"))
    parts = []
    for _, part in table.group_by(
        ["dataset", "method", "contrast", "_family"], maintain_order=True
    ):
        q = benjamini_hochberg(part["pvalue"].fill_null(np.nan).to_numpy())
        parts.append(part.with_columns(pl.Series("qvalue", q, nan_to_null=True)))
    return pl.concat(parts).drop("_family") if parts else table.drop("_family")


def significant(tests: pl.DataFrame, alpha: float = 0.05) -> Sequence[str]:
    """Signatures with ``qvalue < alpha`` (for logs and the report)."""
    return tests.filter(pl.col("qvalue") < alpha)["signature"].unique().to_list()
