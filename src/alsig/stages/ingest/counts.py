"""The count matrix: genes x samples integer read counts from a text table or an ``.h5ad``.

Every check names the file, the line/column and the fix. What the reader repairs (a byte-order
mark, blank lines, featureCounts' annotation columns, HTSeq's summary rows, missing or padded gene
ids, rounded estimated counts) is logged and kept in :attr:`CountMatrix.report`, which ingest
stores as ``uns['provenance']['counts_repairs']``.
"""

from __future__ import annotations

import gzip
import io
import logging
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from alsig.counts import as_counts
from alsig.errors import AlsigError, where
from alsig.io import read_h5ad_counts, read_h5ad_obs, read_h5ad_var
from alsig.stages.ingest.gene_rows import clean_gene_rows
from alsig.stages.ingest.text import (
    PreparedText,
    check_unique,
    delimiter_for,
    prepare_text,
    read_text_bytes,
)
from alsig.validation import (
    SPREADSHEET_ERRORS,
    check_input_file,
    check_matrix_size,
    clean_names,
    count_message,
    did_you_mean,
    integer_counts,
    is_missing_id,
)
from alsig.validation import counts as rules
from alsig.validation.advice import WORKFLOW, InputAdvice

log = logging.getLogger(__name__)

ROUNDING = rules.ROUNDING
FEATURECOUNTS_ANNOTATION = ("Chr", "Start", "End", "Strand", "Length")
_LINE = "__line"  # file line of each data row, kept through filtering for messages
_UNNAMED = "__unnamed_"
_EXTRA = "__extra_"
_MISSING_TOKENS = ("", "na", "n/a", "null", "-")  # "NaN" and "Inf" have their own messages
_SPREADSHEET_TOKENS = tuple(sorted(e.lower() for e in SPREADSHEET_ERRORS))


@dataclass
class CountMatrix:
    """Genes x samples integer counts as read from a file, before harmonisation."""

    gene_ids: list[str]
    sample_ids: list[str]
    counts: np.ndarray  # int32, or int64 when a count needs it; genes x samples
    path: Path
    report: dict[str, Any] = field(default_factory=dict)  # what was repaired (provenance)
    lines: np.ndarray | None = None  # file line of each row (text input)

    def line(self, row: int) -> int | None:
        """Return the file line of a row, for messages.

        Parameters
        ----------
        row
            A row of :attr:`counts` (a gene).

        Returns
        -------
        int or None
            The 1-based line in the text file; None for an ``.h5ad``.
        """
        return None if self.lines is None else int(self.lines[row])


