"""GSEA preranked: the gene-set permutation test of one ranking against one collection.

Two engines compute the same :class:`PrerankRecord` per set (the ranking, the eligible sets and
the options in; ``enrich.engine`` chooses): ``alsig`` (default,
:func:`alsig.stages.enrich.engine.alsig_records`: scores from set positions, one null per set
size, seconds for GO BP) and ``gseapy`` (:func:`gseapy_records`, gseapy's Rust ``prerank_rs``,
the reference implementation). Everything around the records (eligibility, the p-value floor,
the table) does not depend on which engine computed them. Sets that no permutation reached get a
multilevel estimate of their p-value (:mod:`alsig.stages.enrich.multilevel`,
``enrich.multilevel``), whichever engine computed the records.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from alsig.errors import AlsigError
from alsig.stages.enrich.multilevel import multilevel_pvalues
from alsig.stages.enrich.results import (
    empty_result,
    finite_float,
    format_pvalue,
    method_table,
    pvalue_floor,
)
from alsig.stages.enrich.sets import eligible_sets, set_positions, upper_map, upper_sets

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)


#: Values of ``enrich.engine``: which code computes the prerank records.
ENGINES = ("alsig", "gseapy")


@dataclass(frozen=True)
class PrerankOptions:
    """Settings of one prerank run (``enrich.permutations``, ``seed``, ``min_size``,
    ``max_size``, ``engine``, ``multilevel``, ``multilevel_eps``; threads from the job)."""

    permutations: int = 1000
    seed: int = 123
    min_size: int = 15
    max_size: int = 500
    threads: int = 1
    engine: str = "alsig"
    multilevel: bool = True
    multilevel_eps: float = 1e-10

    def __post_init__(self) -> None:
        if int(self.permutations) < 1:
            raise AlsigError(
                f"config key enrich.permutations: {self.permutations}; needs at least 1 "
                "permutation (1000 or more for usable p-values)."
            )
        if self.engine not in ENGINES:
            raise AlsigError(
                f"config key enrich.engine: {self.engine!r}; use one of {', '.join(ENGINES)}."
            )
        if not 0 < float(self.multilevel_eps) < 1:
            raise AlsigError(
                f"config key enrich.multilevel_eps: {self.multilevel_eps}; needs a number "
                "between 0 and 1 (exclusive), e.g. 1e-10."
            )


@dataclass(frozen=True)
class PrerankRecord:
    """One set's result as the engine gives it (before the p-value floor)."""

    term: str
    es: float | None
    nes: float | None
    pvalue: float | None
    fdr: float | None
    leading_edge: tuple[str, ...]  # ranking order, the engine's (upper-case) names


@dataclass(frozen=True)
class PrerankResult:
    """The prerank table of one collection and the sets it tested (restricted to the ranking,
    upper-case symbols)."""

    table: pl.DataFrame
    tested: dict[str, list[str]]


