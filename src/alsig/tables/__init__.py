"""The public table contract: the signature-score schema version, columns, readers and writers."""

from alsig.tables.scores import (
    COLUMNS,
    KEY,
    NULLABLE,
    PARTITION_FILE,
    REFERENCE_BY_KEY,
    SCHEMA_FILE,
    SCHEMA_NAME,
    SCHEMA_VERSION,
    read_scores,
    validate_long,
)
from alsig.tables.tsv import read_tsv
from alsig.tables.writers import WIDE_INDEX, wide_table, write_coverage, write_long, write_wide

__all__ = [
    "COLUMNS",
    "KEY",
    "NULLABLE",
    "PARTITION_FILE",
    "REFERENCE_BY_KEY",
    "SCHEMA_FILE",
    "SCHEMA_NAME",
    "SCHEMA_VERSION",
    "WIDE_INDEX",
    "read_scores",
    "read_tsv",
    "validate_long",
    "wide_table",
    "write_coverage",
    "write_long",
    "write_wide",
]
