"""Genes: map the count matrix's ids to current symbols (:class:`alsig.genes.GeneMap`) and sum
the rows that end up with the same symbol."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from alsig.counts import as_counts
from alsig.genes import GeneMap, GeneRecord, HarmonisationReport, mapping_table
from alsig.stages.ingest.text import categorical_strings

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
    return HarmonisedGenes(as_counts(summed.counts), var, summary)


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
    symbols = [r.symbol for r in records]
    codes, uniques = pd.factorize(pd.Index(symbols))
    first = np.full(len(uniques), -1, dtype=np.int64)
    order = np.arange(len(codes))
    first[codes[::-1]] = order[::-1]  # first occurrence of each symbol
    out = counts[first].astype(np.int64, copy=True)
    dup_rows = np.setdiff1d(order, first, assume_unique=True)
    if len(dup_rows):
        np.add.at(out, codes[dup_rows], counts[dup_rows])
    merged: dict[str, list[str]] = {}
    for row in dup_rows:
        merged.setdefault(symbols[row], [records[first[codes[row]]].input_id]).append(
            records[row].input_id
        )
    return _Summed(out, uniques, first, merged, len(dup_rows))


def _gene_var(records: list[GeneRecord], summed: _Summed) -> pd.DataFrame:
    first, uniques = summed.first, summed.symbols
    var = pd.DataFrame(
        {
            "gene_id": [records[i].entrez_id or records[i].input_id for i in first],
            "symbol": list(uniques),
            "ensembl_id": [records[i].ensembl_id for i in first],
            "biotype": [records[i].biotype for i in first],
            "chromosome": [records[i].chromosome for i in first],
            "input_ids": [
                ";".join(summed.merged.get(uniques[k], [records[i].input_id]))
                for k, i in enumerate(first)
            ],
        },
        index=pd.Index(list(uniques), dtype=str),
    )
    var = categorical_strings(var)
    var["gene_id"] = var["gene_id"].astype(str)
    var["symbol"] = var["symbol"].astype(str)
    var["input_ids"] = var["input_ids"].astype(str)
    return var


def _report(report: HarmonisationReport, summed: _Summed, gene_map: GeneMap) -> dict[str, Any]:
    summary = report.as_dict()
    summary.update(
        {
            "n_output_genes": len(summed.symbols),
            "n_duplicate_rows_summed": summed.n_duplicate_rows,
            "duplicates_summed": {k: ";".join(v) for k, v in summed.merged.items()},
            "gene_map": Path(gene_map.source).name,
        }
    )
    repaired = dict(summary["excel_repaired"])
    if repaired:  # the job log says what was changed, not only the provenance
        shown = ", ".join(f"{k} -> {v}" for k, v in list(repaired.items())[:20])
        more = f" (+{len(repaired) - 20} more)" if len(repaired) > 20 else ""
        log.info("repaired %d Excel-mangled symbol(s): %s%s", len(repaired), shown, more)
    for key in ("excel_repaired", "excel_ambiguous", "alias_rescued", "duplicates_summed"):
        summary[key] = mapping_table(summary[key])
    return summary
