"""Genes: map the count matrix's ids to current symbols and sum the rows of one symbol.

The map is :class:`alsig.genes.GeneMap`; the checks before it are :func:`harmonise_checked`'s.
"""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from alsig.counts import as_counts
from alsig.errors import AlsigError, name_some, where
from alsig.genes import GeneMap, GeneRecord, HarmonisationReport, mapping_table
from alsig.keys import CHROMOSOME, GENE_ID
from alsig.stages.ingest.counts import CountMatrix
from alsig.stages.ingest.gene_rows import check_species, first_equal_row
from alsig.stages.ingest.text import categorical_strings
from alsig.validation import (
    check_distinct_libraries,
    check_libraries,
    check_mapped_share,
    detect_id_type,
    repair_entrez_floats,
)
from alsig.validation.advice import WORKFLOW, InputAdvice

log = logging.getLogger(__name__)


class HarmonisedGenes(NamedTuple):
    """The count matrix after harmonisation (unpacks as ``counts, var, report``)."""

    counts: np.ndarray  # int32 (int64 when a count needs it), genes x samples, one per symbol
    var: pd.DataFrame  # index: symbol; gene_id, symbol, ensembl_id, biotype, chromosome, input_ids
    report: dict[str, Any]  # how ids were resolved and rows summed (``uns['provenance']``)


class _Summed(NamedTuple):
    counts: np.ndarray  # int64, one row per symbol
    symbols: pd.Index  # the unique symbols, in order of first occurrence
    first: np.ndarray  # input row of each symbol's first occurrence
    merged: dict[str, list[str]]  # symbol -> the input ids summed into it (duplicates only)
    n_duplicate_rows: int
    copies: dict[str, list[str]]  # symbol -> its ids, when a row repeated another's counts
    n_copy_rows: int  # rows dropped as copies of another id's row of the same gene


def harmonise_genes(
    counts: np.ndarray,
    gene_ids: list[str],
    *,
    id_type: str = "auto",
    gene_map: GeneMap | None = None,
    fallback_symbols: dict[str, str] | None = None,
) -> HarmonisedGenes:
    """Map ids to canonical symbols and sum rows that end up with the same symbol.

    Parameters
    ----------
    counts
        Genes x samples integer counts.
    gene_ids
        One id per row of ``counts``.
    id_type
        ``auto``, ``symbol``, ``entrez`` or ``ensembl``.
    gene_map
        Default: the shipped map.
    fallback_symbols
        Input id -> symbol for ids the map does not know, e.g. the Symbol column of NCBI's
        annotation for Entrez ids newer than the shipped map.

    Returns
    -------
    HarmonisedGenes
        ``counts`` (genes x samples; int32, or int64 when a summed count needs it), ``var``
        and the ``report``.
    """
    gene_map = gene_map or GeneMap.load()
    records, report = gene_map.harmonise(gene_ids, id_type)
    if fallback_symbols:
        _rescue_with_annotation(records, report, gene_map, fallback_symbols)
    summed = _sum_duplicates(counts, records)
    var = _gene_var(records, summed)
    summary = _report(report, summed, gene_map)
    unmapped = [r.input_id for r in records if r.how == "unmapped"]
    summary["unmapped_ids"] = unmapped[:UNMAPPED_KEPT]
    return HarmonisedGenes(as_counts(summed.counts), var, summary)


