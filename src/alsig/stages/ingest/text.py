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
        The file is missing, empty, or a truncated gzip file.
    """
    path = Path(path)
    if not path.exists():
        raise AlsigError(f"{where(path)} does not exist; check the path in the config.")
    raw = path.read_bytes()
    if path.suffix == ".gz":
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
    """``,`` for ``.csv[.gz]`` files, otherwise a tab."""
    name = path.name.lower().removesuffix(".gz")
    return "," if name.endswith(".csv") else "\t"


def header_fields(raw: bytes, path: Path, sep: str) -> list[str]:
    """The column names of the first line; a single column is an error that names the likely
    delimiter mix-up."""
    first = raw.split(b"\n", 1)[0].decode("utf-8", errors="replace").rstrip("\r")
    fields = [f.strip().strip('"') for f in first.split(sep)]
    if len(fields) < 2:
        other = "comma" if sep == "\t" else "tab"
        hint = (
            f" The header contains {other}s: the file looks {other}-separated; "
            f"name it .{'csv' if sep == chr(9) else 'tsv'} (optionally .gz) or convert it."
            if ("," if sep == "\t" else "\t") in first
            else ""
        )
        raise AlsigError(
            f"{where(path, row=1)}: found a single column with the "
            f"{'tab' if sep == chr(9) else 'comma'} delimiter.{hint}"
        )
    return fields


def check_unique(names: list[str], path: Path, what: str, fix: str) -> None:
    """Raise naming the first ten names that occur more than once."""
    seen: dict[str, int] = {}
    dups = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        if seen[name] == 2:
            dups.append(name)
    if dups:
        shown = ", ".join(repr(d) for d in dups[:10])
        raise AlsigError(f"{where(path)}: duplicate {what}: {shown}. {fix}")


_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_BLANKISH_LINE = re.compile(rb"(?m)^[ \t]+\r?$")


@dataclass
class PreparedText:
    """A text table ready for polars: UTF-8, header parsed, and what was repaired.

    ``skip`` is the number of lines before the first data line (comments, blank lines, the
    header): data row ``i`` (0-based) is file line ``skip + i + 1``.
    """

    data: bytes
    header: list[str]
    skip: int
    notes: list[str] = field(default_factory=list)
    stripped_names: list[str] = field(default_factory=list)

    def line(self, row: int) -> int:
        """File line number (1-based) of data row ``row`` (0-based)."""
        return self.skip + int(row) + 1


def prepare_text(raw: bytes, path: Path, sep: str) -> PreparedText:
    """Repair what spreadsheet programs and pipelines commonly write, say what was repaired.

    A UTF-8 byte-order mark is dropped, Latin-1 text is re-encoded as UTF-8, old Mac line
    endings become newlines, whitespace-only lines become blank (polars mis-reads them), and
    leading ``#`` comment lines (featureCounts' ``# Program:...``) and blank lines are skipped.
    Header names are stripped of surrounding whitespace and quotes.

    Raises
    ------
    AlsigError
        UTF-16 text, no header line, or a single-column header (the likely delimiter mix-up).
    """
    notes: list[str] = []
    if raw.startswith(_BOM):
        raw = raw[len(_BOM) :]
        notes.append("UTF-8 byte-order mark removed")
    if raw[:2] in _UTF16_BOMS:
        raise AlsigError(f"{where(path)} is UTF-16 encoded; save it as UTF-8 (or plain text).")
    raw = _as_utf8(raw, notes)
    if b"\r" in raw and b"\n" not in raw:  # classic Mac OS line endings
        raw = raw.replace(b"\r", b"\n")
        notes.append("carriage-return line endings converted to newlines")
    if _BLANKISH_LINE.search(raw):
        raw = _BLANKISH_LINE.sub(b"", raw)
    skip, first = _leading_lines(raw, path)
    if skip > 1:
        notes.append(f"{skip - 1} comment/blank line(s) before the header skipped")
    header = _parse_header(first, path, sep)
    stripped = [name for name in header if name != name.strip()]
    return PreparedText(raw, [h.strip() for h in header], skip, notes, stripped)


def _as_utf8(raw: bytes, notes: list[str]) -> bytes:
    """``raw`` when it is UTF-8 (checked only when it is not plain ASCII), else its Latin-1
    reading re-encoded: Excel on Windows still writes cp1252/Latin-1 files."""
    if raw.isascii():
        return raw
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        notes.append(f"not UTF-8 (byte {exc.start}); read as Latin-1")
        return raw.decode("latin-1").encode("utf-8")
    return raw


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
    """Text columns as categoricals with missing values as NaN: how h5ad stores them anyway."""
    for column in frame.columns:
        frame[column] = pd.Categorical([None if v is None else str(v) for v in frame[column]])
    return frame
