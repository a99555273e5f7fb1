"""Which rows of the stage tables the report's browsable pages show, and in which order.

Each function takes the stage's own table(s) and returns the rows to show with a note saying how
they were chosen, so a reader knows when a page is a selection of a larger file.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from alsig.report.browse import natural_sort
from alsig.tables.enrichment import SIGNIFICANCE, SIGNIFICANCE_TEXT, with_significance

#: DE genes shown per contrast: the significant ones up to this many, else the smallest p-values.
DE_MAX_GENES = 1000
#: Enrichment rows shown per contrast: significance FDR (camera's for prerank, BH for ORA) below
#: this, up to ENRICH_MAX_ROWS.
ENRICH_FDR = 0.25
ENRICH_MAX_ROWS = 3000
#: A contrast without any term below ENRICH_FDR shows this many of smallest significance FDR.
ENRICH_FALLBACK_ROWS = 50
#: Leading-edge genes shown per term (the full list is in the enrichment tables).
LEADING_EDGE_SHOWN = 15


@dataclass(frozen=True)
class Selection:
    """Rows for one page and the sentence saying how they were chosen."""

    rows: pl.DataFrame
    note: str


def de_top_genes(tables: list[pl.DataFrame], padj: float = 0.05) -> Selection:
    """Per contrast, the genes at ``padj`` < ``padj`` by p-value (at most :data:`DE_MAX_GENES`).

    A contrast without any shows its :data:`DE_MAX_GENES` smallest p-values instead, so an empty
    result still has something to look at (and the note says so).
    """
    columns = [
        "contrast",
        "symbol",
        "gene_id",
        "base_mean",
        "log2_fold_change",
        "log2_fold_change_shrunk",
        "stat",
        "pvalue",
        "padj",
    ]
    parts, without = [], []
    for table in tables:
        ranked = table.select([c for c in columns if c in table.columns]).sort(
            "pvalue", nulls_last=True
        )
        significant = ranked.filter(pl.col("padj") < padj)
        if significant.height == 0:
            without.append(str(table["contrast"][0]) if table.height else "?")
            significant = ranked
        parts.append(significant.head(DE_MAX_GENES))
    rows = pl.concat(parts, how="diagonal_relaxed") if parts else pl.DataFrame()
    note = (
        f"Genes at padj < {padj:g} per contrast, by p-value (at most {DE_MAX_GENES} per contrast); "
        "every tested gene is in results/<dataset>/de/<contrast>.parquet."
    )
    if without:
        note += (
            f" No gene reaches padj < {padj:g} in {', '.join(without)}: shown are its "
            f"{DE_MAX_GENES} smallest p-values, none of them significant."
        )
    return Selection(rows, note)


def enrichment_terms(tables: dict[str, list[pl.DataFrame]], *, folder: str) -> Selection:
    """Return per contrast the terms at significance FDR < :data:`ENRICH_FDR`, by that FDR.

    The significance FDR is camera's for GSEA prerank rows and BH's for ORA rows
    (:func:`alsig.tables.enrichment.with_significance`); GSEA's own ``fdr`` is shown beside it.

    Every collection and method, at most :data:`ENRICH_MAX_ROWS` rows; the leading edge cut to
    its first genes. A contrast without any term below :data:`ENRICH_FDR` shows its
    :data:`ENRICH_FALLBACK_ROWS` terms of smallest significance FDR instead (the note says so), as
    the DE page does with p-values. ``folder``: the dataset's enrichment folder, named in the note.
    """
    parts, without = [], []
    for contrast, collection_tables in tables.items():
        if not collection_tables:
            continue
        terms = with_significance(pl.concat(collection_tables, how="diagonal_relaxed"))
        if "pvalue_at_floor" not in terms.columns:  # tables of schema 1 have no floor flag
            terms = terms.with_columns(pl.lit(False).alias("pvalue_at_floor"))
        for column in ("camera_pvalue", "inter_gene_correlation"):  # schema 2 and older
            if column not in terms.columns:
                terms = terms.with_columns(pl.lit(None, pl.Float64).alias(column))
        ranked = terms.filter(pl.col(SIGNIFICANCE).is_not_null()).sort(
            [SIGNIFICANCE, "pvalue", pl.col("nes").abs(), "term"],
            descending=[False, False, True, False],
            nulls_last=True,
        )
        shown = ranked.filter(pl.col(SIGNIFICANCE) < ENRICH_FDR).head(ENRICH_MAX_ROWS)
        if shown.height == 0:
            without.append(contrast)
            shown = ranked.head(ENRICH_FALLBACK_ROWS)
        parts.append(
            shown.select(
                pl.lit(contrast).alias("contrast"),
                "collection",
                "method",
                "direction",
                "term",
                "size",
                SIGNIFICANCE,
                "camera_pvalue",
                "inter_gene_correlation",
                "nes",
                "pvalue",
                "pvalue_method",
                pl.col("pvalue_at_floor").fill_null(False),
                "fdr",
                pl.col("leading_edge").list.head(LEADING_EDGE_SHOWN),
            )
        )
    rows = pl.concat(parts) if parts else pl.DataFrame()
    note = (
        f"Terms at {SIGNIFICANCE} < {ENRICH_FDR:g} per contrast ({SIGNIFICANCE_TEXT}; every "
        f"collection), by it (then p, then |NES|), at most {ENRICH_MAX_ROWS} per contrast. "
        "camera allows for the correlation between a set's genes (inter_gene_correlation); "
        "GSEA's nes, pvalue and fdr describe the set but assume independent genes, and on "
        "tissue call about 20 of 50 Hallmark sets on donor-permuted labels "
        "(bench/results/enrich_null.md). pvalue_method says "
        "whether p is a permutation p or a multilevel estimate (sets beyond every permutation); "
        "'< p': no permutation reached the set's score, p is at most 1/(permutations + 1); "
        f"leading edge: its first {LEADING_EDGE_SHOWN} genes. Every tested term: {folder}/<contrast>/."
    )
    if without:
        note += (
            f" No term reaches {SIGNIFICANCE} < {ENRICH_FDR:g} in {', '.join(without)}: shown are "
            f"its {ENRICH_FALLBACK_ROWS} terms of smallest {SIGNIFICANCE}, none of them "
            "significant."
        )
    return Selection(rows, note)


def sample_scores(long: pl.DataFrame) -> Selection:
    """One row per sample (singscore, or the first method by name).

    Its QC flag and each axis' score and z against the control reference.
    """
    methods = sorted(long["method"].unique().to_list())
    method = "singscore" if "singscore" in methods else methods[0]
    axes = (
        long.filter(pl.col("method") == method)
        .group_by(["sample", "subject", "condition", "qc_flag", "axis"], maintain_order=True)
        .agg(pl.col("z_vs_control").mean())
        .pivot(
            on="axis", index=["sample", "subject", "condition", "qc_flag"], values="z_vs_control"
        )
    )
    axes = natural_sort(axes, ["condition", "sample"])
    note = (
        f"Per sample, the mean z against the control reference of each axis' signatures "
        f"({method}). Every signature, score and method: results/<dataset>/scores/"
        "signature_scores.parquet (one line: alsig.read_scores)."
    )
    return Selection(axes, note)


def sample_decisions(sample_qc: pl.DataFrame, *, source: str) -> Selection:
    """Every sample with the QC decision taken on it.

    ``decision`` is ``excluded`` when the outlier filter dropped it (``qc_kept`` false) or a
    sex-check decision excluded it (``qc_exclusion``), else ``kept``; excluded samples first.
    ``source``: the sample table's path, named in the note.
    """
    wanted = [
        "sample",
        "condition",
        "subject",
        "sex_reported",
        "sex_inferred",
        "sex_decision",
        "qc_exclusion",
        "qc_reasons",
        "qc_flag",
        "total_counts",
        "n_genes_detected",
    ]
    kept = pl.lit(True)
    if "qc_kept" in sample_qc.columns:
        kept = pl.col("qc_kept").cast(pl.String).str.to_lowercase() == "true"
    if "qc_exclusion" in sample_qc.columns:
        kept = kept & (pl.col("qc_exclusion").fill_null("") == "")
    rows = natural_sort(
        sample_qc.select(
            pl.when(kept).then(pl.lit("kept")).otherwise(pl.lit("excluded")).alias("decision"),
            *(c for c in wanted if c in sample_qc.columns),
        ),
        ["decision", "sample"],
    )
    excluded = rows.filter(pl.col("decision") == "excluded").height
    note = (
        f"{rows.height} samples: {rows.height - excluded} kept, {excluded} excluded by QC "
        "(qc_exclusion or the outlier filter; qc_reasons lists every flag, qc_flag the flags of "
        f"kept samples). Source: {source}."
    )
    return Selection(rows, note)
