"""Gene-id hygiene of a count matrix before harmonisation.

Padded or non-NFC ids, missing ids (including spreadsheet error values such as ``#N/A``),
read-accounting rows (HTSeq's ``__no_feature``, STAR's ``N_unmapped``, a ``Total`` row), copied
rows, case variants and mouse-style symbols. The text and the h5ad reader both call
:func:`clean_gene_rows`; the rules are those of :mod:`alsig.validation`.

The duplicate rule: rows whose (whitespace-stripped) id repeats are summed later by
:func:`alsig.stages.ingest.harmonise.harmonise_genes`, as for two Ensembl ids of one symbol. A
repeated id (or one differing only in letter case: ``a2m`` after ``A2M``) whose counts equal an
earlier row's in every sample is not a second feature but a copy (a spreadsheet paste, a
concatenated file): summing would double the gene, so the copy is dropped, logged as a warning
and counted in the provenance. All-zero rows are exempt: summing or dropping them gives the same
numbers, and sparse matrices have many. Ids that differ only in letter case and hold different
counts are kept as separate rows (never summed: ``Gapdh`` next to ``GAPDH`` may be the mouse
gene of a xenograft), with a warning; only the current symbol maps to the gene.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import numpy as np

from alsig.errors import AlsigError, name_some, where
from alsig.validation import (
    case_variants,
    clean_names,
    is_missing_id,
    is_spreadsheet_error,
)

log = logging.getLogger(__name__)

HTSEQ_SPECIAL = frozenset(
    {"__no_feature", "__ambiguous", "__too_low_aqual", "__not_aligned", "__alignment_not_unique"}
)
#: read-accounting rows of other counters and of spreadsheets, lower case: HTSeq before 0.6
#: (no ``__``), STAR's ReadsPerGene.out.tab, featureCounts' summary, and a column total
SUMMARY_ROWS = frozenset(
    {
        *(name.removeprefix("__") for name in HTSEQ_SPECIAL),
        "n_unmapped",
        "n_multimapping",
        "n_nofeature",
        "n_ambiguous",
        "assigned",
        "total",
        "totals",
        "sum",
        "grand total",
    }
)
_FEATURECOUNTS_STATUS = "unassigned_"  # Unassigned_Unmapped, Unassigned_NoFeatures ...
_TITLE_CASE = re.compile(r"^[A-Z][a-z0-9]*[a-z][a-z0-9.-]*$")  # Gapdh, Actb, Gm12345
_HAS_LETTER = re.compile(r"[A-Za-z]")
_NOT_SYMBOL = re.compile(r"^(\d+|ENS[A-Z]*G\d+(\.\d+)?)$")  # Entrez, Ensembl gene ids


def clean_gene_rows(
    ids: list[str | None],
    counts: np.ndarray,
    lines: np.ndarray | None,
    *,
    path: Path,
    max_missing_fraction: float,
    report: dict[str, Any],
) -> tuple[list[str], np.ndarray, np.ndarray | None]:
    """NFC and strip ids, drop missing-id, HTSeq summary and copied rows; note case variants.

    Parameters
    ----------
    ids, counts, lines
        Gene id, counts (genes x samples) and file line of each row (None for an ``.h5ad``:
        messages then give the 1-based position in ``var``).
    path
        For the messages.
    max_missing_fraction
        More rows than this fraction with a missing id is an error.
    report
        Updated in place: counts and examples for the provenance, ``notes`` for the log.

    Returns
    -------
    ids, counts, lines
        The kept rows.

    Raises
    ------
    AlsigError
        More than ``max_missing_fraction`` of the rows have no gene id.
    """
    cleaned = clean_names(ids)
    stripped = ["" if i is None else i for i in cleaned.names]
    if cleaned.stripped:
        report["n_gene_ids_stripped"] = len(cleaned.stripped)
        report["notes"].append(f"whitespace around {len(cleaned.stripped)} gene id(s) removed")
    if cleaned.normalised:
        report["n_gene_ids_nfc"] = len(cleaned.normalised)
        report["notes"].extend(cleaned.notes("gene id(s)", kinds=("normalised",)))
    if cleaned.invisible:
        report["n_gene_ids_invisible"] = len(cleaned.invisible)
        report["notes"].extend(cleaned.notes("gene id(s)", kinds=("invisible",)))
    # an .h5ad has no lines: messages give the 1-based position in var
    where_rows = np.arange(1, len(stripped) + 1) if lines is None else lines
    keep = _drop_missing(stripped, where_rows, path, max_missing_fraction, report, lines is None)
    keep &= _drop_htseq(stripped, report)
    keep &= _drop_summary_rows(stripped, report)
    keep &= _drop_copies(stripped, counts, keep, report)
    if keep.all():  # the usual case: no copy of a matrix that can be gigabytes
        _note_case_variants(stripped, report)
        return stripped, counts, lines
    rows = np.flatnonzero(keep)
    kept = [stripped[i] for i in rows]
    _note_case_variants(kept, report)
    return kept, counts[rows], None if lines is None else lines[rows]


def _drop_missing(
    ids: list[str],
    lines: np.ndarray,
    path: Path,
    max_fraction: float,
    report: dict[str, Any],
    h5ad: bool,
) -> np.ndarray:
    missing = np.array([is_missing_id(i) for i in ids], dtype=bool)
    n = int(missing.sum())
    if not n:
        return np.ones(len(ids), dtype=bool)
    first = int(lines[np.flatnonzero(missing)[0]])
    located = f"{where(path)}, var position {first}" if h5ad else where(path, row=first)
    if n > max_fraction * len(ids):
        raise AlsigError(
            f"{located}: {n} of {len(ids)} rows ({n / len(ids):.1%}) have no gene id (empty, NA, "
            "N/A, NaN, null, -, Inf or a spreadsheet error such as #N/A), more than "
            f"`max_missing_gene_ids_fraction` ({max_fraction:g}). Fill in the ids (is the gene "
            "id column the right one? see `counts_gene_column`) or raise the fraction for the "
            "dataset."
        )
    report["n_missing_gene_ids_dropped"] = n
    place = f"var position {first}" if h5ad else f"line {first}"
    report["notes"].append(f"{n} row(s) without a gene id dropped (first at {place})")
    errors = sorted({ids[i] for i in np.flatnonzero(missing) if is_spreadsheet_error(ids[i])})
    if errors:
        n_errors = sum(1 for i in np.flatnonzero(missing) if is_spreadsheet_error(ids[i]))
        report["n_spreadsheet_error_ids"] = n_errors
        report["spreadsheet_error_ids"] = errors
        log.warning(
            "%s: %d row(s) have a spreadsheet error value as gene id (%s): the cells held "
            "formula errors, not gene names; dropped with the rows above, never summed into "
            "one gene",
            path.name,
            n_errors,
            ", ".join(errors),
        )
    return ~missing


def _drop_htseq(ids: list[str], report: dict[str, Any]) -> np.ndarray:
    """HTSeq-count's read-accounting rows (``__no_feature`` ...) are not genes."""
    special = np.array([i.lower() in HTSEQ_SPECIAL for i in ids], dtype=bool)
    if special.any():
        names = [ids[i] for i in np.flatnonzero(special)]
        report["htseq_rows_dropped"] = names
        report["notes"].append(f"HTSeq-count summary rows dropped: {', '.join(names)}")
    return ~special


