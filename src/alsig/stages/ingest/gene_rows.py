"""Gene-id hygiene of a count matrix before harmonisation: padded ids, missing ids, HTSeq's
summary rows, copied rows, case variants and mouse-style symbols.

The duplicate rule: rows whose (whitespace-stripped) id repeats are summed later by
:func:`alsig.stages.ingest.harmonise_genes`, as for two Ensembl ids of one symbol. A repeated id
whose counts equal an earlier row's in every sample is not a second feature but a copy (a
spreadsheet paste, a concatenated file): summing would double the gene, so the copy is dropped,
logged as a warning and counted in the provenance. All-zero rows are exempt: summing or dropping
them gives the same numbers, and sparse matrices have many.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import numpy as np

from alsig.errors import AlsigError, where

log = logging.getLogger(__name__)

MISSING_IDS = frozenset({"", "na", "n/a", "nan", "null", "-"})
HTSEQ_SPECIAL = frozenset(
    {"__no_feature", "__ambiguous", "__too_low_aqual", "__not_aligned", "__alignment_not_unique"}
)
_TITLE_CASE = re.compile(r"^[A-Z][a-z0-9]*[a-z][a-z0-9.-]*$")  # Gapdh, Actb, Gm12345
_HAS_LETTER = re.compile(r"[A-Za-z]")
_NOT_SYMBOL = re.compile(r"^(\d+|ENS[A-Z]*G\d+(\.\d+)?)$")  # Entrez, Ensembl gene ids


def clean_gene_rows(
    ids: list[str | None],
    counts: np.ndarray,
    lines: np.ndarray,
    *,
    path: Path,
    max_missing_fraction: float,
    report: dict[str, Any],
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Strip ids, drop missing-id, HTSeq summary and copied rows; note case variants.

    Parameters
    ----------
    ids, counts, lines
        Gene id, counts (genes x samples) and file line of each row.
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
    """
    stripped = ["" if i is None else str(i).strip() for i in ids]
    n_padded = sum(1 for raw, s in zip(ids, stripped, strict=True) if raw is not None and raw != s)
    if n_padded:
        report["n_gene_ids_stripped"] = n_padded
        report["notes"].append(f"whitespace around {n_padded} gene id(s) removed")
    keep = _drop_missing(stripped, lines, path, max_missing_fraction, report)
    keep &= _drop_htseq(stripped, report)
    keep &= _drop_copies(stripped, counts, keep, report)
    if keep.all():  # the usual case: no copy of a matrix that can be gigabytes
        _note_case_variants(stripped, report)
        return stripped, counts, lines
    rows = np.flatnonzero(keep)
    kept = [stripped[i] for i in rows]
    _note_case_variants(kept, report)
    return kept, counts[rows], lines[rows]


def _drop_missing(
    ids: list[str], lines: np.ndarray, path: Path, max_fraction: float, report: dict[str, Any]
) -> np.ndarray:
    missing = np.array([i.lower() in MISSING_IDS for i in ids], dtype=bool)
    n = int(missing.sum())
    if not n:
        return np.ones(len(ids), dtype=bool)
    if n > max_fraction * len(ids):
        first = int(lines[np.flatnonzero(missing)[0]])
        raise AlsigError(
            f"{where(path, row=first)}: {n} of {len(ids)} rows ({n / len(ids):.1%}) have no gene "
            f"id (empty, NA, N/A, NaN, null or -), more than `max_missing_gene_ids_fraction` "
            f"({max_fraction:g}). Fill in the ids (is the gene id column the right one? see "
            "`counts_gene_column`) or raise the fraction for the dataset."
        )
    report["n_missing_gene_ids_dropped"] = n
    report["notes"].append(
        f"{n} row(s) without a gene id dropped (first at line {lines[missing][0]})"
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


def _drop_copies(
    ids: list[str], counts: np.ndarray, keep: np.ndarray, report: dict[str, Any]
) -> np.ndarray:
    """False for rows that repeat an earlier row's id and counts (see the module docstring)."""
    out = np.ones(len(ids), dtype=bool)
    first: dict[str, list[int]] = {}
    copies: list[str] = []
    for row in np.flatnonzero(keep):
        earlier = first.setdefault(ids[row], [])
        if earlier and counts[row].any() and _equals_any(counts, row, earlier):
            out[row] = False
            copies.append(ids[row])
            continue
        earlier.append(row)
    if copies:
        shown = ", ".join(map(repr, dict.fromkeys(copies)))
        report["n_identical_duplicate_rows"] = len(copies)
        report["identical_duplicates"] = list(dict.fromkeys(copies))
        log.warning(
            "%d row(s) repeat an earlier row's gene id with identical counts in every sample: "
            "a copy error, kept once (not summed): %s",
            len(copies),
            shown[:500],
        )
    return out


def _equals_any(counts: np.ndarray, row: int, earlier: list[int]) -> bool:
    return any(np.array_equal(counts[row], counts[e]) for e in earlier)


def _note_case_variants(ids: list[str], report: dict[str, Any]) -> None:
    """``gapdh`` / ``Gapdh`` next to ``GAPDH``: harmonisation maps them to one symbol and sums
    them, which is rarely what the file meant."""
    by_upper: dict[str, set[str]] = {}
    for gene in ids:
        if _HAS_LETTER.search(gene):
            by_upper.setdefault(gene.upper(), set()).add(gene)
    variants = [" / ".join(sorted(v)) for v in by_upper.values() if len(v) > 1]
    if variants:
        report["case_variant_ids"] = variants
        report["notes"].append(
            f"{len(variants)} gene id(s) occur in several letter cases (summed as one symbol): "
            + "; ".join(variants[:10])
        )


def check_species(ids: list[str], id_type: str, path: Path) -> None:
    """Raise when the symbols look like mouse/rat ones (``Gapdh``: capital then lower case);
    alsig's gene map, signatures and references are human."""
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
