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
from alsig.stages.enrich.ranking import Ranking
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
    """The prerank table with ``enrich:`` settings ``settings`` (the rest: defaults).

    ``ranking``: a :class:`~alsig.stages.enrich.ranking.Ranking` or a ``pandas.Series`` of
    statistics indexed by symbol, in ranking order.
    """
    if not isinstance(ranking, Ranking):
        ranking = Ranking([str(g) for g in ranking.index], ranking.to_numpy(dtype=float))
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


def bretigea_cohort(
    n_markers: int = 60,
    *,
    n_genes: int = 1500,
    cell_mix_sd: float = 0.4,
    cell_mix_condition_shift: Mapping[str, float] | None = None,
    extra_genes: Sequence[str] = (),
    **toy: Any,
) -> Any:
    """A toy cohort whose planted markers are the shipped BRETIGEA markers, with a ``vst`` layer.

    The first ``n_markers`` distinct markers of each of the six shipped lists are the planted
    markers of that cell type (``var["marker_of"]``), so the workflow's cell indices find them;
    ``layers["vst"]`` is log2(normalised counts + 1) (the rank index sees only within-sample
    order, which the VST shares). ``extra_genes`` (e.g. signature genes) name the next genes,
    after the markers. Other keywords go to :func:`alsig.toy.toy_cohort`.
    """
    import numpy as np

    from alsig.cellmix import CELL_TYPES, load_markers
    from alsig.toy import toy_cohort

    lists = load_markers().ranked
    used: set[str] = set()
    names: list[str] = []
    for cell_type in CELL_TYPES:
        chosen = [g for g in lists[cell_type] if g not in used][:n_markers]
        used.update(chosen)
        names += chosen
    names += [g for g in dict.fromkeys(extra_genes) if g not in used]
    adata = toy_cohort(
        n_genes=n_genes,
        cell_types=dict.fromkeys(CELL_TYPES, n_markers),
        cell_mix_sd=cell_mix_sd,
        cell_mix_condition_shift=cell_mix_condition_shift,
        gene_names=names,
        mean_log=toy.pop("mean_log", (5.0, 1.0)),
        **toy,
    )
    counts = adata.X.astype(float)
    library = counts.sum(axis=1, keepdims=True)
    adata.layers["vst"] = np.log2(counts / library * library.mean() + 1).astype(np.float32)
    return adata
