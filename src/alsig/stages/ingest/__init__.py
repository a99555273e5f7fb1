"""Ingest: count matrix + sample sheet -> validated AnnData (samples x genes, integer counts).

Every check names the file, the line/column and the fix, and runs before anything is written.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import logging
import re
import zlib
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd
import polars as pl
import scipy.sparse as sp

import alsig
from alsig.errors import AlsigError, where
from alsig.genes import GeneMap, mapping_table
from alsig.io import sha256_file

log = logging.getLogger(__name__)

CANONICAL_COLUMNS = ("subject", "sex", "region", "batch")
_FEMALE = {"f", "female", "woman", "women"}
_MALE = {"m", "male", "man", "men"}
_PROVENANCE_PACKAGES = ("anndata", "scanpy", "pydeseq2", "gseapy", "polars", "numpy", "snakemake")


# --------------------------------------------------------------------------------------------
# Reading text tables with errors a person can act on
# --------------------------------------------------------------------------------------------
def read_text_bytes(path: str | Path) -> bytes:
    """Whole file content, gunzipped when it ends in ``.gz``; empty or truncated files are errors."""
    path = Path(path)
    if not path.exists():
        raise AlsigError(f"{where(path)} does not exist; check the path in the config.")
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise AlsigError(
                f"{where(path)} is not a complete gzip file ({exc}); it is probably truncated. "
                "Download or copy it again."
            ) from exc
    if not raw.strip():
        raise AlsigError(f"{where(path)} is empty; expected a table with a header line.")
    return raw


def _delimiter_for(path: Path) -> str:
    name = path.name.lower().removesuffix(".gz")
    return "," if name.endswith(".csv") else "\t"


def _header(raw: bytes, path: Path, sep: str) -> list[str]:
    first = raw.split(b"\n", 1)[0].decode("utf-8", errors="replace").rstrip("\r")
    fields = [f.strip().strip('"') for f in first.split(sep)]
    if len(fields) < 2:
        other = "comma" if sep == "\t" else "tab"
        hint = (
            f" The header contains {other}s: the file looks {other}-separated; "
            f"name it .{'csv' if sep == chr(9) else 'tsv'} (optionally .gz) or convert it."
            if ("," if sep == "\t" else "\t") in first
            else ""
        )
        raise AlsigError(
            f"{where(path, row=1)}: found a single column with the "
            f"{'tab' if sep == chr(9) else 'comma'} delimiter.{hint}"
        )
    return fields


def _check_unique(names: list[str], path: Path, what: str, fix: str) -> None:
    seen: dict[str, int] = {}
    dups = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        if seen[name] == 2:
            dups.append(name)
    if dups:
        shown = ", ".join(f"'{d}'" for d in dups[:10])
        raise AlsigError(f"{where(path)}: duplicate {what}: {shown}. {fix}")


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

    The gene id is ``gene_column`` (default: the first column); ``non_sample_columns`` (such as a
    ``Chr`` column) are dropped; every other column must be a sample of integer counts >= 0.
    """
    path = Path(path)
    raw = read_text_bytes(path)
    sep = _delimiter_for(path)
    header = _header(raw, path, sep)
    gene_column = gene_column or header[0]
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
    _check_unique(header, path, "column names (sample ids)", "Each sample must appear once.")
    samples = [c for c in header if c != gene_column and c not in non_sample_columns]
    if not samples:
        raise AlsigError(f"{where(path)}: no sample columns besides '{gene_column}'.")

    schema = {c: pl.String for c in header}
    for s in samples:
        schema[s] = pl.Int64
    try:
        table = pl.read_csv(
            io.BytesIO(raw), separator=sep, schema=schema, has_header=True, quote_char='"'
        )
    except (pl.exceptions.ComputeError, pl.exceptions.ShapeError, pl.exceptions.NoDataError) as exc:
        table = _read_counts_slow(raw, path, sep, header, samples, exc)
    del raw
    genes = table.get_column(gene_column)
    if genes.null_count():
        row = int(genes.is_null().arg_true()[0]) + 2
        raise AlsigError(f"{where(path, row=row, column=gene_column)}: empty gene id.")
    values = table.select(samples)
    _check_counts(values, path)
    counts = values.to_numpy().astype(np.int32, copy=False)
    return CountMatrix(genes.to_list(), samples, np.ascontiguousarray(counts), path)


def _read_counts_slow(raw, path, sep, header, samples, first_error) -> pl.DataFrame:
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


