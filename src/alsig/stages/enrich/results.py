"""Enrichment result tables: the shipped schemas, p-value floor and display, BH adjustment.

Prerank and ORA rows share one table, ``workflow/schemas/enrichment.schema.yaml`` (read through
:mod:`alsig.tables.schemas`); the per-set coverage table is
``workflow/schemas/enrichment_coverage.schema.yaml``.

Permutation p-values: a permutation p-value of 0 only says that none of the ``n`` permutations
was as extreme, i.e. p < 1/(n+1). alsig stores ``pvalue = 1/(n+1)`` (numeric, so sorting and
plotting work), sets ``pvalue_at_floor = true`` and writes ``pvalue_display = "< 0.000999"``
(for n = 1000). A GSEA FDR of 0 is raised to the same floor. With ``enrich.multilevel`` (the
default) such a set gets a multilevel estimate instead (:mod:`alsig.gsea.multilevel`,
``pvalue_method = "multilevel"``); only an estimate below ``enrich.multilevel_eps`` is stored as
that bound with ``pvalue_at_floor = true``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import polars as pl

from alsig.tables import schemas

#: Schema name of the enrichment table (prerank and ORA rows).
RESULT = "enrichment"
#: Version of the enrichment table layout (the schema's ``x-schema-version``).
SCHEMA_VERSION: str = str(schemas.load(RESULT)["x-schema-version"])
#: Schema name of the per-set coverage table.
COVERAGE = "enrichment_coverage"
#: Columns that need the whole DE table, filled in by :func:`alsig.stages.enrich.enrich_contrast`.
SET_COLUMNS = ("set_size", "coverage")


def empty_result() -> pl.DataFrame:
    """Return a schema-valid enrichment table with no rows."""
    return schemas.empty(RESULT)


def conform_result(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with exactly the enrichment schema's columns (order, dtypes.

    See :func:`alsig.tables.schemas.conform`).
    """
    return schemas.conform(frame, RESULT)


def method_table(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """One method's rows (dicts) as an enrichment table: the schema's columns, order and dtypes.

    Columns a row does not give are null; ``set_size`` and ``coverage`` stay null until
    :func:`alsig.stages.enrich.enrich_contrast` joins them from the coverage table.
    """
    if not rows:
        return empty_result()
    frame = pl.DataFrame(rows, infer_schema_length=None)
    placeholders = [pl.lit(None).alias(c) for c in SET_COLUMNS if c not in frame.columns]
    return conform_result(frame.with_columns(placeholders))


def check_result(table: pl.DataFrame, source: object = "enrichment table") -> pl.DataFrame:
    """Check ``table`` against the enrichment schema (p-values above 0: its ``exclusiveMinimum``).

    Raises
    ------
    AlsigError
        Naming ``source`` and what is wrong. Returns ``table`` unchanged otherwise.
    """
    return schemas.validate(table, RESULT, source)


def coverage_table(
    sets: Mapping[str, Sequence[str]], data_genes: Iterable[str], collection: str
) -> pl.DataFrame:
    """Per set: its size and the share of its genes present in ``data_genes``.

    Parameters
    ----------
    sets
        ``{set name: [symbols]}`` of one collection.
    data_genes
        The symbols of the DE table.
    collection
        Collection id.

    Returns
    -------
    polars.DataFrame
        The coverage schema, ``tested_prerank`` and ``tested_ora`` false (the methods set them).
    """
    universe = set(data_genes)
    rows = []
    for term, genes in sets.items():
        n_in = sum(g in universe for g in genes)
        rows.append(
            {
                "term": term,
                "collection": collection,
                "set_size": len(genes),
                "n_in_data": n_in,
                "coverage": n_in / len(genes) if genes else 0.0,
                "tested_prerank": False,
                "tested_ora": False,
            }
        )
    return pl.DataFrame(rows, schema=schemas.polars_schema(COVERAGE))


def format_pvalue(pvalue: float | None, at_floor: bool = False) -> str | None:
    """``"< 0.000999"`` for a p-value at the permutation floor, else 3 significant digits.

    Parameters
    ----------
    pvalue
        A p-value; ``None``/NaN give ``None``.
    at_floor
        Whether it is the permutation floor (see :func:`pvalue_floor`).
    """
    if pvalue is None or (isinstance(pvalue, float) and math.isnan(pvalue)):
        return None
    return f"< {pvalue:.3g}" if at_floor else f"{pvalue:.3g}"
