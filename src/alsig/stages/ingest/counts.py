"""The count matrix: genes x samples integer read counts from a text table or an ``.h5ad``.

Every check names the file, the line/column and the fix.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import scipy.sparse as sp

from alsig.errors import AlsigError, where
from alsig.stages.ingest.text import check_unique, delimiter_for, header_fields, read_text_bytes


@dataclass
class CountMatrix:
    """Genes x samples integer counts as read from a file, before harmonisation."""

    gene_ids: list[str]
    sample_ids: list[str]
    counts: np.ndarray  # int32, genes x samples
    path: Path


def read_count_matrix(
    path: str | Path,
    *,
    gene_column: str | None = None,
    non_sample_columns: tuple[str, ...] | list[str] = (),
) -> CountMatrix:
    """Read a genes x samples count table (TSV/CSV, optionally gzipped).

    Parameters
    ----------
    path
        The table; ``.csv[.gz]`` is comma-separated, anything else tab-separated.
    gene_column
        The gene id column (default: the first column).
    non_sample_columns
        Columns that are not samples (such as ``Chr``); dropped. Every other column must be a
        sample of integer counts >= 0.

    Returns
    -------
    CountMatrix

    Raises
    ------
    AlsigError
        Naming the file, line and column of the first problem.
    """
    path = Path(path)
    raw = read_text_bytes(path)
    sep = delimiter_for(path)
    header = header_fields(raw, path, sep)
    gene_column = gene_column or header[0]
    samples = _sample_columns(header, path, gene_column, non_sample_columns)
    schema = {c: pl.String for c in header}
    for s in samples:
        schema[s] = pl.Int64
    try:
        table = pl.read_csv(
            io.BytesIO(raw), separator=sep, schema=schema, has_header=True, quote_char='"'
        )
    except (pl.exceptions.ComputeError, pl.exceptions.ShapeError, pl.exceptions.NoDataError) as exc:
        table = _read_counts_slow(raw, path, sep, samples, exc)
    del raw
    genes = table.get_column(gene_column)
    if genes.null_count():
        row = int(genes.is_null().arg_true()[0]) + 2
        raise AlsigError(f"{where(path, row=row, column=gene_column)}: empty gene id.")
    values = table.select(samples)
    _check_counts(values, path)
    counts = values.to_numpy().astype(np.int32, copy=False)
    return CountMatrix(genes.to_list(), samples, np.ascontiguousarray(counts), path)


def _sample_columns(
    header: list[str], path: Path, gene_column: str, non_sample_columns: tuple[str, ...] | list[str]
) -> list[str]:
    """The header's sample columns, after checking the gene and non-sample columns exist."""
    if gene_column not in header:
        raise AlsigError(
            f"{where(path, row=1)}: gene id column '{gene_column}' not found; columns start with "
            f"{header[:5]}. Set `counts_gene_column` in the dataset config."
        )
    missing_extra = [c for c in non_sample_columns if c not in header]
    if missing_extra:
        raise AlsigError(
            f"{where(path, row=1)}: `non_sample_columns` {missing_extra} are not in the header."
        )
    check_unique(header, path, "column names (sample ids)", "Each sample must appear once.")
    samples = [c for c in header if c != gene_column and c not in non_sample_columns]
    if not samples:
        raise AlsigError(f"{where(path)}: no sample columns besides '{gene_column}'.")
    return samples


