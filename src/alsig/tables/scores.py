"""The long signature-score table: its schema, validation and reader.

This is the contract downstream tools rely on. The long table has exactly the columns and dtypes
of the shipped row schema ``workflow/schemas/signature_scores.schema.yaml`` (read through
:mod:`alsig.tables.schemas`); any change to them bumps its ``x-schema-version``
(:data:`SCHEMA_VERSION`). Forms written per dataset (``results/<dataset>/scores/``):

- ``signature_scores.parquet``: the long table, one row per sample x signature x method;
- ``signature_scores_wide.tsv``: one row per method x sample, one column per signature
  (for spreadsheets);
- ``scores.h5ad``: the sample x gene expression used (``X``), ``obs``/``var`` of the input and
  ``obsm['alsig_scores_<method>']`` (samples x signatures DataFrame) for scanpy users (written
  by the score stage, :func:`alsig.stages.score.write_scores_h5ad`);
- ``signature_coverage.tsv``: genes present per signature and the coverage flag.

The catalog (``results/catalog/signature_scores.parquet/``, written by
:mod:`alsig.stages.catalog`) holds every dataset of a run, hive-partitioned
(``dataset=<id>/part-0.parquet``, the ``dataset`` column comes from the folder name). Read it in
one line::

    pl.read_parquet("results/catalog/signature_scores.parquet", hive_partitioning=True)
    pd.read_parquet("results/catalog/signature_scores.parquet")
    alsig.read_scores("results/catalog/signature_scores.parquet")  # + version check
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from alsig.errors import AlsigError, where
from alsig.resources import schema
from alsig.tables import schemas

SCHEMA_NAME = "signature_scores"
SCHEMA_FILE = schema(SCHEMA_NAME)
SCHEMA_VERSION: str = str(schemas.load(SCHEMA_NAME)["x-schema-version"])
COLUMNS: list[str] = list(schemas.polars_schema(SCHEMA_NAME))
NULLABLE: set[str] = schemas.nullable(SCHEMA_NAME)
KEY: list[str] = list(schemas.load(SCHEMA_NAME)["x-unique-key"])  # unique per row
PARTITION_FILE = "part-0.parquet"  # one file per catalog partition ``dataset=<id>/``
#: Parquet key-value metadata of a long table (and its catalog partition): the columns its
#: ``z_vs_control`` reference strata are made of, ``,``-joined, or ``(all controls)``.
REFERENCE_BY_KEY = "alsig.reference_by"


def validate_long(
    df: pl.DataFrame, source: object = "signature table", *, extra_columns: bool = False
) -> pl.DataFrame:
    """Check a long score table against the shipped schema.

    Parameters
    ----------
    df
        The table, columns in any order.
    source
        Where it comes from (a path), named in error messages.
    extra_columns
        Accept columns beyond the schema's (``alsig score``'s placement and subtype columns):
        they follow the schema's columns, unchecked. Writers of the schema's own tables never
        set it.

    Returns
    -------
    polars.DataFrame
        ``df`` with its columns in :data:`COLUMNS` order (then any extra columns).

    Raises
    ------
    AlsigError
        Missing or unexpected columns, a wrong dtype, a null in a non-nullable column, a value
        the schema rejects, or two rows with the same (:data:`KEY`).
    """
    missing = [c for c in COLUMNS if c not in df.columns]
    extra = [c for c in df.columns if c not in COLUMNS]
    if missing or (extra and not extra_columns):
        raise AlsigError(
            f"{where(source)}: columns do not match signature-table schema {SCHEMA_VERSION} "
            f"(missing: {missing or 'none'}; unexpected: {extra or 'none'})."
        )
    schemas.validate(df.select(COLUMNS), SCHEMA_NAME, where(source))
    if df.height and df.select(pl.struct(KEY).is_duplicated().any()).item():
        raise AlsigError(f"{where(source)}: duplicated rows for ({', '.join(KEY)}).")
    return df.select(*COLUMNS, *extra)


def _check_version(df: pl.DataFrame, source: object) -> None:
    if "schema_version" not in df.columns:
        raise AlsigError(
            f"{where(source)}: no 'schema_version' column; this is not an alsig signature table."
        )
    versions = sorted({str(v) for v in df["schema_version"].unique().to_list()})
    if versions and versions != [SCHEMA_VERSION]:
        raise AlsigError(
            f"{where(source)}: signature-table schema version {', '.join(versions)} but this alsig "
            f"reads version {SCHEMA_VERSION}. Re-run the scoring stage with this alsig version "
            "(snakemake --forcerun score catalog) or read it with the alsig version that wrote it."
        )


def _read_partitions(catalog: Path) -> pl.DataFrame:
    files = sorted(catalog.glob(f"dataset=*/{PARTITION_FILE}"))
    if not files:
        raise AlsigError(f"{where(catalog)}: catalog directory has no dataset partitions.")
    frames = []
    for file in files:
        part = pl.read_parquet(file)
        _check_version(part, file)
        dataset = file.parent.name.split("=", 1)[1]
        if "dataset" not in part.columns:
            part = part.with_columns(pl.lit(dataset, dtype=pl.String).alias("dataset"))
        frames.append(part)
    return pl.concat(frames, how="diagonal_relaxed")


def read_scores(path: str | os.PathLike[str]) -> pl.DataFrame:
    """Read a long signature table (a parquet file) or the hive-partitioned catalog directory.

    Parameters
    ----------
    path
        One dataset's ``signature_scores.parquet`` or the catalog directory
        (``results/catalog/signature_scores.parquet``).

    Returns
    -------
    polars.DataFrame
        The rows, columns in :data:`COLUMNS` order; columns beyond the schema (``alsig
        score``'s table adds placement and subtype columns) follow them.

    Raises
    ------
    AlsigError
        The file is missing or not parquet, was written with another schema version (the
        message names the file and both versions), or does not match the schema.
    """
    source = Path(path)
    if not source.exists():
        raise AlsigError(f"signature table '{source}' does not exist.")
    try:
        df = _read_partitions(source) if source.is_dir() else pl.read_parquet(source)
    except (pl.exceptions.ComputeError, OSError) as exc:
        raise AlsigError(f"{where(source)}: cannot be read as parquet: {exc}") from exc
    _check_version(df, source)
    return validate_long(df, source, extra_columns=True)