def read_count_matrix(
    path: str | Path,
    *,
    gene_column: str | None = None,
    non_sample_columns: tuple[str, ...] | list[str] = (),
    rounding: str = "none",
    max_missing_gene_ids_fraction: float = 0.05,
    advice: InputAdvice = WORKFLOW,
) -> CountMatrix:
    """Read a genes x samples count table (TSV/CSV, optionally gzipped).

    Parameters
    ----------
    path
        The table; ``.csv[.gz]`` is comma-separated, anything else tab-separated.
    gene_column
        The gene id column (default: the first column).
    non_sample_columns
        Columns that are not samples (such as ``Chr``); dropped. Every other column must be a
        sample of integer counts >= 0. featureCounts' ``Chr Start End Strand Length`` after
        ``Geneid`` are dropped without being listed.
    rounding
        ``none``: a non-integer count is an error; ``round``: estimated counts (salmon, RSEM
        ``expected_count``) are rounded to the nearest integer and the rounded cells counted.
    max_missing_gene_ids_fraction
        Rows with a missing id (empty, ``NA``, ``N/A``, ``NaN``, ``null``, ``-``) are dropped;
        more than this fraction of the rows is an error.
    advice
        The remedies the messages name, worded for the calling tool (the workflow's by default).

    Returns
    -------
    CountMatrix
        Genes x samples integer counts, with the file line of each row and the repairs made.

    Raises
    ------
    AlsigError
        Naming the file, line and column of the first problem.
    """
    rules.check_rounding(rounding)  # the schema says so too; callers outside the workflow
    path = Path(path)
    sep = delimiter_for(path)
    text = prepare_text(read_text_bytes(path), path, sep)
    report: dict[str, Any] = {"notes": list(text.notes)}
    names = _column_names(text, path)
    gene_column = _gene_column(gene_column, names, report)
    non_sample = _with_featurecounts(names, gene_column, list(non_sample_columns), report)
    samples = _sample_columns(names, path, gene_column, non_sample, advice)
    _report_stripped_samples(text, samples, report)
    table = _parse(text, sep, names, samples, path)
    del text.data
    table = _drop_blank_and_empty(table, names, gene_column, path, report)
    values, n_rounded = _to_counts(table, samples, path, rounding, advice)
    if n_rounded:
        report["n_rounded_counts"] = n_rounded
        report["notes"].append(
            f"{n_rounded} non-integer count(s) rounded ({advice.rounding_setting})"
        )
    counts = values.to_numpy().astype(np.int64, copy=False)
    file_lines = table.get_column(_LINE).to_numpy().astype(np.int64)
    ids, counts, lines = clean_gene_rows(
        table.get_column(gene_column).to_list(),
        counts,
        file_lines,
        path=path,
        max_missing_fraction=max_missing_gene_ids_fraction,
        report=report,
    )
    check_matrix_size(len(ids), len(samples), where(path))
    counts = np.ascontiguousarray(as_counts(counts))
    report["dtype"] = str(counts.dtype)
    _log_notes(path, report)
    return CountMatrix(ids, samples, counts, path, report, lines)


def _column_names(text: PreparedText, path: Path) -> list[str]:
    """Header names for polars: unnamed columns get a placeholder (checked empty later)."""
    names = [h if h else f"{_UNNAMED}{i + 1}" for i, h in enumerate(text.header)]
    check_unique(names, path, "column names (sample ids)", "Each sample must appear once.")
    return names


def _gene_column(gene_column: str | None, names: list[str], report: dict[str, Any]) -> str:
    if gene_column:
        return gene_column.strip()
    if names[0].startswith(_UNNAMED):  # R's write.csv: row names under an empty header
        report["notes"].append("the first column has no name; used as the gene ids")
    return names[0]


def _with_featurecounts(
    names: list[str], gene_column: str, non_sample: list[str], report: dict[str, Any]
) -> list[str]:
    """Add featureCounts' annotation columns to the non-sample columns.

    FeatureCounts writes ``Geneid Chr Start End Strand Length`` before the samples; those five
    columns are annotation, never samples (``Length`` would pass as counts).
    """
    if names[0] != "Geneid" or gene_column != "Geneid":
        return non_sample
    if tuple(names[1:6]) != FEATURECOUNTS_ANNOTATION:
        return non_sample
    extra = [c for c in FEATURECOUNTS_ANNOTATION if c not in non_sample]
    if extra:
        report["featurecounts_columns_dropped"] = extra
        report["notes"].append(f"featureCounts annotation columns dropped: {', '.join(extra)}")
    return non_sample + extra


def _sample_columns(
    header: list[str],
    path: Path,
    gene_column: str,
    non_sample_columns: list[str],
    advice: InputAdvice = WORKFLOW,
) -> list[str]:
    """Return the header's sample columns, after checking the gene and non-sample columns."""
    if gene_column not in header:
        raise AlsigError(
            f"{where(path, row=1)}: gene id column '{gene_column}' not found; columns start with "
            f"{header[:5]}. Set {advice.gene_column}."
        )
    missing_extra = [c for c in non_sample_columns if c not in header]
    if missing_extra:
        raise AlsigError(
            f"{where(path, row=1)}: `non_sample_columns` {missing_extra} are not in the header."
        )
    samples = [
        c
        for c in header
        if c != gene_column and c not in non_sample_columns and not c.startswith(_UNNAMED)
    ]
    if not samples:
        raise AlsigError(f"{where(path)}: no sample columns besides '{gene_column}'.")
    return samples


