"""Cross-dataset outputs of a run: the partitioned score catalog and the cohort comparison."""

from alsig.stages.catalog.figures import plot_axis_meta
from alsig.stages.catalog.job import run, run_meta
from alsig.stages.catalog.manifest import (
    MANIFEST_SCHEMA,
    CatalogEntry,
    manifest_table,
    write_catalog,
)
from alsig.stages.catalog.meta import axis_meta, dersimonian_laird
from alsig.stages.catalog.partitions import (
    remove_stale_partitions,
    replace_dir,
    write_catalog_partition,
)

__all__ = [
    "axis_meta",
    "dersimonian_laird",
    "plot_axis_meta",
    "MANIFEST_SCHEMA",
    "CatalogEntry",
    "manifest_table",
    "remove_stale_partitions",
    "replace_dir",
    "run",
    "run_meta",
    "write_catalog",
    "write_catalog_partition",
]
