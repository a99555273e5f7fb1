"""Entry point of rule ``subtypes_enrich``: each called subtype's DE table x every collection.

A module of its own (with :mod:`.carry_enrich`) so that the job imports only the enrichment
engine and the reference model's feature lists.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import polars as pl

from alsig.gsea.camera import Residuals
from alsig.io import write_parquet, write_tsv
from alsig.settings import DeSettings, EnrichSettings, SubtypesSettings
from alsig.settings.stages import de_settings_without_null, from_mapping
from alsig.stages.enrich.sets import collection_for, load_collection
from alsig.stages.subtypes.carry_enrich import CIRCULARITY_NOTE, ENRICH_EXTRA, subtype_enrichment
from alsig.stages.subtypes.reference_model import CLASSES as SUBTYPES
from alsig.stages.subtypes.reference_model import load_shipped

log = logging.getLogger(__name__)


def subtype_settings(value: SubtypesSettings | Mapping[str, Any]) -> SubtypesSettings:
    """Return the ``subtypes:`` settings of a rule whose own ``settings`` are another stage's.

    Parameters
    ----------
    value
        The settings, or their resolved mapping (a rule's ``params``).

    Returns
    -------
    SubtypesSettings
    """
    if isinstance(value, SubtypesSettings):
        return value
    return from_mapping(SubtypesSettings, value)


def run_enrich(
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    settings: EnrichSettings,
    threads: int,
    *,
    dataset: str,
    subtypes: SubtypesSettings | Mapping[str, Any],
    de: DeSettings | Mapping[str, Any],
) -> None:
    """Rule ``subtypes_enrich``: each subtype's DE table x every collection of the dataset.

    Parameters
    ----------
    inputs
        ``de``: the subtypes' DE tables (in :data:`~alsig.stages.subtypes.carry.SUBTYPES`
        order); ``subtypes``: the per-sample table (its model and calls); ``h5ad``: the QC'd
        AnnData the subtypes' DE read (camera's residuals of their fit).
    outputs
        ``parquet``, ``tsv``: one table per subtype (same order), every collection in it.
    settings
        The dataset's ``enrich:`` settings.
    threads
        Prerank threads.
    dataset
        The job's wildcard.
    subtypes
        The dataset's ``subtypes:`` settings (``enrich_collections``).
    de
        The dataset's ``de:`` settings (or their resolved mapping, the rule's ``params.de``):
        the design and samples of the subtypes' fit.
    """
    # the DE stage is loaded only now: the job's start stays light (tests/unit/test_architecture)
    from alsig.io import read_h5ad_counts
    from alsig.stages.subtypes.carry import subtype_residuals

    chosen = subtype_settings(subtypes)
    gene_sets = subtype_gene_sets(settings, chosen)
    table = pl.read_parquet(inputs["subtypes"], columns=["sample", "subtype_call", "subtype_model"])
    model_symbols = set(load_shipped(str(table["subtype_model"][0])).gene_symbols)
    de_settings = de if isinstance(de, DeSettings) else de_settings_without_null(de)
    calls = pd.Series(table["subtype_call"].to_list(), index=table["sample"].to_list())
    residuals = subtype_residuals(
        read_h5ad_counts(str(inputs["h5ad"])),
        calls,
        SUBTYPES,
        de_settings=de_settings,
        settings=chosen,
        source=str(inputs["h5ad"]),
    )
    paths = zip(inputs["de"], outputs["parquet"], outputs["tsv"], strict=True)
    for subtype, (de_path, parquet, tsv) in zip(SUBTYPES, paths, strict=True):
        table = subtype_enrichment_table(
            pl.read_parquet(de_path),
            gene_sets,
            enrich_settings=settings,
            model_symbols=model_symbols,
            threads=int(threads),
            source=str(de_path),
            residuals=residuals[subtype],
        )
        for collection in gene_sets:
            rows = table.filter(pl.col("collection") == collection).height
            note = CIRCULARITY_NOTE if rows else "nothing tested (no DE table)"
            log.info("%s, %s / %s: %d rows; %s", dataset, subtype, collection, rows, note)
        write_parquet(table, parquet, schema=ENRICH_EXTRA)
        write_tsv(table, tsv)


def subtype_gene_sets(
    settings: EnrichSettings, subtypes: SubtypesSettings
) -> dict[str, dict[str, list[str]]]:
    """Return the gene sets each called subtype is tested on, by collection.

    Parameters
    ----------
    settings
        The dataset's ``enrich:`` settings (its ``extra_gmt`` ids can be named).
    subtypes
        The dataset's ``subtypes:`` settings (``enrich_collections``).

    Returns
    -------
    dict
        ``{collection id: {set name: [symbols]}}`` in ``subtypes.enrich_collections`` order.
    """
    collections = dataclasses.replace(settings, collections=subtypes.enrich_collections)
    return {
        c: dict(load_collection(collection_for(collections, c))[0])
        for c in subtypes.enrich_collections
    }


def subtype_enrichment_table(
    de: pl.DataFrame,
    gene_sets: Mapping[str, Mapping[str, Sequence[str]]],
    *,
    enrich_settings: EnrichSettings,
    model_symbols: set[str],
    threads: int,
    source: str,
    residuals: Residuals | None = None,
) -> pl.DataFrame:
    """Return one subtype's enrichment table: its DE table x every collection, stacked.

    Parameters
    ----------
    de
        The subtype's DE table (:func:`alsig.stages.subtypes.carry.subtype_de`).
    gene_sets
        :func:`subtype_gene_sets`.
    enrich_settings, model_symbols, threads, source, residuals
        As for :func:`~alsig.stages.subtypes.carry_enrich.subtype_enrichment`.

    Returns
    -------
    polars.DataFrame
        Schema ``subtypes_enrichment``; no rows when the DE table has none or there are no
        collections.
    """
    # a subtype too small to fit has an empty DE table, which gives an empty table; so does
    # subtypes.enrich_collections: [] (one part: no sets, no DE rows)
    if not gene_sets:
        de = de.clear()
    parts = [
        subtype_enrichment(
            de,
            sets,
            collection=collection,
            enrich_settings=enrich_settings,
            model_symbols=model_symbols,
            threads=threads,
            source=source,
            residuals=residuals,
        )
        for collection, sets in (gene_sets or {"": {}}).items()
    ]
    return pl.concat(parts)