def harmonise_checked(
    matrix: CountMatrix,
    *,
    id_type: str = "auto",
    min_mapped_fraction: float = 0.5,
    id_type_key: str = "gene_id_type",
    threshold_key: str | None = None,
    fallback_symbols: dict[str, str] | None = None,
    advice: InputAdvice = WORKFLOW,
) -> HarmonisedGenes:
    """Run the gene checks every count matrix passes, then :func:`harmonise_genes`.

    In order: the matrix is not transposed (gene ids as column names); no sample is an empty
    library and no two samples hold identical counts (named by id); the symbols are not mouse-style;
    Entrez ids written as numbers (``7157.0``) are repaired when the ids are read as Entrez
    (``auto``/``entrez``); the id type is detected; after harmonising, at least
    ``min_mapped_fraction`` of the ids must map to a known human gene, else the run stops naming
    the detected id type and the keys. Repairs go into ``matrix.report`` (logged), the detected
    type and the mapped share into the returned report.

    Parameters
    ----------
    matrix
        Genes x samples from a reader (TE rows already moved out).
    id_type
        ``gene_id_type``: ``auto``, ``symbol``, ``entrez`` or ``ensembl``.
    min_mapped_fraction
        The smallest share of ids that must map (``min_mapped_gene_fraction``).
    id_type_key, threshold_key
        How the user sets those two, for the message (``datasets.<id>.gene_id_type``); no
        threshold key when it cannot be set (``alsig score``).
    fallback_symbols
        As for :func:`harmonise_genes`.
    advice
        What an empty library's message tells the user to do (the workflow's by default).

    Returns
    -------
    HarmonisedGenes
        As :func:`harmonise_genes`; its report adds the detected id type and the mapped share.

    Raises
    ------
    AlsigError
        A transposed matrix (samples as rows), an empty library, two identical libraries,
        mouse-style symbols, or too few ids mapped.
    """
    check_not_transposed(matrix)
    check_libraries(
        matrix.counts, matrix.sample_ids, where(matrix.path), remedy=advice.empty_library
    )
    check_distinct_libraries(matrix.counts, matrix.sample_ids, where(matrix.path))
    check_species(matrix.gene_ids, id_type, matrix.path)
    ids, repaired = repair_entrez_floats(list(matrix.gene_ids), id_type)
    if repaired:
        matrix.report["n_entrez_ids_written_as_numbers"] = len(repaired)
        note = (
            f"{len(repaired)} Entrez id(s) written as numbers read as Entrez ids "
            f"(e.g. {repaired[0]!r} -> {repaired[0].split('.')[0]!r})"
        )
        matrix.report.setdefault("notes", []).append(note)
        log.warning("%s: %s", matrix.path.name, note)
    guess = detect_id_type(ids)
    genes = harmonise_genes(matrix.counts, ids, id_type=id_type, fallback_symbols=fallback_symbols)
    share = check_mapped_share(
        genes.report["resolved_by"],
        guess,
        id_type=id_type,
        threshold=min_mapped_fraction,
        location=where(matrix.path),
        id_type_key=id_type_key,
        threshold_key=threshold_key,
    )
    genes.report.update(guess.as_dict())
    genes.report["mapped_fraction"] = round(share, 4)
    n_ids = int(genes.report["n_input"])
    n_unmapped = int(genes.report["resolved_by"].get("unmapped", 0))
    log.info(
        "%s: gene ids look like %s; %s map to a known human gene%s",
        matrix.path.name,
        guess.describe(),
        share_text(n_ids - n_unmapped, n_ids),
        _unmapped_text(genes.report["unmapped_ids"], n_unmapped),
    )
    _warn_damaged_ids(genes.report["unmapped_ids"], matrix.path)
    return genes


#: unmapped ids kept in the provenance (``gene_harmonisation.unmapped_ids``)
UNMAPPED_KEPT = 100
#: ``ABCA1.1``: R's ``make.unique`` (or a spreadsheet) suffix on a repeated name
_NUMBERED_COPY = re.compile(r"^(.+)\.(\d+)$")
#: dates and date-times a spreadsheet or date parser makes of names such as SEPT2 / MARCH1
_DATE_LIKE = re.compile(
    r"^(\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2})?)?"
    r"|\d{1,2}/\d{1,2}/\d{2,4}"
    r"|\d{1,2}[-. ]?[A-Za-z]{3,4}\.?"
    r"|[A-Za-z]{3,4}[-. ]\d{1,2})$"
)


