"""The DE results table (``de_results`` schema) and the DE summary row of a contrast or test."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from alsig.tables import schemas

RESULT = "de_results"
#: Version of the DE table layout (the schema's ``x-schema-version``).
SCHEMA_VERSION: str = str(schemas.load(RESULT)["x-schema-version"])
#: columns the writer adds in front of the fit's own (the table names its dataset and contrast)
LABEL_COLUMNS = ("dataset", "contrast")

#: The DE summary's columns of a contrast's permutation null (:mod:`alsig.stages.de.null`).
NULL_COLUMNS = (
    "null_permutations",
    "null_discoveries_median",
    "null_discoveries_p90",
    "null_any_share",
    "null_exceedance",
    "null_note",
)
#: The DE summary's columns (``<name>.summary.tsv``, ``summary.tsv``), in order; a model without
#: a value leaves it empty. Documented in ``workflow/report/de_summary.rst`` and config/README.md.
SUMMARY_COLUMNS = (
    "dataset",
    "contrast",
    "kind",
    "model",
    "model_reason",
    "engine",
    "factor",
    "test_level",
    "reference_level",
    "design",
    "reduced_design",
    "tested_coefficients",
    "subset",
    "fit",
    "n_samples",
    "n_test",
    "n_reference",
    "n_subjects",
    "n_subjects_repeated",
    "samples_per_subject",
    "per_level",
    "n_samples_dropped",
    "dropped_samples",
    "n_samples_excluded_qc",
    "excluded_qc_samples",
    "cell_mix_adjustment",
    "n_genes_tested",
    "n_genes_with_padj",
    "alpha",
    "n_significant",
    "n_up",
    "n_down",
    *NULL_COLUMNS,
    "n_cooks_refitted",
    "n_cooks_outliers",
    "filter_threshold",
    "lfc_shrink_coefficient",
    "consensus_correlation",
    "icc_median",
    "icc_q10",
    "icc_q90",
    "icc_share_above_0_5",
    "top_icc_genes",
    "prior_df",
    "df_median",
    "mde_power",
    "mde_median",
    "mde_q25",
    "mde_q75",
    "fit_seconds",
    "test_seconds",
    "fit_phase_seconds",
    "test_phase_seconds",
    "n_cpus",
    "design_notes",
)


def core_schema() -> dict[str, pl.DataType]:
    """Return the ``de_results`` columns the fit produces (all but :data:`LABEL_COLUMNS`).

    Returns
    -------
    dict
        Column -> polars dtype, in the schema's order.
    """
    return {k: v for k, v in schemas.polars_schema(RESULT).items() if k not in LABEL_COLUMNS}


def gene_table(var: pd.DataFrame, columns: Mapping[str, np.ndarray], model: str) -> pl.DataFrame:
    """Return the DE table of one contrast or test, sorted by p-value then symbol.

    Parameters
    ----------
    var
        The tested genes (index = symbols; ``gene_id`` when known).
    columns
        Per gene, in ``var``'s order: every ``de_results`` column from ``base_mean`` on (NaN
        becomes null).
    model
        The ``model`` value of every row.

    Returns
    -------
    polars.DataFrame
        The :func:`core_schema` columns.
    """
    gene_id = var["gene_id"] if "gene_id" in var else pd.Series(var.index, index=var.index)
    schema = core_schema()
    data: dict[str, Any] = {
        "model": [model] * len(var),
        "gene_id": gene_id.astype(str).tolist(),
        "symbol": var.index.astype(str).tolist(),
    }
    for name in list(schema)[3:]:
        data[name] = np.asarray(columns[name], dtype=float)
    table = pl.DataFrame(data, schema=schema).with_columns(pl.col(pl.Float64).fill_nan(None))
    return table.sort(["pvalue", "symbol"], nulls_last=True)


def summary_row(values: Mapping[str, Any]) -> dict[str, Any]:
    """Return a summary in :data:`SUMMARY_COLUMNS` order (missing entries empty).

    Parameters
    ----------
    values
        Whatever of the summary's columns is known (others are dropped).

    Returns
    -------
    dict
        One value per column; NaN becomes ``None`` (an empty TSV cell).
    """
    row: dict[str, Any] = {}
    for column in SUMMARY_COLUMNS:
        value = values.get(column)
        if isinstance(value, float) and not np.isfinite(value):
            value = None
        row[column] = value
    return row


def summary_frame(rows: list[Mapping[str, Any]]) -> pl.DataFrame:
    """Return summary rows as one table with fixed column types (strings where mixed).

    Parameters
    ----------
    rows
        :func:`summary_row` outputs.

    Returns
    -------
    polars.DataFrame
        One row per contrast or test.
    """
    return pl.DataFrame([summary_row(r) for r in rows], infer_schema_length=None)