def _drop_summary_rows(ids: list[str], report: dict[str, Any]) -> np.ndarray:
    """Other counters' read-accounting rows and a ``Total`` row (:data:`SUMMARY_ROWS`).

    Kept, such a row would be a "gene" holding every read of the library.
    """
    summary = np.array(
        [i.lower() in SUMMARY_ROWS or i.lower().startswith(_FEATURECOUNTS_STATUS) for i in ids],
        dtype=bool,
    )
    if summary.any():
        names = [ids[i] for i in np.flatnonzero(summary)]
        report["summary_rows_dropped"] = names
        shown = name_some(names, show=repr)
        report["notes"].append(
            f"{len(names)} read-accounting or total row(s) dropped (not genes): {shown}"
        )
    return ~summary


def _drop_copies(
    ids: list[str], counts: np.ndarray, keep: np.ndarray, report: dict[str, Any]
) -> np.ndarray:
    """Mark rows that repeat an earlier row's id and counts False (see the module docstring).

    The id is compared after case folding: ``a2m`` with ``A2M``'s counts is the same copy.
    """
    out = np.ones(len(ids), dtype=bool)
    first: dict[str, list[int]] = {}
    copies: list[str] = []
    shown: dict[str, None] = {}
    for row in np.flatnonzero(keep).tolist():
        earlier = first.setdefault(ids[row].casefold(), [])
        original = first_equal_row(counts, row, earlier) if counts[row].any() else None
        if original is not None:
            out[row] = False
            copies.append(ids[row])
            same = ids[original] == ids[row]
            shown[repr(ids[row]) if same else f"{ids[row]!r} (= {ids[original]!r})"] = None
            continue
        earlier.append(row)
    if copies:
        report["n_identical_duplicate_rows"] = len(copies)
        report["identical_duplicates"] = list(dict.fromkeys(copies))
        names = list(shown)
        log.warning(
            "%d row(s) repeat an earlier row's id (the same, or differing only in letter case) "
            "with identical counts in every sample: a copy error, kept once (not summed): %s",
            len(copies),
            name_some(names),
        )
    return out


