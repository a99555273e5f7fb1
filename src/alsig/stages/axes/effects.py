"""The condition effect on every signature and axis score, under the study design.

:func:`axis_tests` fits, per scoring method and signature, the DE stage's own design with the
score in place of a gene (``score ~ sex + region + condition``) on the samples the DE stage fits,
minus those QC excludes, and reports the contrast's coefficient: ordinary least squares, or a
linear mixed model with a donor intercept when donors contribute several samples (donor-mean
OLS with clustered errors when that fails); ``pvalue`` and the CIs refer the coefficient to t on
``df`` (the mixed model's Satterthwaite df, :func:`alsig.voom.satterthwaite.random_intercept_df`).
Every score is reported twice (``adjustment``):
``none``, and ``cell_mix`` with the cell-type marker indices as covariates
(:mod:`alsig.stages.axes.cell_mix`), with the difference between the two and the share removed.
``std_effect`` is the effect in residual SDs (both views on the unadjusted model's SD);
``qvalue`` is BH within dataset x method x adjustment, axis composites and signatures as two
families. The model choices and why: ``docs/methods.md``, "Axis tests". The effects describe
biology associated with treatment resistance; they predict nothing about any patient's drug
response.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence

import numpy as np
import pandas as pd
import polars as pl

from alsig.distributions import benjamini_hochberg, t_ppf
from alsig.settings import Contrast
from alsig.stages.axes.cell_mix import CELL_MIX, NONE, CellMixFit, cell_mix_fit
from alsig.stages.axes.models import Design, Fit, fit_score, model_design
from alsig.tables import schemas

log = logging.getLogger(__name__)

__all__ = ["Design", "Fit", "axis_tests", "fit_score", "model_design", "with_qvalues"]

SCHEMA = "axis_tests"
#: Version of the axis_tests layout (the schema's ``x-schema-version``).
SCHEMA_VERSION: str = str(schemas.load(SCHEMA)["x-schema-version"])


def axis_tests(
    scores: pl.DataFrame,
    obs: pd.DataFrame,
    *,
    design: str,
    contrast: Contrast,
    exclude: Mapping[str, str] | None = None,
    subject_column: str = "subject",
    missing_covariates: str = "drop",
    cell_indices: Mapping[str, pd.DataFrame] | None = None,
    categorical: Collection[str] = (),
) -> pl.DataFrame:
    """Return the contrast's effect on every signature and axis score of one dataset, twice.

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
    cell_indices
        Signature -> samples x cell-type indices recomputed without its genes
        (:func:`alsig.cellmix.indices_from_table`); None: the ``cell_mix`` rows are null.
    categorical
        Design variables always categorical (``de.categorical``), as in the DE fit.

    Returns
    -------
    polars.DataFrame
        Two rows per method x signature (``adjustment`` ``none`` and ``cell_mix``), columns of
        the shipped ``axis_tests`` schema.
    """
    exclude = dict(exclude or {})
    model, left_out = model_design(
        obs,
        design,
        contrast,
        exclude=exclude,
        subject_column=subject_column,
        missing_covariates=missing_covariates,
        categorical=categorical,
    )
    rows = []
    keys = scores.select("dataset", "method", "signature", "axis").unique(maintain_order=True)
    for dataset, method, signature, axis in keys.iter_rows():
        part = scores.filter((pl.col("method") == method) & (pl.col("signature") == signature))
        y = pd.Series(part["score"].to_numpy(), index=part["sample"].to_list(), dtype=float)
        fit = fit_score(y, model)
        key = (dataset, method, signature, axis)
        rows.append(_row(key, NONE, fit, y, model, contrast, left_out))
        indices = None if cell_indices is None else cell_indices.get(signature)
        adjusted = cell_mix_fit(y, model, indices, method=method)
        if adjusted.model and fit.model and adjusted.model != fit.model:
            adjusted.note = "; ".join(
                filter(None, [adjusted.note, f"the unadjusted view was fitted as {fit.model}"])
            )
        rows.append(_row(key, CELL_MIX, adjusted, y, model, contrast, left_out))
    table = pl.DataFrame(rows, schema=schemas.polars_schema(SCHEMA), orient="row")
    return schemas.validate(with_qvalues(table, TEST_FAMILY_KEYS), SCHEMA, "axis tests")


def _row(key: tuple, adjustment: str, fit: Fit, y, model: Design, contrast, left_out) -> tuple:
    scored = y.reindex(model.matrix.index).notna()
    groups, subjects = model.groups[scored], model.subjects[scored]
    is_test, is_ref = groups == contrast.test, groups == contrast.reference
    std = fit.estimate / fit.sd if fit.sd > 0 else np.nan
    std_se = fit.se / fit.sd if fit.sd > 0 else np.nan
    crit = _t_crit(fit.df)  # t on the fit's df (inf: the normal)
    note = fit.note or ("" if np.isfinite(fit.estimate) else "not scored")
    return (
        *key,
        adjustment,
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
        _finite(fit.df),
        _finite(fit.pvalue),
        None,
        fit.model or None,
        *_adjustment_columns(fit),
        len(left_out),
        ";".join(f"{s}({r})" for s, r in left_out.items()),
        note,
    )


def _adjustment_columns(fit: Fit) -> tuple:
    """Return the cell_mix row's extra columns (covariates, difference, share, joint cov)."""
    if not isinstance(fit, CellMixFit) or fit.covariates is None:  # none: the unadjusted view
        return (None,) * 10
    joint = fit.joint
    return (
        fit.covariates,
        _finite(fit.difference),
        _finite(fit.difference_low),
        _finite(fit.difference_high),
        _finite(fit.share),
        fit.share_low,
        fit.share_high,
        _finite(joint[0, 0]),
        _finite(joint[1, 1]),
        _finite(joint[0, 1]),
    )


def _t_crit(df: float) -> float:
    return float(t_ppf(0.975, df))


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


#: the BH groups of :func:`axis_tests` (with the family, :func:`with_qvalues`)
TEST_FAMILY_KEYS = ("dataset", "method", "adjustment", "contrast")


def with_qvalues(table: pl.DataFrame, by: Sequence[str]) -> pl.DataFrame:
    """Fill ``qvalue``: BH of ``pvalue`` per ``by`` x family, row order kept.

    The families are the axis composites (``axis:<axis>``) and the signatures: an axis is a
    summary of signatures, so the two are not one set of tests.

    Parameters
    ----------
    table
        Rows with ``signature``, ``pvalue`` (null: no test) and the ``by`` columns; a
        ``qvalue`` column, if present, is replaced in place.
    by
        The columns whose value combinations are separate sets of tests.

    Returns
    -------
    polars.DataFrame
        ``table`` with ``qvalue`` filled (null where ``pvalue`` is null).
    """
    family = pl.when(pl.col("signature").str.starts_with("axis:")).then(pl.lit("axis"))
    table = table.with_columns(
        family.otherwise(pl.lit("signature")).alias("_family"), pl.int_range(pl.len()).alias("_row")
    )
    parts = []
    for _, part in table.group_by([*by, "_family"], maintain_order=True):
        q = benjamini_hochberg(part["pvalue"].fill_null(np.nan).to_numpy())
        parts.append(part.with_columns(pl.Series("qvalue", q, nan_to_null=True)))
    out = pl.concat(parts).sort("_row") if parts else table
    return out.drop("_family", "_row")


def significant(tests: pl.DataFrame, alpha: float = 0.05) -> Sequence[str]:
    """Signatures with ``qvalue < alpha`` (for logs and the report)."""
    return tests.filter(pl.col("qvalue") < alpha)["signature"].unique().to_list()
