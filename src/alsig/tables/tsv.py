"""Read alsig's TSV tables back with the dtypes of their schema.

A TSV does not say what its columns are, and a reader that guesses gets it wrong in ways that
change values: sample ids ``027`` read as the integer 27, a ``gene_id`` column read as integers
stops at the first ``LOC`` id, an all-empty numeric column comes back as text, and a gene list
comes back as one string. :func:`read_tsv` reads every cell as text and types each column as its
schema (``workflow/schemas/<name>.schema.yaml``) says, undoing what :func:`alsig.io.write_tsv`
did (empty cell = null, ``;``-joined lists). Columns a schema does not list (QC's PC columns)
are numbers when every filled cell is one, text otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from alsig.errors import AlsigError, name_some
from alsig.io import SCHEMA_KEY, read_table_metadata
from alsig.resources import schema_names
from alsig.tables.schemas import load, polars_schema

#: what :func:`alsig.io.write_tsv` joins list cells with
LIST_SEPARATOR = ";"


def read_tsv(path: str | os.PathLike[str], schema: str | None = None) -> pl.DataFrame:
    """Read one of alsig's TSV tables with the column types of its schema.

    Parameters
    ----------
    path
        The TSV (e.g. ``results/demo/qc/sample_qc.tsv``).
    schema
        The schema's name (``sample_qc``, ``axis_tests``, ``de_results`` ...; the files in
        ``workflow/schemas/``). By default the one its Parquet twin (``x.parquet`` beside
        ``x.tsv``) names in its metadata, else the file's name without ``.tsv``.

    Returns
    -------
    polars.DataFrame
        The schema's columns typed as in the Parquet twin (empty cells are null); other columns
        as numbers when every filled cell is one, else text.

    Raises
    ------
    AlsigError
        No schema is named and none has the file's name, or a cell does not read as its
        column's type (naming the column and the cells).
    """
    path = Path(path)
    name = schema or _schema_of_twin(path) or path.name.removesuffix(".tsv")
    if name not in schema_names():
        raise AlsigError(
            f"{path}: no schema named '{name}'; pass the table's schema, one of "
            f"{name_some(sorted(schema_names()), limit=40)}."
        )
    text = pl.read_csv(path, separator="\t", infer_schema=False)
    types = column_types(name)
    return text.with_columns(
        _typed(text[column], types.get(column), path) for column in text.columns
    )


def column_types(name: str) -> dict[str, pl.DataType]:
    """Return ``{column: dtype}`` of a table of schema ``name``, with the columns it extends.

    A schema with ``x-extends: <base>`` (the subtype DE tables: ``de_results`` + ``model_feature``)
    describes only its own columns; the table has the base's first.
    """
    base = load(name).get("x-extends")
    return {**(column_types(base) if base else {}), **polars_schema(name)}


def _schema_of_twin(path: Path) -> str | None:
    """Return the schema the Parquet beside ``path`` names (None: no twin, or an older one)."""
    twin = path.with_suffix(".parquet")
    return read_table_metadata(twin).get(SCHEMA_KEY) if twin.is_file() else None


def _typed(column: pl.Series, dtype: pl.DataType | None, path: Path) -> pl.Series:
    """One text column as ``dtype`` (None: a number column when every filled cell is one)."""
    if dtype is None:
        numbers = column.cast(pl.Float64, strict=False)
        return numbers if numbers.null_count() == column.null_count() else column
    if dtype == pl.String:
        return column
    if isinstance(dtype, pl.List):
        # write_tsv writes an empty list as an empty cell: [] again, not ['']
        lists = column.str.split(LIST_SEPARATOR)
        return (
            pl.select(
                pl.when(column == "")
                .then(pl.lit([], dtype))
                .otherwise(lists.cast(dtype, strict=False))
            )
            .to_series()
            .alias(column.name)
        )
    if dtype == pl.Boolean:
        words = column.str.to_lowercase()
        typed = words.replace_strict({"true": True, "false": False}, default=None).cast(pl.Boolean)
    else:
        typed = column.cast(dtype, strict=False)
        if dtype.is_integer():  # 10000000.0 (a whole number another tool wrote as a float)
            numbers = column.cast(pl.Float64, strict=False)
            whole = numbers.is_not_null() & (numbers == numbers.round())
            typed = (
                pl.select(
                    pl.when(typed.is_null() & whole).then(numbers.cast(dtype)).otherwise(typed)
                )
                .to_series()
                .alias(column.name)
            )
    bad = column.filter(typed.is_null() & column.is_not_null())
    if len(bad):
        raise AlsigError(
            f"{path}, column '{column.name}': {len(bad)} cell(s) do not read as {dtype}: "
            f"{name_some(bad.unique(maintain_order=True), show=repr)}."
        )
    return typed
