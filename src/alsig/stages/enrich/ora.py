"""Over-representation of the up- and the down-regulated genes in one collection.

The hypergeometric test of gseapy ``enrich`` (:mod:`alsig.gsea.hypergeom`); background = the tested
genes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from alsig.distributions import benjamini_hochberg
from alsig.gsea.hypergeom import overrepresentation
from alsig.gsea.records import finite_float
from alsig.settings import EnrichSettings
from alsig.stages.enrich.ranking import check_de_columns, clean_symbol, finite_or_null
from alsig.stages.enrich.results import (
    empty_result,
    format_pvalue,
    method_table,
)
from alsig.stages.enrich.sets import eligible_sets, upper_map, upper_sets

log = logging.getLogger(__name__)

#: ORA p-values that underflow to 0 are stored as this (every stored p-value is > 0)
ORA_PVALUE_MIN = 1e-300


@dataclass(frozen=True)
class OraOptions:
    """Settings of one ORA run: which genes count as up/down, and the set-size range.

    ``enrich.ora_padj``, ``enrich.ora_min_abs_lfc``; the set-size range within the background.
    """

    padj_threshold: float
    min_abs_lfc: float
    min_size: int
    max_size: int


@dataclass(frozen=True)
class OraGenes:
    """The gene lists of over-representation: background, up- and down-regulated symbols."""

    background: list[str]
    up: list[str]
    down: list[str]

    def counts(self) -> dict[str, int]:
        """List sizes for provenance (``report.ora``)."""
        return {
            "n_background": len(self.background),
            "n_up": len(self.up),
            "n_down": len(self.down),
        }


@dataclass(frozen=True)
class OraResult:
    """The ORA table of one collection, the sets it tested and the gene lists.

    Sets restricted to the background, upper-case symbols.
    """

    table: pl.DataFrame
    tested: dict[str, list[str]]
    genes: OraGenes


def ora_gene_lists(de: pl.DataFrame, padj_threshold: float, min_abs_lfc: float) -> OraGenes:
    """Background, up and down symbols from a DE table.

    Background = the tested genes: a symbol and a non-null ``padj`` (genes removed by independent
    filtering or Cook's outliers could never be called, so they are not in the universe).
    Up/down = ``padj < padj_threshold`` and ``log2_fold_change`` above ``min_abs_lfc`` / below
    ``-min_abs_lfc``.

    Parameters
    ----------
    de
        A DE table.
    padj_threshold, min_abs_lfc
        ``enrich.ora_padj`` and ``enrich.ora_min_abs_lfc``.
    """
    table = de.select(
        clean_symbol(),
        finite_or_null("padj").alias("padj"),
        finite_or_null("log2_fold_change").alias("lfc"),
    ).filter(
        pl.col("symbol").is_not_null() & (pl.col("symbol") != "") & pl.col("padj").is_not_null()
    )
    background = list(dict.fromkeys(table["symbol"].to_list()))
    significant = table.filter(pl.col("padj") < padj_threshold)
    up = significant.filter(pl.col("lfc") > min_abs_lfc)["symbol"].unique(maintain_order=True)
    down = significant.filter(pl.col("lfc") < -min_abs_lfc)["symbol"].unique(maintain_order=True)
    return OraGenes(background, up.to_list(), down.to_list())


def ora_result(
    de: pl.DataFrame,
    sets: Mapping[str, Sequence[str]],
    *,
    collection: str,
    options: OraOptions,
) -> OraResult:
    """Over-representation of the up- and the down-regulated genes (:func:`ora_gene_lists`).

    Sets are restricted to the background and kept when that size is within [min_size, max_size].
    gseapy only reports sets with at least one hit and adjusts over those; alsig re-adjusts (BH)
    over every eligible set (sets without a hit have p = 1), per direction. Rows are reported for
    sets with at least one hit.

    Parameters
    ----------
    de
        A DE table.
    sets
        ``{set name: [symbols]}`` of one collection.
    collection
        Collection id.
    options
        Gene-list thresholds and set-size range.

    Returns
    -------
    OraResult
        Table (up rows, then down rows, each by p-value), tested sets and gene lists.
    """
    check_de_columns(de, "(in memory)")
    genes = ora_gene_lists(de, options.padj_threshold, options.min_abs_lfc)
    upper = upper_map(genes.background)
    tested = eligible_sets(upper_sets(sets), set(upper), options.min_size, options.max_size)
    if not tested:
        log.warning(
            "ORA %s: no gene set has %d-%d genes among the %d background genes; empty result",
            collection,
            options.min_size,
            options.max_size,
            len(genes.background),
        )
        return OraResult(empty_result(), tested, genes)
    directions = (("up", genes.up), ("down", genes.down))
    made = [_direction_table(d, hits, tested, upper, collection, options) for d, hits in directions]
    tables = [t for t in made if t is not None]
    if not tables:
        return OraResult(empty_result(), tested, genes)
    table = pl.concat(tables).sort(["direction", "pvalue", "term"], descending=[True, False, False])
    return OraResult(table, tested, genes)


def _direction_table(
    direction: str,
    genes: list[str],
    tested: Mapping[str, list[str]],
    upper: Mapping[str, str],
    collection: str,
    options: OraOptions,
) -> pl.DataFrame | None:
    """ORA of one gene list (``direction``); ``None`` when the list is empty or hits no set."""
    if not genes:
        log.info(
            "ORA %s %s: no genes at padj < %g and |log2FC| > %g; skipped",
            collection,
            direction,
            options.padj_threshold,
            options.min_abs_lfc,
        )
        return None
    log.info(
        "ORA %s %s: %d genes vs %d background genes, %d sets",
        collection,
        direction,
        len(genes),
        len(upper),
        len(tested),
    )
    records = _enrich_records(genes, tested, list(upper))
    return _ora_table(records, direction, tested, upper, collection) if records else None


def ora_options(settings: EnrichSettings) -> OraOptions:
    """Return the over-representation options of one enrich job.

    Parameters
    ----------
    settings
        The job's ``enrich:`` settings.

    Returns
    -------
    OraOptions
        ``ora_padj``, ``ora_min_abs_lfc`` and the set-size range.
    """
    return OraOptions(
        padj_threshold=settings.ora_padj,
        min_abs_lfc=settings.ora_min_abs_lfc,
        min_size=settings.min_size,
        max_size=settings.max_size,
    )


def _enrich_records(
    genes: list[str], tested: Mapping[str, list[str]], background: list[str]
) -> list[dict[str, Any]]:
    """Return the over-representation of one gene list in each tested set.

    As gseapy ``enrich`` computes it (genes upper-cased, see :func:`upper_map`): one record per
    set with at least one hit.
    """
    universe = set(background)
    query = {g.upper() for g in genes} & universe
    terms = list(tested)
    overlaps = [sorted(query.intersection(tested[t])) for t in terms]
    hits = np.array([len(o) for o in overlaps], dtype=np.int64)
    sizes = np.array([len(tested[t]) for t in terms], dtype=np.int64)
    pvalues, odds = overrepresentation(hits, sizes, len(query), len(universe))
    return [
        {"term": t, "pvalue": float(p), "odds_ratio": float(o), "hits": overlap}
        for t, p, o, overlap in zip(terms, pvalues, odds, overlaps, strict=True)
        if overlap
    ]


def _ora_table(
    records: list[dict[str, Any]],
    direction: str,
    tested: Mapping[str, list[str]],
    upper: Mapping[str, str],
    collection: str,
) -> pl.DataFrame:
    """Over-representation records -> enrichment rows, BH-adjusted over every tested set."""
    pvalues = {rec["term"]: rec["pvalue"] for rec in records}
    terms = list(tested)
    floored = [max(pvalues.get(t, 1.0), ORA_PVALUE_MIN) for t in terms]
    adjusted = dict(zip(terms, benjamini_hochberg(floored), strict=True))
    rows = []
    for rec in records:
        term = rec["term"]
        hits = sorted(upper.get(g, g) for g in rec["hits"])
        pvalue = min(max(rec["pvalue"], ORA_PVALUE_MIN), 1.0)
        rows.append(
            {
                "term": term,
                "collection": collection,
                "method": "ora",
                "direction": direction,
                "size": len(tested[term]),
                "n_overlap": len(hits),
                "pvalue": pvalue,
                "fdr": float(adjusted[term]),
                "leading_edge": hits,
                "odds_ratio": finite_float(rec["odds_ratio"]),
                "pvalue_at_floor": False,
                "pvalue_method": "hypergeometric",
                "pvalue_display": format_pvalue(pvalue),
            }
        )
    return method_table(rows)