def _report_stripped_samples(text: PreparedText, samples: list[str], report: dict) -> None:
    stripped = [name for name in text.stripped_names if name.strip() in samples]
    if stripped:
        report["sample_ids_stripped"] = stripped
        shown = ", ".join(map(repr, stripped[:10]))
        report["notes"].append(f"whitespace around {len(stripped)} sample id(s) removed: {shown}")


def _parse(
    text: PreparedText, sep: str, names: list[str], samples: list[str], path: Path
) -> pl.DataFrame:
    """Parse the table, sample columns as integers straight from the parser.

    Anything else (floats, text, ragged rows, bad UTF-8) goes through :func:`_parse_as_text`,
    which finds and names the problem.
    """
    schema: dict[str, type[pl.DataType]] = {c: pl.String for c in names}
    schema.update({s: pl.Int64 for s in samples})
    try:
        table = _read(text, sep, schema)
    except pl.exceptions.PolarsError:
        table = _parse_as_text(text, sep, names, path)
    return table.with_row_index(_LINE, offset=text.skip + 1)


def _read(text: PreparedText, sep: str, schema: dict) -> pl.DataFrame:
    return pl.read_csv(
        io.BytesIO(text.data),
        separator=sep,
        schema=schema,
        has_header=False,
        skip_rows=text.skip,
        quote_char='"',
        missing_columns="insert",  # polars sizes rows by the first one; short rows get nulls
    )


def _parse_as_text(text: PreparedText, sep: str, names: list[str], path: Path) -> pl.DataFrame:
    """Parse every column as text, with room for lines longer than the header.

    The extra columns are checked later; a quoted delimiter over-counts, which only adds an
    empty column.
    """
    widest = max(line.count(sep.encode()) for line in text.data.split(b"\n")) + 1
    schema = {c: pl.String for c in names}
    schema.update({f"{_EXTRA}{i + 1}": pl.String for i in range(max(widest - len(names), 0))})
    try:
        return _read(text, sep, schema)
    except pl.exceptions.PolarsError as exc:
        raise AlsigError(
            f"{where(path)}: cannot be parsed as a {'tab' if sep == chr(9) else 'comma'}-separated "
            f"table ({str(exc).splitlines()[0]}). Check the quoting and the delimiter."
        ) from exc


def _drop_blank_and_empty(
    table: pl.DataFrame, names: list[str], gene_column: str, path: Path, report: dict[str, Any]
) -> pl.DataFrame:
    """Drop blank lines, and unnamed or beyond-the-header columns that are empty.

    Such columns come from trailing delimiters; one that holds a value is an error.
    """
    data = [c for c in table.columns if c != _LINE]
    blank = pl.all_horizontal(pl.col(c).is_null() | (pl.col(c).cast(pl.String) == "") for c in data)
    n_blank = int(table.select(blank.sum()).item())
    if n_blank:
        table = table.filter(~blank)
        report["n_blank_lines"] = n_blank
        report["notes"].append(f"{n_blank} blank line(s) ignored")
    stray = [c for c in data if c.startswith((_UNNAMED, _EXTRA)) and c != gene_column]
    for column in stray:
        filled = table.get_column(column).is_not_null().arg_true()
        if len(filled):
            row = int(filled[0])
            value = table.get_column(column)[row]
            raise AlsigError(_stray_value(path, column, _line(table, row), value, len(names)))
    if stray:
        report["notes"].append(f"{len(stray)} empty column(s) from trailing delimiters ignored")
    return table.drop(stray)


def _stray_value(path: Path, column: str, line: int, value: str, n: int) -> str:
    if column.startswith(_EXTRA):
        return (
            f"{where(path, row=line)}: more fields than the header's {n} (value {value!r}). "
            "A value with the delimiter inside (such as '1,234' in a CSV) must be quoted, or "
            "the header lacks a column name."
        )
    position = int(column.removeprefix(_UNNAMED))
    return (
        f"{where(path, row=line)}: column {position} has no name in the header but holds the "
        f"value {value!r}; name the column, or delete it."
    )


