"""GSEA preranked as the enrich stage tables it.

Eligible sets, the engine's records, multilevel p-values beyond the permutation floor, the floor
itself and the enrichment-schema rows.

The records come from the engine ``enrich.engine`` names (:mod:`alsig.gsea.engines`: alsig's
positions-based engine or gseapy's); everything here does not depend on which engine ran.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from alsig.errors import AlsigError
from alsig.gsea.engines import engine_records
from alsig.gsea.multilevel import beyond_permutations
from alsig.gsea.records import PrerankOptions, PrerankRecord, pvalue_floor
from alsig.settings import EnrichSettings
from alsig.stages.enrich.ranking import Ranking
from alsig.stages.enrich.results import empty_result, format_pvalue, method_table
from alsig.stages.enrich.sets import eligible_sets, upper_map, upper_sets

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PrerankResult:
    """The prerank table of one collection and the sets it tested.

    Sets restricted to the ranking, upper-case symbols.
    """

    table: pl.DataFrame
    tested: dict[str, list[str]]


def prerank_result(
    ranking: Ranking,
    sets: Mapping[str, Sequence[str]],
    *,
    collection: str,
    options: PrerankOptions,
) -> PrerankResult:
    """GSEA preranked in one call for all eligible sets: the table and the sets tested.

    Parameters
    ----------
    ranking
        From :func:`alsig.stages.enrich.prepare_ranking` (sorted, unique symbols); used in that
        order (the deterministic tie order).
    sets
        ``{set name: [symbols]}`` of one collection.
    collection
        Collection id (the table's ``collection`` column).
    options
        Permutations, seed, set-size range, threads and engine.

    Returns
    -------
    PrerankResult
        The enrichment-schema table (``set_size``/``coverage`` null) and the tested sets.
    """
    upper = upper_map(ranking.symbols)
    if len(upper) != len(ranking):
        raise AlsigError("ranking has symbols that differ only in case; cannot run prerank.")
    tested = eligible_sets(upper_sets(sets), set(upper), options.min_size, options.max_size)
    if not tested:
        log.warning(
            "prerank %s: no gene set has %d-%d genes among the %d ranked genes; empty result",
            collection,
            options.min_size,
            options.max_size,
            len(ranking),
        )
        return PrerankResult(empty_result(), tested)
    log.info(
        "prerank %s (%s engine): %d of %d sets with %d-%d ranked genes, %d permutations, seed %d",
        collection,
        options.engine,
        len(tested),
        len(sets),
        options.min_size,
        options.max_size,
        options.permutations,
        options.seed,
    )
    genes, values = list(upper), np.asarray(ranking.stats, dtype=float)
    records = engine_records(genes, values, tested, options)
    below = (
        beyond_permutations(genes, values, tested, records, options) if options.multilevel else {}
    )
    table = _prerank_table(records, tested, upper, collection, options.permutations, below)
    return PrerankResult(table, tested)


def prerank_options(settings: EnrichSettings, threads: int) -> PrerankOptions:
    """Return the GSEA library's options of one enrich job.

    Parameters
    ----------
    settings
        The job's ``enrich:`` settings.
    threads
        The job's threads.

    Returns
    -------
    PrerankOptions
        Permutations, seed, set-size range, engine and the multilevel step.
    """
    return PrerankOptions(
        permutations=settings.permutations,
        seed=settings.seed,
        min_size=settings.min_size,
        max_size=settings.max_size,
        threads=threads,
        engine=settings.engine,
        multilevel=settings.multilevel,
        multilevel_eps=settings.multilevel_eps,
    )


def _prerank_table(
    records: list[PrerankRecord],
    tested: Mapping[str, list[str]],
    upper: Mapping[str, str],
    collection: str,
    permutations: int,
    below: Mapping[str, tuple[float, bool]],
) -> pl.DataFrame:
    """Return records -> enrichment rows: p-values and FDR raised to the floor, symbols restored.

    The sets in ``below`` (term -> multilevel p, bounded by eps) take that p instead.
    """
    floor = pvalue_floor(permutations)
    rows = []
    for rec in records:
        at_floor = rec.pvalue is not None and rec.pvalue < floor
        pvalue = None if rec.pvalue is None else max(rec.pvalue, floor)
        method = "permutation"
        if rec.term in below:
            (pvalue, at_floor), method = below[rec.term], "multilevel"
        fdr = None if rec.fdr is None else min(max(rec.fdr, floor), 1.0)
        lead = [upper.get(g, g) for g in rec.leading_edge]
        nes = rec.nes
        rows.append(
            {
                "term": rec.term,
                "collection": collection,
                "method": "prerank",
                "direction": None if nes is None or nes == 0 else ("up" if nes > 0 else "down"),
                "size": len(tested[rec.term]),
                "n_overlap": len(lead),
                "nes": nes,
                "es": rec.es,
                "pvalue": pvalue,
                "fdr": fdr,
                "leading_edge": list(lead),
                "pvalue_at_floor": at_floor,
                "pvalue_display": format_pvalue(pvalue, at_floor),
                "pvalue_method": method,
            }
        )
    return method_table(rows).sort(
        [pl.col("pvalue"), pl.col("nes").abs(), pl.col("term")],
        descending=[False, True, False],
        nulls_last=True,
    )
