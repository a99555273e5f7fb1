"""The report's browsable tables: which rows each page shows, and a page that opens offline with
one compressed DataTables bundle, p-values in scientific notation and ids in natural order."""

from __future__ import annotations

import base64
import gzip
import re
from pathlib import Path

import polars as pl

from alsig.report.browse import (
    Section,
    column_defs,
    natural_key,
    natural_sort,
    table_id,
    tables_page,
    write_tables_page,
)
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
    chosen = sample_decisions(qc, source="run_b/d1/qc/sample_qc.tsv")
    decisions = dict(zip(chosen.rows["sample"], chosen.rows["decision"], strict=True))
    assert decisions == {"s1": "kept", "s2": "excluded", "s3": "excluded", "s4": "kept"}
    assert chosen.rows["decision"].to_list()[:2] == ["excluded", "excluded"]  # first
    assert chosen.note.startswith("4 samples: 2 kept, 2 excluded")
    assert chosen.note.endswith("Source: run_b/d1/qc/sample_qc.tsv.")  # where this run wrote it


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


def test_enrichment_terms_call_prerank_by_camera_fdr_and_cut_the_leading_edge():
    """A prerank set is called by camera_fdr (GSEA's fdr assumes independent genes: T1's 0.01
    is not a call when camera says 0.4); an ORA set by its BH fdr."""
    table = pl.DataFrame(
        {
            "term": ["T1", "T2", "T3", "T4", "O1"],
            "collection": ["c"] * 5,
            "method": ["prerank"] * 4 + ["ora"],
            "direction": ["up", "down", "up", "up", "up"],
            "size": [20, 30, 40, 25, 15],
            "nes": [2.0, -1.5, 0.3, 1.8, None],
            "pvalue": [0.001, 0.01, 0.6, 0.002, 0.001],
            "pvalue_display": ["< 0.001", "0.01", "0.6", "0.002", "0.001"],
            "pvalue_at_floor": [True, False, False, False, False],
            "pvalue_method": ["multilevel", "permutation", "permutation", "permutation", "x"],
            "fdr": [0.01, 0.2, 0.9, 0.01, 0.1],
            "leading_edge": [["D"], ["A", "B"], ["C"], [f"G{i}" for i in range(40)], ["E"]],
            "inter_gene_correlation": [0.2, 0.05, 0.0, 0.1, None],
            "camera_pvalue": [0.2, 0.001, 0.5, 0.01, None],
            "camera_fdr": [0.4, 0.004, 0.5, 0.02, None],
        }
    )
    chosen = enrichment_terms({"A_vs_B": [table]}, folder="run_b/d1/enrich")
    assert chosen.rows["term"].to_list() == ["T2", "T4", "O1"]
    assert chosen.rows["significance_fdr"].to_list() == [0.004, 0.02, 0.1]
    assert "camera FDR for GSEA prerank sets" in chosen.note
    assert chosen.note.endswith("Every tested term: run_b/d1/enrich/<contrast>/.")
    assert chosen.rows["leading_edge"].list.len().to_list() == [2, LEADING_EDGE_SHOWN, 1]
    assert chosen.rows["contrast"].unique().to_list() == ["A_vs_B"]
    # the numeric p is shown (sortable, scientific notation) with its floor flag, not the text
    assert chosen.rows["pvalue_at_floor"].to_list() == [False, False, False]
    assert "pvalue_display" not in chosen.rows.columns
    # a table of schema 2 (no camera) calls no prerank set, not GSEA's
    old = table.drop("inter_gene_correlation", "camera_pvalue", "camera_fdr")
    assert enrichment_terms({"A_vs_B": [old]}, folder="f").rows["term"].to_list() == ["O1"]
    # a contrast with no term below 0.25 shows its smallest ones, and the note says none passed
    weak = table.filter(pl.col("method") == "prerank").with_columns(
        pl.col("camera_fdr") + 0.5, pl.col("camera_pvalue") + 0.5
    )
    fallback = enrichment_terms({"A_vs_B": [table], "C_vs_D": [weak]}, folder="f")
    c_vs_d = fallback.rows.filter(pl.col("contrast") == "C_vs_D")
    assert c_vs_d["term"].to_list() == ["T2", "T4", "T1", "T3"]
    assert "No term reaches significance_fdr < 0.25 in C_vs_D" in fallback.note
    assert "A_vs_B:" not in fallback.note


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