def _to_counts(
    table: pl.DataFrame, samples: list[str], path: Path, rounding: str, advice: InputAdvice
) -> tuple[pl.DataFrame, int]:
    """Convert the sample columns to exact Int64 counts (``12.0`` and ``1e3`` are integers).

    Returns the counts and the number of cells rounded under ``rounding: round``.
    """
    columns: dict[str, pl.Series] = {}
    n_rounded = 0
    for column in samples:
        series = table.get_column(column)
        if series.dtype == pl.Int64:
            _check_integers(series, table, path, column)
            columns[column] = series
        else:
            columns[column], rounded = _text_counts(series, table, path, column, rounding, advice)
            n_rounded += rounded
    return pl.DataFrame(columns), n_rounded


def _check_integers(series: pl.Series, table: pl.DataFrame, path: Path, column: str) -> None:
    for mask, what in ((series.is_null(), rules.MISSING), (series < 0, rules.NEGATIVE)):
        _raise_first(mask, table, path, column, what, series)


def _text_counts(
    text: pl.Series,
    table: pl.DataFrame,
    path: Path,
    column: str,
    rounding: str,
    advice: InputAdvice,
) -> tuple[pl.Series, int]:
    """One column of text as exact counts; raises at the first bad cell."""
    clean = text.str.strip_chars()
    as_int = clean.cast(pl.Int64, strict=False)
    as_float = clean.cast(pl.Float64, strict=False)
    float_only = as_int.is_null() & as_float.is_not_null()
    lower = clean.str.to_lowercase()
    missing = clean.is_null() | lower.is_in(_MISSING_TOKENS)
    spreadsheet = lower.is_in(_SPREADSHEET_TOKENS) | lower.str.contains(r"^err:\d{3}$")
    fractional = float_only & as_float.is_finite() & (as_float != as_float.round(0))
    checks = [
        (missing, rules.MISSING, ""),
        (spreadsheet, rules.SPREADSHEET, rules.SPREADSHEET_FIX),
        (as_int.is_null() & as_float.is_null(), None, ""),
        (as_float.is_nan(), rules.NAN, ""),
        (float_only & as_float.is_infinite(), rules.INFINITE, ""),
        (
            _too_large(clean, as_int, as_float),
            rules.TOO_LARGE,
            rules.advised_fix(rules.TOO_LARGE, advice),
        ),
        (as_int.fill_null(as_float) < 0, rules.NEGATIVE, ""),
    ]
    if fractional.any():
        # log-scale or TPM/CPM values are refused whatever the rounding (see alsig.validation)
        finite = as_float.filter(as_float.is_finite()).to_numpy()
        evidence = rules.normalised_evidence(finite, np.array([finite.sum()]))
        if evidence:
            checks.append(
                (fractional, rules.NOT_INTEGER, rules.NORMALISED_FIX.format(evidence=evidence))
            )
    if rounding == "none":
        checks.append((fractional, rules.NOT_INTEGER, rules.advised_fix(rules.NOT_INTEGER, advice)))
    for mask, what, fix in checks:
        if what is None:
            _raise_not_a_number(mask, table, path, column, text, advice)
        else:
            _raise_first(mask, table, path, column, what, text, fix)
    counts = as_int.fill_null(as_float.round(0).cast(pl.Int64))
    return counts, int(fractional.sum())


def _too_large(clean: pl.Series, as_int: pl.Series, as_float: pl.Series) -> pl.Series:
    """Mark plain integers beyond Int64 and floats beyond 2^53 (not exact).

    An integer beyond Int64 is text the int parse fails on and the float one does not.
    """
    beyond_int64 = as_int.is_null() & clean.str.contains(r"^[+-]?\d+$").fill_null(False)
    return beyond_int64 | (
        as_int.is_null() & as_float.is_finite() & (as_float.abs() >= rules.FLOAT_EXACT)
    )


