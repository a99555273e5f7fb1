"""A ``source: geo`` dataset: NCBI-computed counts, NCBI's gene annotation and the series matrix.

The download rules put the three files into the cache; ingest reads them from there.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anndata as ad
import polars as pl

from alsig import settings as alsig_settings
from alsig.errors import where
from alsig.sources.geo import normalise_key, read_series_matrix
from alsig.stages.ingest.assemble import assemble, download_record, file_record
from alsig.stages.ingest.counts import read_count_matrix
from alsig.stages.ingest.harmonise import harmonise_checked
from alsig.stages.ingest.samples import SheetLayout, match_samples, obs_from_sheet
from alsig.stages.ingest.text import read_text_bytes
from alsig.validation import clean_sheet


def series_matrix_layout(settings: Mapping[str, Any], sheet_columns: list[str]) -> SheetLayout:
    """Return a GEO dataset's sheet layout, column names as the series-matrix reader spells them.

    A characteristic written as in GEO (``"sample group"``) is found as ``sample_group``
    (:func:`alsig.sources.geo.normalise_key`); the sample id is the GSM accession (``sample``).

    Parameters
    ----------
    settings
        The dataset's entry of ``config["datasets"]``.
    sheet_columns
        The columns of its series matrix (:func:`alsig.sources.geo.read_series_matrix`).

    Returns
    -------
    SheetLayout
        Sample id column ``sample``; condition and canonical columns resolved.
    """

    def resolve(name: str) -> str:
        return name if name in sheet_columns else normalise_key(name)

    given = SheetLayout.from_settings(settings)
    return SheetLayout(
        sample_column="sample",
        condition_column=resolve(given.condition_column),
        rules=given.rules,
        columns={role: resolve(name) for role, name in given.columns.items()},
    )


def annotation_symbols(path: str | Path) -> dict[str, str]:
    """Read Entrez id -> symbol from NCBI's gene annotation (``GeneID``, ``Symbol`` columns).

    Parameters
    ----------
    path
        NCBI's ``Human.GRCh38.p13.annot.tsv.gz`` (or a table with those two columns).

    Returns
    -------
    dict of str to str
        Entrez id -> symbol.
    """
    annotation = pl.read_csv(
        io.BytesIO(read_text_bytes(path)),
        separator="\t",
        infer_schema=False,
        columns=["GeneID", "Symbol"],
    )
    return dict(zip(annotation["GeneID"].to_list(), annotation["Symbol"].to_list(), strict=True))


def ingest_geo(
    dataset: str,
    settings: Mapping[str, Any],
    *,
    counts_path: str | Path,
    annotation_path: str | Path,
    series_matrix_path: str | Path,
) -> ad.AnnData:
    """Read, check, harmonise and assemble a GEO dataset from its downloaded files.

    The downloads pass the checks of a local dataset (:mod:`alsig.validation`): the counts the
    text reader's, the series-matrix sheet :func:`alsig.validation.clean_sheet` and the
    canonical columns, the Entrez ids the mapped-share check.

    Parameters
    ----------
    dataset
        The dataset id.
    settings
        Its entry of ``config["datasets"]`` (``accession``, ``condition``, ``columns``).
    counts_path, annotation_path, series_matrix_path
        The cached downloads.

    Returns
    -------
    anndata.AnnData
        Samples x genes integer counts with obs, var and ``uns['provenance']`` (with each file's
        URL and retrieval time).

    Raises
    ------
    AlsigError
        Naming the file, line/column or config key of the first problem.
    """
    settings = {**alsig_settings.dataset_defaults(), **settings}
    matrix = read_count_matrix(counts_path, gene_column="GeneID")
    fallback = annotation_symbols(annotation_path)
    sheet_report: dict[str, Any] = {}
    sheet = read_series_matrix(series_matrix_path, report=sheet_report)
    sheet = clean_sheet(
        sheet, sample_column="sample", location=where(series_matrix_path), report=sheet_report
    )
    layout = series_matrix_layout(settings, sheet.columns)
    match_samples(
        matrix.sample_ids,
        sheet.get_column(layout.sample_column).to_list(),
        counts_src=str(counts_path),
        sheet_src=str(series_matrix_path),
        dataset=dataset,
    )
    obs = obs_from_sheet(
        sheet, layout, dataset=dataset, source=str(series_matrix_path), report=sheet_report
    )
    counts, var, genes_report = harmonise_checked(
        matrix,
        id_type="entrez",
        min_mapped_fraction=float(settings["min_mapped_gene_fraction"]),
        id_type_key="gene_id_type (GEO counts are Entrez ids)",
        threshold_key=f"datasets.{dataset}.min_mapped_gene_fraction",
        fallback_symbols=fallback,
    )
    inputs = {
        role: file_record(path, **download_record(path))
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
        "counts_repairs": matrix.report,
        "sample_sheet": sheet_report,
        "gene_harmonisation": genes_report,
    }
    return assemble(counts, var, obs, matrix.sample_ids, dataset=dataset, provenance=provenance)