def test_page_is_self_contained_with_one_compressed_bundle(tmp_path):
    df = pl.DataFrame({"gene": ["SOD1", "TARDBP"], "value": [1.23456789123, 2.0]})
    sections = [Section(key, key, "n", df) for key in ("a", "b", "c", "d")]
    html = tables_page(sections, title="t <&>", note="n")
    for key in ("a", "b", "c", "d"):
        assert f'id="{table_id(key)}"' in html and f'href="#{key}"' in html
    assert "t &lt;&amp;&gt;" in html  # the title is escaped
    assert "1.235" in html and "1.23456789123" not in html  # display rounding only
    # nothing is fetched when the page opens: no external script or stylesheet
    assert not re.search(r"<(script|link)[^>]+(src|href)=[\"']https?://", html)
    assert html.count("new ITable(") == 4  # four tables...
    assert html.count("DecompressionStream") == 1  # ...and one bundle
    # the bundle is itables' own, gzip-compressed: a quarter of what itables' offline mode inlines
    from itables import options
    from itables.javascript import generate_init_offline_itables_html

    packed = re.findall(r'gunzip\("([A-Za-z0-9+/=]{1000,})"\)', html)
    assert len(packed) == 2
    js = gzip.decompress(base64.b64decode(max(packed, key=len)))
    assert js == Path(options.dt_bundle).read_bytes()
    assert len(html) < 0.35 * len(generate_init_offline_itables_html(options.dt_bundle))
    path = tmp_path / "page.html"
    write_tables_page(sections, path, title="t <&>", note="n")
    assert path.read_text() == html  # and the same bytes every time


def test_column_defs_write_pvalues_in_scientific_notation_and_sort_ids_naturally():
    columns = ["sample", "term", "pvalue", "fdr", "pvalue_at_floor", "nes"]
    defs = {
        tuple(d["targets"]): {k: str(v) for k, v in d.items() if k != "targets"}
        for d in column_defs(columns)
    }
    assert "toExponential(2)" in defs[(2,)]["render"] and "row[4] === true" in defs[(2,)]["render"]
    assert "toExponential(2)" in defs[(3,)]["render"] and "row[" not in defs[(3,)]["render"]
    assert defs[(4,)]["visible"] == "False"  # the floor flag only marks p as "< p"
    assert "padStart" in defs[(0,)]["render"]  # natural sort key of the ids
    assert defs[(1,)]["className"] == "alsig-long" and "<wbr>" in defs[(1,)]["render"]
    assert not any(5 in targets for targets in defs)  # other numbers: itables' own display


def test_natural_sort_orders_numbers_inside_ids_by_value():
    df = pl.DataFrame(
        {"group": ["b", "a", "a", "a", "a"], "sample": ["S2", "S10", "S9", None, "s1"]}
    )
    assert natural_sort(df, ["group", "sample"])["sample"].to_list() == [
        "s1",
        "S9",
        "S10",
        None,
        "S2",
    ]
    assert natural_key("JR9") < natural_key("JR18") < natural_key("JR27")


def test_sample_rows_come_in_natural_order():
    qc = pl.DataFrame(
        {"sample": ["JR27", "JR9", "JR18", "JR100"], "qc_kept": [True, True, False, True]}
    )
    rows = sample_decisions(qc, source="sample_qc.tsv").rows
    assert rows["sample"].to_list() == ["JR18", "JR9", "JR27", "JR100"]  # excluded first
