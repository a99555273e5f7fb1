"""The samples: sample sheet, condition rules, sex labels, obs, and matching them to the counts.

alsig never guesses a condition: a sample no rule resolves is an error naming the config key
that fixes it. The sheet's ids, names and "not known" cells follow :mod:`alsig.validation`
(:func:`~alsig.validation.clean_sheet`), and canonical columns never shadow a sheet column
silently (:func:`~alsig.validation.canonical_plan`).
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl

from alsig.errors import AlsigError, name_some, where
from alsig.keys import BATCH, CONDITION, REGION, SEX, SUBJECT
from alsig.stages.ingest.text import (
    PreparedText,
    categorical_strings,
    check_unique,
    delimiter_for,
    prepare_text,
    read_text_bytes,
)
from alsig.validation import (
    CanonicalPlan,
    canonical_plan,
    clean_sheet,
    did_you_mean,
    is_missing_value,
    read_sex,
)

log = logging.getLogger(__name__)
_LINE = "__line"  # file line of each row, for the messages


@dataclass(frozen=True)
class SheetLayout:
    """Where a sample sheet keeps what ingest needs.

    The sample id and condition columns, the condition rules, and the columns of the canonical
    obs fields (``subject``, ``sex``, ...).
    """

    sample_column: str = "sample"
    condition_column: str = "condition"
    rules: list[dict[str, str]] | None = None
    columns: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> SheetLayout:
        """Build the layout a dataset's config entry gives.

        The entry's keys read are ``sample_column``, ``condition`` and ``columns``.

        Parameters
        ----------
        settings
            The dataset's entry of ``config["datasets"]``.

        Returns
        -------
        SheetLayout
            The entry's columns and rules, with the schema's defaults where it has none.
        """
        condition = settings.get("condition") or {}
        return cls(
            sample_column=settings.get("sample_column", "sample"),
            condition_column=condition.get("column", "condition"),
            rules=condition.get("rules"),
            columns=dict(settings.get("columns") or {}),
        )


def read_sample_sheet(
    path: str | Path, sample_column: str, *, report: dict[str, Any] | None = None
) -> pl.DataFrame:
    """Sample sheet (TSV/CSV, optionally gzipped) as strings, one row per sample.

    The text is repaired like the count matrix's (:func:`prepare_text`: byte-order mark,
    Windows-1252 / Latin-1 with an encoding report, comment lines), and every cell, column name
    and sample id is NFC-normalised and stripped (:func:`alsig.validation.clean_sheet`), since
    ``'GSM1 '`` would never match the count matrix's ``GSM1``. What was repaired or found
    ("not known" cells, ids differing only in case) is logged and put in ``report``.

    Parameters
    ----------
    path
        The sheet.
    sample_column
        Its sample id column; ids must be present (not empty, ``NA`` or ``#N/A``) and unique.
    report
        Filled in place for the provenance: ``notes``, ``encoding`` and what
        :func:`alsig.validation.clean_sheet` reports.

    Returns
    -------
    polars.DataFrame
        Every column as strings.

    Raises
    ------
    AlsigError
        A missing file, no sample column (with "did you mean"), or a missing or repeated id.
    """
    path = Path(path)
    report = {} if report is None else report
    sep = delimiter_for(path)
    text = prepare_text(read_text_bytes(path), path, sep)
    report.setdefault("notes", []).extend(text.notes)
    report["encoding"] = text.encoding.get("encoding", "utf-8")
    report.update({k: v for k, v in text.encoding.items() if k != "encoding"})
    sheet = _parse_sheet(text, sep, path)
    if sample_column not in sheet.columns:
        raise AlsigError(
            f"{where(path, row=text.skip)}: sample id column '{sample_column}' not found "
            f"(columns: {[c for c in sheet.columns if c != _LINE]})."
            f"{did_you_mean(sample_column, sheet.columns)} Set `sample_column` in the dataset "
            "config."
        )
    lines = sheet.get_column(_LINE).to_list()
    sheet = clean_sheet(
        sheet.drop(_LINE),
        sample_column=sample_column,
        location=where(path),
        lines=lines,
        report=report,
    )
    for note in report["notes"]:
        log.info("%s: %s", path.name, note)
    return sheet


def _parse_sheet(text: PreparedText, sep: str, path: Path) -> pl.DataFrame:
    names = [h or f"column_{i + 1}" for i, h in enumerate(text.header)]
    check_unique(names, path, "column names", "Rename the repeated columns.")
    try:
        sheet = pl.read_csv(
            io.BytesIO(text.data),
            separator=sep,
            schema={n: pl.String for n in names},
            has_header=False,
            skip_rows=text.skip,
            quote_char='"',
            missing_columns="insert",
        )
    except pl.exceptions.PolarsError as exc:
        raise AlsigError(
            f"{where(path)}: cannot be parsed: {str(exc).splitlines()[0]}. Check that every line "
            "has as many fields as the header, and the quoting."
        ) from exc
    # a quoted empty field ("") is as empty as an unquoted one
    sheet = sheet.with_columns(
        pl.when(pl.col(n) != "").then(pl.col(n)).otherwise(None).alias(n) for n in names
    )
    # blank lines come back as all-empty rows; they are not samples
    blank = pl.all_horizontal([pl.col(n).is_null() for n in names])
    return sheet.with_row_index(_LINE, offset=text.skip + 1).filter(~blank)


def resolve_conditions(
    sheet: pl.DataFrame,
    *,
    sample_column: str,
    condition_column: str,
    rules: list[dict[str, str]] | None,
    dataset: str,
    source: str,
) -> list[str]:
    """Condition per sample from ordered regex rules on ``condition_column`` (first match wins).

    Parameters
    ----------
    sheet
        The sample sheet.
    sample_column, condition_column
        Its sample id and condition columns.
    rules
        ``{pattern, condition}`` rules; without rules the column's values are used as they are.
    dataset, source
        For the messages (dataset id, the sheet's file).

    Returns
    -------
    list of str
        One condition per row of ``sheet``.

    Raises
    ------
    AlsigError
        Listing the samples no rule resolves and the config key that fixes it.
    """
    if condition_column not in sheet.columns:
        raise AlsigError(
            f"dataset '{dataset}': condition column '{condition_column}' is not in the sample sheet "
            f"({source}); available columns: {sheet.columns}."
            f"{did_you_mean(condition_column, sheet.columns)} Fix "
            f"`datasets.{dataset}.condition.column`."
        )
    values = sheet.get_column(condition_column).fill_null("").to_list()
    samples = sheet.get_column(sample_column).to_list()
    labels = label_values(values, rules)
    unresolved: list[str] = []
    empty: list[str] = []
    for sample, value, label in zip(samples, values, labels, strict=True):
        if label is None:
            unresolved.append(f"{sample} ({value!r})" if value else f"{sample} (empty)")
            if not value:
                empty.append(str(sample))
    if unresolved:
        shown = name_some(unresolved, limit=20)
        # a rule cannot recover a value the sheet does not have: say where to look instead
        blank = (
            f" {len(empty)} of them have no '{condition_column}' value at all "
            f"({name_some(empty)}): fill it in the "
            "sample sheet (for a GEO series, look at their other characteristics columns: the "
            "cell may be written under another key)."
            if empty
            else ""
        )
        raise AlsigError(
            f"dataset '{dataset}': {len(unresolved)} sample(s) have no condition: no rule in "
            f"`datasets.{dataset}.condition.rules` matches their '{condition_column}' value: {shown}. "
            "Add a rule (pattern -> condition, e.g. condition 'other' to keep but not compare them)."
            f"{blank}"
        )
    return [label or "" for label in labels]


def label_values(values: list[str], rules: list[dict[str, str]] | None) -> list[str | None]:
    """Return the condition of each value by ordered regex rules (first match wins), or None.

    Parameters
    ----------
    values
        Condition-column values (empty for a missing cell).
    rules
        ``{pattern, condition}`` rules; without rules a value is its own condition, and one that
        says "not known" (``NA``, ``Unknown``, ``#N/A``) has none.

    Returns
    -------
    list of str or None
        One label per value; None where no rule matches.
    """
    if not rules:
        return [None if is_missing_value(v) else v.strip() for v in values]
    compiled = [(re.compile(r["pattern"]), r["condition"]) for r in rules]
    return [next((c for rx, c in compiled if rx.search(v)), None) for v in values]


def condition_map(values: list[str], labels: list[str | None]) -> list[str]:
    """Return what the rules made of each distinct value, with its number of samples.

    ``["'sALS/FTD' -> ALS (4)", "'Non-neurological control' -> control (12)"]``, in the order
    the values first appear (None: ``-> no rule``). It goes into the ingest provenance and log
    and the reprocess registry, so that a reviewer sees that ``ALS/FTD`` became ``ALS``.

    Parameters
    ----------
    values, labels
        The condition-column values and their labels (:func:`label_values`), one per sample.

    Returns
    -------
    list of str
        One entry per distinct value.
    """
    counts: dict[tuple[str, str | None], int] = {}
    for value, label in zip(values, labels, strict=True):
        counts[value, label] = counts.get((value, label), 0) + 1
    return [
        f"{value!r} -> {label if label is not None else 'no rule'} ({n})"
        for (value, label), n in counts.items()
    ]


def build_obs(
    sheet: pl.DataFrame,
    *,
    sample_column: str,
    conditions: list[str],
    columns: dict[str, str],
    dataset: str,
    source: str,
    condition_column: str | None = None,
    report: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """obs: raw sample-sheet columns + canonical ``condition, subject, sex, region, batch``.

    Where each canonical column comes from is :func:`alsig.validation.canonical_plan`: the
    ``columns:`` mapping, else a sheet column of that name (used with a note); a sheet column the
    canonical one would replace is kept as ``<name>_sheet`` (noted). Canonical values that say
    "not known" (``NA``, ``Unknown``, ``#N/A``) are missing; a sample without a subject is its own
    subject (a warning names it). Sex is read by :func:`alsig.validation.read_sex`: a value that
    is neither ``female`` / ``male`` (or a usual spelling of them) nor missing stops the run.

    Parameters
    ----------
    sheet
        The sample sheet.
    sample_column
        Its sample id column (the obs index).
    conditions
        One condition per row (:func:`resolve_conditions`).
    columns
        Canonical field -> sheet column (``datasets.<id>.columns``); ``subject`` defaults to the
        sample id, the others to missing.
    dataset, source
        For the messages.
    condition_column
        The sheet column the conditions were read from (a sheet column ``condition`` other than
        it is kept as ``condition_sheet``).
    report
        Filled in place: ``notes`` (appended) and ``canonical_columns`` for the provenance.

    Returns
    -------
    pandas.DataFrame
        Every column categorical.

    Raises
    ------
    AlsigError
        A mapped column not in the sheet, two sheet columns that could be one canonical field, or
        a sex that is not understood (``1`` / ``2``, ``Mal``).
    """
    report = {} if report is None else report
    notes = report.setdefault("notes", [])
    plan = canonical_plan(
        sheet.columns,
        columns,
        sample_column=sample_column,
        condition_column=condition_column or "condition",
        dataset=dataset,
        location=source,
    )
    obs = sheet.to_pandas().astype(object)
    obs.index = pd.Index(sheet.get_column(sample_column).to_list(), name=None).astype(str)
    obs = obs.where(obs.notna(), None)
    obs = obs.rename(columns=plan.keep_as)
    obs[CONDITION] = conditions
    for note in plan.notes:
        notes.append(note)
        log.warning("dataset %s: %s", dataset, note)
    mapped = plan.columns
    obs[SUBJECT] = _subject(obs, mapped.get(SUBJECT), dataset, notes, plan.keep_as)
    sex_column = _sheet_column(plan, SEX)
    obs[SEX] = (
        read_sex(
            obs[sex_column].tolist(),
            list(obs.index),
            column=plan.columns[SEX],
            location=f"dataset '{dataset}': {where(source)}",
        )
        if sex_column
        else None
    )
    for canonical in (REGION, BATCH):
        column = _sheet_column(plan, canonical)
        obs[canonical] = _known(obs[column], canonical, dataset, notes) if column else None
    report["canonical_columns"] = [f"{k}: {v}" for k, v in mapped.items()]
    return categorical_strings(obs)


def _sheet_column(plan: CanonicalPlan, canonical: str) -> str | None:
    """Return the obs column a canonical field reads (its new name when the sheet's was kept)."""
    column = plan.columns.get(canonical)
    return None if column is None else plan.keep_as.get(column, column)


def _subject(
    obs: pd.DataFrame, column: str | None, dataset: str, notes: list[str], renamed: dict
) -> list[str]:
    """Return the subject of each sample; the sample id where the column says "not known"."""
    if column is None:
        return list(obs.index)
    values = obs[renamed.get(column, column)]
    missing = [s for s, v in values.items() if is_missing_value(v)]
    if missing:
        shown = name_some(missing, show=repr)
        note = (
            f"{len(missing)} sample(s) have no subject in column '{column}' ({shown}): each is "
            "its own subject (never pooled with another sample); fill in the column if they "
            "share a donor"
        )
        notes.append(note)
        log.warning("dataset %s: %s", dataset, note)
    return [s if is_missing_value(v) else v for s, v in values.items()]


def _known(values: pd.Series, canonical: str, dataset: str, notes: list[str]) -> list:
    """Return a canonical column's values with "not known" cells as None (noted)."""
    missing = [(s, v) for s, v in values.items() if v is not None and is_missing_value(v)]
    if missing:
        spelled = ", ".join(sorted({repr(v) for _, v in missing}))
        note = (
            f"`{canonical}` ('{values.name}') reads {spelled} as missing for {len(missing)} "
            f"sample(s) ({', '.join(s for s, _ in missing[:8])})"
        )
        notes.append(note)
        log.info("dataset %s: %s", dataset, note)
    return [None if v is None or is_missing_value(v) else v for v in values]


def obs_from_sheet(
    sheet: pl.DataFrame,
    layout: SheetLayout,
    *,
    dataset: str,
    source: str,
    report: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """:func:`resolve_conditions` then :func:`build_obs` for a sheet of the given layout.

    Parameters
    ----------
    sheet
        The sample sheet.
    layout
        Where its columns are.
    dataset, source
        For the messages.
    report
        Filled in place with what :func:`build_obs` decided and ``condition_column`` /
        ``condition_labels`` (:func:`condition_map`: what the rules made of each value), for
        the provenance.

    Returns
    -------
    pandas.DataFrame
        The obs of the dataset's AnnData.

    Raises
    ------
    AlsigError
        From :func:`resolve_conditions` and :func:`build_obs`.
    """
    conditions = resolve_conditions(
        sheet,
        sample_column=layout.sample_column,
        condition_column=layout.condition_column,
        rules=layout.rules,
        dataset=dataset,
        source=source,
    )
    report = {} if report is None else report
    # which value became which label, so that "ALS/FTD -> ALS" is on record, not only the counts
    values = sheet.get_column(layout.condition_column).fill_null("").to_list()
    report["condition_column"] = layout.condition_column
    report["condition_labels"] = condition_map(values, list(conditions))
    log.info(
        "dataset %s: conditions from '%s': %s",
        dataset,
        layout.condition_column,
        name_some(report["condition_labels"], limit=20),
    )
    return build_obs(
        sheet,
        sample_column=layout.sample_column,
        conditions=conditions,
        columns=layout.columns,
        dataset=dataset,
        source=source,
        condition_column=layout.condition_column,
        report=report,
    )


def _check_not_transposed(missing: list[str], matrix_genes: list[str], counts_src: str) -> None:
    as_rows = set(missing) & set(map(str, matrix_genes))
    if len(as_rows) > len(missing) / 2:
        shown = ", ".join(map(repr, sorted(as_rows)[:5]))
        if str(counts_src).endswith(".h5ad"):  # X is samples x genes there
            raise AlsigError(
                f"{where(counts_src)}: the .h5ad looks transposed: {len(as_rows)} sample(s) of "
                f"the sample sheet are var_names ({shown}), not obs_names. An .h5ad holds samples "
                "as obs and genes as var; write the transpose (adata.T)."
            )
        raise AlsigError(
            f"{where(counts_src)}: the count matrix looks transposed: {len(as_rows)} sample(s) of "
            f"the sample sheet are row ids ({shown}), not columns. alsig needs genes as rows and "
            "samples as columns; transpose the table."
        )


def match_samples(
    matrix_samples: list[str],
    sheet_samples: list[str],
    *,
    counts_src: str,
    sheet_src: str,
    dataset: str,
    matrix_genes: list[str] | None = None,
) -> None:
    """Raise unless the count matrix's columns and the sheet's samples are the same set.

    Parameters
    ----------
    matrix_samples, sheet_samples
        The sample ids of each.
    counts_src, sheet_src, dataset
        For the messages.
    matrix_genes
        The matrix's row ids: when they hold the sheet's samples, the matrix is transposed.

    Raises
    ------
    AlsigError
        Naming the samples only one side has, or saying that the matrix looks transposed.
    """
    in_matrix = set(matrix_samples)
    in_sheet = set(sheet_samples)
    missing = [s for s in sheet_samples if s not in in_matrix]
    extra = [s for s in matrix_samples if s not in in_sheet]
    if missing and matrix_genes is not None:
        _check_not_transposed(missing, matrix_genes, counts_src)
    if missing:
        raise AlsigError(
            f"dataset '{dataset}': {len(missing)} sample(s) in the sample sheet ({sheet_src}) are not "
            f"columns of the count matrix ({counts_src}): {name_some(missing, show=repr)}. Remove them from the sheet or "
            "fix the ids (check `sample_column`)."
        )
    if extra:
        raise AlsigError(
            f"dataset '{dataset}': {len(extra)} count-matrix column(s) ({counts_src}) are not in the "
            f"sample sheet ({sheet_src}): {name_some(extra, show=repr)}. Add them to the sheet, or list non-sample "
            f"columns under `datasets.{dataset}.non_sample_columns`."
        )
