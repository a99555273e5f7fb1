"""The run summary of the landing page (from the stage outputs as files) and the choice between
an .html and a .zip report."""

from __future__ import annotations

import json

import polars as pl
from docutils.core import publish_parts

from alsig.report.summary import (
    COLUMNS,
    DatasetFiles,
    dataset_row,
    de_genes,
    qc_decisions,
    run,
    subtype_shares,
    summary_rst,
    summary_table,
)
from alsig.report.target import ZIP_ABOVE_MB, embedded_mb, report_format, report_target


def _stage_outputs(root, dataset: str) -> DatasetFiles:
    qc = root / dataset / "qc"
    qc.mkdir(parents=True)
    pl.DataFrame(
        {
            "sample": ["S10", "S2", "S1", "S3", "S4"],
            "condition": ["ALS", "ALS", "control", "ALS", "control"],
            "qc_kept": [True, False, True, True, True],
            "qc_reasons": ["pca_distance", "low_library_size", None, None, "sex_mismatch(x)"],
            "qc_exclusion": [None, None, None, None, "sex_mismatch(reported female)"],
        }
    ).write_csv(qc / "sample_qc.tsv", separator="\t")
    (qc / "summary.json").write_text(json.dumps({"n_samples_input": 10}))
    de = root / dataset / "de"
    de.mkdir()
    for contrast, up, down in (("ALS_vs_control", 3, 1), ("other_vs_control", 0, 0)):
        pl.DataFrame(
            {
                "contrast": [contrast],
                "n_genes_with_padj": [1200],
                "alpha": [0.05],
                "n_significant": [up + down],
                "n_up": [up],
                "n_down": [down],
            }
        ).write_csv(de / f"{contrast}.summary.tsv", separator="\t")
    subtypes = root / dataset / "subtypes"
    subtypes.mkdir()
    pl.DataFrame(
        {
            "sample": ["S10", "S2", "S3", "S1"],
            "condition": ["ALS", "ALS", "ALS", "control"],
            "subtype_call": ["ALS-TE", "ALS-Ox", "ALS-TE", "ALS-Glia"],
        }
    ).write_parquet(subtypes / "subtypes.parquet")
    return DatasetFiles(
        str(qc / "sample_qc.tsv"),
        str(qc / "summary.json"),
        tuple(str(p) for p in sorted(de.glob("*.summary.tsv"))),
        str(subtypes / "subtypes.parquet"),
    )


def test_dataset_row_says_who_was_excluded_flagged_and_found(tmp_path):
    row = dataset_row("d1", _stage_outputs(tmp_path, "d1"))
    assert row["n_samples_input"] == 10 and row["n_samples"] == 5
    assert (row["n_kept"], row["n_excluded"], row["n_flagged"]) == (3, 2, 1)
    # excluded: the outlier filter (qc_kept false) and a sex-check exclusion, with the reason
    assert row["excluded"] == "S2 (low_library_size), S4 (sex_mismatch(reported female))"
    assert row["flagged"] == "S10 (pca_distance)"
    assert row["de_genes"] == (
        "ALS_vs_control: 4 (3 up, 1 down, of 1,200 tested, padj < 0.05); "
        "other_vs_control: 0 (0 up, 0 down, of 1,200 tested, padj < 0.05)"
    )
    # shares among the ALS samples only (the control's call is not counted)
    assert row["subtype_shares"] == "ALS-Ox 33 % (1), ALS-TE 67 % (2)"


def test_sample_ids_that_look_like_numbers_keep_their_zeros(tmp_path):
    files = _stage_outputs(tmp_path, "d1")
    pl.DataFrame(
        {"sample": ["027", "034"], "qc_kept": [False, True], "qc_reasons": ["pca_distance", None]}
    ).write_csv(files.sample_qc, separator="\t")
    assert dataset_row("d1", files)["excluded"] == "027 (pca_distance)"


