"""Stage functions with their settings given as keywords over the schema's defaults, as a config
would give them (``permutations=100``, ``methods=["ssgsea"]``): the tests' shorthand."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from alsig.settings import complete
from alsig.stages.enrich.contrast import ContrastResult, enrich_contrast
from alsig.stages.enrich.ora import ora_options, ora_result
from alsig.stages.enrich.prerank import prerank_options, prerank_result
from alsig.stages.score.scoring import ScoreResult, score_anndata


def contrast_result(
    de: pl.DataFrame,
    sets: Mapping[str, Sequence[str]],
    *,
    collection: str,
    threads: int = 1,
    **settings: Any,
) -> ContrastResult:
    """:func:`enrich_contrast` with ``enrich:`` settings ``settings`` (the rest: defaults)."""
    return enrich_contrast(
        de,
        sets,
        collection=collection,
        settings=complete("enrich", settings),
        threads=threads,
        source="",
    )


def prerank_table(
    ranking: Any,
    sets: Mapping[str, Sequence[str]],
    *,
    collection: str,
    threads: int = 1,
    **settings: Any,
) -> pl.DataFrame:
    """The prerank table with ``enrich:`` settings ``settings`` (the rest: defaults)."""
    options = prerank_options(complete("enrich", settings), threads)
    return prerank_result(ranking, sets, collection=collection, options=options).table


def ora_table(
    de: pl.DataFrame, sets: Mapping[str, Sequence[str]], *, collection: str, **settings: Any
) -> pl.DataFrame:
    """The over-representation table with ``enrich:`` settings ``settings``."""
    options = ora_options(complete("enrich", settings))
    return ora_result(de, sets, collection=collection, options=options).table


def score_result(
    adata: Any,
    signatures: Sequence[Any],
    te_signatures: Sequence[Any] = (),
    *,
    dataset: str | None = None,
    **settings: Any,
) -> ScoreResult:
    """:func:`score_anndata` with ``score:`` settings ``settings`` (the rest: defaults)."""
    return score_anndata(
        adata, signatures, te_signatures, settings=complete("score", settings), dataset=dataset
    )