def share_text(n_part: int, n_all: int) -> str:
    """``5,998 of 6,000 (99.97%)``: never ``100.0%`` unless all, never ``0.0%`` unless none.

    Parameters
    ----------
    n_part, n_all
        The count and the total.

    Returns
    -------
    str
    """
    if not n_all:
        return "0 of 0"
    percent = 100 * n_part / n_all
    if 0 < n_part < n_all:
        # one decimal, or as many as it takes to be neither 0 nor 100 (floor below 100: a
        # share short of all must not read as all)
        for digits in (1, 2, 3, 4):
            shown = math.floor(percent * 10**digits) / 10**digits
            if 0 < shown < 100:
                return f"{n_part:,} of {n_all:,} ({shown:.{digits}f}%)"
    return f"{n_part:,} of {n_all:,} ({percent:.1f}%)"


def _unmapped_text(unmapped: list[str], n_unmapped: int) -> str:
    """``; 2 unmapped, kept under their ids: 'ABCA1.1', 'X' ...`` (at most ten named)."""
    if not n_unmapped:
        return ""
    shown = ", ".join(map(repr, unmapped[:10]))
    more = f" and {n_unmapped - 10:,} more" if n_unmapped > 10 else ""
    return f"; {n_unmapped:,} unmapped, kept under their ids: {shown}{more}"


def _warn_damaged_ids(unmapped: list[str], path: Path, gene_map: GeneMap | None = None) -> None:
    """Warn about unmapped ids that are a gene's name damaged by a spreadsheet or R.

    ``ABCA1.1`` (``make.unique``) and dates that no gene name explains (those that one does
    are repaired or reported by :class:`~alsig.genes.GeneMap`) leave the gene out under its
    symbol; the fix is in the file.
    """
    gene_map = gene_map or GeneMap.load()
    suffixed = []
    for gene in unmapped:
        match = _NUMBERED_COPY.match(gene)
        if match and match.group(1) in gene_map.by_symbol:
            suffixed.append(f"{gene!r} ({match.group(1)})")
    if suffixed:
        log.warning(
            "%s: %d unmapped gene id(s) are a gene symbol with a '.N' suffix (R's make.unique "
            "on a repeated name, or a spreadsheet): %s. They are kept as written, so the gene "
            "is not counted under its symbol; write the symbol (sum repeated rows) in the file",
            path.name,
            len(suffixed),
            name_some(suffixed),
        )
    dates = [gene for gene in unmapped if _DATE_LIKE.match(gene)]
    if dates:
        log.warning(
            "%s: %d unmapped gene id(s) are dates, a spreadsheet's reading of a gene name (SEPT2 "
            "-> 2-Sep) that matches no gene: %s. They are kept as written; export the gene "
            "column as text and write the current symbols",
            path.name,
            len(dates),
            name_some(dates, show=repr),
        )


#: a matrix is transposed when at least this share of its column names are current human gene
#: ids and fewer than this share of its row ids are
TRANSPOSED_SHARE = 0.5
#: ... and it has at least this many columns (a few samples named like genes are no evidence)
TRANSPOSED_MIN_COLUMNS = 5
#: how an id resolves when it is a current gene id as written (aliases and retired symbols
#: are not: sample names such as ``S1`` are aliases, of PSMD1)
EXACT_IDS = frozenset({"symbol", "entrez", "ensembl"})