# --------------------------------------------------------------------------------------------
# Sample sheets and conditions
# --------------------------------------------------------------------------------------------
def read_sample_sheet(path: str | Path, sample_column: str) -> pl.DataFrame:
    """Sample sheet (TSV/CSV, optionally gzipped) as strings, one row per sample."""
    path = Path(path)
    raw = read_text_bytes(path)
    sep = _delimiter_for(path)
    _header(raw, path, sep)
    try:
        sheet = pl.read_csv(io.BytesIO(raw), separator=sep, infer_schema=False)
    except pl.exceptions.ComputeError as exc:
        raise AlsigError(f"{where(path)}: cannot be parsed: {str(exc).splitlines()[0]}") from exc
    if sample_column not in sheet.columns:
        raise AlsigError(
            f"{where(path, row=1)}: sample id column '{sample_column}' not found (columns: "
            f"{sheet.columns}). Set `sample_column` in the dataset config."
        )
    ids = sheet.get_column(sample_column)
    if ids.null_count():
        row = int(ids.is_null().arg_true()[0]) + 2
        raise AlsigError(f"{where(path, row=row, column=sample_column)}: empty sample id.")
    dup = ids.is_duplicated().arg_true()
    if len(dup):
        rows = ", ".join(f"line {int(r) + 2} ('{ids[int(r)]}')" for r in dup[:10])
        raise AlsigError(
            f"{where(path, column=sample_column)}: duplicate sample ids at {rows}. "
            "Each sample must appear once."
        )
    return sheet


def resolve_conditions(
    sheet: pl.DataFrame,
    *,
    sample_column: str,
    condition_column: str,
    rules: list[dict[str, str]] | None,
    dataset: str,
    source: str,
) -> list[str]:
    """Condition per sample from ordered regex rules on ``condition_column`` (first match wins).

    Without rules the column's values are used as they are. Samples no rule resolves are an error
    listing them and the config key that fixes it: alsig never guesses a condition.
    """
    if condition_column not in sheet.columns:
        raise AlsigError(
            f"dataset '{dataset}': condition column '{condition_column}' is not in the sample sheet "
            f"({source}); available columns: {sheet.columns}. Fix `datasets.{dataset}.condition.column`."
        )
    values = sheet.get_column(condition_column).fill_null("").to_list()
    samples = sheet.get_column(sample_column).to_list()
    compiled = [(re.compile(r["pattern"]), r["condition"]) for r in (rules or [])]
    conditions: list[str] = []
    unresolved: list[str] = []
    for sample, value in zip(samples, values, strict=True):
        if not compiled:
            label = value.strip() or None
        else:
            label = next((c for rx, c in compiled if rx.search(value)), None)
        if label is None:
            unresolved.append(f"{sample} ('{value}')")
        conditions.append(label or "")
    if unresolved:
        shown = ", ".join(unresolved[:20]) + (" ..." if len(unresolved) > 20 else "")
        raise AlsigError(
            f"dataset '{dataset}': {len(unresolved)} sample(s) have no condition: no rule in "
            f"`datasets.{dataset}.condition.rules` matches their '{condition_column}' value: {shown}. "
            "Add a rule (pattern -> condition, e.g. condition 'other' to keep but not compare them)."
        )
    return conditions


def normalise_sex(value: str | None) -> str | None:
    if value is None:
        return None
    text = str(value).strip().lower()
    if text in _FEMALE:
        return "female"
    if text in _MALE:
        return "male"
    return None


def build_obs(
    sheet: pl.DataFrame,
    *,
    sample_column: str,
    conditions: list[str],
    columns: dict[str, str],
    dataset: str,
    source: str,
) -> pd.DataFrame:
    """obs: raw sample-sheet columns + canonical ``condition, subject, sex, region, batch``."""
    for canonical, column in columns.items():
        if column not in sheet.columns:
            raise AlsigError(
                f"dataset '{dataset}': column '{column}' (for `{canonical}`) is not in the sample sheet "
                f"({source}); available: {sheet.columns}. Fix `datasets.{dataset}.columns.{canonical}`."
            )
    obs = sheet.to_pandas().astype(object)
    obs.index = pd.Index(sheet.get_column(sample_column).to_list(), name=None).astype(str)
    obs = obs.where(obs.notna(), None)
    obs["condition"] = conditions
    obs["subject"] = obs[columns["subject"]] if "subject" in columns else obs.index.to_numpy()
    obs["sex"] = [normalise_sex(v) for v in obs[columns["sex"]]] if "sex" in columns else None
    for canonical in ("region", "batch"):
        obs[canonical] = obs[columns[canonical]] if canonical in columns else None
    return _categorical_strings(obs)


