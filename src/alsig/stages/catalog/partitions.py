"""The hive-partitioned score catalog on disk.

One ``dataset=<id>/part-0.parquet`` per dataset, each replaced atomically so that a reader never
sees a half-written partition.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import polars as pl

from alsig.io import write_parquet
from alsig.tables import PARTITION_FILE, SCHEMA_NAME, validate_long

log = logging.getLogger(__name__)


def replace_dir(tmp: Path, final: Path) -> None:
    """Move the folder ``tmp`` onto ``final``.

    The old folder is renamed aside, the new one renamed in, then the old one deleted. Each
    rename is atomic, so ``final`` is always either the old or the new complete folder.

    Parameters
    ----------
    tmp
        The new folder, on the same file system as ``final``.
    final
        Where it goes (replaced if it exists).
    """
    if final.exists():
        old = final.parent.parent / f".{final.parent.name}.{final.name}.old-{os.getpid()}"
        if old.exists():
            shutil.rmtree(old)
        os.rename(final, old)
        os.rename(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, final)


def write_catalog_partition(
    df: pl.DataFrame,
    catalog: str | os.PathLike[str],
    dataset: str,
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Write one dataset's rows to ``<catalog>/dataset=<id>/part-0.parquet`` atomically.

    The file is written in a temporary folder beside the catalog (same file system, outside the
    catalog so readers never list it), synced and renamed into place.

    Parameters
    ----------
    df
        A long score table; only the rows of ``dataset`` are written, without the ``dataset``
        column (it comes from the folder name).
    catalog
        The catalog directory (created if missing).
    dataset
        The dataset id.
    metadata
        Key-value metadata of the dataset's own table to keep (``alsig.reference_by``); the
        versions are written as :func:`alsig.io.write_parquet` writes them.

    Returns
    -------
    pathlib.Path
        The partition file.
    """
    catalog = Path(catalog)
    catalog.mkdir(parents=True, exist_ok=True)
    rows = validate_long(df.filter(pl.col("dataset") == dataset), f"{catalog} (dataset {dataset})")
    tmp = Path(tempfile.mkdtemp(prefix=f".{catalog.name}.{dataset}.", dir=catalog.parent))
    try:
        write_parquet(
            rows.drop("dataset"), tmp / PARTITION_FILE, schema=SCHEMA_NAME, metadata=metadata
        )
        final = catalog / f"dataset={dataset}"
        replace_dir(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final / PARTITION_FILE


def remove_stale_partitions(catalog: str | os.PathLike[str], keep: Iterable[str]) -> list[str]:
    """Delete the partitions of datasets not in ``keep`` (the catalog describes one run).

    Parameters
    ----------
    catalog
        The catalog directory (nothing happens when it does not exist).
    keep
        Dataset ids whose partitions stay.

    Returns
    -------
    list of str
        The dataset ids removed.
    """
    catalog = Path(catalog)
    keep = set(keep)
    removed: list[str] = []
    if not catalog.exists():
        return removed
    for folder in sorted(catalog.glob("dataset=*")):
        dataset = folder.name.split("=", 1)[1]
        if dataset not in keep:
            log.info("catalog: removing partition %s (dataset not in this run)", folder)
            shutil.rmtree(folder)
            removed.append(dataset)
    return removed
