"""Sample sheets (a local TSV/CSV or the sheet built from a GEO series matrix), checked one way.

:func:`clean_sheet` gives every cell and column name the canonical text of
:mod:`alsig.validation.names` (NFC, no invisible characters, stripped; the cells that held
invisible characters are named), stops on a missing or repeated sample id (an
``NA`` or ``#N/A`` id is missing), and reports what it finds: ids that differ only in letter
case, values that differ only in case (``Bulbar`` / ``bulbar``) and cells that say "not known"
(``Unknown``, ``NA``), which are missing wherever a column is used (canonical columns, design
covariates, QC covariates).

:func:`canonical_plan` decides where each canonical column (``subject``, ``sex``, ``region``,
``batch``, ``condition``) comes from, so that a sheet column is never shadowed silently:

- not mapped in ``columns:`` and the sheet has a column of that name (any case): it is used,
  with a note; two candidates (``Batch`` and ``batch``) stop the run, naming the key to set;
- mapped to another column while the sheet also has a column of the canonical name: the
  sheet's column is kept as ``<name>_sheet``, with a note.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd
import polars as pl

from alsig.errors import AlsigError, name_some
from alsig.validation.duplicates import case_variants
from alsig.validation.names import clean_name, clean_names, invisible_note, without_invisible
from alsig.validation.suggest import did_you_mean
from alsig.validation.tokens import is_missing_id, is_missing_value, missing_kind

log = logging.getLogger(__name__)

CANONICAL = ("subject", "sex", "region", "batch")
#: sheet columns that often name the donor; a hint when ``columns.subject`` is not set
DONOR_LIKE = (
    "subject_id",
    "donor",
    "donor_id",
    "patient",
    "patient_id",
    "individual",
    "individual_id",
    "participant",
    "participant_id",
    "case_id",
)


def clean_sheet(
    sheet: pl.DataFrame,
    *,
    sample_column: str,
    location: str,
    lines: Sequence[int] | None = None,
    report: dict | None = None,
) -> pl.DataFrame:
    """Check a sheet's sample ids and return it with canonical text (module docstring).

    Parameters
    ----------
    sheet
        Every column a string; one row per sample.
    sample_column
        The sample id column (must exist).
    location
        The file, for the messages (``file 'samples.tsv'``).
    lines
        The file line of each row, when there is one.
    report
        Filled in place: ``notes`` (appended), ``n_cells_cleaned``, ``missing_values``,
        ``case_variant_ids``, ``case_variant_values``.

    Returns
    -------
    polars.DataFrame

    Raises
    ------
    AlsigError
        A missing or repeated sample id, naming the line and the id.
    """
    report = {} if report is None else report
    notes = report.setdefault("notes", [])
    renamed = {c: str(clean_name(c)) for c in sheet.columns if clean_name(c) != c}
    if any(without_invisible(c) != c for c in renamed):
        hidden = [repr(c) for c in renamed if without_invisible(c) != c]
        notes.append(invisible_note(hidden, "column name(s)"))
    sheet = sheet.rename(renamed)
    changed: dict[str, list[str]] = {}
    invisible: list[str] = []
    columns = []
    # the cells are named by the cleaned id: the raw one may hold the invisible character too
    row_ids = clean_names(sheet.get_column(sample_column).cast(pl.String).to_list()).names
    for name in sheet.columns:
        raw = sheet.get_column(name).cast(pl.String).to_list()
        if name == sample_column:
            cleaned = clean_names(raw)
            notes.extend(cleaned.notes("sample id(s)"))
            ids = [n or None for n in cleaned.names]
            columns.append(pl.Series(name, ids, dtype=pl.String))
            continue
        clean = [None if v is None else (clean_name(v) or None) for v in raw]
        # invisible characters get their own note, naming the cells; this one is the rest
        edits = [a for a, b in zip(raw, clean, strict=True) if a != b and without_invisible(a) != b]
        if edits:
            changed[name] = edits
        invisible.extend(
            f"{name} {value!r} ({sample})"
            for sample, value in zip(row_ids, raw, strict=True)
            if value is not None and without_invisible(value) != value
        )
        columns.append(pl.Series(name, clean, dtype=pl.String))
    sheet = pl.DataFrame(columns) if columns else sheet
    if invisible:
        report["invisible_cells"] = invisible
        notes.append(invisible_note(invisible, "cell(s) (column, value as read, sample)"))
    if changed:
        report["n_cells_cleaned"] = sum(len(v) for v in changed.values())
        shown = "; ".join(
            f"{c}: {', '.join(map(repr, dict.fromkeys(v)))}" for c, v in list(changed.items())[:5]
        )
        notes.append(
            f"{report['n_cells_cleaned']} cell(s) stripped of surrounding whitespace or "
            f"NFC-normalised ({shown})"
        )
    _check_ids(sheet.get_column(sample_column).to_list(), sample_column, location, lines, report)
    _profile(sheet, sample_column, report)
    return sheet


def _line(lines: Sequence[int] | None, row: int) -> str:
    """``line N`` of a row (``row N`` when the sheet has no file lines)."""
    return f"line {lines[row]}" if lines is not None else f"row {row + 1}"


def _check_ids(ids: list, column: str, location: str, lines, report: dict) -> None:
    """Raise on a missing or repeated sample id; note ids differing only in case."""
    for row, value in enumerate(ids):
        if is_missing_id(value):
            kind = "empty" if value is None else f"{missing_kind(value)}, not an id"
            raise AlsigError(
                f"{location}, {_line(lines, row)}, column '{column}': sample id is {kind}. "
                "Every sample needs its id (the count matrix's column name)."
            )
    seen: dict[str, int] = {}
    dups = []
    for row, value in enumerate(ids):
        if value in seen:
            dups.append((seen[value], row, value))
        else:
            seen[value] = row
    if dups:
        rows = sorted({r for first, again, _ in dups for r in (first, again)})
        shown = name_some(rows, show=lambda r: f"{_line(lines, r)} ({ids[r]!r})")
        raise AlsigError(
            f"{location}, column '{column}': duplicate sample ids at {shown}. "
            "Each sample must appear once."
        )
    variants = case_variants(ids)
    if variants:
        shown = name_some(variants, sep="; ", show=lambda g: " / ".join(map(repr, g)))
        report["case_variant_ids"] = [" / ".join(g) for g in variants]
        report["notes"].append(
            f"sample ids that differ only in letter case: {shown} (kept as different samples)"
        )


def _profile(sheet: pl.DataFrame, sample_column: str, report: dict) -> None:
    """Note cells that say "not known" and values differing only in letter case."""
    missing: list[str] = []
    variants: list[str] = []
    ids = sheet.get_column(sample_column).to_list()
    for name in sheet.columns:
        if name == sample_column:
            continue
        column = sheet.get_column(name).to_list()
        values = [v for v in column if v is not None]
        found: dict[str, list[str]] = {}
        for sample, value in zip(ids, column, strict=True):
            if value is not None and is_missing_value(value):
                found.setdefault(missing_kind(value), []).append(str(sample))
        if found:
            missing.append(
                f"{name}: "
                + ", ".join(
                    f"{k} x{len(v)} ({', '.join(v[:4])}{', ...' if len(v) > 4 else ''})"
                    for k, v in found.items()
                )
            )
        groups = case_variants(dict.fromkeys(values))
        if groups:
            variants.append(f"{name}: " + "; ".join(" / ".join(map(repr, g)) for g in groups[:5]))
    if missing:
        report["missing_values"] = missing
        report["notes"].append(
            "cells that say 'not known' are read as missing wherever the column is used "
            "(canonical columns, design and QC covariates): " + "; ".join(missing)
        )
    if variants:
        report["case_variant_values"] = variants
        report["notes"].append(
            "values that differ only in letter case or spaces (kept as written; they are "
            "different levels where the column is a factor): " + "; ".join(variants)
        )


@dataclass
class CanonicalPlan:
    """Where each canonical column comes from.

    Attributes
    ----------
    columns
        Canonical name -> sheet column (``columns:`` of the config plus the columns found).
    keep_as
        Sheet column -> new name, for sheet columns a canonical column would shadow.
    notes
        What was decided, for the log and the provenance.
    """

    columns: dict[str, str]
    keep_as: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def canonical_plan(
    sheet_columns: Sequence[str],
    mapped: Mapping[str, str],
    *,
    sample_column: str,
    condition_column: str,
    dataset: str,
    location: str,
) -> CanonicalPlan:
    """Plan the canonical columns of a sheet (module docstring).

    Parameters
    ----------
    sheet_columns
        The sheet's columns.
    mapped
        ``datasets.<id>.columns`` of the config.
    sample_column, condition_column
        The sheet's sample id and condition columns.
    dataset
        For the config keys in the messages.
    location
        The sheet, for the messages.

    Returns
    -------
    CanonicalPlan

    Raises
    ------
    AlsigError
        A mapped column that is not in the sheet (with "did you mean"), or two candidate
        columns for one canonical field.
    """
    columns = dict(mapped)
    plan = CanonicalPlan(columns)
    for canonical, column in mapped.items():
        if column not in sheet_columns:
            raise AlsigError(
                f"dataset '{dataset}': column '{column}' (for `{canonical}`) is not in the sample "
                f"sheet ({location}); available: {list(sheet_columns)}."
                f"{did_you_mean(column, sheet_columns)} Fix `datasets.{dataset}.columns.{canonical}`."
            )
    for canonical in CANONICAL:
        if canonical in mapped:
            continue
        found = [
            c for c in sheet_columns if c.strip().casefold() == canonical and c != sample_column
        ]
        if len(found) > 1:
            raise AlsigError(
                f"dataset '{dataset}': the sample sheet ({location}) has {len(found)} columns that "
                f"could be `{canonical}`: {found}. Set `datasets.{dataset}.columns.{canonical}` "
                "to the one to use."
            )
        if found:
            columns[canonical] = found[0]
            plan.notes.append(
                f"sample-sheet column '{found[0]}' used as `{canonical}` (`datasets.{dataset}."
                f"columns.{canonical}` is not set; set it to use another column)"
            )
    for canonical in (*CANONICAL, "condition"):
        source = condition_column if canonical == "condition" else columns.get(canonical)
        if canonical in sheet_columns and source is not None and source != canonical:
            plan.keep_as[canonical] = _free_name(f"{canonical}_sheet", sheet_columns)
            key = "condition.column" if canonical == "condition" else f"columns.{canonical}"
            plan.notes.append(
                f"sample-sheet column '{canonical}' kept as '{plan.keep_as[canonical]}': "
                f"`{canonical}` comes from '{source}' (`datasets.{dataset}.{key}`)"
            )
    if "subject" not in columns:
        hint = [c for c in sheet_columns if c.casefold() in DONOR_LIKE]
        if hint:
            plan.notes.append(
                f"`datasets.{dataset}.columns.subject` is not set, so each sample is its own "
                f"subject; the sheet has {', '.join(map(repr, hint))}: if it names the donor, "
                f"set columns.subject: {hint[0]} (replicate collapsing and the repeated-donor "
                "models need it)"
            )
    return plan


def _free_name(name: str, taken: Sequence[str]) -> str:
    """``name``, or ``name2``, ``name3``... when it is taken."""
    candidate, k = name, 1
    while candidate in taken:
        k += 1
        candidate = f"{name}{k}"
    return candidate


#: a subject's samples must agree on these: one donor has one condition and one sex
SUBJECT_CONSTANT = ("condition", "sex")


def subject_conflicts(
    obs: pd.DataFrame, by: str = "subject", columns: Sequence[str] = SUBJECT_CONSTANT
) -> list[str]:
    """Subjects whose samples disagree on a column that is constant within a donor.

    Libraries of one subject in two conditions (or with two reported sexes) contradict each
    other: summing them would make a sample ``ALS;control``. Missing values are ignored.

    Parameters
    ----------
    obs
        Sample table with ``by`` and (some of) ``columns``.
    by
        The subject column.
    columns
        Columns that must be constant within a subject.

    Returns
    -------
    list of str
        One line per conflict, e.g. ``subject 'D1' has libraries with condition S1: ALS,
        S2: control``.
    """
    if by not in obs:
        return []
    keys = obs[by].astype(object).where(obs[by].notna(), None)
    problems = []
    for column in columns:
        if column not in obs or column == by:
            continue
        values = obs[column].astype(object).where(obs[column].notna(), None)
        for subject, frame in values.groupby(keys.to_numpy(), sort=False, dropna=True):
            known = frame.dropna()
            if known.nunique() > 1:
                detail = ", ".join(f"{s}: {v}" for s, v in known.items())
                problems.append(f"{by} '{subject}' has libraries with {column} {detail}")
    return problems