def _read_counts_slow(
    raw: bytes, path: Path, sep: str, samples: list[str], first_error: Exception
) -> pl.DataFrame:
    """Fallback when the fast integer parse fails: find the first bad cell and name it."""
    try:
        table = pl.read_csv(io.BytesIO(raw), separator=sep, infer_schema=False, quote_char='"')
    except pl.exceptions.ComputeError as exc:  # ragged rows, bad quoting
        raise AlsigError(
            f"{where(path)}: cannot be parsed as a {'tab' if sep == chr(9) else 'comma'}-separated "
            f"table: {str(exc).splitlines()[0]}"
        ) from first_error
    floats = {}
    for column in samples:
        text = table.get_column(column)
        number = text.str.strip_chars().cast(pl.Float64, strict=False)
        bad = (number.is_null() & text.is_not_null() & (text.str.strip_chars() != "")).arg_true()
        if len(bad):
            row = int(bad[0])
            raise AlsigError(
                f"{where(path, row=row + 2, column=column)}: value '{text[row]}' is not a number. "
                "Counts must be integers; remove text values or annotation columns "
                "(list extra columns under `non_sample_columns`)."
            )
        floats[column] = number
    as_float = pl.DataFrame(floats)
    _check_counts(as_float, path)  # raises for NaN, negative, fractional
    return table.with_columns(as_float.cast(pl.Int64))


def _check_counts(values: pl.DataFrame, path: Path) -> None:
    for column in values.columns:
        series = values.get_column(column)
        problems = []
        if series.null_count():
            problems.append((series.is_null(), "is missing (empty or NA)"))
        if series.dtype.is_float():
            problems.append((series.is_nan(), "is NaN"))
            problems.append((series.is_finite().not_() & series.is_nan().not_(), "is infinite"))
            problems.append((series != series.round(0), "is not an integer"))
        problems.append((series < 0, "is negative"))
        for mask, what in problems:
            hits = mask.fill_null(False).arg_true()
            if len(hits):
                row = int(hits[0])
                raise AlsigError(
                    f"{where(path, row=row + 2, column=column)}: count {what} "
                    f"(value {series[row]!r}). alsig needs raw integer read counts >= 0 "
                    "(not TPM/FPKM/normalised values)."
                )


def read_h5ad_count_matrix(path: str | Path) -> CountMatrix:
    """Counts from an ``.h5ad`` whose X holds samples x genes integer counts.

    Reads through :func:`alsig.io.read_h5ad_counts` (X, obs, var, uns; no layers).

    Parameters
    ----------
    path
        The ``.h5ad`` file.

    Returns
    -------
    CountMatrix
        Genes x samples, as :func:`read_count_matrix` returns.

    Raises
    ------
    AlsigError
        The file is missing or unreadable, X is empty, holds non-integer or negative values, or
        the sample ids are not unique.
    """
    from alsig.io import read_h5ad_counts

    path = Path(path)
    if not path.exists():
        raise AlsigError(f"{where(path)} does not exist; check the path in the config.")
    try:
        adata = read_h5ad_counts(path)
    except Exception as exc:  # h5py raises many types for a broken file
        raise AlsigError(f"{where(path)} cannot be read as an .h5ad file: {exc}") from exc
    matrix = adata.X
    if matrix is None:
        raise AlsigError(f"{where(path)}: X is empty; put raw counts (samples x genes) in X.")
    _check_h5ad_values(matrix.data if sp.issparse(matrix) else np.asarray(matrix), path)
    dense = matrix.toarray() if sp.issparse(matrix) else np.asarray(matrix)
    names = list(map(str, adata.obs_names))
    genes = list(map(str, adata.var_names))
    check_unique(names, path, "sample ids (obs_names)", "Make obs_names unique.")
    return CountMatrix(genes, names, np.ascontiguousarray(dense.T.astype(np.int32)), path)


def _check_h5ad_values(data: np.ndarray, path: Path) -> None:
    if data.size and not np.issubdtype(data.dtype, np.integer):
        bad = ~np.isfinite(data) | (data != np.round(data))
        if bad.any():
            raise AlsigError(
                f"{where(path)}: X holds non-integer values (e.g. {data[bad].flat[0]!r}); alsig "
                "needs raw integer read counts in X (move normalised values to a layer)."
            )
    if data.size and data.min() < 0:
        raise AlsigError(f"{where(path)}: X holds negative values; alsig needs raw counts >= 0.")
