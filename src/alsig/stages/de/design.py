"""The design of one contrast, checked before anything is fitted.

For a contrast ``[factor, test_level, reference_level]`` and a design formula (e.g.
``~ sex + region + condition``), :func:`prepare_metadata` checks everything a user can get
wrong: the design parses, its variables are sample columns, the factor is in the design, both
levels exist with at least ``min_samples_per_level`` samples, covariates have no missing values
(or those samples are dropped with ``missing_covariates: drop``), and the design matrix has full
rank; every problem is an :class:`AlsigError` naming the contrast, the design and the counts per
level. Non-numeric design variables are categorical; a text column whose values are all numbers
is continuous (write ``C(x)`` in the formula to force categorical). The factor's reference level
comes first, so the contrast is one model coefficient.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Sequence

import numpy as np
import pandas as pd

from alsig.errors import AlsigError
from alsig.validation import as_missing, choose_kind, level_shortfalls

log = logging.getLogger(__name__)


def design_variables(design: str) -> list[str]:
    """Return the sample columns a formula uses.

    Parameters
    ----------
    design
        A model formula (``~ sex + C(region) + condition``).

    Returns
    -------
    list of str
        Its variables in the order they appear (``sex, region, condition``).

    Raises
    ------
    AlsigError
        ``design`` is not a formula or cannot be parsed (naming ``de.design``).
    """
    import formulaic

    if not isinstance(design, str) or "~" not in design:
        raise AlsigError(
            f"config key de.design: '{design}' is not a formula; write e.g. "
            "'~ sex + region + condition'."
        )
    try:
        variables = formulaic.Formula(design).required_variables
    except Exception as exc:  # formulaic raises several parser exception types
        raise AlsigError(
            f"config key de.design: cannot parse '{design}' ({exc}); write e.g. "
            "'~ sex + region + condition'."
        ) from exc
    # keep the order in which they appear in the formula
    return sorted(variables, key=lambda v: (design.find(v), v))


def _level_counts(values: pd.Series) -> str:
    counts = values.astype("string").fillna("<missing>").value_counts()
    return ", ".join(f"{k}: {v}" for k, v in counts.items())


def _contrast_text(design: str, contrast_name: str, contrast: Sequence[str]) -> str:
    factor, test, ref = (str(v) for v in contrast)
    return f"contrast '{contrast_name}' ({factor}: {test} vs {ref}) with design '{design}'"


def _check_variables(obs: pd.DataFrame, design: str, factor: str, what: str) -> list[str]:
    variables = design_variables(design)
    absent = [v for v in variables if v not in obs.columns]
    if absent:
        raise AlsigError(
            f"{what}: design variable(s) {absent} are not sample columns; available: "
            f"{sorted(map(str, obs.columns))}. Fix de.design or the dataset's columns mapping."
        )
    if factor not in obs.columns:
        raise AlsigError(
            f"{what}: factor '{factor}' is not a sample column; available: "
            f"{sorted(map(str, obs.columns))}."
        )
    if factor not in variables:
        raise AlsigError(
            f"{what}: the contrast factor '{factor}' is not in the design; add it (e.g. "
            f"'{design.rstrip()} + {factor}')."
        )
    return variables


def _without_missing(
    meta: pd.DataFrame, variables: list[str], missing_covariates: str, what: str
) -> tuple[pd.DataFrame, list[str]]:
    missing = meta.isna().any(axis=1)
    if not missing.any():
        return meta, []
    per_column = {c: meta.index[meta[c].isna()].tolist() for c in variables}
    detail = "; ".join(
        f"'{c}' missing for {len(v)} sample(s) ({', '.join(map(str, v[:8]))}"
        f"{', ...' if len(v) > 8 else ''})"
        for c, v in per_column.items()
        if v
    )
    if missing_covariates != "drop":
        raise AlsigError(
            f"{what}: {detail}. Fill in the sample sheet, remove the variable from "
            "de.design, or set de.missing_covariates: drop to leave those samples out."
        )
    log.warning("%s: dropping samples with missing design values: %s", what, detail)
    return meta.loc[~missing.to_numpy()], meta.index[missing.to_numpy()].tolist()


def _check_levels(levels: pd.Series, contrast: Sequence[str], minimum: int, what: str) -> None:
    factor, test, ref = (str(v) for v in contrast)
    problems = level_shortfalls(levels.value_counts().to_dict(), (test, ref), minimum)
    if problems:
        yaml_bool = (
            " YAML reads an unquoted yes/no/on/off/true/false as a boolean ('True'/'False'): "
            'quote the level in de.contrasts (e.g. "yes").'
            if {test, ref} & {"True", "False"}
            else ""
        )
        raise AlsigError(
            f"{what}: {'; '.join(problems)}. Samples per level of '{factor}': "
            f"{_level_counts(levels)}. Fix de.contrasts or the condition rules.{yaml_bool}"
        )


def _typed(
    meta: pd.DataFrame, variables: list[str], contrast: Sequence[str], categorical: Collection[str]
) -> tuple[pd.DataFrame, list[str]]:
    """Type the design variables; return them with the notes on the choices.

    Covariates become numeric or categorical (:func:`alsig.validation.choose_kind`), the factor
    categorical with the reference first.
    """
    factor, test, ref = (str(v) for v in contrast)
    notes: list[str] = []
    for column in variables:
        if column == factor:
            continue
        values = meta[column]
        if not pd.api.types.is_numeric_dtype(values):
            values = values.astype(object)
        choice = choose_kind(values, column, categorical=categorical)
        if choice.kind == "numeric" and not pd.api.types.is_numeric_dtype(meta[column]):
            log.info("design variable '%s' is numeric text: used as continuous", column)
        meta[column] = choice.values.to_numpy() if choice.kind == "numeric" else choice.values
        notes += choice.notes
    factor_values = meta[factor].astype("string").astype(str)
    others = sorted(set(factor_values) - {test, ref})
    meta[factor] = pd.Categorical(factor_values, categories=[ref, test, *others])
    return meta, notes


def _wrapped_in_c(design: str) -> set[str]:
    """Variables the formula itself makes categorical: ``C(batch)``."""
    return set(re.findall(r"\bC\(\s*([A-Za-z_][A-Za-z0-9_.]*)", design))


def _check_rank(
    meta: pd.DataFrame, design: str, variables: list[str], factor: str, what: str
) -> None:
    matrix = design_matrix(meta, design, what)
    rank = int(np.linalg.matrix_rank(matrix.to_numpy(dtype=float)))
    levels = meta[factor].astype("string")
    if rank < matrix.shape[1]:
        raise AlsigError(
            f"{what}: the design matrix is not full rank (rank {rank} < {matrix.shape[1]} "
            f"columns: {list(matrix.columns)}); some variables are confounded, e.g. a covariate "
            f"that is constant within a level. Samples per level of '{factor}': "
            f"{_level_counts(levels)}. {_confounding_hint(meta, variables, factor)}"
            "Remove the confounded variable from de.design."
        )
    if matrix.shape[0] <= matrix.shape[1]:
        raise AlsigError(
            f"{what}: {matrix.shape[0]} samples for {matrix.shape[1]} model coefficients; "
            "no residual degrees of freedom. Use a simpler design."
        )


def prepare_metadata(
    obs: pd.DataFrame,
    design: str,
    contrast_name: str,
    contrast: Sequence[str],
    *,
    min_samples_per_level: int = 2,
    missing_covariates: str = "error",
    samples: str = "all",
    categorical: Collection[str] = (),
) -> tuple[pd.DataFrame, list[str]]:
    """Build the sample table pydeseq2 gets for one contrast, and list the samples dropped.

    Parameters
    ----------
    obs
        Sample table (index = sample ids).
    design
        Model formula over sample columns.
    contrast_name, contrast
        The contrast's name and ``[factor, test_level, reference_level]``.
    min_samples_per_level
        Fewest samples each of the two levels needs.
    missing_covariates
        ``error`` or ``drop`` for samples with an empty design variable.
    samples
        ``all`` samples, or only the two ``contrast`` levels.
    categorical
        Design variables always categorical (``de.categorical``).

    Returns
    -------
    meta : pandas.DataFrame
        The design variables of the samples fitted, typed; ``meta.attrs["design_notes"]`` lists
        what was read as missing and how each covariate was typed, when worth saying.
    dropped : list of str
        Samples left out (not in the contrast's levels, or with a missing design value).

    Raises
    ------
    AlsigError
        Every problem of the module docstring, before any fitting.
    """
    factor, test, ref = (str(v) for v in contrast)
    what = _contrast_text(design, contrast_name, contrast)
    variables = _check_variables(obs, design, factor, what)
    meta = obs[variables].copy()
    notes: list[str] = []
    for column in variables:
        meta[column], found = as_missing(meta[column], column)
        notes += found
    for note in notes:  # said before a missing value can stop the run
        log.warning("%s: %s", what, note)
    dropped: list[str] = []
    if samples == "contrast":
        keep = meta[factor].astype("string").isin([test, ref]).fillna(False).to_numpy(bool)
        dropped += meta.index[~keep].tolist()
        meta = meta.loc[keep]
    meta, missing = _without_missing(meta, variables, missing_covariates, what)
    dropped += missing
    _check_levels(meta[factor].astype("string"), contrast, min_samples_per_level, what)
    meta, kind_notes = _typed(meta, variables, contrast, set(categorical) | _wrapped_in_c(design))
    notes += kind_notes
    for note in kind_notes:
        log.warning("%s: %s", what, note)
    try:
        _check_rank(meta, design, variables, factor, what)
    except AlsigError as error:
        if not kind_notes:
            raise
        raise AlsigError(f"{error} Note: {' | '.join(kind_notes)}.") from error
    meta.attrs["design_notes"] = notes
    return meta, dropped


def _confounding_hint(meta: pd.DataFrame, variables: Sequence[str], factor: str) -> str:
    hints = []
    for column in variables:
        if column == factor or not isinstance(meta[column].dtype, pd.CategoricalDtype):
            continue
        table = pd.crosstab(meta[column].astype(str), meta[factor].astype(str))
        hints.append(f"'{column}' x '{factor}': {table.to_dict(orient='index')}")
    return ("Sample counts " + "; ".join(hints) + ". ") if hints else ""


def design_matrix(meta: pd.DataFrame, design: str, what: str = "") -> pd.DataFrame:
    """Build the model matrix of ``design`` on ``meta`` (formulaic, as pydeseq2 builds it).

    Parameters
    ----------
    meta
        The design variables (:func:`prepare_metadata`).
    design
        The model formula.
    what
        What is being fitted, for the message.

    Returns
    -------
    pandas.DataFrame
        Samples x design columns.

    Raises
    ------
    AlsigError
        formulaic cannot build the matrix.
    """
    import formulaic

    try:
        return pd.DataFrame(formulaic.model_matrix(design, meta))
    except Exception as exc:
        raise AlsigError(f"{what}: cannot build the design matrix ({exc}).") from exc