def prerank_result(
    ranking: pd.Series,
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
    upper = upper_map(ranking.index)
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
    genes, values = list(upper), ranking.to_numpy(dtype=float)
    records = engine_records(genes, values, tested, options)
    below = below_floor(genes, values, tested, records, options) if options.multilevel else {}
    table = _prerank_table(records, tested, upper, collection, options.permutations, below)
    return PrerankResult(table, tested)


def run_prerank(
    ranking: pd.Series,
    sets: Mapping[str, Sequence[str]],
    *,
    collection: str,
    permutations: int = 1000,
    seed: int = 123,
    min_size: int = 15,
    max_size: int = 500,
    threads: int = 1,
    engine: str = "alsig",
    multilevel: bool = True,
    multilevel_eps: float = 1e-10,
) -> pl.DataFrame:
    """GSEA preranked (gene-set permutation): the table of :func:`prerank_result`.

    Parameters
    ----------
    ranking, sets, collection
        As for :func:`prerank_result`.
    permutations, seed, min_size, max_size, threads, engine, multilevel, multilevel_eps
        The fields of :class:`PrerankOptions`.

    Returns
    -------
    polars.DataFrame
        The enrichment schema, sorted by p-value, then |NES|, then term.
    """
    options = PrerankOptions(
        permutations=int(permutations),
        seed=int(seed),
        min_size=int(min_size),
        max_size=int(max_size),
        threads=int(threads),
        engine=str(engine),
        multilevel=bool(multilevel),
        multilevel_eps=float(multilevel_eps),
    )
    return prerank_result(ranking, sets, collection=collection, options=options).table


def _prerank_table(
    records: list[PrerankRecord],
    tested: Mapping[str, list[str]],
    upper: Mapping[str, str],
    collection: str,
    permutations: int,
    below: Mapping[str, tuple[float, bool]],
) -> pl.DataFrame:
    """Records -> enrichment rows: p-values and FDR raised to the floor, symbols restored;
    the sets in ``below`` (term -> multilevel p, bounded by eps) take that p instead."""
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


def below_floor(
    genes: list[str],
    values: np.ndarray,
    sets: Mapping[str, list[str]],
    records: list[PrerankRecord],
    options: PrerankOptions,
) -> dict[str, tuple[float, bool]]:
    """Multilevel p-values of the sets no permutation reached (p below ``1/(permutations+1)``).

    Parameters
    ----------
    genes, values, sets, options
        As for :func:`engine_records` (weights are ``|values|``, the engines' ``p = 1``).
    records
        The engine's records.

    Returns
    -------
    dict
        ``{term: (p, bounded)}``: the estimate (at least ``options.multilevel_eps``) and whether
        it stopped at that bound. Each set's random stream is keyed by its place among the
        tested sets (sorted), so its estimate does not depend on which other sets are estimated.
    """
    floor = pvalue_floor(options.permutations)
    chosen = [r for r in records if r.pvalue is not None and r.pvalue < floor and r.es]
    if not chosen:
        return {}
    key = {term: i for i, term in enumerate(sorted(sets))}
    found = set_positions(genes, {r.term: sets[r.term] for r in chosen}, 1, len(genes))
    pvalues, bounded = multilevel_pvalues(
        np.abs(np.asarray(values, dtype=np.float64)),
        [found[r.term] for r in chosen],
        [float(r.es) for r in chosen],
        seed=options.seed,
        eps=options.multilevel_eps,
        threads=options.threads,
        keys=[key[r.term] for r in chosen],
    )
    log.info(
        "prerank: %d sets beyond every permutation; multilevel p %.3g-%.3g (%d at eps %.3g)",
        len(chosen),
        float(pvalues.min()),
        float(pvalues.max()),
        int(bounded.sum()),
        options.multilevel_eps,
    )
    return {r.term: (float(p), bool(b)) for r, p, b in zip(chosen, pvalues, bounded, strict=True)}


def engine_records(
    genes: list[str],
    values: np.ndarray,
    sets: Mapping[str, list[str]],
    options: PrerankOptions,
) -> list[PrerankRecord]:
    """The records of the engine ``options.engine`` names (arguments of :func:`gseapy_records`).

    Parameters
    ----------
    genes, values, sets, options
        As for :func:`gseapy_records`.

    Returns
    -------
    list of PrerankRecord
        One per tested set.
    """
    if options.engine == "gseapy":
        return gseapy_records(genes, values, sets, options)
    # imported here: the engine module builds on this module's record types
    from alsig.stages.enrich.engine import alsig_records

    return alsig_records(genes, values, sets, options)


def gseapy_records(
    genes: list[str],
    values: np.ndarray,
    sets: Mapping[str, list[str]],
    options: PrerankOptions,
) -> list[PrerankRecord]:
    """gseapy ``prerank`` without its result frame.

    The same Rust routine (``prerank_rs``, called with the arguments ``gseapy.prerank`` passes:
    weight 1, threads capped at cpu_count - 1) and the same leading-edge rule as gseapy's
    ``_to_df``, but each set's running-sum curve is converted and dropped one set at a time.
    gseapy keeps every curve as Python floats in ``res2d``/``results`` (about 5 GB for GO BP at
    60k genes: the peak of the 2,000-sample benchmark, bench/results/scale_2000x60000.md);
    results are identical (the unit tests compare both paths).

    Parameters
    ----------
    genes
        Ranked gene names (upper case), highest statistic first.
    values
        Their statistics, same order.
    sets
        Eligible sets, restricted to ``genes``.
    options
        Permutations, seed, set-size range and threads.

    Returns
    -------
    list of PrerankRecord
        One per set, in the engine's order.
    """
    import os

    from gseapy.gse import prerank_rs

    threads = max(1, min(options.threads, (os.cpu_count() or 2) - 1))
    summary = prerank_rs(
        genes,
        values.tolist(),
        dict(sets),
        1.0,
        options.min_size,
        options.max_size,
        options.permutations,
        threads,
        options.seed,
    )
    ordered = np.asarray(genes, dtype=object)
    return [
        PrerankRecord(
            term=str(gs.term),
            es=finite_float(gs.es),
            nes=finite_float(gs.nes),
            pvalue=finite_float(gs.pval),
            fdr=finite_float(gs.fdr),
            leading_edge=_leading_edge(gs, ordered),
        )
        for gs in summary.summaries
    ]


def _leading_edge(gs: Any, ordered: np.ndarray) -> tuple[str, ...]:
    """gseapy's leading edge: the hits up to the running sum's peak (or from its trough)."""
    running = np.asarray(gs.run_es, dtype=float)
    if running.size <= 1:
        return ()
    if float(gs.es) >= 0:
        peak = int(running.argmax())
        lead = ordered[[h for h in gs.hits if h <= peak]]
    else:
        peak = int(running.argmin())
        lead = ordered[[h for h in gs.hits if h >= peak][::-1]]
    return tuple(str(g) for g in lead)
