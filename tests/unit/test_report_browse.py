"""The report's browsable tables: which rows each page shows, and a page that opens offline."""

from __future__ import annotations

import re

import polars as pl

from alsig.report.browse import table_page, write_table_page
from alsig.report.rows import (
    DE_MAX_GENES,
    LEADING_EDGE_SHOWN,
    de_top_genes,
    enrichment_terms,
    sample_decisions,
    sample_scores,
)


def test_sample_decisions_count_both_ways_of_being_excluded():
    qc = pl.DataFrame(
        {
            "sample": ["s1", "s2", "s3", "s4"],
            "condition": ["ALS", "ALS", "control", "control"],
            "qc_kept": [True, False, True, True],
            "qc_exclusion": ["", "", "sex_mismatch(reported female, inferred male)", None],
            "qc_reasons": ["", "low_library_size", "sex_mismatch(...)", ""],
        }
    )
    chosen = sample_decisions(qc)
    decisions = dict(zip(chosen.rows["sample"], chosen.rows["decision"], strict=True))
    assert decisions == {"s1": "kept", "s2": "excluded", "s3": "excluded", "s4": "kept"}
    assert chosen.rows["decision"].to_list()[:2] == ["excluded", "excluded"]  # first
    assert chosen.note.startswith("4 samples: 2 kept, 2 excluded")


def de_table(contrast: str, padj: list[float]) -> pl.DataFrame:
    n = len(padj)
    return pl.DataFrame(
        {
            "dataset": ["d"] * n,
            "contrast": [contrast] * n,
            "gene_id": [f"g{i}" for i in range(n)],
            "symbol": [f"G{i}" for i in range(n)],
            "base_mean": [100.0] * n,
            "log2_fold_change": [1.0] * n,
            "stat": [3.0] * n,
            "pvalue": [p / 10 for p in padj],
            "padj": padj,
        }
    )


def test_de_top_genes_shows_significant_genes_or_says_there_are_none():
    found = de_table("A_vs_B", [0.2, 0.01, 0.04, 0.5])
    none = de_table("C_vs_D", [0.3] * (DE_MAX_GENES + 10))
    chosen = de_top_genes([found, none])
    a = chosen.rows.filter(pl.col("contrast") == "A_vs_B")
    assert a["symbol"].to_list() == ["G1", "G2"]  # padj < 0.05, by p-value
    assert chosen.rows.filter(pl.col("contrast") == "C_vs_D").height == DE_MAX_GENES
    assert "No gene reaches padj < 0.05 in C_vs_D" in chosen.note


def test_enrichment_terms_filter_by_fdr_and_cut_the_leading_edge():
    table = pl.DataFrame(
        {
            "term": ["T1", "T2", "T3"],
            "collection": ["c"] * 3,
            "method": ["prerank"] * 3,
            "direction": ["up", "down", "up"],
            "size": [20, 30, 40],
            "nes": [2.0, -1.5, 0.3],
            "pvalue": [0.001, 0.01, 0.6],
            "pvalue_display": ["0.001", "0.01", "0.6"],
            "pvalue_method": ["multilevel", "permutation", "permutation"],
            "fdr": [0.01, 0.2, 0.9],
            "leading_edge": [[f"G{i}" for i in range(40)], ["A", "B"], ["C"]],
        }
    )
    chosen = enrichment_terms({"A_vs_B": [table]})
    assert chosen.rows["term"].to_list() == ["T1", "T2"]
    assert chosen.rows["leading_edge"].list.len().to_list() == [LEADING_EDGE_SHOWN, 2]
    assert chosen.rows["contrast"].unique().to_list() == ["A_vs_B"]


def test_sample_scores_one_row_per_sample_with_axis_columns():
    long = pl.DataFrame(
        {
            "sample": ["s1", "s1", "s1", "s2", "s2", "s2"],
            "subject": ["p1", "p1", "p1", "p2", "p2", "p2"],
            "condition": ["ALS", "ALS", "ALS", "control", "control", "control"],
            "qc_flag": [""] * 6,
            "signature": ["a1", "a2", "b1"] * 2,
            "axis": ["axA", "axA", "axB"] * 2,
            "method": ["singscore"] * 6,
            "z_vs_control": [1.0, 3.0, -1.0, 0.0, 0.0, 0.5],
        }
    )
    rows = sample_scores(long).rows
    assert rows.columns == ["sample", "subject", "condition", "qc_flag", "axA", "axB"]
    assert rows.filter(pl.col("sample") == "s1")["axA"].item() == 2.0  # mean of its signatures


def test_page_is_self_contained_and_rounds_floats(tmp_path):
    df = pl.DataFrame({"gene": ["SOD1", "TARDBP"], "value": [1.23456789123, 2.0]})
    html = table_page(df, title="t <&>", note="n", table_id="alsig-test")
    assert 'id="alsig-test"' in html
    assert "t &lt;&amp;&gt;" in html  # the title is escaped
    assert "1.23457" in html and "1.23456789123" not in html
    # nothing is fetched when the page opens: no external script or stylesheet
    assert not re.search(r"<(script|link)[^>]+(src|href)=[\"']https?://", html)
    assert len(html) > 100_000 and "new ITable(" in html  # the DataTables bundle is inlined
    path = tmp_path / "page.html"
    write_table_page(df, path, title="t", note="n", table_id="alsig-test")
    assert path.read_text() == table_page(df, title="t", note="n", table_id="alsig-test")
