"""Cross-dataset outputs of a run: the hive-partitioned score catalog and its manifest."""

from alsig.stages.catalog.job import run
from alsig.stages.catalog.manifest import (
    MANIFEST_SCHEMA,
    CatalogEntry,
    manifest_table,
    write_catalog,
)
from alsig.stages.catalog.partitions import (
    remove_stale_partitions,
    replace_dir,
    write_catalog_partition,
)

__all__ = [
    "MANIFEST_SCHEMA",
    "CatalogEntry",
    "manifest_table",
    "remove_stale_partitions",
    "replace_dir",
    "run",
    "write_catalog",
    "write_catalog_partition",
]
