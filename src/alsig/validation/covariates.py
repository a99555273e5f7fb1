"""Design covariates: "not known" is missing, and numeric or categorical is said out loud.

Whether a column is read as numeric or categorical is noted, as R's DESeq2 warns about
character and integer-coded variables.

Rules, per design variable:

- a missing spelling (``NA``, ``N/A``, empty, ``Unknown``, a spreadsheet error ...;
  :data:`~alsig.validation.tokens.MISSING_VALUE_TOKENS`) is missing, never a level; what
  happens to such samples is ``de.missing_covariates``;
- a variable listed in ``de.categorical`` (or written ``C(x)`` in the formula) is categorical;
- otherwise a variable whose values are all numbers is numeric. When those numbers are integer
  codes (at most :data:`CODE_LEVELS` distinct integers, or a label column such as ``batch``),
  the choice is reported with the key that overrides it;
- a variable that is mostly numbers but holds some text (``90+``) is categorical, and the
  entries that made it so are named;
- levels that differ only in letter case or whitespace (``Bulbar`` / ``bulbar``) are reported;
  they stay separate levels.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

import pandas as pd

from alsig.validation.duplicates import case_variants
from alsig.validation.tokens import is_missing_value, missing_kind

#: at most this many distinct integers read as codes (batch 1-3), not as a measurement
CODE_LEVELS = 5
#: sample columns that hold labels by their meaning, whatever their values look like
LABEL_COLUMNS = frozenset({"batch", "subject", "region", "sex", "condition"})


def as_missing(values: pd.Series, name: str) -> tuple[pd.Series, list[str]]:
    """``values`` with every missing spelling as NA, and a note per spelling found.

    Parameters
    ----------
    values
        One design variable (index = sample ids).
    name
        Its column name, for the notes.

    Returns
    -------
    values : pandas.Series
        Object dtype; missing cells are None.
    notes : list of str
        E.g. ``design variable 'age': 'Unknown' for 2 sample(s) (S1, S2) read as missing``.
    """
    out = values.astype(object).where(values.notna(), None)
    found: dict[str, list[str]] = {}
    for sample, value in out.items():
        if value is not None and is_missing_value(value):
            found.setdefault(missing_kind(value), []).append(str(sample))
    notes = [
        f"design variable '{name}': {kind} for {len(samples)} sample(s) "
        f"({', '.join(samples[:8])}{', ...' if len(samples) > 8 else ''}) read as missing"
        for kind, samples in found.items()
    ]
    if found:
        out = out.map(lambda v: None if v is None or is_missing_value(v) else v)
    return out, notes


@dataclass
class CovariateChoice:
    """How one design variable enters the model.

    Attributes
    ----------
    values
        Floats (numeric) or a Categorical with sorted categories.
    kind
        ``numeric`` or ``categorical``.
    notes
        Warnings for the log and the DE summary (empty when the choice is unremarkable).
    """

    values: pd.Series
    kind: str
    notes: list[str] = field(default_factory=list)


def choose_kind(
    values: pd.Series, name: str, *, categorical: Collection[str] = ()
) -> CovariateChoice:
    """Numeric or categorical for one design variable without missing values (module rules).

    Parameters
    ----------
    values
        The variable (no missing values; index = sample ids).
    name
        Its column name.
    categorical
        Variables the user declared categorical (``de.categorical``, ``C(x)`` in the formula).

    Returns
    -------
    CovariateChoice
    """
    text = values.astype(str).str.strip() if not pd.api.types.is_numeric_dtype(values) else None
    numbers = (
        values.astype(float) if text is None else pd.to_numeric(text, errors="coerce").astype(float)
    )
    notes: list[str] = []
    all_numeric = bool(numbers.notna().all())
    if name in categorical:
        return CovariateChoice(_categorical(values), "categorical", [])
    if all_numeric:
        integers = bool((numbers == numbers.round()).all())
        distinct = sorted(pd.unique(numbers))
        if integers and (len(distinct) <= CODE_LEVELS or name in LABEL_COLUMNS):
            shown = ", ".join(f"{v:g}" for v in distinct[:CODE_LEVELS])
            more = ", ..." if len(distinct) > CODE_LEVELS else ""
            notes.append(
                f"design variable '{name}' holds integer codes ({shown}{more}): used as numeric, "
                "one slope across the codes (as R's DESeq2 does). If they are labels (batch, "
                f"plate, site), set de.categorical: [{name}]"
            )
        return CovariateChoice(numbers, "numeric", notes)
    strings = values.astype(str)
    n_numbers = int(numbers.notna().sum())
    if n_numbers and n_numbers >= len(values) / 2:
        text_cells = values[numbers.isna()]
        shown = ", ".join(f"{v!r} ({s})" for s, v in list(text_cells.astype(str).items())[:5])
        levels = strings.nunique()
        notes.append(
            f"design variable '{name}' is mostly numbers ({n_numbers} of {len(values)}) but "
            f"{shown}{' ...' if len(text_cells) > 5 else ''} are not: used as categorical with "
            f"{levels} levels. Correct those entries (or write NA) to use it as numeric, or set "
            f"de.categorical: [{name}] to keep it categorical"
        )
    variants = case_variants(pd.unique(strings))
    if variants:
        shown = "; ".join(" / ".join(map(repr, group)) for group in variants[:5])
        notes.append(
            f"design variable '{name}' has levels that differ only in letter case or spaces "
            f"({shown}): they stay separate levels; write them alike in the sample sheet if they "
            "are one"
        )
    return CovariateChoice(_categorical(values), "categorical", notes)


def _categorical(values: pd.Series) -> pd.Series:
    """Strings as a Categorical with sorted categories (as DE has always typed labels)."""
    strings = values.astype(str)
    return pd.Series(
        pd.Categorical(strings, categories=sorted(pd.unique(strings))), index=values.index
    )