def _raise_first(
    mask: pl.Series,
    table: pl.DataFrame,
    path: Path,
    column: str,
    what: str,
    values: pl.Series,
    fix: str = "",
) -> None:
    hits = mask.fill_null(False).arg_true()
    if not len(hits):
        return
    row = int(hits[0])
    location = where(path, row=_line(table, row), column=column)
    raise AlsigError(count_message(location, what, values[row], fix))


def _raise_not_a_number(
    mask: pl.Series,
    table: pl.DataFrame,
    path: Path,
    column: str,
    values: pl.Series,
    advice: InputAdvice,
) -> None:
    hits = mask.fill_null(False).arg_true()
    if not len(hits):
        return
    row = int(hits[0])
    value = values[row]
    hint = (
        " Remove thousands separators (and use '.' as the decimal point)."
        if "," in value
        else " Counts must be integers; remove text values, and annotation columns "
        f"({advice.annotation_columns})."
    )
    raise AlsigError(
        f"{where(path, row=_line(table, row), column=column)}: value {value!r} is not a "
        f"number.{hint}"
    )


def _line(table: pl.DataFrame, row: int) -> int:
    return int(table.get_column(_LINE)[row])


def _log_notes(path: Path, report: dict[str, Any]) -> None:
    for note in report["notes"]:
        log.info("%s: %s", path.name, note)
    if not report["notes"]:
        del report["notes"]


def read_sample_ids(
    path: str | Path,
    *,
    gene_column: str | None = None,
    non_sample_columns: tuple[str, ...] | list[str] = (),
) -> list[str]:
    """Read the sample ids of a count matrix without reading its counts (the pre-flight's view).

    A text table's header is read from its first 4 MB; an ``.h5ad`` gives its ``obs_names``.

    Parameters
    ----------
    path
        The count matrix.
    gene_column, non_sample_columns
        As for :func:`read_count_matrix`.

    Returns
    -------
    list of str
        The sample ids, in the file's order.

    Raises
    ------
    AlsigError
        The file cannot be read, or its header has no sample column.
    """
    path = check_input_file(path)
    if path.name.endswith(".h5ad"):
        obs = _h5ad_annotation(path, read_h5ad_obs)
        return [str(n) for n in clean_names(list(obs.index)).names]
    head = _head(path, 4 << 20)
    text = prepare_text(head, path, delimiter_for(path))
    names = _column_names(text, path)
    report: dict[str, Any] = {"notes": []}
    gene = _gene_column(gene_column, names, report)
    non_sample = _with_featurecounts(names, gene, list(non_sample_columns), report)
    return _sample_columns(names, path, gene, non_sample)


def read_row_ids(path: str | Path, *, gene_column: str | None = None) -> list[str]:
    """Read the row ids (gene ids) of a count matrix without its counts (the pre-flight's view).

    The whole file is read, so the pre-flight calls this only when the header does not name the
    sheet's samples: :func:`~alsig.stages.ingest.samples.match_samples` then tells a transposed
    matrix from wrong ids, as ingest does.

    Parameters
    ----------
    path
        The count matrix (text table or ``.h5ad``, whose ids are ``var_names`` or
        ``var[gene_column]``).
    gene_column
        As for :func:`read_count_matrix`.

    Returns
    -------
    list of str
        The ids as written (stripped); empty when the gene column is not found or the table does
        not parse (the reader's own checks report those).

    Raises
    ------
    AlsigError
        The file cannot be read.
    """
    path = check_input_file(path)
    if path.name.endswith(".h5ad"):
        var = _h5ad_annotation(path, read_h5ad_var)
        ids = var[gene_column] if gene_column and gene_column in var.columns else var.index
        return [str(i).strip() for i in ids]
    sep = delimiter_for(path)
    text = prepare_text(read_text_bytes(path), path, sep)
    names = _column_names(text, path)
    gene = _gene_column(gene_column, names, {"notes": []})
    if gene not in names:
        return []
    try:
        table = pl.read_csv(
            io.BytesIO(text.data),
            separator=sep,
            has_header=False,
            skip_rows=text.skip,
            columns=[names.index(gene)],
            infer_schema=False,
            quote_char='"',
            truncate_ragged_lines=True,
        )
    except pl.exceptions.PolarsError:
        return []
    return [str(i).strip() for i in table.to_series().drop_nulls().to_list()]


