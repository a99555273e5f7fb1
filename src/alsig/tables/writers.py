"""Writers of the per-dataset score tables: the long parquet, the wide TSV, the coverage TSV."""

from __future__ import annotations

import os

import polars as pl

from alsig.io import write_parquet, write_tsv
from alsig.tables import schemas
from alsig.tables.scores import SCHEMA_NAME, validate_long

WIDE_INDEX = ["method", "sample", "subject", "condition"]


def write_long(
    df: pl.DataFrame, path: str | os.PathLike[str], metadata: dict[str, str] | None = None
) -> None:
    """Validate the long table against its schema and write it (atomically) as parquet.

    The file's key-value metadata names the schema, its version and the alsig version
    (:func:`alsig.io.write_parquet`).

    Parameters
    ----------
    df
        The long score table (:data:`alsig.tables.COLUMNS`).
    path
        Output ``.parquet`` file.
    metadata
        Further key-value metadata of the file (``{REFERENCE_BY_KEY: "region"}``).
    """
    write_parquet(validate_long(df, path), path, schema=SCHEMA_NAME, metadata=metadata)


def wide_table(df: pl.DataFrame) -> pl.DataFrame:
    """Return the spreadsheet form of a long table.

    Parameters
    ----------
    df
        The long score table.

    Returns
    -------
    polars.DataFrame
        One row per method x sample (:data:`WIDE_INDEX` columns first), one ``score`` column per
        signature in the order the signatures first appear.
    """
    signatures = list(dict.fromkeys(df["signature"].to_list()))
    wide = df.pivot(on="signature", index=WIDE_INDEX, values="score", aggregate_function=None)
    return wide.select([*WIDE_INDEX, *[s for s in signatures if s in wide.columns]])


#: significant digits of the scores in the wide TSV (a spreadsheet, not an archive: the long
#: parquet keeps full precision)
WIDE_DIGITS = 6


def spreadsheet_name(signature: str) -> str:
    """Return a column name R reads unchanged.

    ``axis:oxidative_stress`` -> ``axis.oxidative_stress`` (``read.delim`` turns ``:`` into
    ``.`` anyway; here it is done once, for every reader).
    """
    return signature.replace(":", ".")


def write_wide(df: pl.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write :func:`wide_table` of the long table ``df`` as a TSV.

    Empty cell = null, scores to :data:`WIDE_DIGITS` significant digits, ``:`` in signature
    names written as ``.``.

    Parameters
    ----------
    df
        The long score table.
    path
        Output ``.tsv`` file.
    """
    wide = wide_table(df)
    scores = [c for c in wide.columns if c not in WIDE_INDEX]
    wide = wide.with_columns(
        pl.col(c).map_elements(_significant, return_dtype=pl.String) for c in scores
    ).rename({c: spreadsheet_name(c) for c in scores})
    write_tsv(wide, path)


def _significant(value: float | None) -> str | None:
    return None if value is None or value != value else f"{value:.{WIDE_DIGITS}g}"


def write_coverage(coverage: pl.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write the per-signature coverage table as a TSV.

    Parameters
    ----------
    coverage
        :func:`alsig.stages.score.signature_coverage` rows with a leading ``dataset`` column.
    path
        Output ``.tsv`` file.
    """
    write_tsv(schemas.validate(coverage, "signature_coverage", path), path)
