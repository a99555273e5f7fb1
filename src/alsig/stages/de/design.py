"""The design of a fit, checked before anything is fitted.

For a design formula (e.g. ``~ sex + region + condition``) and the contrasts
``[factor, test_level, reference_level]`` and reduced designs tested on it,
:func:`prepare_fit_metadata` checks everything a user can get wrong: the design parses, its
variables are sample columns, each contrast's factor is in the design, both levels exist with
at least ``min_samples_per_level`` samples, a reduced design uses only the full design's
variables, a sample subset names a column and values that exist, covariates have no missing
values (or those samples are dropped with ``missing_covariates: drop``), and the design matrix
has full rank; every problem is an :class:`AlsigError` naming the contrast (or test), the design
and the counts per level. :func:`prepare_metadata` is the same for one contrast. Non-numeric
design variables are categorical; a text column whose values are all numbers is continuous
(write ``C(x)`` in the formula to force categorical). Each factor's reference level (its first
contrast's) comes first, so a contrast against it is one model coefficient.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Mapping, Sequence

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


def interaction_partners(design: str, factor: str) -> list[str]:
    """Return the variables ``factor`` interacts with in ``design`` (``sex`` in ``~ sex * condition``).

    Parameters
    ----------
    design
        A model formula that :func:`design_variables` accepts.
    factor
        A contrast's factor.

    Returns
    -------
    list of str
        The other variables of every interaction term that holds ``factor``, in formula order.
    """
    import formulaic

    formula = formulaic.Formula(design)
    terms = formula.rhs if hasattr(formula, "rhs") else formula
    partners: list[str] = []
    for term in terms:
        variables = [v for f in term.factors for v in sorted(f.required_variables)]
        if len(term.factors) > 1 and factor in variables:
            partners += [v for v in variables if v != factor and v not in partners]
    return partners


def _interaction_notes(
    meta: pd.DataFrame, design: str, named: Sequence[tuple[str, Sequence[str]]]
) -> list[str]:
    """Say, per contrast, where an interaction in the design puts its effect.

    With ``~ sex * condition`` the condition coefficient is the condition effect at the
    reference level of sex (as in DESeq2's ``results(name=...)``), not over all samples.
    """
    notes = []
    for name, (factor, _, _) in named:
        partners = interaction_partners(design, factor)
        if not partners:
            continue
        where = [
            f"{p} = {meta[p].cat.categories[0]} (its reference level)"
            if isinstance(meta[p].dtype, pd.CategoricalDtype)
            else f"{p} = 0"
            for p in partners
        ]
        notes.append(
            f"contrast '{name}': the design has an interaction of {factor} with "
            f"{' and '.join(partners)}, so it is the {factor} effect where "
            f"{' and '.join(where)} only, not over all samples; for one effect per level, fit "
            "each level as its own subset"
        )
    return notes


def _level_counts(values: pd.Series) -> str:
    counts = values.astype("string").fillna("<missing>").value_counts()
    return ", ".join(f"{k}: {v}" for k, v in counts.items())


def _contrast_text(design: str, contrast_name: str, contrast: Sequence[str]) -> str:
    factor, test, ref = (str(v) for v in contrast)
    return f"contrast '{contrast_name}' ({factor}: {test} vs {ref}) with design '{design}'"


def _check_variables(obs: pd.DataFrame, design: str, factor: str | None, what: str) -> list[str]:
    variables = design_variables(design)
    absent = [v for v in variables if v not in obs.columns]
    if absent:
        raise AlsigError(
            f"{what}: design variable(s) {absent} are not sample columns; available: "
            f"{sorted(map(str, obs.columns))}. Fix de.design or the dataset's columns mapping."
        )
    if factor is None:
        return variables
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
    meta: pd.DataFrame,
    variables: list[str],
    factors: Mapping[str, Sequence[str]],
    categorical: Collection[str],
) -> tuple[pd.DataFrame, list[str]]:
    """Type the design variables; return them with the notes on the choices.

    Covariates become numeric or categorical (:func:`alsig.validation.choose_kind`), each of
    ``factors`` categorical with its given levels first (reference, then test).
    """
    notes: list[str] = []
    for column in variables:
        if column in factors:
            continue
        values = meta[column]
        if not pd.api.types.is_numeric_dtype(values):
            values = values.astype(object)
        choice = choose_kind(values, column, categorical=categorical)
        if choice.kind == "numeric" and not pd.api.types.is_numeric_dtype(meta[column]):
            log.info("design variable '%s' is numeric text: used as continuous", column)
        meta[column] = choice.values.to_numpy() if choice.kind == "numeric" else choice.values
        notes += choice.notes
    for factor, first in factors.items():
        if factor not in variables:
            continue
        factor_values = meta[factor].astype("string").astype(str)
        first = [level for level in dict.fromkeys(first)]
        others = sorted(set(factor_values) - set(first))
        meta[factor] = pd.Categorical(factor_values, categories=[*first, *others])
    return meta, notes


def _wrapped_in_c(design: str) -> set[str]:
    """Variables the formula itself makes categorical: ``C(batch)``."""
    return set(re.findall(r"\bC\(\s*([A-Za-z_][A-Za-z0-9_.]*)", design))


def _check_rank(
    meta: pd.DataFrame, design: str, variables: list[str], factor: str | None, what: str
) -> None:
    matrix = design_matrix(meta, design, what)
    rank = int(np.linalg.matrix_rank(matrix.to_numpy(dtype=float)))
    if rank < matrix.shape[1]:
        per_level = (
            f"Samples per level of '{factor}': {_level_counts(meta[factor].astype('string'))}. "
            f"{_confounding_hint(meta, variables, factor)}"
            if factor is not None
            else ""
        )
        raise AlsigError(
            f"{what}: the design matrix is not full rank (rank {rank} < {matrix.shape[1]} "
            f"columns: {list(matrix.columns)}); some variables are confounded, e.g. a covariate "
            f"that is constant within a level. {per_level}"
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
    """Build the sample table of one contrast's fit, and list the samples dropped.

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
    return prepare_fit_metadata(
        obs,
        design,
        contrasts=[(contrast_name, (factor, test, ref))],
        min_samples_per_level=min_samples_per_level,
        missing_covariates=missing_covariates,
        samples=samples,
        categorical=categorical,
    )


def subset_samples(
    obs: pd.DataFrame, subset: Sequence[tuple[str, Sequence[str]]], what: str
) -> pd.DataFrame:
    """Return the samples of ``obs`` a subset keeps (every condition must hold).

    Parameters
    ----------
    obs
        Sample table.
    subset
        ``((column, (value, ...)), ...)``: a sample is kept when each column holds one of its
        values (compared as text).
    what
        The contrast or test, for the message.

    Returns
    -------
    pandas.DataFrame
        The rows kept.

    Raises
    ------
    AlsigError
        A column that is not a sample column, a value no sample has, or no sample left.
    """
    keep = np.ones(len(obs), dtype=bool)
    for column, values in subset:
        if column not in obs.columns:
            raise AlsigError(
                f"{what}: subset column '{column}' is not a sample column; available: "
                f"{sorted(map(str, obs.columns))}."
            )
        text = obs[column].astype("string").fillna("<missing>").astype(str)
        unknown = [v for v in values if v not in set(text)]
        if unknown:
            raise AlsigError(
                f"{what}: subset {column} = {unknown}: no sample has that value; values of "
                f"'{column}': {_level_counts(obs[column])}."
            )
        keep &= text.isin(list(values)).to_numpy()
    return obs.loc[keep]


def prepare_fit_metadata(
    obs: pd.DataFrame,
    design: str,
    *,
    contrasts: Sequence[tuple[str, Sequence[str]]] = (),
    reduced: Sequence[tuple[str, str]] = (),
    references: Mapping[str, str] | None = None,
    min_samples_per_level: int = 2,
    missing_covariates: str = "error",
    samples: str = "all",
    categorical: Collection[str] = (),
    what: str = "",
) -> tuple[pd.DataFrame, list[str]]:
    """Build the sample table of one fit (a design and what is tested on it); list the drops.

    Parameters
    ----------
    obs
        Sample table (index = sample ids), already restricted to a subset if any.
    design
        Model formula over sample columns.
    contrasts
        ``(name, [factor, test_level, reference_level])`` of every contrast read from the fit;
        the first contrast of a factor sets its reference level.
    reduced
        ``(name, reduced formula)`` of every likelihood-ratio test of the fit.
    references
        Reference level of factors no contrast of this fit sets (the dataset's contrasts' ones,
        so a coefficient is named alike in every fit).
    min_samples_per_level
        Fewest samples each contrast level needs.
    missing_covariates
        ``error`` or ``drop`` for samples with an empty design variable.
    samples
        ``all`` samples, or only the two levels of the (single) contrast: ``contrast``.
    categorical
        Design variables always categorical (``de.categorical``).
    what
        What is fitted, for messages when there is no contrast (a test's name and design).

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
    named = [(name, tuple(str(v) for v in spec)) for name, spec in contrasts]
    texts = {name: _contrast_text(design, name, spec) for name, spec in named}
    first_what = texts[named[0][0]] if named else what or f"design '{design}'"
    variables = design_variables(design)
    for name, (factor, _, _) in named:
        _check_variables(obs, design, factor, texts[name])
    if not named:
        _check_variables(obs, design, None, first_what)
    for name, formula in reduced:
        extra = [v for v in design_variables(formula) if v not in variables]
        if extra:
            raise AlsigError(
                f"test '{name}': the reduced design '{formula}' uses {extra}, which the full "
                f"design '{design}' does not; a reduced design drops terms of the full one."
            )
    meta = obs[variables].copy()
    notes: list[str] = []
    for column in variables:
        meta[column], found = as_missing(meta[column], column)
        notes += found
    for note in notes:  # said before a missing value can stop the run
        log.warning("%s: %s", first_what, note)
    dropped: list[str] = []
    if samples == "contrast" and named:
        factor, test, ref = named[0][1]
        keep = meta[factor].astype("string").isin([test, ref]).fillna(False).to_numpy(bool)
        dropped += meta.index[~keep].tolist()
        meta = meta.loc[keep]
    meta, missing = _without_missing(meta, variables, missing_covariates, first_what)
    dropped += missing
    for name, spec in named:
        _check_levels(meta[spec[0]].astype("string"), spec, min_samples_per_level, texts[name])
    factors: dict[str, list[str]] = {}
    for _, (factor, test, ref) in named:
        factors.setdefault(factor, [ref, test])
    for factor, ref in (references or {}).items():
        if factor in variables and factor not in factors:
            factors[factor] = [ref] if ref in set(meta[factor].astype("string")) else []
    meta, kind_notes = _typed(meta, variables, factors, set(categorical) | _wrapped_in_c(design))
    notes += kind_notes
    for note in kind_notes:
        log.warning("%s: %s", first_what, note)
    try:
        _check_rank(meta, design, variables, named[0][1][0] if named else None, first_what)
    except AlsigError as error:
        if not kind_notes:
            raise
        raise AlsigError(f"{error} Note: {' | '.join(kind_notes)}.") from error
    for note in _interaction_notes(meta, design, named):
        notes.append(note)
        log.warning("%s", note)
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