def _categorical_strings(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns as categoricals with missing values as NaN: how h5ad stores them anyway."""
    for column in frame.columns:
        frame[column] = pd.Categorical([None if v is None else str(v) for v in frame[column]])
    return frame


# --------------------------------------------------------------------------------------------
# Genes: harmonise identifiers, sum duplicates
# --------------------------------------------------------------------------------------------
def harmonise_genes(
    counts: np.ndarray,
    gene_ids: list[str],
    *,
    id_type: str = "auto",
    gene_map: GeneMap | None = None,
    fallback_symbols: dict[str, str] | None = None,
) -> tuple[np.ndarray, pd.DataFrame, dict[str, Any]]:
    """Map ids to canonical symbols and sum rows that end up with the same symbol.

    ``fallback_symbols`` (input id -> symbol) names ids the map does not know, e.g. the Symbol
    column of NCBI's annotation for Entrez ids newer than the shipped map.
    Returns (counts genes x samples, var, report).
    """
    gene_map = gene_map or GeneMap.load()
    records, report = gene_map.harmonise(gene_ids, id_type)
    if fallback_symbols:
        unmapped = [
            i
            for i, r in enumerate(records)
            if r.how == "unmapped" and r.input_id in fallback_symbols
        ]
        if unmapped:
            rescued, rescue_report = gene_map.harmonise(
                [fallback_symbols[records[i].input_id] for i in unmapped], "symbol"
            )
            for i, rec in zip(unmapped, rescued, strict=True):
                rec.entrez_id = rec.entrez_id or records[i].input_id
                rec.input_id = records[i].input_id
                rec.how = f"annotation_{rec.how}"
                records[i] = rec
            report.how = type(report.how)(r.how for r in records)
    symbols = [r.symbol for r in records]
    codes, uniques = pd.factorize(pd.Index(symbols))
    n_unique = len(uniques)
    first = np.full(n_unique, -1, dtype=np.int64)
    order = np.arange(len(codes))
    first[codes[::-1]] = order[::-1]  # first occurrence of each symbol
    out = counts[first].astype(np.int64, copy=True)
    dup_rows = np.setdiff1d(order, first, assume_unique=True)
    if len(dup_rows):
        np.add.at(out, codes[dup_rows], counts[dup_rows])
    if out.max(initial=0) > np.iinfo(np.int32).max:
        raise AlsigError("summed counts exceed the int32 range; are these really read counts?")
    merged: dict[str, list[str]] = {}
    for row in dup_rows:
        merged.setdefault(symbols[row], [records[first[codes[row]]].input_id]).append(
            records[row].input_id
        )
    var = pd.DataFrame(
        {
            "gene_id": [records[i].entrez_id or records[i].input_id for i in first],
            "symbol": list(uniques),
            "ensembl_id": [records[i].ensembl_id for i in first],
            "biotype": [records[i].biotype for i in first],
            "chromosome": [records[i].chromosome for i in first],
            "input_ids": [
                ";".join(merged.get(uniques[k], [records[i].input_id])) for k, i in enumerate(first)
            ],
        },
        index=pd.Index(list(uniques), dtype=str),
    )
    var = _categorical_strings(var)
    var["gene_id"] = var["gene_id"].astype(str)
    var["symbol"] = var["symbol"].astype(str)
    var["input_ids"] = var["input_ids"].astype(str)
    summary = report.as_dict()
    summary.update(
        {
            "n_output_genes": n_unique,
            "n_duplicate_rows_summed": len(dup_rows),
            "duplicates_summed": {k: ";".join(v) for k, v in merged.items()},
            "gene_map": Path(gene_map.source).name,
        }
    )
    repaired = dict(summary["excel_repaired"])
    if repaired:  # the job log says what was changed, not only the provenance
        shown = ", ".join(f"{k} -> {v}" for k, v in list(repaired.items())[:20])
        more = f" (+{len(repaired) - 20} more)" if len(repaired) > 20 else ""
        log.info("repaired %d Excel-mangled symbol(s): %s%s", len(repaired), shown, more)
    for key in ("excel_repaired", "excel_ambiguous", "alias_rescued", "duplicates_summed"):
        summary[key] = mapping_table(summary[key])
    return out.astype(np.int32), var, summary


# --------------------------------------------------------------------------------------------
# Assembling the AnnData
# --------------------------------------------------------------------------------------------
def match_samples(
    matrix_samples: list[str],
    sheet_samples: list[str],
    *,
    counts_src: str,
    sheet_src: str,
    dataset: str,
) -> None:
    in_matrix = set(matrix_samples)
    in_sheet = set(sheet_samples)
    missing = [s for s in sheet_samples if s not in in_matrix]
    extra = [s for s in matrix_samples if s not in in_sheet]
    if missing:
        raise AlsigError(
            f"dataset '{dataset}': {len(missing)} sample(s) in the sample sheet ({sheet_src}) are not "
            f"columns of the count matrix ({counts_src}): {missing[:10]}. Remove them from the sheet or "
            "fix the ids (check `sample_column`)."
        )
    if extra:
        raise AlsigError(
            f"dataset '{dataset}': {len(extra)} count-matrix column(s) ({counts_src}) are not in the "
            f"sample sheet ({sheet_src}): {extra[:10]}. Add them to the sheet, or list non-sample "
            f"columns under `datasets.{dataset}.non_sample_columns`."
        )


def to_storage(counts_samples_by_genes: np.ndarray) -> np.ndarray | sp.csr_matrix:
    """CSR when it is smaller than dense: int32 data + int32 indices cost 8 bytes per non-zero."""
    nnz = np.count_nonzero(counts_samples_by_genes)
    if nnz * 8 < counts_samples_by_genes.size * 4 * 0.9:
        return sp.csr_matrix(counts_samples_by_genes, dtype=np.int32)
    return np.ascontiguousarray(counts_samples_by_genes, dtype=np.int32)


def file_record(path: str | Path, **extra: Any) -> dict[str, Any]:
    path = Path(path)
    record = {"path": str(path), "sha256": sha256_file(path), "size_bytes": path.stat().st_size}
    record.update({k: v for k, v in extra.items() if v is not None})
    return record


def package_versions() -> dict[str, str]:
    versions = {"alsig": alsig.__version__}
    for name in _PROVENANCE_PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            continue
    return versions


def assemble(
    counts_genes_by_samples: np.ndarray,
    var: pd.DataFrame,
    obs: pd.DataFrame,
    sample_order: list[str],
    *,
    dataset: str,
    provenance: dict[str, Any],
) -> ad.AnnData:
    """AnnData with obs in sample-sheet order, X integer counts (dense or CSR, whichever is smaller)."""
    position = {s: i for i, s in enumerate(sample_order)}
    take = np.array([position[s] for s in obs.index], dtype=np.int64)
    matrix = counts_genes_by_samples[:, take].T
    adata = ad.AnnData(X=to_storage(matrix), obs=obs, var=var)
    provenance = dict(provenance)
    provenance.update(
        {
            "dataset": dataset,
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "versions": package_versions(),
            "x_storage": "csr" if sp.issparse(adata.X) else "dense",
        }
    )
    adata.uns["provenance"] = provenance
    adata.uns["dataset"] = dataset
    log.info(
        "dataset %s: %d samples x %d genes (%s); conditions %s",
        dataset,
        adata.n_obs,
        adata.n_vars,
        provenance["x_storage"],
        dict(obs["condition"].value_counts()),
    )
    return adata


def sample_sheet_and_obs(
    sheet: pl.DataFrame, settings: dict[str, Any], dataset: str, source: str
) -> pd.DataFrame:
    condition = settings.get("condition") or {}
    sample_column = settings.get("sample_column", "sample")
    conditions = resolve_conditions(
        sheet,
        sample_column=sample_column,
        condition_column=condition.get("column", "condition"),
        rules=condition.get("rules"),
        dataset=dataset,
        source=source,
    )
    return build_obs(
        sheet,
        sample_column=sample_column,
        conditions=conditions,
        columns=settings.get("columns") or {},
        dataset=dataset,
        source=source,
    )


def read_h5ad_counts(path: str | Path) -> CountMatrix:
    """Counts from an ``.h5ad`` whose X holds samples x genes integer counts."""
    path = Path(path)
    if not path.exists():
        raise AlsigError(f"{where(path)} does not exist; check the path in the config.")
    try:
        adata = ad.read_h5ad(path)
    except Exception as exc:  # h5py raises many types for a broken file
        raise AlsigError(f"{where(path)} cannot be read as an .h5ad file: {exc}") from exc
    matrix = adata.X
    if matrix is None:
        raise AlsigError(f"{where(path)}: X is empty; put raw counts (samples x genes) in X.")
    data = matrix.data if sp.issparse(matrix) else np.asarray(matrix)
    if data.size and not np.issubdtype(data.dtype, np.integer):
        bad = ~np.isfinite(data) | (data != np.round(data))
        if bad.any():
            raise AlsigError(
                f"{where(path)}: X holds non-integer values (e.g. {data[bad].flat[0]!r}); alsig needs raw "
                "integer read counts in X (move normalised values to a layer)."
            )
    if data.size and data.min() < 0:
        raise AlsigError(f"{where(path)}: X holds negative values; alsig needs raw counts >= 0.")
    dense = matrix.toarray() if sp.issparse(matrix) else np.asarray(matrix)
    names = list(map(str, adata.obs_names))
    genes = list(map(str, adata.var_names))
    _check_unique(names, path, "sample ids (obs_names)", "Make obs_names unique.")
    return CountMatrix(genes, names, np.ascontiguousarray(dense.T.astype(np.int32)), path)


# --------------------------------------------------------------------------------------------
# Entry points per source
# --------------------------------------------------------------------------------------------
def ingest_local(dataset: str, settings: dict[str, Any]) -> ad.AnnData:
    """A ``source: local`` dataset: count matrix (TSV/CSV[.gz] or .h5ad) + sample sheet."""
    counts_path = Path(settings["counts"])
    sheet_path = Path(settings["samples"])
    sample_column = settings.get("sample_column", "sample")
    if counts_path.name.endswith(".h5ad"):
        matrix = read_h5ad_counts(counts_path)
    else:
        matrix = read_count_matrix(
            counts_path,
            gene_column=settings.get("counts_gene_column"),
            non_sample_columns=settings.get("non_sample_columns", []),
        )
    sheet = read_sample_sheet(sheet_path, sample_column)
    match_samples(
        matrix.sample_ids,
        sheet.get_column(sample_column).to_list(),
        counts_src=str(counts_path),
        sheet_src=str(sheet_path),
        dataset=dataset,
    )
    obs = sample_sheet_and_obs(sheet, settings, dataset, str(sheet_path))
    matrix, te_rows = split_te_rows(matrix)
    counts, var, genes_report = harmonise_genes(
        matrix.counts, matrix.gene_ids, id_type=settings.get("gene_id_type", "auto")
    )
    inputs = {"counts": file_record(counts_path), "samples": file_record(sheet_path)}
    provenance = {"source": "local", "inputs": inputs, "gene_harmonisation": genes_report}
    adata = assemble(counts, var, obs, matrix.sample_ids, dataset=dataset, provenance=provenance)
    return _with_te_counts(adata, settings, te_rows, inputs)


def split_te_rows(matrix: CountMatrix) -> tuple[CountMatrix, pd.DataFrame | None]:
    """TEcount writes genes and TEs in one table: the TE rows (``subfamily:family:class``) come
    out as a samples x TEs frame, the rest stays the gene matrix."""
    from alsig.stages.ingest.te_counts import is_te_id

    te = np.array([is_te_id(str(g)) for g in matrix.gene_ids], dtype=bool)
    if not te.any():
        return matrix, None
    log.info("%s: %d TE rows (subfamily:family:class) read as the TE block", matrix.path,
             int(te.sum()))  # fmt: skip
    genes = CountMatrix([g for g, t in zip(matrix.gene_ids, te, strict=True) if not t],
                        matrix.sample_ids, matrix.counts[~te], matrix.path)  # fmt: skip
    te_ids = [str(g) for g, t in zip(matrix.gene_ids, te, strict=True) if t]
    frame = pd.DataFrame(matrix.counts[te].T, index=matrix.sample_ids, columns=te_ids)
    return genes, frame


def _with_te_counts(
    adata: ad.AnnData, settings: dict[str, Any], te_rows: pd.DataFrame | None, inputs: dict
) -> ad.AnnData:
    """Attach the TE block: from ``te_counts`` when configured, else the count matrix's own TE
    rows (TEcount's combined layout), else nothing (the retrotransposon axis is then null)."""
    from alsig.stages.ingest.te_counts import attach_te_counts, read_te_counts

    if settings.get("te_counts"):
        path = Path(settings["te_counts"])
        te_rows = read_te_counts(path, sample_ids=list(adata.obs_names))
        inputs["te_counts"] = file_record(path)
    if te_rows is None:
        return adata
    log.info("dataset %s: %d TE subfamilies beside the genes", adata.uns["dataset"],
             te_rows.shape[1])  # fmt: skip
    return attach_te_counts(adata, te_rows.loc[list(adata.obs_names)])


def ingest_geo(
    dataset: str,
    settings: dict[str, Any],
    *,
    counts_path: str | Path,
    annotation_path: str | Path,
    series_matrix_path: str | Path,
) -> ad.AnnData:
    """A ``source: geo`` dataset from the downloaded NCBI counts, annotation and series matrix."""
    from alsig.sources.geo import read_series_matrix

    matrix = read_count_matrix(counts_path, gene_column="GeneID")
    annotation = pl.read_csv(
        io.BytesIO(read_text_bytes(annotation_path)),
        separator="\t",
        infer_schema=False,
        columns=["GeneID", "Symbol"],
    )
    fallback = dict(
        zip(annotation["GeneID"].to_list(), annotation["Symbol"].to_list(), strict=True)
    )
    sheet = read_series_matrix(series_matrix_path)
    geo_settings = series_matrix_settings(settings, sheet.columns)
    match_samples(
        matrix.sample_ids,
        sheet.get_column("sample").to_list(),
        counts_src=str(counts_path),
        sheet_src=str(series_matrix_path),
        dataset=dataset,
    )
    obs = sample_sheet_and_obs(sheet, geo_settings, dataset, str(series_matrix_path))
    counts, var, genes_report = harmonise_genes(
        matrix.counts, matrix.gene_ids, id_type="entrez", fallback_symbols=fallback
    )
    inputs = {
        role: file_record(path, **_download_sidecar(path))
        for role, path in (
            ("counts", counts_path),
            ("annotation", annotation_path),
            ("series_matrix", series_matrix_path),
        )
    }
    provenance = {
        "source": "geo",
        "accession": settings["accession"],
        "inputs": inputs,
        "gene_harmonisation": genes_report,
    }
    return assemble(counts, var, obs, matrix.sample_ids, dataset=dataset, provenance=provenance)


def series_matrix_settings(settings: dict[str, Any], sheet_columns: list[str]) -> dict[str, Any]:
    """A GEO dataset's settings with column names as the series-matrix reader spells them:
    a characteristic written as in GEO ("sample group") is found as ``sample_group``."""
    from alsig.sources.geo import normalise_key

    def resolve(name: str) -> str:
        return name if name in sheet_columns else normalise_key(name)

    resolved = {**settings, "sample_column": "sample"}
    if settings.get("condition", {}).get("column"):
        resolved["condition"] = {
            **settings["condition"],
            "column": resolve(settings["condition"]["column"]),
        }
    if settings.get("columns"):
        resolved["columns"] = {role: resolve(name) for role, name in settings["columns"].items()}
    return resolved


def _download_sidecar(path: str | Path) -> dict[str, Any]:
    """URL and retrieval time recorded by the downloader next to a cached file."""
    import json

    sidecar = Path(f"{path}.json")
    if not sidecar.exists():
        return {}
    meta = json.loads(sidecar.read_text())
    return {
        "url": meta.get("url"),
        "retrieved_at": meta.get("retrieved_at"),
        "download_attempts": meta.get("attempts"),
    }


def run_ingest_rule(smk: Any) -> None:
    """Snakemake entry: ``params.settings`` is the dataset's config block."""
    from alsig.io import write_h5ad

    dataset = smk.wildcards.dataset
    settings = dict(smk.params.settings)
    if settings["source"] == "geo":
        adata = ingest_geo(
            dataset,
            settings,
            counts_path=smk.input.counts,
            annotation_path=smk.input.annotation,
            series_matrix_path=smk.input.series_matrix,
        )
    else:
        adata = ingest_local(dataset, settings)
    write_h5ad(adata, smk.output.h5ad)


def run_download_rule(smk: Any) -> None:
    """Snakemake entry: fetch ``params.urls`` into the matching ``output`` files (cached)."""
    from alsig.sources.download import fetch

    geo = smk.config["geo"]
    for url, dest in zip(smk.params.urls, smk.output, strict=True):
        fetch(
            url,
            dest,
            timeout=geo["timeout_seconds"],
            retries=geo["retries"],
            backoff=geo["backoff_seconds"],
        )
