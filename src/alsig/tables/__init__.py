"""The public signature-score tables: schema, reader, writers, catalog.

This module is the contract downstream tools rely on. The long table has exactly the columns in
:data:`COLUMNS` with the dtypes in :data:`SCHEMA`; any change to them bumps
:data:`SCHEMA_VERSION` (and ``workflow/schemas/signature_scores.schema.yaml``, which a unit test
keeps identical). Forms written per dataset (``results/<dataset>/scores/``):

- ``signature_scores.parquet``: the long table, one row per sample x signature x method;
- ``signature_scores_wide.tsv``: one row per method x sample, one column per signature
  (for spreadsheets);
- ``scores.h5ad``: the sample x gene expression used (``X``), ``obs``/``var`` of the input and
  ``obsm['alsig_scores_<method>']`` (samples x signatures DataFrame) for scanpy users;
- ``signature_coverage.tsv``: genes present per signature and the coverage flag.

The catalog (``results/catalog/signature_scores.parquet/``) holds every dataset of a run,
hive-partitioned (``dataset=<id>/part-0.parquet``, the ``dataset`` column comes from the folder
name). Read it in one line::

    pl.read_parquet("results/catalog/signature_scores.parquet", hive_partitioning=True)
    pd.read_parquet("results/catalog/signature_scores.parquet")
    alsig.tables.read_scores("results/catalog/signature_scores.parquet")  # + version check
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from alsig.errors import AlsigError, where
from alsig.resources import schema

if TYPE_CHECKING:
    import anndata as ad

    from alsig.stages.score import ScoreResult

log = logging.getLogger(__name__)

SCHEMA_VERSION = "1"
SCHEMA: dict[str, pl.DataType] = {
    "schema_version": pl.String,
    "alsig_version": pl.String,
    "dataset": pl.String,
    "sample": pl.String,
    "subject": pl.String,
    "condition": pl.String,
    "signature": pl.String,
    "axis": pl.String,
    "method": pl.String,
    "score": pl.Float64,
    "dispersion": pl.Float64,
    "z_vs_control": pl.Float64,
    "n_genes": pl.Int32,
    "n_genes_used": pl.Int32,
}
COLUMNS: list[str] = list(SCHEMA)
KEY = ["dataset", "sample", "signature", "method"]  # unique per row
NULLABLE = {"subject", "condition", "score", "dispersion", "z_vs_control"}
WIDE_INDEX = ["method", "sample", "subject", "condition"]
PARTITION_FILE = "part-0.parquet"
SCHEMA_FILE = schema("signature_scores")


# --------------------------------------------------------------------------------------------
# validation and reading
# --------------------------------------------------------------------------------------------
def validate_long(df: pl.DataFrame, source: object = "signature table") -> pl.DataFrame:
    """Check columns, dtypes, versions, nulls and key uniqueness; return ``df`` in column order."""
    missing = [c for c in COLUMNS if c not in df.columns]
    extra = [c for c in df.columns if c not in SCHEMA]
    if missing or extra:
        raise AlsigError(
            f"{where(source)}: columns do not match signature-table schema {SCHEMA_VERSION} "
            f"(missing: {missing or 'none'}; unexpected: {extra or 'none'})."
        )
    df = df.select(COLUMNS)
    wrong = [f"{c} is {df.schema[c]}, expected {t}" for c, t in SCHEMA.items() if df.schema[c] != t]
    if wrong:
        raise AlsigError(f"{where(source)}: wrong column types: {'; '.join(wrong)}.")
    for column in COLUMNS:
        if column not in NULLABLE and df[column].null_count():
            raise AlsigError(f"{where(source, column=column)}: column has null values.")
    if df.height and df.select(pl.struct(KEY).is_duplicated().any()).item():
        raise AlsigError(f"{where(source)}: duplicated rows for ({', '.join(KEY)}).")
    return df


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


def read_scores(path: str | os.PathLike[str]) -> pl.DataFrame:
    """Read a long signature table (a parquet file) or the hive-partitioned catalog directory.

    Checks the schema version first (an :class:`AlsigError` names the file and both versions),
    then the columns and dtypes; returns the rows in :data:`COLUMNS` order.
    """
    source = Path(path)
    if not source.exists():
        raise AlsigError(f"signature table '{source}' does not exist.")
    try:
        if source.is_dir():
            files = sorted(source.glob(f"dataset=*/{PARTITION_FILE}"))
            if not files:
                raise AlsigError(f"{where(source)}: catalog directory has no dataset partitions.")
            frames = []
            for file in files:
                part = pl.read_parquet(file)
                _check_version(part, file)
                dataset = file.parent.name.split("=", 1)[1]
                if "dataset" not in part.columns:
                    part = part.with_columns(pl.lit(dataset, dtype=pl.String).alias("dataset"))
                frames.append(part)
            df = pl.concat(frames, how="diagonal_relaxed")
        else:
            df = pl.read_parquet(source)
    except (pl.exceptions.ComputeError, OSError) as exc:
        raise AlsigError(f"{where(source)}: cannot be read as parquet: {exc}") from exc
    _check_version(df, source)
    return validate_long(df, source)


# --------------------------------------------------------------------------------------------
# writers
# --------------------------------------------------------------------------------------------
def write_long(df: pl.DataFrame, path: str | os.PathLike[str]) -> None:
    from alsig.io import write_parquet

    write_parquet(validate_long(df, path), path)


def wide_table(df: pl.DataFrame) -> pl.DataFrame:
    """Samples x signatures (``score``), one row per method x sample, signature columns in order."""
    signatures = list(dict.fromkeys(df["signature"].to_list()))
    wide = df.pivot(on="signature", index=WIDE_INDEX, values="score", aggregate_function=None)
    return wide.select([*WIDE_INDEX, *[s for s in signatures if s in wide.columns]])


def write_wide(df: pl.DataFrame, path: str | os.PathLike[str]) -> None:
    from alsig.io import write_tsv

    write_tsv(wide_table(df), path)


def write_coverage(coverage: pl.DataFrame, path: str | os.PathLike[str]) -> None:
    from alsig.io import write_tsv

    write_tsv(coverage, path)


def write_scores_h5ad(
    adata: ad.AnnData,
    result: ScoreResult,
    path: str | os.PathLike[str],
    *,
    layer: str | None = "vst",
) -> None:
    """AnnData with ``X`` = the scored expression, the input ``obs``/``var`` and
    ``obsm['alsig_scores_<method>']`` (samples x signatures, NaN = not scored)."""
    import anndata as ad
    import numpy as np

    from alsig.io import write_h5ad
    from alsig.stages.score import expression_matrix

    X = expression_matrix(adata, layer)
    out = ad.AnnData(
        X=X.astype(np.float32) if hasattr(X, "astype") else X,
        obs=adata.obs.copy(),
        var=adata.var.copy(),
    )
    for method, frame in result.wide.items():
        out.obsm[f"alsig_scores_{method}"] = frame.reindex(out.obs_names)
    out.uns["alsig_scores"] = {
        "schema_version": SCHEMA_VERSION,
        "methods": list(result.wide),
        "expression": str(layer),
        "flagged_signatures": result.coverage.filter(pl.col("flagged"))["signature"].to_list(),
        "notes": list(result.notes),
    }
    if "dataset" in adata.uns:
        out.uns["dataset"] = adata.uns["dataset"]
    write_h5ad(out, path)


# --------------------------------------------------------------------------------------------
# catalog
# --------------------------------------------------------------------------------------------
def _replace_dir(tmp: Path, final: Path) -> None:
    """Move ``tmp`` onto ``final``: rename the old folder aside, rename the new one in, delete the
    old one. Each rename is atomic; readers never see a half-written partition."""
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
    df: pl.DataFrame, catalog: str | os.PathLike[str], dataset: str
) -> Path:
    """Write one dataset's rows to ``<catalog>/dataset=<id>/part-0.parquet`` atomically.

    The file is written in a temporary folder beside the catalog (same file system, outside the
    catalog so readers never list it) and renamed into place.
    """
    catalog = Path(catalog)
    catalog.mkdir(parents=True, exist_ok=True)
    rows = validate_long(df.filter(pl.col("dataset") == dataset), f"{catalog} (dataset {dataset})")
    tmp = Path(tempfile.mkdtemp(prefix=f".{catalog.name}.{dataset}.", dir=catalog.parent))
    try:
        rows.drop("dataset").write_parquet(
            tmp / PARTITION_FILE, compression="zstd", statistics=True
        )
        with open(tmp / PARTITION_FILE, "rb") as handle:
            os.fsync(handle.fileno())
        final = catalog / f"dataset={dataset}"
        _replace_dir(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final / PARTITION_FILE


def write_catalog(
    tables: Iterable[str | os.PathLike[str]],
    catalog: str | os.PathLike[str],
    manifest: str | os.PathLike[str] | None = None,
    *,
    remove_stale: bool = True,
) -> pl.DataFrame:
    """Rewrite the catalog from every dataset's long table; returns (and writes) the manifest.

    Partitions of datasets that are not among ``tables`` are removed when ``remove_stale`` (the
    catalog describes one run). The manifest lists dataset, rows, samples, schema version, the
    partition path and its sha256.
    """
    from alsig.io import sha256_file, write_tsv

    catalog = Path(catalog)
    entries = []
    seen: set[str] = set()
    for table in tables:
        df = read_scores(table)
        for dataset in sorted(set(df["dataset"].to_list())):
            if dataset in seen:
                raise AlsigError(
                    f"{where(table)}: dataset '{dataset}' appears in two score tables."
                )
            seen.add(dataset)
            part = write_catalog_partition(df, catalog, dataset)
            rows = df.filter(pl.col("dataset") == dataset)
            entries.append(
                {
                    "dataset": dataset,
                    "n_rows": rows.height,
                    "n_samples": rows["sample"].n_unique(),
                    "schema_version": SCHEMA_VERSION,
                    "partition": str(part),
                    "sha256": sha256_file(part),
                }
            )
            log.info("catalog: dataset %s, %d rows -> %s", dataset, rows.height, part)
    if remove_stale and catalog.exists():
        for folder in sorted(catalog.glob("dataset=*")):
            if folder.name.split("=", 1)[1] not in seen:
                log.info("catalog: removing partition %s (dataset not in this run)", folder)
                shutil.rmtree(folder)
    result = pl.DataFrame(
        entries,
        schema={
            "dataset": pl.String,
            "n_rows": pl.Int64,
            "n_samples": pl.Int64,
            "schema_version": pl.String,
            "partition": pl.String,
            "sha256": pl.String,
        },
    )
    if manifest is not None:
        write_tsv(result, manifest)
    return result


def run_catalog_rule(smk) -> None:
    """``rule catalog``: input ``tables`` (every dataset's long table); output ``manifest``;
    param ``catalog`` (the partitioned directory, written as a side effect so that it is never
    deleted by Snakemake before the atomic per-partition rewrite)."""
    write_catalog(list(smk.input.tables), smk.params.catalog, smk.output.manifest)
