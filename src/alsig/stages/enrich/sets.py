"""Gene sets as enrichment tests them: loaded, harmonised to current HGNC symbols, restricted.

Reading GMT files and resolving which collections a run uses live in :mod:`alsig.genesets`
(standard library only, so the workflow's planning can use them at parse time).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from alsig.errors import AlsigError, where
from alsig.genes import GeneMap
from alsig.genesets import Collection, read_gmt, resolve_collections
from alsig.io import sha256_file
from alsig.settings import EnrichSettings

log = logging.getLogger(__name__)


def harmonise_gene_sets(
    sets: Mapping[str, Sequence[str]], gene_map: GeneMap | None = None
) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """Map every gene symbol to its current HGNC symbol (same offline map and rules as ingest).

    Each distinct symbol is resolved on its own, so an outdated symbol is renamed even when its
    current name appears elsewhere in the collection; two names of the same gene in one set merge.

    Parameters
    ----------
    sets
        ``{set name: [symbols]}``.
    gene_map
        The offline gene map; the shipped one when not given.

    Returns
    -------
    sets
        ``{set name: [current symbols]}``, order kept, duplicates merged.
    report
        Counts of renamed, unmapped and merged symbols, with up to 50 renaming examples.
    """
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
    """Read, checksum-check and harmonise one collection.

    Parameters
    ----------
    collection
        The collection (its GMT file and, for shipped ones, the manifest checksum).
    gene_map
        The offline gene map; the shipped one when not given.

    Returns
    -------
    sets
        ``{set name: [current symbols]}``.
    info
        Provenance: the collection's description, file checksum, number of sets and the
        harmonisation report.
    """
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
    sets, harmonisation = harmonise_gene_sets(read_gmt(collection.path), gene_map)
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


def configured_collections(
    settings: EnrichSettings, base_dir: str | Path = "."
) -> list[Collection]:
    """Return the collections the ``enrich:`` settings select.

    Parameters
    ----------
    settings
        The ``enrich:`` settings (``collections``, ``extra_gmt``).
    base_dir
        Folder that relative ``extra_gmt`` paths are relative to.

    Returns
    -------
    list of Collection
        As :func:`alsig.genesets.resolve_collections` resolves them.
    """
    extra = [dataclasses.asdict(entry) for entry in settings.extra_gmt]
    return resolve_collections(settings.collections, extra, base_dir=base_dir)


def collection_for(settings: EnrichSettings, collection_id: str) -> Collection:
    """Return the configured collection with id ``collection_id``.

    Parameters
    ----------
    settings
        ``enrich:`` settings.
    collection_id
        A collection id (the rule's ``collection`` wildcard).

    Raises
    ------
    AlsigError
        When no configured collection has that id (or its file is missing).
    """
    for collection in configured_collections(settings):
        if collection.id == collection_id:
            return collection
    raise AlsigError(
        f"collection '{collection_id}' is not configured (config keys enrich.collections / "
        "enrich.extra_gmt) or its file is missing."
    )


def eligible_sets(
    sets: Mapping[str, Sequence[str]], universe: set[str], min_size: int, max_size: int
) -> dict[str, list[str]]:
    """Return the sets a method tests: those within [min_size, max_size] genes of ``universe``.

    Each set is restricted to ``universe``; a set as large as the universe is not tested.

    Parameters
    ----------
    sets
        ``{set name: [symbols]}``.
    universe
        The method's genes (ranked genes for prerank, background genes for ORA).
    min_size, max_size
        Set-size range within ``universe``.

    Returns
    -------
    dict
        ``{set name: [symbols in universe]}``, duplicates dropped, order kept.
    """
    out = {}
    for term, genes in sets.items():
        kept = list(dict.fromkeys(g for g in genes if g in universe))  # gseapy dedups too
        if min_size <= len(kept) <= max_size and len(kept) < len(universe):
            out[term] = kept
    return out


def upper_map(genes: Iterable[str]) -> dict[str, str]:
    """Return ``{UPPER: symbol}`` of ``genes``.

    gseapy upper-cases gene lists that are not >= 90 % upper case (and then misses mixed-case
    symbols such as C9orf72); giving it upper-case names everywhere avoids that.
    """
    return {g.upper(): g for g in genes}


def upper_sets(sets: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Return ``sets`` with upper-case symbols (see :func:`upper_map`)."""
    return {t: [g.upper() for g in genes] for t, genes in sets.items()}
