"""A ``source: local`` dataset: the user's count matrix (TSV/CSV[.gz] or .h5ad) + sample sheet."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anndata as ad

from alsig import settings as alsig_settings
from alsig.errors import where
from alsig.stages.ingest.assemble import assemble, file_record
from alsig.stages.ingest.counts import read_gene_matrix
from alsig.stages.ingest.harmonise import harmonise_checked
from alsig.stages.ingest.samples import (
    SheetLayout,
    match_samples,
    obs_from_sheet,
    read_sample_sheet,
)
from alsig.stages.ingest.te_counts import (
    attach_te_counts,
    check_te_libraries,
    read_te_counts,
    split_te_rows,
)
from alsig.validation.advice import WORKFLOW

log = logging.getLogger(__name__)


def ingest_local(dataset: str, settings: Mapping[str, Any]) -> ad.AnnData:
    """Read, check, harmonise and assemble a local dataset.

    Every input goes through :mod:`alsig.validation` (the readers of this package): the count
    matrix (text or ``.h5ad``, same rules), the sample sheet, the gene ids (id type detected,
    mapped share checked) and the TE counts. What was repaired or decided is logged and kept in
    ``uns['provenance']`` (``counts_repairs``, ``sample_sheet``, ``gene_harmonisation``,
    ``te_counts_repairs``).

    Parameters
    ----------
    dataset
        The dataset id.
    settings
        Its entry of ``config["datasets"]``: ``counts``, ``samples`` (paths), ``sample_column``,
        ``counts_gene_column``, ``non_sample_columns``, ``gene_id_type``, ``condition``,
        ``columns``, ``counts_rounding``, ``max_missing_gene_ids_fraction``,
        ``min_mapped_gene_fraction``, ``te_counts`` (TE counts of the same runs; TE rows of the
        count matrix itself, TEcount's combined layout, are used when it is not given).

    Returns
    -------
    anndata.AnnData
        Samples x genes integer counts with obs, var and ``uns['provenance']``.

    Raises
    ------
    AlsigError
        Naming the file, line/column or config key of the first problem.
    """
    settings = {**alsig_settings.dataset_defaults(), **settings}
    counts_path = Path(settings["counts"])
    sheet_path = Path(settings["samples"])
    layout = SheetLayout.from_settings(settings)
    matrix = read_gene_matrix(
        counts_path,
        gene_column=settings.get("counts_gene_column"),
        non_sample_columns=settings.get("non_sample_columns", []),
        rounding=settings["counts_rounding"],
        max_missing_gene_ids_fraction=settings["max_missing_gene_ids_fraction"],
    )
    sheet_report: dict[str, Any] = {}
    sheet = read_sample_sheet(sheet_path, layout.sample_column, report=sheet_report)
    match_samples(
        matrix.sample_ids,
        sheet.get_column(layout.sample_column).to_list(),
        counts_src=str(counts_path),
        sheet_src=str(sheet_path),
        dataset=dataset,
        matrix_genes=matrix.gene_ids,
    )
    obs = obs_from_sheet(
        sheet, layout, dataset=dataset, source=str(sheet_path), report=sheet_report
    )
    matrix, te_rows = split_te_rows(matrix)
    counts, var, genes_report = harmonise_checked(
        matrix,
        id_type=settings.get("gene_id_type") or "auto",
        min_mapped_fraction=float(settings["min_mapped_gene_fraction"]),
        id_type_key=f"datasets.{dataset}.gene_id_type",
        threshold_key=f"datasets.{dataset}.min_mapped_gene_fraction",
    )
    inputs = {"counts": file_record(counts_path), "samples": file_record(sheet_path)}
    provenance = {
        "source": "local",
        "inputs": inputs,
        "counts_repairs": matrix.report,
        "sample_sheet": sheet_report,
        "gene_harmonisation": genes_report,
    }
    if settings.get("te_counts"):
        path = Path(settings["te_counts"])
        if te_rows is not None:
            log.warning(
                "%s: the count matrix has %d TE row(s) too; the TE counts of `te_counts` (%s) "
                "are used, not these",
                counts_path.name,
                te_rows.shape[1],
                path.name,
            )
        te_report: dict[str, Any] = {}
        te_rows = read_te_counts(path, sample_ids=list(matrix.sample_ids), report=te_report)
        inputs["te_counts"] = file_record(path)
        provenance["te_counts_repairs"] = te_report
    elif te_rows is not None:  # TEcount's combined layout: the TE rows of the count matrix
        check_te_libraries(te_rows, where(counts_path), WORKFLOW)
    adata = assemble(counts, var, obs, matrix.sample_ids, dataset=dataset, provenance=provenance)
    return adata if te_rows is None else attach_te_counts(adata, te_rows)
