"""Reading signature files: tables (TSV) and GMT files.

Each problem is an error naming the file, line and column.

- TSV with the columns ``signature, axis, gene, direction, source`` (the shipped table's;
  ``source`` may be empty in a user file: it is then ``user file <path>``);
- GMT (``name<TAB>description<TAB>gene...``): a set named ``X_UP`` / ``X_DN`` (or ``X_DOWN``;
  any case) becomes the up / down part of signature ``X``; any other name is an up-only
  signature. The axis is taken from a
  description of the form ``axis=<axis>`` and is ``user`` otherwise.
"""

from __future__ import annotations

import csv
import gzip
import logging
import os
import re
from collections.abc import Iterable
from pathlib import Path

from alsig.errors import AlsigError, where
from alsig.genesets import read_gmt
from alsig.io import open_text
from alsig.resources import signature_dir
from alsig.signatures.model import (
    DIRECTIONS,
    DN_SUFFIX,
    DOWN_SUFFIX,
    NAME_PATTERN,
    TABLE_COLUMNS,
    UP_SUFFIX,
    Signature,
)

log = logging.getLogger(__name__)

#: The shipped signature table: every gene of it needs a source.
DEFAULT_TABLE = signature_dir() / "alsig_signatures.tsv"


def _check_name(value: str, what: str, path: Path, line: int | None) -> str:
    value = value.strip()
    if not NAME_PATTERN.match(value):
        raise AlsigError(
            f"{where(path, row=line, column=what)}: {what} '{value}' is not a valid name (start with "
            "a letter; then letters, digits, '_', '.', '-'). Rename it."
        )
    return value


def _table_columns(reader: Iterable[list[str]], table: Path) -> tuple[dict[str, int], int]:
    """Positions of the signature-table columns in the header, and the header's width."""
    header = next(iter(reader), None)
    if header is None:
        raise AlsigError(f"{where(table)}: the file is empty.")
    header = [h.strip() for h in header]
    missing = [c for c in TABLE_COLUMNS if c not in header and c != "source"]
    if missing:
        raise AlsigError(
            f"{where(table, row=1)}: missing column(s) {', '.join(missing)}; a signature "
            f"table needs the tab-separated columns {', '.join(TABLE_COLUMNS)}."
        )
    return {name: header.index(name) for name in TABLE_COLUMNS if name in header}, len(header)


def _table_row(
    row: list[str], col: dict[str, int], table: Path, line_no: int
) -> tuple[str, str, str, str, str]:
    """``(signature, axis, gene, direction, source)`` of one table row, checked."""
    name = _check_name(row[col["signature"]], "signature", table, line_no)
    axis = _check_name(row[col["axis"]], "axis", table, line_no)
    gene = row[col["gene"]].strip()
    if not gene or any(c.isspace() for c in gene):
        raise AlsigError(
            f"{where(table, row=line_no, column='gene')}: gene '{gene}' is empty or "
            "contains spaces; write one HGNC symbol per row."
        )
    direction = row[col["direction"]].strip().lower()
    if direction not in DIRECTIONS:
        raise AlsigError(
            f"{where(table, row=line_no, column='direction')}: direction "
            f"'{row[col['direction']]}' must be 'up' or 'down'."
        )
    source = row[col["source"]].strip() if "source" in col else ""
    if not source:
        if table.resolve() == DEFAULT_TABLE.resolve():
            raise AlsigError(
                f"{where(table, row=line_no, column='source')}: every gene of the "
                "shipped table needs a source."
            )
        source = f"user file {table}"
    return name, axis, gene, direction, source


class _TableSignatures:
    """Signatures collected row by row from one table, with the checks across rows."""

    def __init__(self, table: Path) -> None:
        self.table = table
        self.signatures: dict[str, Signature] = {}
        self.seen: dict[tuple[str, str], tuple[str, int]] = {}  # (sig, gene) -> (dir, line)

    def add(self, name: str, axis: str, gene: str, direction: str, source: str, line: int) -> None:
        table = self.table
        sig = self.signatures.get(name)
        if sig is None:
            sig = self.signatures[name] = Signature(name=name, axis=axis, origin=str(table))
        elif sig.axis != axis:
            raise AlsigError(
                f"{where(table, row=line, column='axis')}: signature '{name}' has axis "
                f"'{axis}' here but '{sig.axis}' on an earlier line; one signature has "
                "one axis."
            )
        key = (name, gene)
        if key in self.seen:
            first_dir, first_line = self.seen[key]
            what = "twice" if first_dir == direction else "as both up and down"
            raise AlsigError(
                f"{where(table, row=line)}: gene '{gene}' is listed {what} in signature "
                f"'{name}' (first on line {first_line}). Keep one row."
            )
        self.seen[key] = (direction, line)
        (sig.up if direction == "up" else sig.down).append(gene)
        sig.sources[(gene, direction)] = source


