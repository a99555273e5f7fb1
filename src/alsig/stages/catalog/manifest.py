"""Build the score catalog of a run from every dataset's long table, and its manifest."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import polars as pl

from alsig.errors import AlsigError, where
from alsig.io import VERSION_KEYS, read_table_metadata, sha256_file, write_tsv
from alsig.stages.catalog.partitions import remove_stale_partitions, write_catalog_partition
from alsig.tables import SCHEMA_VERSION, read_scores, schemas

log = logging.getLogger(__name__)

MANIFEST_SCHEMA = "catalog_manifest"  # workflow/schemas/catalog_manifest.schema.yaml


@dataclass(frozen=True)
class CatalogEntry:
    """One dataset of the catalog: a manifest row."""

    dataset: str
    n_rows: int
    n_samples: int
    schema_version: str
    partition: str
    sha256: str


def manifest_table(entries: Iterable[CatalogEntry]) -> pl.DataFrame:
    """Return the manifest.

    One row per :class:`CatalogEntry`, columns of the shipped ``catalog_manifest`` schema.
    """
    table = pl.DataFrame(
        [asdict(e) for e in entries], schema=schemas.polars_schema(MANIFEST_SCHEMA)
    )
    return schemas.validate(table, MANIFEST_SCHEMA, "catalog manifest")


def _add_dataset(
    df: pl.DataFrame, catalog: Path, dataset: str, metadata: Mapping[str, str], base: Path
) -> CatalogEntry:
    part = write_catalog_partition(df, catalog, dataset, metadata)
    rows = df.filter(pl.col("dataset") == dataset)
    log.info("catalog: dataset %s, %d rows -> %s", dataset, rows.height, part)
    return CatalogEntry(
        dataset=dataset,
        n_rows=rows.height,
        n_samples=rows["sample"].n_unique(),
        schema_version=SCHEMA_VERSION,
        # relative to the manifest's folder: it resolves wherever the run's folder is moved
        # or mounted, and does not depend on the folder Snakemake ran in
        partition=Path(os.path.relpath(part, base)).as_posix(),
        sha256=sha256_file(part),
    )


def write_catalog(
    tables: Iterable[str | os.PathLike[str]],
    catalog: str | os.PathLike[str],
    manifest: str | os.PathLike[str] | None = None,
    *,
    remove_stale: bool = True,
) -> pl.DataFrame:
    """Rewrite the catalog from every dataset's long table.

    Parameters
    ----------
    tables
        Long score tables (parquet), one or more datasets each.
    catalog
        The hive-partitioned catalog directory.
    manifest
        Where to write the manifest TSV (not written when None).
    remove_stale
        Remove the partitions of datasets that are not among ``tables`` (the catalog describes
        one run).

    Returns
    -------
    polars.DataFrame
        The manifest: dataset, rows, samples, schema version, partition path (relative to the
        manifest's folder; without a manifest, to the catalog's) and its sha256.

    Raises
    ------
    AlsigError
        A table fails :func:`alsig.tables.read_scores`, or a dataset is in two tables.
    """
    catalog = Path(catalog)
    base = Path(manifest).parent if manifest is not None else catalog.parent
    entries = []
    seen: set[str] = set()
    for table in tables:
        df = read_scores(table)
        # the partition keeps what the table says beyond its versions (alsig.reference_by)
        stored = read_table_metadata(table) if Path(table).is_file() else {}
        kept = {k: v for k, v in stored.items() if k not in VERSION_KEYS}
        for dataset in sorted(set(df["dataset"].to_list())):
            if dataset in seen:
                raise AlsigError(
                    f"{where(table)}: dataset '{dataset}' appears in two score tables."
                )
            seen.add(dataset)
            entries.append(_add_dataset(df, catalog, dataset, kept, base))
    if remove_stale:
        remove_stale_partitions(catalog, seen)
    result = manifest_table(entries)
    if manifest is not None:
        write_tsv(result, manifest)
    return result
