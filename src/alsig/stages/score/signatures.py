"""Resistance signatures: the shipped table, user GMT/TSV files, validation.

A signature is a named gene list with an *axis* (the resistance mechanism it measures) and, per
gene, a *direction*: ``up`` genes rise and ``down`` genes fall when the mechanism is active. The
shipped resource is ``resources/signatures/alsig_signatures.tsv`` (one row per signature x gene,
columns ``signature, axis, gene, direction, source``); ``alsig_signatures.gmt`` is generated from it
(``<signature>_UP`` / ``<signature>_DN`` sets) by ``scripts/build_signatures.py``.

Users may add signatures (or replace the shipped ones) with their own files from the config
(``score.extra_signatures``, ``score.replace_signatures``):

- TSV with the same columns as the shipped table (``source`` may be empty: it is then filled
  with ``user file <path>``);
- GMT (``name<TAB>description<TAB>gene...``): a set named ``X_UP`` / ``X_DN`` becomes the up /
  down part of signature ``X``; any other name is an up-only signature. The axis is taken from a
  description of the form ``axis=<axis>`` and is ``user`` otherwise.

Every problem raises :class:`~alsig.errors.AlsigError` naming the file and line.
"""

from __future__ import annotations

import csv
import gzip
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from alsig.errors import AlsigError, where
from alsig.io import open_text
from alsig.resources import signature_dir

log = logging.getLogger(__name__)

RESOURCE_DIR = signature_dir()
DEFAULT_TABLE = RESOURCE_DIR / "alsig_signatures.tsv"
DEFAULT_GMT = RESOURCE_DIR / "alsig_signatures.gmt"
TABLE_COLUMNS = ("signature", "axis", "gene", "direction", "source")
DIRECTIONS = ("up", "down")
CELL_TYPE_AXIS = "cell_type"
# Signature and axis names end up in column names (wide TSV, obsm, HDF5): keep them plain.
NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")
UP_SUFFIX, DN_SUFFIX = "_UP", "_DN"


@dataclass
class Signature:
    """One signature: up and/or down gene lists (order kept), its axis and per-gene sources."""

    name: str
    axis: str
    up: list[str] = field(default_factory=list)
    down: list[str] = field(default_factory=list)
    sources: dict[tuple[str, str], str] = field(default_factory=dict)  # (gene, direction) -> source
    origin: str = ""  # file it came from

    @property
    def genes(self) -> list[str]:
        return list(dict.fromkeys([*self.up, *self.down]))

    @property
    def is_cell_type(self) -> bool:
        return self.axis == CELL_TYPE_AXIS


def _check_name(value: str, what: str, path: Path, line: int) -> str:
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
    """``(signature name, direction)`` of a GMT set: ``X_UP``/``X_DN`` halves, else up-only."""
    upper = set_name.upper()
    if upper.endswith(UP_SUFFIX) or upper.endswith(DN_SUFFIX):
        return set_name[: -len(UP_SUFFIX)], ("up" if upper.endswith("_UP") else "down")
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
        The GMT (optionally gzipped). Sets ``X_UP`` / ``X_DN`` are the up / down part of
        signature ``X``, any other set an up-only signature; a description ``axis=<axis>`` sets
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
    from alsig.genesets import read_gmt

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


def combine_signatures(groups: Iterable[list[Signature]]) -> list[Signature]:
    """Concatenate signature lists of several files.

    Parameters
    ----------
    groups
        The signatures of each file, in order.

    Returns
    -------
    list of Signature

    Raises
    ------
    AlsigError
        A name defined in two files (naming both).
    """
    combined: dict[str, Signature] = {}
    for group in groups:
        for sig in group:
            if sig.name in combined:
                raise AlsigError(
                    f"signature '{sig.name}' is defined in both '{combined[sig.name].origin}' and "
                    f"'{sig.origin}'. Rename one, or set score.replace_signatures: true to use only "
                    "your files."
                )
            combined[sig.name] = sig
    return list(combined.values())


