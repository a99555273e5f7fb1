"""Where ``alsig score`` writes its table: Parquet or TSV by the file's suffix, or standard output.

There is no default file: ``--output`` is required, and ``-`` writes TSV to standard output on
purpose (nothing lands silently in the working directory).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

import polars as pl

from alsig.errors import AlsigError
from alsig.io import write_parquet, write_tsv

#: the schema of the table (the long score table's columns, then the placement and subtype ones)
NEW_SAMPLE_SCHEMA = "new_sample_scores"

#: ``--output`` value that means standard output (TSV).
STDOUT = "-"
PARQUET_SUFFIXES = (".parquet", ".pq")
TSV_SUFFIXES = (".tsv", ".txt")


def output_format(path: str) -> str:
    """Return ``parquet`` or ``tsv`` for an ``--output`` value.

    Parameters
    ----------
    path
        The ``--output`` value (``-`` for standard output).

    Returns
    -------
    str
        ``parquet`` or ``tsv``.

    Raises
    ------
    AlsigError
        A suffix that is neither, naming the flag and the suffixes it takes.
    """
    if path == STDOUT:
        return "tsv"
    name = Path(path).name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(TSV_SUFFIXES):
        return "tsv"
    raise AlsigError(
        f"--output {path}: write a .parquet or a .tsv file (the format follows the suffix), or "
        "'-' for TSV on standard output."
    )


def write_placement(table: pl.DataFrame, path: str, stdout: TextIO | None = None) -> None:
    """Write ``alsig score``'s table to ``path`` (atomically) or to standard output (``-``).

    Parameters
    ----------
    table
        The placed new samples.
    path
        A ``.parquet`` or ``.tsv`` file, or ``-``.
    stdout
        Where ``-`` writes (default: ``sys.stdout``).
    """
    kind = output_format(path)
    if path == STDOUT:
        (stdout or sys.stdout).write(table.write_csv(separator="\t", null_value=""))
    elif kind == "parquet":
        write_parquet(table, path, schema=NEW_SAMPLE_SCHEMA)
    else:
        write_tsv(table, path)