def check_not_transposed(matrix: CountMatrix, gene_map: GeneMap | None = None) -> None:
    """Raise when the count matrix is samples x genes.

    A sample sheet finds its samples as row ids (:mod:`alsig.stages.ingest.samples`); without
    one (``alsig score``) the gene ids are the evidence: most column names are current human gene
    ids, most row ids are not. Otherwise a transposed table fails later naming gene columns as
    empty "libraries", or, with sample names that are gene aliases (``S1``, ``S2``), passes
    and is scored as samples named after genes.

    Parameters
    ----------
    matrix
        The count matrix as read (genes expected as rows).
    gene_map
        Default: the shipped map.

    Raises
    ------
    AlsigError
        Naming the shares and examples of both.
    """
    # numbers as column names are sample numbers, not Entrez ids
    columns = [str(c) for c in matrix.sample_ids if not str(c).strip().isdigit()]
    if len(columns) < TRANSPOSED_MIN_COLUMNS:
        return
    gene_map = gene_map or GeneMap.load()
    column_genes = _exact_gene_ids(gene_map, columns)
    if len(column_genes) < TRANSPOSED_SHARE * len(matrix.sample_ids):
        return
    row_ids = [str(g) for g in matrix.gene_ids]
    row_genes = set(_exact_gene_ids(gene_map, row_ids))
    if len(row_genes) >= TRANSPOSED_SHARE * len(row_ids):
        return
    others = [g for g in row_ids if g not in row_genes]
    raise AlsigError(
        f"{where(matrix.path)}: the count matrix looks transposed: {len(column_genes):,} of "
        f"{len(matrix.sample_ids):,} column names are human gene ids (e.g. "
        f"{', '.join(map(repr, column_genes[:3]))}) and {len(row_ids) - len(others):,} of "
        f"{len(row_ids):,} row ids are (e.g. {', '.join(map(repr, others[:3]))}). alsig needs "
        "genes as rows and samples as columns; transpose the table."
    )


def _exact_gene_ids(gene_map: GeneMap, ids: list[str]) -> list[str]:
    """Return the ids of ``ids`` that are current human gene ids as written (read as auto)."""
    records, _ = gene_map.harmonise(ids, "auto")
    return [i for i, r in zip(ids, records, strict=True) if r.how in EXACT_IDS]


def _rescue_with_annotation(
    records: list[GeneRecord],
    report: HarmonisationReport,
    gene_map: GeneMap,
    fallback_symbols: dict[str, str],
) -> None:
    """Name unmapped ids by their annotation symbol (in place; ``how`` gets ``annotation_``)."""
    unmapped = [
        i for i, r in enumerate(records) if r.how == "unmapped" and r.input_id in fallback_symbols
    ]
    if not unmapped:
        return
    rescued, _ = gene_map.harmonise(
        [fallback_symbols[records[i].input_id] for i in unmapped], "symbol"
    )
    for i, rec in zip(unmapped, rescued, strict=True):
        rec.entrez_id = rec.entrez_id or records[i].input_id
        rec.input_id = records[i].input_id
        rec.how = f"annotation_{rec.how}"
        records[i] = rec
    report.how = type(report.how)(r.how for r in records)


def _sum_duplicates(counts: np.ndarray, records: list[GeneRecord]) -> _Summed:
    """Sum the rows of one symbol, except a row identical to an earlier one of it (a copy).

    Two ids of one gene (``A2M`` and ``ENSG00000175899``) with identical non-zero counts in
    every sample are one row written twice, not two features: summing would double the gene.
    """
    symbols = [r.symbol for r in records]
    codes, uniques = pd.factorize(pd.Index(symbols))
    first = np.full(len(uniques), -1, dtype=np.int64)
    order = np.arange(len(codes))
    first[codes[::-1]] = order[::-1]  # first occurrence of each symbol
    out = counts[first].astype(np.int64, copy=True)
    dup_rows = np.setdiff1d(order, first, assume_unique=True)
    kept_rows: dict[int, list[int]] = {}  # symbol code -> its rows counted so far
    merged: dict[str, list[str]] = {}
    copies: dict[str, list[str]] = {}
    summed_rows = []
    for row in dup_rows.tolist():
        code = int(codes[row])
        earlier = kept_rows.setdefault(code, [int(first[code])])
        original = first_equal_row(counts, row, earlier) if counts[row].any() else None
        if original is not None:
            copies.setdefault(symbols[row], [records[original].input_id]).append(
                records[row].input_id
            )
            continue
        earlier.append(row)
        summed_rows.append(row)
        merged.setdefault(symbols[row], [records[first[code]].input_id]).append(
            records[row].input_id
        )
    if summed_rows:
        rows = np.asarray(summed_rows, dtype=np.int64)
        np.add.at(out, codes[rows], counts[rows])
    n_copies = len(dup_rows) - len(summed_rows)
    return _Summed(out, uniques, first, merged, len(summed_rows), copies, n_copies)


