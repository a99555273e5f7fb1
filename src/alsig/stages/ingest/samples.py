"""The samples: sample sheet, condition rules, sex labels, obs, and matching them to the counts.

alsig never guesses a condition: a sample no rule resolves is an error naming the config key
that fixes it.
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

from alsig.errors import AlsigError, where
from alsig.stages.ingest.text import (
    PreparedText,
    categorical_strings,
    check_unique,
    delimiter_for,
    prepare_text,
    read_text_bytes,
)

log = logging.getLogger(__name__)
_LINE = "__line"  # file line of each row, for the messages

CANONICAL_COLUMNS = ("subject", "sex", "region", "batch")
_FEMALE = {"f", "female", "woman", "women"}
_MALE = {"m", "male", "man", "men"}


@dataclass(frozen=True)
class SheetLayout:
    """Where a sample sheet keeps what ingest needs: the sample id and condition columns, the
    condition rules, and the columns of the canonical obs fields (``subject``, ``sex``, ...)."""

    sample_column: str = "sample"
    condition_column: str = "condition"
    rules: list[dict[str, str]] | None = None
    columns: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> SheetLayout:
        """The layout a dataset's config entry gives (``sample_column``, ``condition``,
        ``columns``).

        Parameters
        ----------
        settings
            The dataset's entry of ``config["datasets"]``.

        Returns
        -------
        SheetLayout
        """
        condition = settings.get("condition") or {}
        return cls(
            sample_column=settings.get("sample_column", "sample"),
            condition_column=condition.get("column", "condition"),
            rules=condition.get("rules"),
            columns=dict(settings.get("columns") or {}),
        )


def read_sample_sheet(path: str | Path, sample_column: str) -> pl.DataFrame:
    """Sample sheet (TSV/CSV, optionally gzipped) as strings, one row per sample.

    The text is repaired like the count matrix's (:func:`prepare_text`: byte-order mark,
    Latin-1, comment lines); column names and sample ids are stripped of surrounding
    whitespace (logged), since ``'GSM1 '`` would never match the count matrix's ``GSM1``.

    Parameters
    ----------
    path
        The sheet.
    sample_column
        Its sample id column; ids must be present and unique.

    Returns
    -------
    polars.DataFrame
        Every column as strings.
    """
    path = Path(path)
    sep = delimiter_for(path)
    text = prepare_text(read_text_bytes(path), path, sep)
    sheet = _parse_sheet(text, sep, path)
    for note in text.notes:
        log.info("%s: %s", path.name, note)
    if sample_column not in sheet.columns:
        raise AlsigError(
            f"{where(path, row=text.skip)}: sample id column '{sample_column}' not found "
            f"(columns: {sheet.columns}). Set `sample_column` in the dataset config."
        )
    sheet = _strip_ids(sheet, sample_column, path)
    ids = sheet.get_column(sample_column)
    lines = sheet.get_column(_LINE).to_list()
    if ids.null_count():
        row = lines[int(ids.is_null().arg_true()[0])]
        raise AlsigError(f"{where(path, row=row, column=sample_column)}: empty sample id.")
    dup = ids.is_duplicated().arg_true()
    if len(dup):
        rows = ", ".join(f"line {lines[int(r)]} ({ids[int(r)]!r})" for r in dup[:10])
        raise AlsigError(
            f"{where(path, column=sample_column)}: duplicate sample ids at {rows}. "
            "Each sample must appear once."
        )
    return sheet.drop(_LINE)


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


def _strip_ids(sheet: pl.DataFrame, sample_column: str, path: Path) -> pl.DataFrame:
    ids = sheet.get_column(sample_column)
    clean = ids.str.strip_chars()
    changed = ids.filter(ids != clean).to_list()
    if changed:
        log.info(
            "%s: whitespace around %d sample id(s) removed: %s",
            path.name,
            len(changed),
            ", ".join(map(repr, changed[:10])),
        )
    clean = clean.set(clean == "", None)
    return sheet.with_columns(clean.alias(sample_column))


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
            f"({source}); available columns: {sheet.columns}. Fix `datasets.{dataset}.condition.column`."
        )
    values = sheet.get_column(condition_column).fill_null("").to_list()
    samples = sheet.get_column(sample_column).to_list()
    compiled = [(re.compile(r["pattern"]), r["condition"]) for r in (rules or [])]
    conditions: list[str] = []
    unresolved: list[str] = []
    for sample, value in zip(samples, values, strict=True):
        if not compiled:
            label = value.strip() or None
        else:
            label = next((c for rx, c in compiled if rx.search(value)), None)
        if label is None:
            unresolved.append(f"{sample} ('{value}')")
        conditions.append(label or "")
    if unresolved:
        shown = ", ".join(unresolved[:20]) + (" ..." if len(unresolved) > 20 else "")
        raise AlsigError(
            f"dataset '{dataset}': {len(unresolved)} sample(s) have no condition: no rule in "
            f"`datasets.{dataset}.condition.rules` matches their '{condition_column}' value: {shown}. "
            "Add a rule (pattern -> condition, e.g. condition 'other' to keep but not compare them)."
        )
    return conditions


def normalise_sex(value: str | None) -> str | None:
    """``female``, ``male`` or None (unknown) for the usual spellings (``F``, ``Male``, ...)."""
    if value is None:
        return None
    text = str(value).strip().lower()
    if text in _FEMALE:
        return "female"
    if text in _MALE:
        return "male"
    return None


def build_obs(
    sheet: pl.DataFrame,
    *,
    sample_column: str,
    conditions: list[str],
    columns: dict[str, str],
    dataset: str,
    source: str,
) -> pd.DataFrame:
    """obs: raw sample-sheet columns + canonical ``condition, subject, sex, region, batch``.

    Parameters
    ----------
    sheet
        The sample sheet.
    sample_column
        Its sample id column (the obs index).
    conditions
        One condition per row (:func:`resolve_conditions`).
    columns
        Canonical field -> sheet column; ``subject`` defaults to the sample id, the others to
        missing.
    dataset, source
        For the messages.

    Returns
    -------
    pandas.DataFrame
        Every column categorical.
    """
    for canonical, column in columns.items():
        if column not in sheet.columns:
            raise AlsigError(
                f"dataset '{dataset}': column '{column}' (for `{canonical}`) is not in the sample sheet "
                f"({source}); available: {sheet.columns}. Fix `datasets.{dataset}.columns.{canonical}`."
            )
    obs = sheet.to_pandas().astype(object)
    obs.index = pd.Index(sheet.get_column(sample_column).to_list(), name=None).astype(str)
    obs = obs.where(obs.notna(), None)
    obs["condition"] = conditions
    obs["subject"] = obs[columns["subject"]] if "subject" in columns else obs.index.to_numpy()
    obs["sex"] = [normalise_sex(v) for v in obs[columns["sex"]]] if "sex" in columns else None
    for canonical in ("region", "batch"):
        obs[canonical] = obs[columns[canonical]] if canonical in columns else None
    return categorical_strings(obs)


def obs_from_sheet(
    sheet: pl.DataFrame, layout: SheetLayout, *, dataset: str, source: str
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

    Returns
    -------
    pandas.DataFrame
        The obs of the dataset's AnnData.
    """
    conditions = resolve_conditions(
        sheet,
        sample_column=layout.sample_column,
        condition_column=layout.condition_column,
        rules=layout.rules,
        dataset=dataset,
        source=source,
    )
    return build_obs(
        sheet,
        sample_column=layout.sample_column,
        conditions=conditions,
        columns=layout.columns,
        dataset=dataset,
        source=source,
    )


def _check_not_transposed(missing: list[str], matrix_genes: list[str], counts_src: str) -> None:
    as_rows = set(missing) & set(map(str, matrix_genes))
    if len(as_rows) > len(missing) / 2:
        shown = ", ".join(map(repr, sorted(as_rows)[:5]))
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
            f"columns of the count matrix ({counts_src}): {missing[:10]}. Remove them from the sheet or "
            "fix the ids (check `sample_column`)."
        )
    if extra:
        raise AlsigError(
            f"dataset '{dataset}': {len(extra)} count-matrix column(s) ({counts_src}) are not in the "
            f"sample sheet ({sheet_src}): {extra[:10]}. Add them to the sheet, or list non-sample "
            f"columns under `datasets.{dataset}.non_sample_columns`."
        )
