"""Entry point of rule ``subtypes_enrich``: one called subtype's DE table x one collection.

A module of its own (with :mod:`.carry_enrich`) so that these jobs, one per subtype and
collection, import only the enrichment engine and the reference model's feature lists.
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
    subtype: str,
    collection: str,
    subtypes: SubtypesSettings | Mapping[str, Any],
) -> None:
    """Rule ``subtypes_enrich``: one subtype's DE table x one collection.

    Parameters
    ----------
    inputs
        ``de``: the subtype's DE table; ``subtypes``: the per-sample table (its model).
    outputs
        ``parquet``, ``tsv``.
    settings
        The dataset's ``enrich:`` settings.
    threads
        Prerank threads.
    dataset, subtype, collection
        The job's wildcards.
    subtypes
        The dataset's ``subtypes:`` settings (``enrich_collections``).
    """
    chosen = subtype_settings(subtypes)
    de = pl.read_parquet(inputs["de"])
    sets: dict[str, list[str]] = {}
    if de.height:  # a subtype too small to fit has an empty DE table: nothing to test
        collections = dataclasses.replace(settings, collections=chosen.enrich_collections)
        sets, _ = load_collection(collection_for(collections, collection))
    table = pl.read_parquet(inputs["subtypes"], columns=["subtype_model"])
    model = load_shipped(str(table["subtype_model"][0]))
    result = subtype_enrichment(
        de,
        sets,
        collection=collection,
        enrich_settings=settings,
        model_symbols=set(model.gene_symbols),
        threads=int(threads),
        source=str(inputs["de"]),
    )
    log.info(
        "dataset %s, %s / %s: %d rows; %s",
        dataset,
        subtype,
        collection,
        result.height,
        CIRCULARITY_NOTE if result.height else "nothing tested (no DE table)",
    )
    write_parquet(result, outputs["parquet"])
    write_tsv(result, outputs["tsv"])