def _h5ad_annotation(path: Path, read: Callable[[Path], Any]) -> Any:
    """Return ``read(path)`` (an h5ad's obs or var); an unreadable file is named."""
    try:
        return read(path)
    except Exception as exc:  # h5py raises many types for a broken file
        raise AlsigError(f"{where(path)} cannot be read as an .h5ad file: {exc}") from exc


def _head(path: Path, size: int) -> bytes:
    """Read the first ``size`` bytes of a (gzipped) text file, cut at the last full line."""
    if path.suffix == ".gz":
        try:
            with gzip.open(path, "rb") as handle:
                raw = handle.read(size)
        except (EOFError, OSError, zlib.error) as exc:
            raise AlsigError(f"{where(path)} is not a readable gzip file ({exc}).") from exc
    else:
        with open(path, "rb") as handle:
            raw = handle.read(size)
    if len(raw) == size and b"\n" in raw:
        raw = raw[: raw.rfind(b"\n") + 1]
    if not raw.strip():
        raise AlsigError(f"{where(path)} is empty; expected a table with a header line.")
    return raw


def read_gene_matrix(
    path: str | Path,
    *,
    gene_column: str | None = None,
    non_sample_columns: tuple[str, ...] | list[str] = (),
    rounding: str = "none",
    max_missing_gene_ids_fraction: float = 0.05,
    advice: InputAdvice = WORKFLOW,
) -> CountMatrix:
    """Read a count matrix by its file name, ``.h5ad`` or text table, by the same rules.

    An ``.h5ad`` goes to :func:`read_h5ad_count_matrix`, anything else to
    :func:`read_count_matrix`.

    Parameters
    ----------
    path
        ``.h5ad``, or TSV/CSV (optionally ``.gz``).
    gene_column, non_sample_columns, rounding, max_missing_gene_ids_fraction, advice
        As for :func:`read_count_matrix` (an ``.h5ad`` has no non-sample columns; its gene
        column is a ``var`` column).

    Returns
    -------
    CountMatrix
        Genes x samples integer counts.

    Raises
    ------
    AlsigError
        From the reader.
    """
    if Path(path).name.endswith(".h5ad"):
        return read_h5ad_count_matrix(
            path,
            gene_column=gene_column,
            rounding=rounding,
            max_missing_gene_ids_fraction=max_missing_gene_ids_fraction,
            advice=advice,
        )
    return read_count_matrix(
        path,
        gene_column=gene_column,
        non_sample_columns=non_sample_columns,
        rounding=rounding,
        max_missing_gene_ids_fraction=max_missing_gene_ids_fraction,
        advice=advice,
    )


