"""Entry point of rule ``subtypes_enrich``: each called subtype's DE table x every collection.

A module of its own (with :mod:`.carry_enrich`) so that the job imports only the enrichment
engine and the reference model's feature lists.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

import polars as pl

from alsig.io import write_parquet, write_tsv
from alsig.settings import EnrichSettings, SubtypesSettings
from alsig.settings.stages import from_mapping
from alsig.stages.enrich.sets import collection_for, load_collection
from alsig.stages.subtypes.carry_enrich import CIRCULARITY_NOTE, subtype_enrichment
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
) -> None:
    """Rule ``subtypes_enrich``: each subtype's DE table x every collection of the dataset.

    Parameters
    ----------
    inputs
        ``de``: the subtypes' DE tables (in :data:`~alsig.stages.subtypes.carry.SUBTYPES`
        order); ``subtypes``: the per-sample table (its model).
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
    """
    chosen = subtype_settings(subtypes)
    collections = dataclasses.replace(settings, collections=chosen.enrich_collections)
    gene_sets = {
        c: load_collection(collection_for(collections, c))[0] for c in chosen.enrich_collections
    }
    calls = pl.read_parquet(inputs["subtypes"], columns=["subtype_model"])
    model = load_shipped(str(calls["subtype_model"][0]))
    paths = zip(inputs["de"], outputs["parquet"], outputs["tsv"], strict=True)
    for subtype, (de_path, parquet, tsv) in zip(SUBTYPES, paths, strict=True):
        de = pl.read_parquet(de_path)
        parts = []
        for collection, sets in gene_sets.items():
            # a subtype too small to fit has an empty DE table: nothing to test
            result = subtype_enrichment(
                de,
                sets if de.height else {},
                collection=collection,
                enrich_settings=settings,
                model_symbols=set(model.gene_symbols),
                threads=int(threads),
                source=str(de_path),
            )
            note = CIRCULARITY_NOTE if result.height else "nothing tested (no DE table)"
            log.info(
                "dataset %s, %s / %s: %d rows; %s",
                dataset,
                subtype,
                collection,
                result.height,
                note,
            )
            parts.append(result)
        if not parts:  # subtypes.enrich_collections: [] gives empty tables
            parts.append(
                subtype_enrichment(
                    de.clear(),
                    {},
                    collection="",
                    enrich_settings=settings,
                    model_symbols=set(),
                    threads=int(threads),
                    source=str(de_path),
                )
            )
        table = pl.concat(parts)
        write_parquet(table, parquet)
        write_tsv(table, tsv)
