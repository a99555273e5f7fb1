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
- a variable that is mostly numbers but holds some text (``90+``, a decimal comma ``4,5``) is
  categorical, and the entries that made it so are named. Which cells are numbers and which are
  text is :func:`read_numbers`, the one reading QC's PC-covariate diagnostic uses too (which
  reads such a column as numbers with the text cells missing, naming them alike);
- levels that differ only in letter case or whitespace (``Bulbar`` / ``bulbar``) are reported;
  they stay separate levels.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field

import pandas as pd

from alsig.errors import name_some
from alsig.validation.duplicates import case_variants
from alsig.validation.tokens import is_missing_value, missing_kind

#: at most this many distinct integers read as codes (batch 1-3), not as a measurement
CODE_LEVELS = 5
#: sample columns that hold labels by their meaning, whatever their values look like
LABEL_COLUMNS = frozenset({"batch", "subject", "region", "sex", "condition"})
#: a number written with a decimal comma (``4,5``), which ``float()`` does not read
_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")
#: text cells named in a note
SHOWN_CELLS = 5


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
class NumericReading:
    """Which cells of a sample column are numbers (:func:`read_numbers`).

    Attributes
    ----------
    numbers
        Floats; NaN where the cell is missing or text.
    text
        The known cells that are not numbers (index = sample ids).
    """

    numbers: pd.Series
    text: pd.Series

    @property
    def n_numbers(self) -> int:
        """Cells that are numbers."""
        return int(self.numbers.notna().sum())

    @property
    def mostly_numeric(self) -> bool:
        """True when at least half of the known cells are numbers (and one is)."""
        return self.n_numbers > 0 and self.n_numbers >= (self.n_numbers + len(self.text)) / 2

    def text_cells(self) -> str:
        """Name the text cells as ``'90+' (S1), '4,5' (S2)``, at most :data:`SHOWN_CELLS`.

        A hint follows when one is a number with a decimal comma.

        Returns
        -------
        str
        """
        shown = name_some(
            self.text.items(), limit=SHOWN_CELLS, show=lambda sv: f"{sv[1]!r} ({sv[0]})"
        )
        comma = [v for v in self.text if _DECIMAL_COMMA.match(v)]
        hint = (
            f" ({comma[0]!r} has a decimal comma: write {comma[0].replace(',', '.')!r})"
            if comma
            else ""
        )
        return f"{shown}{hint}"


def read_numbers(values: pd.Series) -> NumericReading:
    """Read a sample column as numbers: which cells are numbers, which missing, which text.

    "Not known" spellings (:func:`as_missing`) and empty cells are missing; a cell is a number
    when ``float`` reads it after stripping (``4,5`` is not: a decimal comma is text, named).

    Parameters
    ----------
    values
        One column (index = sample ids).

    Returns
    -------
    NumericReading
    """
    if pd.api.types.is_numeric_dtype(values):
        numbers = values.astype(float)
        return NumericReading(numbers, pd.Series([], dtype=str))
    known, _ = as_missing(values, str(values.name))
    text = known.map(lambda v: None if v is None else str(v).strip())
    numbers = pd.to_numeric(text, errors="coerce").astype(float)
    words = text[text.notna() & numbers.isna()].astype(str)
    return NumericReading(numbers, words)


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
    reading = read_numbers(values)
    numbers = reading.numbers
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
    if reading.mostly_numeric:
        levels = strings.nunique()
        notes.append(
            f"design variable '{name}' is mostly numbers ({reading.n_numbers} of {len(values)}) "
            f"but {reading.text_cells()} are not: used as categorical with {levels} levels. "
            "Correct those entries (or write NA) to use it as numeric, or set "
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
