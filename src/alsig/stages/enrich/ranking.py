"""The DE table as enrichment sees it: column check and the GSEA ranking on the DE ``stat``.

A contrast's ``stat`` is signed evidence: the Wald z of the DESeq2 model or the moderated t of the
mixed model (repeated donors); both order genes from most up to most down, so either is a GSEA
ranking. A test of a reduced design (``de.tests``: deviance difference or moderated F) has no
direction and is refused.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from alsig.errors import AlsigError

log = logging.getLogger(__name__)

#: Columns of the DE stage's table that enrichment reads.
DE_COLUMNS = ("symbol", "log2_fold_change", "stat", "padj")

TIE_BREAK = "log2_fold_change descending, then symbol"


@dataclass(frozen=True)
class Ranking:
    """A GSEA ranking: unique symbols, highest statistic first, and their statistics.

    Attributes
    ----------
    symbols
        Unique symbols in ranking order (ties already broken).
    stats
        Their statistics, same order (finite).
    """

    symbols: list[str]
    stats: np.ndarray

    def __len__(self) -> int:
        """Return the number of ranked genes."""
        return len(self.symbols)


@dataclass(frozen=True)
class RankingReport:
    """What :func:`prepare_ranking` dropped, clipped and tie-broke (provenance ``report.ranking``)."""

    n_genes_in_de_table: int
    n_dropped_null_stat: int
    n_dropped_no_symbol: int
    n_dropped_duplicate_symbol: int
    n_infinite_stat_clipped: int
    n_ranked: int
    n_tied_genes: int
    n_tie_groups: int
    tie_break: str = TIE_BREAK

    def as_dict(self) -> dict[str, Any]:
        """Return the report as a JSON-ready dict (field order kept)."""
        return dataclasses.asdict(self)


def check_de_columns(de: pl.DataFrame, source: str) -> None:
    """Raise :class:`AlsigError` naming ``source`` unless ``de`` has :data:`DE_COLUMNS`.

    Parameters
    ----------
    de
        A DE table (the DE stage's output).
    source
        Where it came from, for the message.
    """
    missing = [c for c in DE_COLUMNS if c not in de.columns]
    if missing:
        raise AlsigError(
            f"DE table {source}: missing column(s) {missing}; expected the DE stage output "
            "(gene_id, symbol, base_mean, log2_fold_change, lfc_se, stat, pvalue, padj, ...)."
        )
    unsigned = "model" in de.columns and (
        de["model"].eq("deseq2_lrt").any()
        or ("df_denominator" in de.columns and de["df_denominator"].is_not_null().any())
    )
    if unsigned:
        raise AlsigError(
            f"DE table {source}: a test of a reduced design (de.tests; its stat is a deviance "
            "or an F statistic, without a direction) cannot rank genes for GSEA; enrich a "
            "contrast (de.contrasts)."
        )


def finite_or_null(column: str) -> pl.Expr:
    """``column`` as Float64 with NaN turned into null (infinities kept)."""
    value = pl.col(column).cast(pl.Float64)
    return pl.when(value.is_nan()).then(None).otherwise(value)


def clean_symbol() -> pl.Expr:
    """Return the ``symbol`` column as stripped strings."""
    return pl.col("symbol").cast(pl.String).str.strip_chars().alias("symbol")


def prepare_ranking(de: pl.DataFrame, source: str = "") -> tuple[Ranking, RankingReport]:
    """Ranking for GSEA preranked: the DE ``stat`` (Wald z or moderated t) per symbol, highest first.

    - genes with a null/NaN ``stat`` (e.g. all-zero or Cook's-outlier genes) or without a symbol
      are dropped and counted;
    - a symbol that occurs twice keeps its row with the largest ``|stat|``;
    - ties in ``stat`` are broken by ``log2_fold_change`` (descending: among equal statistics the
      larger effect is nearer the top end and the more negative effect nearer the bottom end), then
      by symbol, so the order never depends on the input row order; tied genes are counted.

    Parameters
    ----------
    de
        A DE table with :data:`DE_COLUMNS`.
    source
        Where it came from, for messages and logs.

    Returns
    -------
    ranking
        The unique symbols and their ``stat``, in ranking order.
    report
        Counts of dropped, clipped and tied genes.
    """
    check_de_columns(de, source or "(in memory)")
    table, no_stat, no_symbol = _rankable(de)
    table, n_infinite = _clip_infinite(table)
    before = table.height
    table = (
        table.sort(pl.col("stat").abs(), descending=True, maintain_order=True)
        .unique("symbol", keep="first", maintain_order=True)
        .sort(["stat", "lfc", "symbol"], descending=[True, True, False], nulls_last=True)
    )
    tie_sizes = table.group_by("stat").len().filter(pl.col("len") > 1)["len"]
    report = RankingReport(
        n_genes_in_de_table=de.height,
        n_dropped_null_stat=no_stat,
        n_dropped_no_symbol=no_symbol,
        n_dropped_duplicate_symbol=before - table.height,
        n_infinite_stat_clipped=n_infinite,
        n_ranked=table.height,
        n_tied_genes=int(tie_sizes.sum()) if tie_sizes.len() else 0,
        n_tie_groups=tie_sizes.len(),
    )
    _log_ranking(report, source)
    return Ranking(table["symbol"].to_list(), table["stat"].to_numpy()), report


def _rankable(de: pl.DataFrame) -> tuple[pl.DataFrame, int, int]:
    """(symbol, stat, lfc) of the genes with a statistic and a symbol, and how many lacked each."""
    table = de.select(
        clean_symbol(),
        finite_or_null("stat").alias("stat"),
        finite_or_null("log2_fold_change").alias("lfc"),
    )
    has_symbol = pl.col("symbol").is_not_null() & (pl.col("symbol") != "")
    no_stat = table.filter(pl.col("stat").is_null()).height
    no_symbol = table.filter(pl.col("stat").is_not_null() & ~has_symbol).height
    return table.filter(pl.col("stat").is_not_null() & has_symbol), no_stat, no_symbol


def _clip_infinite(table: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """+/-inf statistics keep their place at the ends: replaced by the finite extremes."""
    finite = table.filter(pl.col("stat").is_finite())["stat"]
    n_infinite = table.height - finite.len()
    if not n_infinite:
        return table, 0
    high = float(finite.max()) if finite.len() else 0.0  # type: ignore[arg-type]  # a number
    low = float(finite.min()) if finite.len() else 0.0  # type: ignore[arg-type]  # a number
    clipped = table.with_columns(
        pl.when(pl.col("stat") == float("inf"))
        .then(high)
        .when(pl.col("stat") == float("-inf"))
        .then(low)
        .otherwise(pl.col("stat"))
        .alias("stat")
    )
    return clipped, n_infinite


def _log_ranking(report: RankingReport, source: str) -> None:
    log.info(
        "ranking %s: %d genes ranked on stat; dropped %d without a statistic, %d without a "
        "symbol, %d duplicate symbols; %d genes in %d groups of tied statistics (broken by "
        "log2_fold_change, then symbol)",
        source,
        report.n_ranked,
        report.n_dropped_null_stat,
        report.n_dropped_no_symbol,
        report.n_dropped_duplicate_symbol,
        report.n_tied_genes,
        report.n_tie_groups,
    )