def first_equal_row(counts: np.ndarray, row: int, earlier: list[int]) -> int | None:
    """Return the first of ``earlier`` whose counts equal ``row``'s in every sample.

    Parameters
    ----------
    counts
        Genes x samples.
    row
        The row looked at.
    earlier
        Rows before it (of the same id or gene).

    Returns
    -------
    int or None
        That row, or None when no earlier row is equal.
    """
    return next((e for e in earlier if np.array_equal(counts[row], counts[e])), None)


def _note_case_variants(ids: list[str], report: dict[str, Any]) -> None:
    """Warn about ids that differ only in letter case (``gapdh`` / ``Gapdh`` next to ``GAPDH``).

    They stay separate rows: harmonisation maps the current symbol only (an alias is not
    rescued onto a gene already present), so the others are counted as unmapped.
    """
    variants = [" / ".join(group) for group in case_variants(ids)]
    if variants:
        report["case_variant_ids"] = variants
        log.warning(
            "%d id(s) occur in several letter cases with different counts, kept as separate rows "
            "(not summed; only the current symbol maps to its gene, the other spellings are "
            "counted as unmapped): %s. If the rows are one gene, sum them in the file; if one "
            "belongs to another species or annotation, remove it",
            len(variants),
            name_some(variants, sep="; "),
        )


def check_species(ids: list[str], id_type: str, path: Path) -> None:
    """Raise when the symbols look like mouse/rat ones (``Gapdh``: capital then lower case).

    alsig's gene map, signatures and references are human.

    Parameters
    ----------
    ids
        The matrix's gene ids.
    id_type
        ``datasets.<id>.gene_id_type``; only ``symbol`` and ``auto`` are checked.
    path
        The count matrix, for the message.

    Raises
    ------
    AlsigError
        When more than half of the symbols are written in title case.
    """
    if id_type not in ("symbol", "auto"):
        return
    symbols = [g for g in ids if _HAS_LETTER.search(g) and not _NOT_SYMBOL.match(g)]
    title = [g for g in symbols if _TITLE_CASE.match(g)]
    if symbols and len(title) > 0.5 * len(symbols):
        raise AlsigError(
            f"{where(path)}: {len(title)} of {len(symbols)} gene symbols are written like mouse "
            f"or rat genes ({', '.join(map(repr, title[:5]))}); alsig is for human RNA-seq (HGNC "
            "symbols such as 'GAPDH'). Map the genes to human orthologues first if this is a "
            "model organism."
        )