def test_a_test_without_direction_says_what_it_tests_instead_of_up_and_down():
    rows = [
        {
            "contrast": "ALS_vs_control",
            "n_significant": 2,
            "n_up": 2,
            "n_down": 0,
            "n_genes_with_padj": 900,
            "alpha": 0.05,
        },
        {
            "contrast": "region_by_condition",
            "kind": "test",
            "n_significant": 56,
            "n_up": None,
            "n_down": None,
            "n_genes_with_padj": 19385,
            "alpha": 0.05,
            "tested_coefficients": "region[T.b]:condition[T.ALS];region[T.c]:condition[T.ALS]",
        },
        {
            "contrast": "age",
            "kind": "test",
            "n_significant": 0,
            "n_up": None,
            "n_down": None,
            "n_genes_with_padj": 10,
            "alpha": 0.1,
            "tested_coefficients": "age",
        },
    ]
    assert de_genes(rows) == (
        "ALS_vs_control: 2 (2 up, 0 down, of 900 tested, padj < 0.05); "
        "region_by_condition: 56 (a test of 2 coefficients, no up/down, of 19,385 tested, "
        "padj < 0.05); "
        "age: 0 (a test of 1 coefficient, no up/down, of 10 tested, padj < 0.1)"
    )


def test_summary_helpers_cover_missing_parts():
    assert subtype_shares(None) == "no subtype table"
    assert subtype_shares(pl.DataFrame({"condition": ["control"], "subtype_call": ["x"]})) == (
        "no ALS samples"
    )
    assert de_genes([]) == ""
    excluded, flagged = qc_decisions(pl.DataFrame({"sample": ["a", "b"]}))
    assert excluded == [] and flagged == []


def test_run_writes_the_tsv_and_an_rst_list_docutils_renders(tmp_path):
    files = {d: _stage_outputs(tmp_path, d) for d in ("d1", "d2")}
    inputs = {
        "sample_qc": [files[d].sample_qc for d in files],
        "qc_summary": [files[d].qc_summary for d in files],
        "subtypes": [files[d].subtypes for d in files],
        "de": [p for d in files for p in files[d].de_summaries],
    }
    outputs = {"tsv": str(tmp_path / "run_summary.tsv"), "rst": str(tmp_path / "run_summary.rst")}
    run(inputs, outputs, None, 1, datasets=["d1", "d2"])
    table = pl.read_csv(outputs["tsv"], separator="\t")
    assert table.columns == list(COLUMNS) and table["dataset"].to_list() == ["d1", "d2"]
    html = publish_parts((tmp_path / "run_summary.rst").read_text(), writer="html")["body"]
    assert "system-message" not in html  # valid RST, no docutils error
    assert html.count("<strong>d1</strong>: 3 of 5 samples kept (10 libraries") == 1
    assert html.count("<strong>d2</strong>") == 1
    assert "excluded (2): S2 (low_library_size), S4 (sex_mismatch(reported female))" in html
    assert "kept with a QC flag (1): S10 (pca_distance)" in html


def test_rst_cells_escape_markup():
    row = {c: "" for c in COLUMNS} | {
        "dataset": "a*b",
        "n_samples_input": 2,
        "n_samples": 2,
        "n_kept": 2,
        "n_excluded": 0,
        "n_flagged": 1,
        "flagged": "s_1 (x|y)",
    }
    html = publish_parts(summary_rst(summary_table([row])), writer="html")["body"]
    assert "a*b" in html and "s_1 (x|y)" in html and "system-message" not in html


def test_report_format_is_zip_above_the_size_limit(tmp_path):
    (tmp_path / "d" / "logs").mkdir(parents=True)
    (tmp_path / "d" / "logs" / "big.tsv").write_bytes(b"x" * 30_000_000)  # logs: not embedded
    (tmp_path / "d" / "table.tsv").write_bytes(b"x" * 3_000_000)
    assert embedded_mb(tmp_path) == 3.0 + 4.0  # page code + base64 of the table
    assert report_format(tmp_path) == "html"
    assert report_target(tmp_path) == f"{tmp_path}/report.html"
    size = int((ZIP_ABOVE_MB - 3.0) * 3 / 4 * 1e6) + 1000
    (tmp_path / "d" / "volcano.png").write_bytes(b"x" * size)
    assert report_format(tmp_path) == "zip" and report_target(tmp_path).endswith("report.zip")