def read_h5ad_count_matrix(
    path: str | Path,
    *,
    gene_column: str | None = None,
    rounding: str = "none",
    max_missing_gene_ids_fraction: float = 0.05,
    advice: InputAdvice = WORKFLOW,
) -> CountMatrix:
    """Read the counts of an ``.h5ad`` (X: samples x genes), by the rules of a text table.

    The rules are those of :mod:`alsig.validation`.

    Reads through :func:`alsig.io.read_h5ad_counts` (X, obs, var, uns; no layers). The values
    pass :func:`alsig.validation.integer_counts` (a float ``1e20`` is too large, not
    ``-9223372036854775808``); the sample ids (``obs_names``) are NFC-normalised, stripped and
    must be unique and present; the gene ids go through :func:`clean_gene_rows` like a text
    table's (``NaN``, ``Inf``, ``NA``, ``#N/A`` are missing ids, dropped and counted, never
    rescued as gene aliases); an all-zero or header-only matrix is stopped.

    Parameters
    ----------
    path
        The ``.h5ad`` file.
    gene_column
        A ``var`` column holding the gene ids (default: ``var_names``).
    rounding
        ``counts_rounding``: ``none`` (a fraction is an error) or ``round``.
    max_missing_gene_ids_fraction, advice
        As for :func:`read_count_matrix`.

    Returns
    -------
    CountMatrix
        Genes x samples, as :func:`read_count_matrix` returns (``lines`` None).

    Raises
    ------
    AlsigError
        The file is missing, a directory or unreadable, X is empty or not numeric, a count
        breaks a rule (naming the sample and gene), or the sample ids are missing or repeated.
    """
    rules.check_rounding(rounding)
    path = check_input_file(path)
    try:
        adata = read_h5ad_counts(path)
    except Exception as exc:  # h5py raises many types for a broken file
        raise AlsigError(f"{where(path)} cannot be read as an .h5ad file: {exc}") from exc
    if adata.X is None:
        raise AlsigError(f"{where(path)}: X is empty; put raw counts (samples x genes) in X.")
    report: dict[str, Any] = {"notes": []}
    samples = _h5ad_sample_ids(adata.obs_names, path, report)
    genes = _h5ad_gene_ids(adata, gene_column, path, advice)
    check_matrix_size(len(genes), len(samples), where(path))

    def locate(row: int, column: int) -> str:
        return f"{where(path)}, X sample {samples[row]!r}, gene {genes[column]!r}"

    values, n_rounded = integer_counts(
        adata.X,
        rounding=rounding,
        source=f"{where(path)}, X",
        locate=locate,
        hint=" In an .h5ad, X holds the raw counts (keep normalised values in a layer).",
        advice=advice,
    )
    if n_rounded:
        report["n_rounded_counts"] = n_rounded
        report["notes"].append(
            f"{n_rounded} non-integer count(s) rounded ({advice.rounding_setting})"
        )
    ids, counts, _ = clean_gene_rows(
        genes,
        np.ascontiguousarray(values.T),
        None,
        path=path,
        max_missing_fraction=max_missing_gene_ids_fraction,
        report=report,
    )
    check_matrix_size(len(ids), len(samples), where(path))
    counts = np.ascontiguousarray(as_counts(counts))
    report["dtype"] = str(counts.dtype)
    _log_notes(path, report)
    return CountMatrix(ids, samples, counts, path, report)


def _h5ad_sample_ids(names: Any, path: Path, report: dict[str, Any]) -> list[str]:
    """``obs_names`` cleaned (NFC, stripped); a missing or repeated id is an error."""
    cleaned = clean_names(list(names))
    report["notes"].extend(cleaned.notes("sample id(s) (obs_names)"))
    samples = [str(n) for n in cleaned.names]
    for position, name in enumerate(samples, start=1):
        if is_missing_id(name):
            raise AlsigError(
                f"{where(path)}: obs_names position {position} is {name!r}, not a sample id. "
                "Name every sample (obs_names = the sample sheet's sample ids)."
            )
    check_unique(samples, path, "sample ids (obs_names)", "Make obs_names unique.")
    return samples


def _h5ad_gene_ids(
    adata: Any, gene_column: str | None, path: Path, advice: InputAdvice
) -> list[Any]:
    """Return the gene id of each var row: ``var[gene_column]`` or ``var_names``, as read.

    A NaN stays a float, so it is recognised as missing.
    """
    if not gene_column:
        return list(adata.var_names)
    if gene_column not in adata.var.columns:
        raise AlsigError(
            f"{where(path)}: var has no column '{gene_column}' ({advice.gene_column}); var "
            f"columns: {list(map(str, adata.var.columns))}.{did_you_mean(gene_column, adata.var.columns)}"
        )
    return list(adata.var[gene_column].astype(object))