def _gene_var(records: list[GeneRecord], summed: _Summed) -> pd.DataFrame:
    first, uniques = summed.first, summed.symbols
    var = pd.DataFrame(
        {
            GENE_ID: [records[i].entrez_id or records[i].input_id for i in first],
            "symbol": list(uniques),
            "ensembl_id": [records[i].ensembl_id for i in first],
            "biotype": [records[i].biotype for i in first],
            CHROMOSOME: [records[i].chromosome for i in first],
            "input_ids": [
                ";".join(summed.merged.get(uniques[k], [records[i].input_id]))
                for k, i in enumerate(first)
            ],
        },
        index=pd.Index(list(uniques), dtype=str),
    )
    var = categorical_strings(var)
    var[GENE_ID] = var[GENE_ID].astype(str)
    var["symbol"] = var["symbol"].astype(str)
    var["input_ids"] = var["input_ids"].astype(str)
    return var


def _named(groups: dict[str, list[str]], joiner: str) -> str:
    """``A2M (A2M + ENSG00000175899), ...``: at most ten genes, then how many more."""
    return name_some(groups.items(), show=lambda item: f"{item[0]} ({joiner.join(item[1])})")


def _report(report: HarmonisationReport, summed: _Summed, gene_map: GeneMap) -> dict[str, Any]:
    summary = report.as_dict()
    summary.update(
        {
            "n_output_genes": len(summed.symbols),
            "n_duplicate_rows_summed": summed.n_duplicate_rows,
            "duplicates_summed": {k: ";".join(v) for k, v in summed.merged.items()},
            "n_identical_rows_kept_once": summed.n_copy_rows,
            "identical_rows_kept_once": {k: ";".join(v) for k, v in summed.copies.items()},
            "gene_map": Path(gene_map.source).name,
        }
    )
    repaired = dict(summary["excel_repaired"])
    if repaired:  # the job log says what was changed, not only the provenance
        shown = name_some(repaired.items(), limit=20, show=lambda kv: f"{kv[0]} -> {kv[1]}")
        log.info("repaired %d Excel-mangled symbol(s): %s", len(repaired), shown)
    ambiguous = dict(summary["excel_ambiguous"])
    if ambiguous:
        shown = ", ".join(f"{k} ({v.replace(';', ' or ')})" for k, v in list(ambiguous.items()))
        log.warning(
            "%d Excel-mangled name(s) could be more than one gene and are kept as written "
            "(not renamed, not summed): %s",
            len(ambiguous),
            shown[:1000],
        )
    rescued = dict(summary["alias_rescued"])
    if rescued:
        shown = name_some(rescued.items(), show=lambda kv: f"{kv[0]} -> {kv[1]}")
        log.info(
            "%d retired symbol(s) or alias(es) renamed to the current HGNC symbol: %s",
            len(rescued),
            shown,
        )
    if summed.n_copy_rows:
        log.warning(
            "%d row(s) map to the same gene as an earlier row under another id and have "
            "identical counts in every sample: a copy, kept once (not summed): %s. Remove the "
            "copy from the file to silence this",
            summed.n_copy_rows,
            _named(summed.copies, " = "),
        )
    if summed.n_duplicate_rows:
        log.info(
            "%d row(s) summed into a gene of the same symbol (duplicate ids or ids that "
            "harmonise to one symbol): %s",
            summed.n_duplicate_rows,
            _named(summed.merged, " + "),
        )
    keys = (
        "excel_repaired",
        "excel_ambiguous",
        "alias_rescued",
        "duplicates_summed",
        "identical_rows_kept_once",
    )
    for key in keys:
        summary[key] = mapping_table(summary[key])
    return summary
