"""A ``source: local`` dataset: the user's count matrix (TSV/CSV[.gz] or .h5ad) + sample sheet."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anndata as ad

from alsig import settings as alsig_settings
from alsig.stages.ingest.assemble import assemble, file_record
from alsig.stages.ingest.counts import read_count_matrix, read_h5ad_count_matrix
from alsig.stages.ingest.gene_rows import check_species
from alsig.stages.ingest.harmonise import harmonise_genes
from alsig.stages.ingest.samples import (
    SheetLayout,
    match_samples,
    obs_from_sheet,
    read_sample_sheet,
)
from alsig.stages.ingest.te_counts import attach_te_counts, read_te_counts, split_te_rows


def ingest_local(dataset: str, settings: Mapping[str, Any]) -> ad.AnnData:
    """Read, check, harmonise and assemble a local dataset.

    Parameters
    ----------
    dataset
        The dataset id.
    settings
        Its entry of ``config["datasets"]``: ``counts``, ``samples`` (paths), ``sample_column``,
        ``counts_gene_column``, ``non_sample_columns``, ``gene_id_type``, ``condition``,
        ``columns``, ``counts_rounding``, ``max_missing_gene_ids_fraction``, ``te_counts`` (TE counts of the same runs; TE rows of the count matrix
        itself, TEcount's combined layout, are used when it is not given).

    Returns
    -------
    anndata.AnnData
        Samples x genes integer counts with obs, var and ``uns['provenance']``.
    """
    settings = {**alsig_settings.dataset_defaults(), **settings}
    counts_path = Path(settings["counts"])
    sheet_path = Path(settings["samples"])
    layout = SheetLayout.from_settings(settings)
    if counts_path.name.endswith(".h5ad"):
        matrix = read_h5ad_count_matrix(counts_path)
    else:
        matrix = read_count_matrix(
            counts_path,
            gene_column=settings.get("counts_gene_column"),
            non_sample_columns=settings.get("non_sample_columns", []),
            rounding=settings["counts_rounding"],
            max_missing_gene_ids_fraction=settings["max_missing_gene_ids_fraction"],
        )
    sheet = read_sample_sheet(sheet_path, layout.sample_column)
    match_samples(
        matrix.sample_ids,
        sheet.get_column(layout.sample_column).to_list(),
        counts_src=str(counts_path),
        sheet_src=str(sheet_path),
        dataset=dataset,
        matrix_genes=matrix.gene_ids,
    )
    obs = obs_from_sheet(sheet, layout, dataset=dataset, source=str(sheet_path))
    matrix, te_rows = split_te_rows(matrix)
    id_type = settings.get("gene_id_type", "auto")
    check_species(matrix.gene_ids, id_type, counts_path)
    counts, var, genes_report = harmonise_genes(matrix.counts, matrix.gene_ids, id_type=id_type)
    inputs = {"counts": file_record(counts_path), "samples": file_record(sheet_path)}
    provenance = {
        "source": "local",
        "inputs": inputs,
        "counts_repairs": matrix.report,
        "gene_harmonisation": genes_report,
    }
    adata = assemble(counts, var, obs, matrix.sample_ids, dataset=dataset, provenance=provenance)
    if settings.get("te_counts"):
        path = Path(settings["te_counts"])
        te_rows = read_te_counts(path, sample_ids=list(adata.obs_names))
        inputs["te_counts"] = file_record(path)
    return adata if te_rows is None else attach_te_counts(adata, te_rows)
