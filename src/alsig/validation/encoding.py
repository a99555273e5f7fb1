r"""Text encodings of input tables: UTF-8 in, and a report when a file is not UTF-8.

Spreadsheet programs still write Windows-1252 (Excel on Windows) or Latin-1, and some write
UTF-16. A UTF-8 byte-order mark is dropped; UTF-16 stops with a message (its text would read
as ``\x00`` between every letter); any other non-UTF-8 file is read as Windows-1252 (Latin-1
for the five bytes Windows-1252 leaves undefined), and the report says where the first
non-UTF-8 byte is, how many lines have one and how the text was read, so a mis-read name can
be traced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from alsig.errors import AlsigError, where

_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


@dataclass
class Decoded:
    """A file's text as UTF-8 bytes and how it was decoded.

    Attributes
    ----------
    data
        UTF-8 bytes (byte-order mark removed).
    encoding
        ``utf-8`` or ``cp1252`` / ``latin-1`` (what the bytes were read as).
    notes
        What was done, one line each, for the log and the provenance.
    report
        ``encoding``, and for a non-UTF-8 file ``first_non_utf8_line`` and ``n_non_utf8_lines``.
    """

    data: bytes
    encoding: str = "utf-8"
    notes: list[str] = field(default_factory=list)
    report: dict = field(default_factory=dict)


def to_utf8(raw: bytes, path: str | Path) -> Decoded:
    """``raw`` as UTF-8, with the encoding report of the module docstring.

    Parameters
    ----------
    raw
        The file's bytes (decompressed).
    path
        For the messages.

    Returns
    -------
    Decoded

    Raises
    ------
    AlsigError
        The file is UTF-16 (with or without a byte-order mark).
    """
    notes: list[str] = []
    kind = binary_kind(raw)
    if kind:
        raise AlsigError(f"{where(path)} is {kind}, not a text table. {_BINARY_FIX[kind]}")
    if raw.startswith(_BOM):
        raw = raw[len(_BOM) :]
        notes.append("UTF-8 byte-order mark removed")
    if raw[:2] in _UTF16_BOMS or _looks_utf16(raw):
        raise AlsigError(f"{where(path)} is UTF-16 encoded; save it as UTF-8 (or plain text).")
    if raw.isascii():
        return Decoded(raw, "utf-8", notes, {"encoding": "utf-8"})
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _legacy(raw, exc.start, notes)
    return Decoded(raw, "utf-8", notes, {"encoding": "utf-8"})


def _looks_utf16(raw: bytes) -> bool:
    """UTF-16 without a byte-order mark: every other byte of ASCII text is NUL."""
    head = raw[:200]
    if len(head) < 4:
        return False
    return max(head[0::2].count(0), head[1::2].count(0)) >= 0.8 * (len(head) // 2)


_MAGIC = (
    (b"PK\x03\x04", "a zip archive (an Excel .xlsx workbook?)"),
    (b"\x1f\x8b", "gzip-compressed"),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file (an .h5ad?)"),
    (b"\xd0\xcf\x11\xe0", "an old Excel .xls workbook"),
)
_BINARY_FIX = {
    "a zip archive (an Excel .xlsx workbook?)": "Export the sheet as TSV or CSV (UTF-8).",
    "gzip-compressed": "Name it with a .gz ending (e.g. counts.tsv.gz) so it is decompressed.",
    "an HDF5 file (an .h5ad?)": "Name it with the .h5ad ending so it is read as AnnData.",
    "an old Excel .xls workbook": "Export the sheet as TSV or CSV (UTF-8).",
}


def binary_kind(raw: bytes) -> str | None:
    """Tell what a binary file given as a text table is (a workbook, gzip, HDF5), if any.

    Parameters
    ----------
    raw
        The file's first bytes (or all of them).

    Returns
    -------
    str or None
    """
    for magic, kind in _MAGIC:
        if raw.startswith(magic):
            return kind
    return None


def _legacy(raw: bytes, first_bad: int, notes: list[str]) -> Decoded:
    """Decode non-UTF-8 bytes as Windows-1252 (else Latin-1) with the encoding report."""
    try:
        text, encoding = raw.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        text, encoding = raw.decode("latin-1"), "latin-1"
    lines = raw.split(b"\n")
    bad_lines = [i + 1 for i, line in enumerate(lines) if not _is_utf8(line)]
    line = raw.count(b"\n", 0, first_bad) + 1
    start = raw.rfind(b"\n", 0, first_bad) + 1
    end = raw.find(b"\n", first_bad)
    snippet = raw[start : end if end >= 0 else len(raw)].decode(encoding, errors="replace")
    name = "Windows-1252" if encoding == "cp1252" else "Latin-1"
    notes.append(
        f"not UTF-8: {len(bad_lines)} line(s) hold non-UTF-8 bytes, the first at line {line} "
        f"(byte 0x{raw[first_bad]:02X}: {snippet.strip()[:60]!r}); read as {name}. Check the "
        "names there, and save the file as UTF-8 to read it unchanged."
    )
    report = {
        "encoding": encoding,
        "first_non_utf8_line": line,
        "n_non_utf8_lines": len(bad_lines),
    }
    return Decoded(text.encode("utf-8"), encoding, notes, report)


def _is_utf8(line: bytes) -> bool:
    """Tell whether ``line`` decodes as UTF-8."""
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
