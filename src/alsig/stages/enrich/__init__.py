"""Pathway enrichment per contrast: GSEA preranked and over-representation, offline.

Gene-set collections are local GMT files only: the shipped ones listed in
``resources/genesets/manifest.tsv`` (Hallmark, Reactome, GO BP, the alsig resistance signatures)
and user GMT files given by path in config. gseapy is only ever given gene sets as ``dict`` objects,
so it never contacts Enrichr, BioMart or any other web service.

Steps for one DE table (one contrast) and one collection:

1. :func:`load_collection` reads the GMT (errors name file and line) and harmonises its symbols to
   the same current HGNC symbols ingest uses (:func:`harmonise_gene_sets`).
2. :func:`prepare_ranking` turns the DE table into a ranking on the Wald ``stat``: genes without a
   statistic are dropped and counted, ties are broken deterministically and counted.
3. :func:`run_prerank` runs one gseapy ``prerank`` call over all eligible sets of the collection.
4. :func:`run_ora` runs gseapy ``enrich`` (hypergeometric test, offline) on the up- and the
   down-regulated genes with the tested genes as background.
5. Both results share one table schema (:data:`RESULT_SCHEMA`); see
   ``workflow/schemas/enrichment.schema.yaml`` for the meaning of every column.

Permutation p-values: a permutation p-value of 0 only says that none of the ``n`` permutations
was as extreme, i.e. p < 1/(n+1). alsig stores ``pvalue = 1/(n+1)`` (numeric, so sorting and
plotting work), sets ``pvalue_at_floor = true`` and writes ``pvalue_display = "< 0.000999"``
(for n = 1000). A GSEA FDR of 0 is raised to the same floor.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from alsig.errors import AlsigError, where
from alsig.genesets import (  # noqa: F401 (re-exported: the collections of a run)
    COLLECTION_ID,
    MANIFEST_COLUMNS,
    Collection,
    count_gene_sets,
    read_gmt,
    read_manifest,
    resolve_collections,
)

if TYPE_CHECKING:
    import matplotlib.figure
    import pandas as pd

    from alsig.genes import GeneMap

log = logging.getLogger(__name__)

DE_COLUMNS = ("symbol", "log2_fold_change", "stat", "padj")

#: ORA p-values that underflow to 0 are stored as this (every stored p-value is > 0)
ORA_PVALUE_MIN = 1e-300

#: Defaults of the ``enrich:`` config section (the config schema fills the same values in).
DEFAULT_SETTINGS: dict[str, Any] = {
    "collections": ["hallmark", "reactome", "go_bp", "alsig_resistance"],
    "extra_gmt": [],
    "permutations": 1000,
    "seed": 123,
    "min_size": 15,
    "max_size": 500,
    "threads": 1,
    "ora_padj": 0.05,
    "ora_min_abs_lfc": 0.0,
    "dotplot_top_n": 10,
}

#: Column -> polars dtype of every enrichment table (prerank and ORA alike; null where a column
#: does not apply). The first eleven are the issue's contract; the rest are additions.
RESULT_SCHEMA: dict[str, pl.DataType] = {
    "term": pl.String(),
    "collection": pl.String(),
    "method": pl.String(),  # prerank | ora
    "direction": pl.String(),  # up | down | null
    "size": pl.Int64(),  # set genes in the method's universe (ranked / background genes)
    "n_overlap": pl.Int64(),  # prerank: leading-edge genes; ora: set genes in the query list
    "nes": pl.Float64(),
    "es": pl.Float64(),
    "pvalue": pl.Float64(),
    "fdr": pl.Float64(),
    "leading_edge": pl.String(),  # ';'-joined genes (ORA: the overlap genes)
    "set_size": pl.Int64(),  # genes in the (harmonised) set
    "coverage": pl.Float64(),  # share of the set's genes present in the DE table
    "odds_ratio": pl.Float64(),  # ORA only
    "pvalue_at_floor": pl.Boolean(),  # permutation p-value was 0 -> stored as 1/(n_perm+1)
    "pvalue_display": pl.String(),  # "< 0.000999" at the floor, else 3 significant digits
}
COVERAGE_SCHEMA: dict[str, pl.DataType] = {
    "term": pl.String(),
    "collection": pl.String(),
    "set_size": pl.Int64(),
    "n_in_data": pl.Int64(),
    "coverage": pl.Float64(),
    "tested_prerank": pl.Boolean(),
    "tested_ora": pl.Boolean(),
}


# --------------------------------------------------------------------------------------------
# Collections
# --------------------------------------------------------------------------------------------
def harmonise_gene_sets(
    sets: Mapping[str, Sequence[str]], gene_map: GeneMap | None = None
) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """Map every gene symbol to its current HGNC symbol (same offline map and rules as ingest).

    Each distinct symbol is resolved on its own, so an outdated symbol is renamed even when its
    current name appears elsewhere in the collection; two names of the same gene in one set merge.
    """
    from alsig.genes import GeneMap

    gene_map = gene_map or GeneMap.load()
    mapping, unmapped = gene_map.rename_map(g for genes in sets.values() for g in genes)
    renamed = {old: new for old, new in mapping.items() if old != new}
    out: dict[str, list[str]] = {}
    n_merged = 0
    for name, genes in sets.items():
        mapped = list(dict.fromkeys(mapping[g] for g in genes))
        n_merged += len(genes) - len(mapped)
        out[name] = mapped
    report = {
        "n_symbols": len(mapping),
        "n_symbols_renamed": len(renamed),
        "renamed_examples": dict(list(renamed.items())[:50]),
        "n_symbols_not_in_gene_map": unmapped,
        "n_memberships_merged": n_merged,
    }
    return out, report


def load_collection(
    collection: Collection, gene_map: GeneMap | None = None
) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """Read, checksum-check and harmonise one collection. Returns the sets and a provenance dict."""
    from alsig.io import sha256_file

    if not collection.path.exists():
        raise AlsigError(
            f"gene-set file '{collection.path}' of collection '{collection.id}' is missing."
        )
    digest = sha256_file(collection.path)
    if collection.sha256 and digest != collection.sha256:
        raise AlsigError(
            f"{where(collection.path)}: sha256 {digest} does not match the manifest "
            f"({collection.sha256}) for collection '{collection.id}'. Restore the file or rebuild "
            "resources/genesets with `python scripts/build_genesets.py`."
        )
    sets = read_gmt(collection.path)
    sets, harmonisation = harmonise_gene_sets(sets, gene_map)
    info = {
        **collection.describe(),
        "sha256": digest,
        "n_sets": len(sets),
        "harmonisation": harmonisation,
    }
    log.info(
        "collection %s: %d sets from %s (%d symbols renamed to current HGNC)",
        collection.id,
        len(sets),
        collection.path,
        harmonisation["n_symbols_renamed"],
    )
    return sets, info


# --------------------------------------------------------------------------------------------
# Result tables
# --------------------------------------------------------------------------------------------
def empty_result() -> pl.DataFrame:
    """A schema-valid enrichment table with no rows."""
    return pl.DataFrame(schema=RESULT_SCHEMA)


def conform(rows: list[dict[str, Any]] | pl.DataFrame) -> pl.DataFrame:
    """Rows (dicts) or a frame -> a table with exactly :data:`RESULT_SCHEMA` (order and dtypes)."""
    if isinstance(rows, pl.DataFrame):
        frame = rows
    elif not rows:
        return empty_result()
    else:
        frame = pl.DataFrame(rows, infer_schema_length=None)
    return frame.select(
        [
            (pl.col(c) if c in frame.columns else pl.lit(None)).cast(dtype).alias(c)
            for c, dtype in RESULT_SCHEMA.items()
        ]
    )


def check_result(table: pl.DataFrame) -> None:
    """Raise ``ValueError`` unless ``table`` has exactly the enrichment schema and valid values."""
    if dict(table.schema) != RESULT_SCHEMA:
        raise ValueError(f"enrichment table schema {dict(table.schema)} != {RESULT_SCHEMA}")
    if table.height == 0:
        return
    bad_method = table.filter(~pl.col("method").is_in(["prerank", "ora"])).height
    bad_direction = table.filter(
        pl.col("direction").is_not_null() & ~pl.col("direction").is_in(["up", "down"])
    ).height
    bad_p = table.filter(
        (pl.col("pvalue") <= 0) | (pl.col("pvalue") > 1) | (pl.col("fdr") < 0) | (pl.col("fdr") > 1)
    ).height
    if bad_method or bad_direction or bad_p:
        raise ValueError(
            f"enrichment table has {bad_method} bad method, {bad_direction} bad direction and "
            f"{bad_p} out-of-range p/FDR values"
        )


def pvalue_floor(permutations: int) -> float:
    """Smallest p-value ``permutations`` permutations can support: 1/(n+1)."""
    return 1.0 / (int(permutations) + 1)


def format_pvalue(pvalue: float | None, at_floor: bool = False) -> str | None:
    """``"< 0.000999"`` for a p-value at the permutation floor, else 3 significant digits."""
    if pvalue is None or (isinstance(pvalue, float) and math.isnan(pvalue)):
        return None
    return f"< {pvalue:.3g}" if at_floor else f"{pvalue:.3g}"


def benjamini_hochberg(pvalues: Sequence[float]) -> np.ndarray:
    """BH-adjusted p-values (same order as the input)."""
    p = np.asarray(pvalues, dtype=float)
    n = p.size
    if n == 0:
        return p
    order = np.argsort(p, kind="stable")
    ranked = p[order] * n / np.arange(1, n + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(n)
    out[order] = np.clip(adjusted, 0, 1)
    return out


# --------------------------------------------------------------------------------------------
# Ranking and coverage
# --------------------------------------------------------------------------------------------
def _check_de_columns(de: pl.DataFrame, source: str) -> None:
    missing = [c for c in DE_COLUMNS if c not in de.columns]
    if missing:
        raise AlsigError(
            f"DE table {source}: missing column(s) {missing}; expected the DE stage output "
            "(gene_id, symbol, base_mean, log2_fold_change, lfc_se, stat, pvalue, padj, ...)."
        )


def _finite_or_null(column: str) -> pl.Expr:
    value = pl.col(column).cast(pl.Float64)
    return pl.when(value.is_nan()).then(None).otherwise(value)


def prepare_ranking(de: pl.DataFrame, source: str = "") -> tuple[pd.Series, dict[str, Any]]:
    """Ranking for GSEA preranked: the DE Wald ``stat`` per gene symbol, highest first.

    - genes with a null/NaN ``stat`` (e.g. all-zero or Cook's-outlier genes) or without a symbol
      are dropped and counted;
    - a symbol that occurs twice keeps its row with the largest ``|stat|``;
    - ties in ``stat`` are broken by ``log2_fold_change`` (descending: among equal statistics the
      larger effect is nearer the top end and the more negative effect nearer the bottom end), then
      by symbol, so the order never depends on the input row order; tied genes are counted.
    """
    import pandas as pd

    _check_de_columns(de, source or "(in memory)")
    n_input = de.height
    table = de.select(
        pl.col("symbol").cast(pl.String).str.strip_chars().alias("symbol"),
        _finite_or_null("stat").alias("stat"),
        _finite_or_null("log2_fold_change").alias("lfc"),
    )
    no_stat = table.filter(pl.col("stat").is_null()).height
    no_symbol = table.filter(
        pl.col("stat").is_not_null() & (pl.col("symbol").is_null() | (pl.col("symbol") == ""))
    ).height
    table = table.filter(
        pl.col("stat").is_not_null() & pl.col("symbol").is_not_null() & (pl.col("symbol") != "")
    )
    # +/-inf statistics keep their place at the ends: replaced by the finite extremes
    finite = table.filter(pl.col("stat").is_finite())["stat"]
    n_infinite = table.height - finite.len()
    if n_infinite:
        high = float(finite.max()) if finite.len() else 0.0
        low = float(finite.min()) if finite.len() else 0.0
        table = table.with_columns(
            pl.when(pl.col("stat") == float("inf"))
            .then(high)
            .when(pl.col("stat") == float("-inf"))
            .then(low)
            .otherwise(pl.col("stat"))
            .alias("stat")
        )
    before = table.height
    table = (
        table.sort(pl.col("stat").abs(), descending=True, maintain_order=True)
        .unique("symbol", keep="first", maintain_order=True)
        .sort(
            ["stat", "lfc", "symbol"],
            descending=[True, True, False],
            nulls_last=True,
        )
    )
    duplicated = before - table.height
    tie_sizes = table.group_by("stat").len().filter(pl.col("len") > 1)["len"]
    report = {
        "n_genes_in_de_table": n_input,
        "n_dropped_null_stat": no_stat,
        "n_dropped_no_symbol": no_symbol,
        "n_dropped_duplicate_symbol": duplicated,
        "n_infinite_stat_clipped": n_infinite,
        "n_ranked": table.height,
        "n_tied_genes": int(tie_sizes.sum()) if tie_sizes.len() else 0,
        "n_tie_groups": tie_sizes.len(),
        "tie_break": "log2_fold_change descending, then symbol",
    }
    log.info(
        "ranking %s: %d genes ranked on stat; dropped %d without a statistic, %d without a "
        "symbol, %d duplicate symbols; %d genes in %d groups of tied statistics (broken by "
        "log2_fold_change, then symbol)",
        source,
        table.height,
        no_stat,
        no_symbol,
        duplicated,
        report["n_tied_genes"],
        report["n_tie_groups"],
    )
    if report["n_tied_genes"]:
        log.info(
            "gseapy will warn that the order of tied genes is arbitrary: it is not, gseapy keeps "
            "the order alsig passes (ascending=None)"
        )
    ranking = pd.Series(
        table["stat"].to_numpy(), index=pd.Index(table["symbol"].to_list()), name="stat"
    )
    return ranking, report


def coverage_table(
    sets: Mapping[str, Sequence[str]], data_genes: Iterable[str], collection: str
) -> pl.DataFrame:
    """Per set: its size and the share of its genes present in ``data_genes``."""
    universe = set(data_genes)
    rows = []
    for term, genes in sets.items():
        n_in = sum(g in universe for g in genes)
        rows.append(
            {
                "term": term,
                "collection": collection,
                "set_size": len(genes),
                "n_in_data": n_in,
                "coverage": n_in / len(genes) if genes else 0.0,
            }
        )
    frame = pl.DataFrame(rows, schema={k: COVERAGE_SCHEMA[k] for k in list(COVERAGE_SCHEMA)[:5]})
    return frame.with_columns(
        pl.lit(False).alias("tested_prerank"), pl.lit(False).alias("tested_ora")
    )


def _eligible(
    sets: Mapping[str, Sequence[str]], universe: set[str], min_size: int, max_size: int
) -> dict[str, list[str]]:
    """Sets restricted to ``universe`` whose restricted size is within [min_size, max_size]."""
    out = {}
    for term, genes in sets.items():
        kept = list(dict.fromkeys(g for g in genes if g in universe))  # gseapy dedups too
        if min_size <= len(kept) <= max_size and len(kept) < len(universe):
            out[term] = kept
    return out


def _upper_map(genes: Iterable[str]) -> dict[str, str]:
    """UPPER -> symbol. gseapy upper-cases gene lists that are not >= 90 % upper case (and then
    misses mixed-case symbols such as C9orf72); giving it upper-case names everywhere avoids that."""
    return {g.upper(): g for g in genes}


# --------------------------------------------------------------------------------------------
# GSEA preranked
# --------------------------------------------------------------------------------------------
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
) -> pl.DataFrame:
    """GSEA preranked (gseapy's prerank, gene-set permutation) in one call for all eligible sets.

    ``ranking`` must come from :func:`prepare_ranking` (sorted, unique symbols) and is used in
    that order (the deterministic tie order). Returns the enrichment schema.
    """
    if int(permutations) < 1:
        raise AlsigError(
            f"config key enrich.permutations: {permutations}; needs at least 1 permutation "
            "(1000 or more for usable p-values)."
        )
    upper = _upper_map(ranking.index)
    if len(upper) != len(ranking):
        raise AlsigError("ranking has symbols that differ only in case; cannot run prerank.")
    eligible = _eligible(
        {t: [g.upper() for g in genes] for t, genes in sets.items()}, set(upper), min_size, max_size
    )
    if not eligible:
        log.warning(
            "prerank %s: no gene set has %d-%d genes among the %d ranked genes; empty result",
            collection,
            min_size,
            max_size,
            len(ranking),
        )
        return empty_result()
    log.info(
        "prerank %s: %d of %d sets with %d-%d ranked genes, %d permutations, seed %d",
        collection,
        len(eligible),
        len(sets),
        min_size,
        max_size,
        permutations,
        seed,
    )
    records = _prerank_records(
        list(upper),
        ranking.to_numpy(dtype=float),
        eligible,
        permutations=int(permutations),
        seed=int(seed),
        min_size=int(min_size),
        max_size=int(max_size),
        threads=int(threads),
    )
    floor = pvalue_floor(permutations)
    rows = []
    for rec in records:
        term = str(rec["Term"])
        nes = _float(rec["NES"])
        pvalue = _float(rec["NOM p-val"])
        at_floor = pvalue is not None and pvalue < floor
        if pvalue is not None:
            pvalue = max(pvalue, floor)
        fdr = _float(rec["FDR q-val"])
        if fdr is not None:
            fdr = min(max(fdr, floor), 1.0)
        lead = [upper.get(g, g) for g in str(rec.get("Lead_genes") or "").split(";") if g]
        rows.append(
            {
                "term": term,
                "collection": collection,
                "method": "prerank",
                "direction": None if nes is None or nes == 0 else ("up" if nes > 0 else "down"),
                "size": len(eligible[term]),
                "n_overlap": len(lead),
                "nes": nes,
                "es": _float(rec["ES"]),
                "pvalue": pvalue,
                "fdr": fdr,
                "leading_edge": ";".join(lead),
                "pvalue_at_floor": at_floor,
                "pvalue_display": format_pvalue(pvalue, at_floor),
            }
        )
    table = conform(rows)
    return table.sort(
        [pl.col("pvalue"), pl.col("nes").abs(), pl.col("term")],
        descending=[False, True, False],
        nulls_last=True,
    )


def _prerank_records(
    genes: list[str],
    values: np.ndarray,
    sets: Mapping[str, list[str]],
    *,
    permutations: int,
    seed: int,
    min_size: int,
    max_size: int,
    threads: int,
) -> list[dict[str, Any]]:
    """gseapy ``prerank`` without its result frame: the same Rust routine (``prerank_rs``, called
    with the arguments ``gseapy.prerank`` passes: weight 1, threads capped at cpu_count - 1) and the
    same leading-edge rule as gseapy's ``_to_df``, but each set's running-sum curve is converted
    and dropped one set at a time. gseapy keeps every curve as Python floats in ``res2d``/``results``
    (about 5 GB for GO BP at 60k genes: the peak of the 2,000-sample benchmark); results are
    identical (tests/unit/test_enrich.py compares both paths)."""
    import os

    from gseapy.gse import prerank_rs

    threads = max(1, min(threads, (os.cpu_count() or 2) - 1))
    summary = prerank_rs(
        genes, values.tolist(), dict(sets), 1.0, min_size, max_size, permutations, threads, seed
    )
    ordered = np.asarray(genes, dtype=object)
    records = []
    for gs in summary.summaries:
        running = np.asarray(gs.run_es, dtype=float)
        lead: list[str] = []
        if running.size > 1:
            if float(gs.es) >= 0:
                peak = int(running.argmax())
                lead = list(ordered[[h for h in gs.hits if h <= peak]])
            else:
                peak = int(running.argmin())
                lead = list(ordered[[h for h in gs.hits if h >= peak][::-1]])
        records.append(
            {
                "Term": gs.term,
                "ES": gs.es,
                "NES": gs.nes,
                "NOM p-val": gs.pval,
                "FDR q-val": gs.fdr,
                "Lead_genes": ";".join(map(str, lead)),
            }
        )
    return records


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


# --------------------------------------------------------------------------------------------
# Over-representation
# --------------------------------------------------------------------------------------------
def ora_gene_lists(
    de: pl.DataFrame, padj_threshold: float = 0.05, min_abs_lfc: float = 0.0
) -> tuple[list[str], list[str], list[str]]:
    """(background, up, down) symbols from a DE table.

    Background = the tested genes: a symbol and a non-null ``padj`` (genes removed by independent
    filtering or Cook's outliers could never be called, so they are not in the universe).
    Up/down = ``padj < padj_threshold`` and ``log2_fold_change`` above ``min_abs_lfc`` / below
    ``-min_abs_lfc``.
    """
    table = de.select(
        pl.col("symbol").cast(pl.String).str.strip_chars().alias("symbol"),
        _finite_or_null("padj").alias("padj"),
        _finite_or_null("log2_fold_change").alias("lfc"),
    ).filter(
        pl.col("symbol").is_not_null() & (pl.col("symbol") != "") & pl.col("padj").is_not_null()
    )
    background = list(dict.fromkeys(table["symbol"].to_list()))
    significant = table.filter(pl.col("padj") < padj_threshold)
    up = significant.filter(pl.col("lfc") > min_abs_lfc)["symbol"].unique(maintain_order=True)
    down = significant.filter(pl.col("lfc") < -min_abs_lfc)["symbol"].unique(maintain_order=True)
    return background, up.to_list(), down.to_list()


def run_ora(
    de: pl.DataFrame,
    sets: Mapping[str, Sequence[str]],
    *,
    collection: str,
    padj_threshold: float = 0.05,
    min_abs_lfc: float = 0.0,
    min_size: int = 15,
    max_size: int = 500,
) -> pl.DataFrame:
    """Over-representation (gseapy ``enrich``, hypergeometric, offline) of the up- and the
    down-regulated genes, background = tested genes (:func:`ora_gene_lists`).

    Sets are restricted to the background and kept when that size is within [min_size, max_size].
    gseapy only reports sets with at least one hit and adjusts over those; alsig re-adjusts (BH)
    over every eligible set (sets without a hit have p = 1), per direction. Rows are reported for
    sets with at least one hit.
    """
    import gseapy

    _check_de_columns(de, "(in memory)")
    background, up, down = ora_gene_lists(de, padj_threshold, min_abs_lfc)
    upper = _upper_map(background)
    eligible = _eligible(
        {t: [g.upper() for g in genes] for t, genes in sets.items()}, set(upper), min_size, max_size
    )
    if not eligible:
        log.warning(
            "ORA %s: no gene set has %d-%d genes among the %d background genes; empty result",
            collection,
            min_size,
            max_size,
            len(background),
        )
        return empty_result()
    tables = []
    for direction, genes in (("up", up), ("down", down)):
        if not genes:
            log.info(
                "ORA %s %s: no genes at padj < %g and |log2FC| > %g; skipped",
                collection,
                direction,
                padj_threshold,
                min_abs_lfc,
            )
            continue
        log.info(
            "ORA %s %s: %d genes vs %d background genes, %d sets",
            collection,
            direction,
            len(genes),
            len(background),
            len(eligible),
        )
        result = gseapy.enrich(
            gene_list=[g.upper() for g in genes],
            gene_sets=eligible,
            background=list(upper),
            outdir=None,
            no_plot=True,
            verbose=False,
        )
        res = getattr(result, "res2d", None)
        if res is None or len(res) == 0:
            continue
        pvalues = {str(t): float(p) for t, p in zip(res["Term"], res["P-value"], strict=True)}
        terms = list(eligible)
        adjusted = dict(
            zip(
                terms,
                benjamini_hochberg([max(pvalues.get(t, 1.0), ORA_PVALUE_MIN) for t in terms]),
                strict=True,
            )
        )
        rows = []
        for rec in res.to_dict("records"):
            term = str(rec["Term"])
            hits = sorted(upper.get(g, g) for g in str(rec["Genes"]).split(";") if g)
            pvalue = min(max(float(rec["P-value"]), ORA_PVALUE_MIN), 1.0)
            rows.append(
                {
                    "term": term,
                    "collection": collection,
                    "method": "ora",
                    "direction": direction,
                    "size": len(eligible[term]),
                    "n_overlap": len(hits),
                    "pvalue": pvalue,
                    "fdr": float(adjusted[term]),
                    "leading_edge": ";".join(hits),
                    "odds_ratio": _float(rec["Odds Ratio"]),
                    "pvalue_at_floor": False,
                    "pvalue_display": format_pvalue(pvalue),
                }
            )
        tables.append(conform(rows))
    if not tables:
        return empty_result()
    return pl.concat(tables).sort(["direction", "pvalue", "term"], descending=[True, False, False])


# --------------------------------------------------------------------------------------------
# One contrast x one collection
# --------------------------------------------------------------------------------------------
def enrich_contrast(
    de: pl.DataFrame,
    sets: Mapping[str, Sequence[str]],
    *,
    collection: str,
    permutations: int = 1000,
    seed: int = 123,
    min_size: int = 15,
    max_size: int = 500,
    threads: int = 1,
    ora_padj: float = 0.05,
    ora_min_abs_lfc: float = 0.0,
    source: str = "",
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, Any]]:
    """Prerank + ORA for one DE table and one collection.

    Returns ``(table, coverage, report)``: the enrichment table (:data:`RESULT_SCHEMA`, prerank rows
    first), the per-set coverage table (:data:`COVERAGE_SCHEMA`) and a report for provenance.
    A collection sharing no gene with the data gives a warning and an empty, schema-valid table.
    """
    _check_de_columns(de, source or "(in memory)")
    data_genes = [s for s in de["symbol"].cast(pl.String).to_list() if s]
    coverage = coverage_table(sets, data_genes, collection)
    report: dict[str, Any] = {
        "n_sets": len(sets),
        "n_sets_with_overlap": coverage.filter(pl.col("n_in_data") > 0).height,
        "median_coverage": float(coverage["coverage"].median()) if coverage.height else None,
    }
    if report["n_sets_with_overlap"] == 0:
        log.warning(
            "collection '%s': none of its %d gene sets shares a gene with the %d genes of the DE "
            "table %s; check that the GMT uses gene symbols. Writing an empty table.",
            collection,
            len(sets),
            len(data_genes),
            source,
        )
        report.update(ranking=None, n_sets_tested_prerank=0, n_sets_tested_ora=0)
        return empty_result(), coverage, report
    ranking, ranking_report = prepare_ranking(de, source)
    prerank = run_prerank(
        ranking,
        sets,
        collection=collection,
        permutations=permutations,
        seed=seed,
        min_size=min_size,
        max_size=max_size,
        threads=threads,
    )
    ora = run_ora(
        de,
        sets,
        collection=collection,
        padj_threshold=ora_padj,
        min_abs_lfc=ora_min_abs_lfc,
        min_size=min_size,
        max_size=max_size,
    )
    background, up, down = ora_gene_lists(de, ora_padj, ora_min_abs_lfc)
    tested_prerank = _eligible(
        {t: [g.upper() for g in genes] for t, genes in sets.items()},
        {g.upper() for g in ranking.index},
        min_size,
        max_size,
    )
    tested_ora = _eligible(
        {t: [g.upper() for g in genes] for t, genes in sets.items()},
        {g.upper() for g in background},
        min_size,
        max_size,
    )
    coverage = coverage.with_columns(
        pl.col("term").is_in(list(tested_prerank)).alias("tested_prerank"),
        pl.col("term").is_in(list(tested_ora)).alias("tested_ora"),
    )
    report.update(
        ranking=ranking_report,
        n_sets_tested_prerank=len(tested_prerank),
        n_sets_tested_ora=len(tested_ora),
        ora={"n_background": len(background), "n_up": len(up), "n_down": len(down)},
        pvalue_floor=pvalue_floor(permutations),
        n_prerank_pvalue_at_floor=prerank.filter(pl.col("pvalue_at_floor")).height,
    )
    table = pl.concat([prerank, ora]) if ora.height else prerank
    table = table.join(
        coverage.select(
            "term", pl.col("set_size").alias("_set_size"), pl.col("coverage").alias("_cov")
        ),
        on="term",
        how="left",
        maintain_order="left",
    ).with_columns(pl.col("_set_size").alias("set_size"), pl.col("_cov").alias("coverage"))
    table = conform(table)
    check_result(table)
    return table, coverage, report


# --------------------------------------------------------------------------------------------
# Dot plot
# --------------------------------------------------------------------------------------------
_COLLECTION_PREFIX = re.compile(r"^(HALLMARK|REACTOME|GOBP|GOCC|GOMF|WP|BIOCARTA|PID)_")
_TRAILING_ID = re.compile(r"^(.*?)(\s*\((?:GO|R-HSA)[:-][^)]*\))$")


def plot_label(term: str, width: int = 55) -> str:
    """A readable y-axis label: MSigDB prefix dropped, underscores as spaces, cut to ``width``
    characters with an ellipsis while keeping a trailing ``(GO:nnnnnnn)`` id."""
    label = _COLLECTION_PREFIX.sub("", term)
    if label != term:
        label = label.replace("_", " ")
    if len(label) <= width:
        return label
    match = _TRAILING_ID.match(label)
    name, suffix = (match.group(1), match.group(2)) if match else (label, "")
    keep = max(width - len(suffix) - 1, 8)
    return name[:keep].rstrip() + "\u2026" + suffix


def top_terms(table: pl.DataFrame, top_n: int = 10, method: str = "prerank") -> pl.DataFrame:
    """The ``top_n`` terms of ``method`` by FDR (then p-value, |NES|), ordered by NES for plotting."""
    rows = table.filter((pl.col("method") == method) & pl.col("fdr").is_not_null())
    score = pl.col("nes").abs() if method == "prerank" else pl.col("odds_ratio")
    rows = rows.sort(
        [pl.col("fdr"), pl.col("pvalue"), score, pl.col("term")],
        descending=[False, False, True, False],
        nulls_last=True,
    ).head(top_n)
    return rows.sort("nes" if method == "prerank" else "odds_ratio", nulls_last=True)


def dotplot(
    tables: Mapping[str, pl.DataFrame],
    title: str = "",
    top_n: int = 10,
    label_width: int = 55,
) -> matplotlib.figure.Figure:
    """Dot plot of the top prerank terms of each collection: x = NES, colour = NES,
    dot area = -log10 FDR; one panel per collection; long term names truncated."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import TwoSlopeNorm

    panels = [(cid, top_terms(t, top_n)) for cid, t in tables.items()]
    panels = [(cid, rows) for cid, rows in panels if rows.height] or []
    if not panels:
        fig, ax = plt.subplots(figsize=(6, 2))
        ax.axis("off")
        ax.text(0.5, 0.5, "no prerank results to show", ha="center", va="center")
        if title:
            ax.set_title(title)
        return fig
    heights = [max(rows.height, 2) for _, rows in panels]
    fig, axes = plt.subplots(
        len(panels),
        1,
        figsize=(9, 1.2 + 0.32 * sum(heights) + 0.5 * len(panels)),
        gridspec_kw={"height_ratios": heights},
        squeeze=False,
    )
    all_nes = np.concatenate([rows["nes"].to_numpy() for _, rows in panels])
    vmax = max(float(np.nanmax(np.abs(all_nes))), 1e-6)
    norm = TwoSlopeNorm(vmin=-vmax, vcenter=0.0, vmax=vmax)
    all_fdr = np.concatenate([rows["fdr"].to_numpy() for _, rows in panels])
    max_logq = max(float(np.nanmax(-np.log10(all_fdr))), 1.0)

    def area(fdr: np.ndarray) -> np.ndarray:
        return 20 + 280 * (-np.log10(fdr)) / max_logq

    scatter = None
    for ax, (cid, rows) in zip(axes[:, 0], panels, strict=True):
        y = np.arange(rows.height)
        nes = rows["nes"].to_numpy()
        fdr = rows["fdr"].to_numpy()
        scatter = ax.scatter(
            nes, y, c=nes, cmap="RdBu_r", norm=norm, s=area(fdr), edgecolors="black", linewidths=0.5
        )
        ax.set_yticks(y, [plot_label(t, label_width) for t in rows["term"].to_list()], fontsize=8)
        ax.set_ylim(-0.7, rows.height - 0.3)
        ax.axvline(0, color="grey", linewidth=0.8, linestyle=":")
        ax.set_xlim(-vmax * 1.15, vmax * 1.15)
        ax.set_title(cid, fontsize=10, loc="left")
        ax.grid(axis="x", alpha=0.3)
    axes[-1, 0].set_xlabel("normalised enrichment score (NES)")
    height = fig.get_figheight()
    fig.subplots_adjust(top=1 - 0.55 / height, bottom=0.45 / height, hspace=0.35)
    if title:
        fig.suptitle(title, fontsize=11, y=1 - 0.15 / height)
    fig.colorbar(scatter, ax=axes[:, 0].tolist(), label="NES", shrink=0.6, pad=0.02)
    legend_fdr = [0.25, 0.05, 0.001]
    handles = [
        axes[0, 0].scatter(
            [], [], s=float(area(np.array([q]))[0]), color="grey", edgecolors="black"
        )
        for q in legend_fdr
    ]
    axes[0, 0].legend(
        handles,
        [f"FDR {q:g}" for q in legend_fdr],
        title="-log10 FDR",
        loc="lower left",
        bbox_to_anchor=(1.18, 0.0) if len(panels) == 1 else (1.18, -0.2),
        fontsize=7,
        title_fontsize=7,
        frameon=False,
    )
    return fig


# --------------------------------------------------------------------------------------------
# Snakemake entry points
# --------------------------------------------------------------------------------------------
def with_defaults(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``enrich:`` settings with :data:`DEFAULT_SETTINGS` filled in for missing keys."""
    merged = {**DEFAULT_SETTINGS, **{k: v for k, v in (settings or {}).items() if v is not None}}
    if int(merged["min_size"]) > int(merged["max_size"]):
        raise AlsigError(
            f"config key enrich.min_size ({merged['min_size']}) is larger than enrich.max_size "
            f"({merged['max_size']}); no gene set could be tested."
        )
    if int(merged["permutations"]) < 1:
        raise AlsigError(
            f"config key enrich.permutations: {merged['permutations']}; needs at least 1 "
            "(1000 or more for usable p-values)."
        )
    return merged


def configured_collections(
    settings: Mapping[str, Any] | None, base_dir: str | Path = "."
) -> list[Collection]:
    """The collections an ``enrich:`` settings dict selects (see :func:`resolve_collections`)."""
    settings = with_defaults(settings)
    return resolve_collections(settings["collections"], settings["extra_gmt"], base_dir=base_dir)


def _collection_for(settings: Mapping[str, Any], collection_id: str) -> Collection:
    for collection in configured_collections(settings):
        if collection.id == collection_id:
            return collection
    raise AlsigError(
        f"collection '{collection_id}' is not configured (config keys enrich.collections / "
        "enrich.extra_gmt) or its file is missing."
    )


def run_enrich_rule(smk: Any) -> None:
    """Rule ``enrich``: one DE table x one collection -> table (parquet + tsv), coverage, json."""
    from alsig import __version__
    from alsig.io import sha256_file, write_parquet, write_text, write_tsv

    settings = with_defaults(smk.params.settings)
    collection = _collection_for(settings, smk.wildcards.collection)
    de_path = smk.input.de
    de = pl.read_parquet(de_path)
    sets, info = load_collection(collection)
    table, coverage, report = enrich_contrast(
        de,
        sets,
        collection=collection.id,
        permutations=int(settings["permutations"]),
        seed=int(settings["seed"]),
        min_size=int(settings["min_size"]),
        max_size=int(settings["max_size"]),
        threads=int(smk.threads),
        ora_padj=float(settings["ora_padj"]),
        ora_min_abs_lfc=float(settings["ora_min_abs_lfc"]),
        source=str(de_path),
    )
    write_parquet(table, smk.output.parquet)
    write_tsv(table, smk.output.tsv)
    write_tsv(coverage, smk.output.coverage)
    import gseapy

    provenance = {
        "collection": info,
        "de_table": {"path": str(de_path), "sha256": sha256_file(de_path)},
        "parameters": {
            k: settings.get(k)
            for k in (
                "permutations",
                "seed",
                "min_size",
                "max_size",
                "ora_padj",
                "ora_min_abs_lfc",
            )
        },
        "threads": int(smk.threads),
        "report": report,
        "n_rows": {
            "prerank": table.filter(pl.col("method") == "prerank").height,
            "ora": table.filter(pl.col("method") == "ora").height,
        },
        "software": {"alsig": __version__, "gseapy": gseapy.__version__, "polars": pl.__version__},
    }
    write_text(json.dumps(provenance, indent=2, default=str) + "\n", smk.output.json)


def run_enrich_report_rule(smk: Any) -> None:
    """Rule ``enrich_report``: all collections of one contrast -> dot plot + provenance.json."""
    from alsig.io import save_figure, write_text

    tables = {}
    collections = {}
    for parquet, sidecar in zip(smk.input.tables, smk.input.json, strict=True):
        meta = json.loads(Path(sidecar).read_text())
        cid = meta["collection"]["id"]
        tables[cid] = pl.read_parquet(parquet)
        collections[cid] = meta
    title = f"{smk.wildcards.dataset}: {smk.wildcards.contrast} (GSEA preranked on DE stat)"
    top_n = int(with_defaults(smk.params.settings)["dotplot_top_n"])
    fig = dotplot(tables, title=title, top_n=top_n)
    save_figure(fig, smk.output.dotplot)
    provenance = {
        "dataset": smk.wildcards.dataset,
        "contrast": smk.wildcards.contrast,
        "collections": {
            cid: {
                **{
                    k: meta["collection"][k]
                    for k in ("name", "version", "source", "license", "sha256", "n_sets")
                },
                "n_sets_tested_prerank": meta["report"].get("n_sets_tested_prerank"),
                "n_sets_tested_ora": meta["report"].get("n_sets_tested_ora"),
                "median_coverage": meta["report"].get("median_coverage"),
            }
            for cid, meta in collections.items()
        },
        "runs": collections,
    }
    write_text(json.dumps(provenance, indent=2, default=str) + "\n", smk.output.provenance)
