"""Text tables in (whole file, delimiter, header, unique names) and text columns out (categoricals).

Every error names the file (and the line where there is one) and says how to fix it.
"""

from __future__ import annotations

import csv
import gzip
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from alsig.errors import AlsigError, where
from alsig.validation import check_input_file, clean_names, to_utf8
from alsig.validation import check_unique as _check_unique


def read_text_bytes(path: str | Path) -> bytes:
    """Whole file content, gunzipped when it ends in ``.gz``.

    Parameters
    ----------
    path
        A text table, optionally gzipped.

    Returns
    -------
    bytes
        The (decompressed) content.

    Raises
    ------
    AlsigError
        The file is missing, a directory, unreadable, empty, or a truncated gzip file.
    """
    path = check_input_file(path)
    raw = path.read_bytes()
    if path.suffix == ".gz":
        if not raw.startswith(b"\x1f\x8b"):
            raise AlsigError(
                f"{where(path)}: the name ends in .gz but the file is not gzip-compressed; "
                "rename it without .gz (or compress it)."
            )
        try:
            raw = gzip.decompress(raw)
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise AlsigError(
                f"{where(path)} is not a complete gzip file ({exc}); it is probably truncated. "
                "Download or copy it again."
            ) from exc
    if not raw.strip():
        raise AlsigError(f"{where(path)} is empty; expected a table with a header line.")
    return raw


def delimiter_for(path: Path) -> str:
    """Return the delimiter a table's file name implies.

    Parameters
    ----------
    path
        The table.

    Returns
    -------
    str
        ``,`` for ``.csv[.gz]`` files, otherwise a tab.
    """
    name = path.name.lower().removesuffix(".gz")
    return "," if name.endswith(".csv") else "\t"


#: delimiters a table may use, by name, for messages (alsig reads the first two)
DELIMITER_NAMES = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}


def header_fields(raw: bytes, path: Path, sep: str) -> list[str]:
    """Return the column names of the first line.

    Parameters
    ----------
    raw
        The table's bytes (at least its first line).
    path
        The table, for the message.
    sep
        The delimiter (:func:`delimiter_for`).

    Returns
    -------
    list of str
        The names, stripped of whitespace and quotes.

    Raises
    ------
    AlsigError
        A single column: the message names the likely delimiter mix-up.
    """
    first = raw.split(b"\n", 1)[0].decode("utf-8", errors="replace").rstrip("\r")
    fields = [f.strip().strip('"') for f in first.split(sep)]
    if len(fields) < 2:
        used = DELIMITER_NAMES[sep]
        found = [name for mark, name in DELIMITER_NAMES.items() if mark != sep and mark in first]
        hint = (
            f" The header contains {found[0]}s: the file looks {found[0]}-separated."
            if found
            else ""
        )
        raise AlsigError(
            f"{where(path, row=1)}: found a single column with the {used} delimiter.{hint} alsig "
            "reads a .csv file as comma-separated and any other as tab-separated (either may be "
            "gzipped, .gz): convert the file, or name it after its delimiter."
        )
    return fields


def check_unique(names: list[str], path: Path, what: str, fix: str) -> None:
    """Raise naming the first ten names that occur more than once.

    This is :func:`alsig.validation.check_unique` located in ``path``.

    Parameters
    ----------
    names
        Cleaned names.
    path
        The file.
    what, fix
        What the names are, and what to do.

    Raises
    ------
    AlsigError
        When a name repeats.
    """
    _check_unique(names, where(path), what, fix)


_BLANKISH_LINE = re.compile(rb"(?m)^[ \t]+\r?$")


@dataclass
class PreparedText:
    """A text table ready for polars: UTF-8, header parsed, and what was repaired.

    ``skip`` is the number of lines before the first data line (comments, blank lines, the
    header): data row ``i`` (0-based) is file line ``skip + i + 1``. ``encoding`` is the
    encoding report of :func:`alsig.validation.to_utf8`.
    """

    data: bytes
    header: list[str]
    skip: int
    notes: list[str] = field(default_factory=list)
    stripped_names: list[str] = field(default_factory=list)
    encoding: dict = field(default_factory=dict)

    def line(self, row: int) -> int:
        """Return the file line of a data row.

        Parameters
        ----------
        row
            The data row (0-based).

        Returns
        -------
        int
            The file line (1-based).
        """
        return self.skip + int(row) + 1


def prepare_text(raw: bytes, path: Path, sep: str) -> PreparedText:
    """Repair what spreadsheet programs and pipelines commonly write, say what was repaired.

    The text becomes UTF-8 (:func:`alsig.validation.to_utf8`: byte-order mark dropped,
    Windows-1252 / Latin-1 re-encoded with an encoding report), old Mac line endings become
    newlines, whitespace-only lines become blank (polars mis-reads them), and leading ``#``
    comment lines (featureCounts' ``# Program:...``) and blank lines are skipped. Header names
    are stripped of surrounding whitespace and quotes and put in Unicode NFC.

    Parameters
    ----------
    raw
        The file's bytes (decompressed).
    path
        For the messages.
    sep
        The delimiter.

    Returns
    -------
    PreparedText

    Raises
    ------
    AlsigError
        A binary file (workbook, gzip without ``.gz``, HDF5), UTF-16 text, no header line, or a
        single-column header (the likely delimiter mix-up).
    """
    decoded = to_utf8(raw, path)
    notes = list(decoded.notes)
    raw = decoded.data
    if b"\r" in raw and b"\n" not in raw:  # classic Mac OS line endings
        raw = raw.replace(b"\r", b"\n")
        notes.append("carriage-return line endings converted to newlines")
    if _BLANKISH_LINE.search(raw):
        raw = _BLANKISH_LINE.sub(b"", raw)
    skip, first = _leading_lines(raw, path)
    if skip > 1:
        notes.append(f"{skip - 1} comment/blank line(s) before the header skipped")
    header = _parse_header(first, path, sep)
    cleaned = clean_names(header)
    if cleaned.normalised:
        notes.append(f"{len(cleaned.normalised)} column name(s) normalised to Unicode NFC")
    notes.extend(cleaned.notes("column name(s)", kinds=("invisible",)))
    return PreparedText(
        raw, [str(h) for h in cleaned.names], skip, notes, cleaned.stripped, decoded.report
    )


def _leading_lines(raw: bytes, path: Path) -> tuple[int, str]:
    """``(lines up to and including the header, the header line)``."""
    start = 0
    number = 0
    while start < len(raw):
        end = raw.find(b"\n", start)
        end = len(raw) if end < 0 else end
        line = raw[start:end].rstrip(b"\r")
        number += 1
        if line.strip() and not line.startswith(b"#"):
            return number, line.decode("utf-8")
        start = end + 1
    raise AlsigError(f"{where(path)} has no header line (only comments or blank lines).")


def _parse_header(line: str, path: Path, sep: str) -> list[str]:
    fields = next(csv.reader([line], delimiter=sep, quotechar='"'))
    if len(fields) < 2:
        header_fields(line.encode("utf-8"), path, sep)  # raises with the delimiter hint
    return fields


def categorical_strings(frame: pd.DataFrame) -> pd.DataFrame:
    """Turn text columns into categoricals with missing values as NaN (how h5ad stores them).

    Parameters
    ----------
    frame
        A table of text (or None) values; changed in place.

    Returns
    -------
    pandas.DataFrame
        ``frame``, every column categorical.
    """
    for column in frame.columns:
        frame[column] = pd.Categorical([None if v is None else str(v) for v in frame[column]])
    return frame