def read_signature_table(path: str | os.PathLike[str]) -> list[Signature]:
    """Read a signature TSV (``signature, axis, gene, direction, source``; extra columns ignored).

    Parameters
    ----------
    path
        The TSV (optionally gzipped). Blank lines and lines starting with ``#`` are skipped; an
        empty ``source`` becomes ``user file <path>`` (the shipped table needs every source).

    Returns
    -------
    list of Signature
        In the order of their first row; genes in file order.

    Raises
    ------
    AlsigError
        Naming the file, line and column: missing columns, bad names, genes or directions, a
        signature with two axes, a gene listed twice, or no signature row at all.
    """
    table = Path(path)
    if not table.exists():
        raise AlsigError(f"signature file '{table}' does not exist; check the path in the config.")
    collected = _TableSignatures(table)
    try:
        with open_text(table, newline="") as handle:
            reader = csv.reader(handle, delimiter="\t")
            col, width = _table_columns(reader, table)
            for line_no, row in enumerate(reader, start=2):
                if not row or not "".join(row).strip() or row[0].startswith("#"):
                    continue
                if len(row) < width:
                    row = row + [""] * (width - len(row))
                collected.add(*_table_row(row, col, table, line_no), line_no)
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError, csv.Error) as exc:
        raise AlsigError(
            f"{where(table)}: cannot be read as a tab-separated text file: {exc}"
        ) from exc
    if not collected.signatures:
        raise AlsigError(f"{where(table)}: contains no signature rows.")
    return list(collected.signatures.values())


def _gmt_descriptions(gmt: Path, sets: dict[str, list[str]]) -> dict[str, tuple[str, int]]:
    """``{set name: (description, line number)}`` of a GMT file (``read_gmt`` drops both)."""
    descriptions: dict[str, tuple[str, int]] = {}
    with open_text(gmt, newline="") as handle:
        for line_no, raw in enumerate(handle, start=1):
            fields = raw.rstrip("\r\n").split("\t")
            if len(fields) >= 2 and fields[0].strip() in sets:
                descriptions[fields[0].strip()] = (fields[1].strip(), line_no)
    return descriptions


def _gmt_part(set_name: str) -> tuple[str, str]:
    """``(signature name, direction)`` of a GMT set: ``X_UP``/``X_DN``/``X_DOWN`` halves, else up-only."""
    upper = set_name.upper()
    for suffix, direction in ((UP_SUFFIX, "up"), (DN_SUFFIX, "down"), (DOWN_SUFFIX, "down")):
        if upper.endswith(suffix):
            return set_name[: -len(suffix)], direction
    return set_name, "up"


def _add_gmt_set(
    signatures: dict[str, Signature],
    gmt: Path,
    set_name: str,
    genes: list[str],
    description: str,
    line_no: int | None,
) -> None:
    base, direction = _gmt_part(set_name)
    name = _check_name(base, "signature", gmt, line_no)
    match = re.search(r"(?:^|\s|;)axis=([^\s;]+)", description)
    axis = _check_name(match.group(1), "axis", gmt, line_no) if match else "user"
    sig = signatures.setdefault(name, Signature(name=name, axis=axis, origin=str(gmt)))
    if match and sig.axis != axis:
        raise AlsigError(
            f"{where(gmt, row=line_no)}: set '{set_name}' gives axis '{axis}' but the other "
            f"half of signature '{name}' gives '{sig.axis}'."
        )
    target = sig.up if direction == "up" else sig.down
    if target:
        raise AlsigError(
            f"{where(gmt, row=line_no)}: signature '{name}' has two {direction} sets "
            f"('{name}' and '{set_name}'); name them {name}_UP / {name}_DN."
        )
    other = set(sig.down if direction == "up" else sig.up)
    both = [g for g in genes if g in other]
    if both:
        raise AlsigError(
            f"{where(gmt, row=line_no)}: gene(s) {', '.join(both[:5])} are in both the up and "
            f"the down set of signature '{name}'."
        )
    target.extend(genes)
    for gene in genes:
        sig.sources[(gene, direction)] = f"user file {gmt}"


def read_signature_gmt(path: str | os.PathLike[str]) -> list[Signature]:
    """Read a user GMT file as signatures.

    Parameters
    ----------
    path
        The GMT (optionally gzipped). Sets ``X_UP`` / ``X_DN`` (or ``X_DOWN``; any case) are
        the up / down part of signature ``X``, any other set an up-only signature; a description ``axis=<axis>`` sets
        the axis (default ``user``). Every gene's source is ``user file <path>``.

    Returns
    -------
    list of Signature

    Raises
    ------
    AlsigError
        Naming the file and line: bad names, two halves with different axes, two up (down) sets
        of one signature, or a gene in both halves.
    """
    gmt = Path(path)
    sets = read_gmt(gmt)
    descriptions = _gmt_descriptions(gmt, sets)
    signatures: dict[str, Signature] = {}
    for set_name, genes in sets.items():
        description, line_no = descriptions.get(set_name, ("", None))
        _add_gmt_set(signatures, gmt, set_name, genes, description, line_no)
    return list(signatures.values())


def read_signatures(path: str | os.PathLike[str]) -> list[Signature]:
    """Read a signature file of either format.

    Parameters
    ----------
    path
        A GMT (``.gmt``/``.gmt.gz``, :func:`read_signature_gmt`) or a signature table
        (anything else, :func:`read_signature_table`).

    Returns
    -------
    list of Signature
    """
    name = Path(path).name.lower()
    if name.endswith(".gmt") or name.endswith(".gmt.gz"):
        return read_signature_gmt(path)
    return read_signature_table(path)