def configured_signatures(
    extra: Iterable[str | os.PathLike[str] | dict] | None = None,
    *,
    replace: bool = False,
    base: str | os.PathLike[str] | None = None,
) -> list[Signature]:
    """The signatures of a run.

    Parameters
    ----------
    extra
        ``score.extra_signatures``: paths or ``{path: ...}`` mappings of user files.
    replace
        ``score.replace_signatures``: use only ``extra``.
    base
        The table used instead of the shipped one (tests).

    Returns
    -------
    list of Signature
        The shipped table's signatures, then those of each ``extra`` file.

    Raises
    ------
    AlsigError
        An item without a path, ``replace`` without ``extra``, or any reader error.
    """
    paths = []
    for i, item in enumerate(extra or []):
        path = item.get("path") if isinstance(item, dict) else item
        if not path:
            raise AlsigError(f"config key score.extra_signatures[{i}]: give a file path.")
        paths.append(Path(path))
    if replace and not paths:
        raise AlsigError(
            "config key score.replace_signatures is true but score.extra_signatures is empty: "
            "there would be nothing to score."
        )
    groups = [] if replace else [read_signatures(base or DEFAULT_TABLE)]
    groups += [read_signatures(p) for p in paths]
    return combine_signatures(groups)


def harmonise_signatures(signatures: list[Signature], gene_map=None) -> dict[str, str]:
    """Rename outdated and alias symbols to current HGNC symbols, in place.

    Parameters
    ----------
    signatures
        Changed in place; two names of one gene in a signature merge into one entry.
    gene_map
        An :class:`alsig.genes.GeneMap` (default: the shipped one); its ``rename_map`` decides.

    Returns
    -------
    dict
        ``{old: new}`` for every renamed symbol.

    Raises
    ------
    AlsigError
        A renamed gene ends up both up and down in a signature.
    """
    if gene_map is None:
        from alsig.genes import GeneMap

        gene_map = GeneMap.load()
    mapping, _ = gene_map.rename_map(sorted({g for s in signatures for g in s.genes}))
    renamed = {old: new for old, new in mapping.items() if old != new}
    if not renamed:
        return renamed
    for sig in signatures:
        for attr, direction in (("up", "up"), ("down", "down")):
            new_list = list(dict.fromkeys(renamed.get(g, g) for g in getattr(sig, attr)))
            setattr(sig, attr, new_list)
            for old, new in renamed.items():
                if (old, direction) in sig.sources:
                    sig.sources.setdefault((new, direction), sig.sources.pop((old, direction)))
        clash = set(sig.up) & set(sig.down)
        if clash:
            raise AlsigError(
                f"signature '{sig.name}' ({sig.origin}): after renaming outdated symbols, gene(s) "
                f"{', '.join(sorted(clash))} are both up and down. Fix the file."
            )
    log.info("harmonised %d signature gene symbol(s): %s", len(renamed), renamed)
    return renamed


def signatures_to_gmt(signatures: list[Signature]) -> tuple[dict[str, list[str]], dict[str, str]]:
    """The GMT form of signatures, for ``alsig.genesets.write_gmt``.

    Parameters
    ----------
    signatures
        The signatures.

    Returns
    -------
    tuple
        ``({<sig>_UP / <sig>_DN: genes}, {set: "axis=<axis>;direction=<up|down>"})``.
    """
    sets: dict[str, list[str]] = {}
    descriptions: dict[str, str] = {}
    for sig in signatures:
        for suffix, genes, direction in ((UP_SUFFIX, sig.up, "up"), (DN_SUFFIX, sig.down, "down")):
            if genes:
                sets[sig.name + suffix] = list(genes)
                descriptions[sig.name + suffix] = f"axis={sig.axis};direction={direction}"
    return sets, descriptions


def signatures_to_rows(signatures: list[Signature]) -> list[dict[str, str]]:
    """The table form of signatures.

    Parameters
    ----------
    signatures
        The signatures.

    Returns
    -------
    list of dict
        One row per signature x gene with the shipped table's columns (:data:`TABLE_COLUMNS`).
    """
    rows = []
    for sig in signatures:
        for direction, genes in (("up", sig.up), ("down", sig.down)):
            for gene in genes:
                rows.append(
                    {
                        "signature": sig.name,
                        "axis": sig.axis,
                        "gene": gene,
                        "direction": direction,
                        "source": sig.sources.get((gene, direction), ""),
                    }
                )
    return rows
