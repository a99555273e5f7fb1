"""The whole DAG (ingest -> QC -> DE -> enrichment -> scores -> catalog -> figures) on the bundled
demo, its outputs checked against the schemas in workflow/schemas/, a rerun with nothing to do, and
the snakemake report with every figure and caption."""

from __future__ import annotations

import math
import shutil
import subprocess

import anndata as ad
import jsonschema
import polars as pl
import yaml

from tests.conftest import (
    FAST_ENRICH,
    REPO,
    build_report,
    demo_test_config,
    run_workflow,
    uses_demo_run,
)

SCHEMAS = REPO / "workflow" / "schemas"


pytestmark = uses_demo_run


def rows_match_schema(table: pl.DataFrame, schema_file: str) -> None:
    schema = yaml.safe_load((SCHEMAS / schema_file).read_text())
    validator = jsonschema.Draft202012Validator(schema)
    for i, row in enumerate(table.iter_rows(named=True)):
        # JSON has no NaN: a NaN float is "no value", as null is
        row = {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}
        errors = list(validator.iter_errors(row))
        assert not errors, f"{schema_file} row {i}: {errors[0].message}"


def test_every_stage_writes_its_outputs(demo_run):
    results = demo_run / "results"
    qc = ad.read_h5ad(results / "demo/qc/filtered.h5ad")
    # two libraries per donor summed (qc.collapse_by: subject): 13 ALS + 6 control donors
    assert qc.n_obs == 19
    assert qc.obs["condition"].value_counts().to_dict() == {"ALS": 13, "control": 6}
    assert qc.n_vars == 6000 and {"normalized", "vst"} <= set(qc.layers)
    assert 5000 < int(qc.var["expressed"].sum()) < 6000

    sample_qc = pl.read_csv(results / "demo/qc/sample_qc.tsv", separator="\t")
    assert sample_qc.height == 19 and sample_qc["qc_kept"].all()  # flagged, never dropped silently
    flagged = sample_qc.filter(pl.col("qc_outlier"))
    assert flagged.height >= 1 and flagged["qc_reasons"].str.len_chars().min() > 0

    de = pl.read_parquet(results / "demo/de/ALS_vs_control.parquet")
    de_schema = yaml.safe_load((SCHEMAS / "de_results.schema.yaml").read_text())
    assert de.columns == de_schema["required"]
    assert de.height == int(qc.var["expressed"].sum())
    summary = pl.read_csv(results / "demo/de/ALS_vs_control.summary.tsv", separator="\t")
    assert summary.row(0, named=True)["n_test"] == 13 and summary["n_reference"][0] == 6

    for collection in FAST_ENRICH["collections"]:
        table = pl.read_parquet(results / f"demo/enrich/ALS_vs_control/{collection}.parquet")
        assert table.filter(pl.col("method") == "prerank").height > 0
    assert (results / "demo/enrich/ALS_vs_control/dotplot.png").stat().st_size > 10_000

    long = pl.read_parquet(results / "demo/scores/signature_scores.parquet")
    assert set(long["method"]) == {"singscore", "ssgsea", "singscore_adjusted", "log2cpm"}
    assert long.select("sample").n_unique() == 19
    axes = long.filter(pl.col("signature").str.starts_with("axis:"))
    assert axes.select("signature").n_unique() >= 6  # every resistance axis has a composite
    # 6 controls: z_vs_control is defined for every scored singscore row
    singscore = long.filter((pl.col("method") == "singscore") & pl.col("score").is_not_null())
    assert singscore["z_vs_control"].null_count() == 0

    catalog = pl.read_parquet(results / "catalog/signature_scores.parquet", hive_partitioning=True)
    assert catalog.height == long.height and set(catalog["dataset"]) == {"demo"}
    for figure in ("axis_heatmap.png", "axis_distributions.png"):
        assert (results / "demo/scores" / figure).stat().st_size > 10_000
    for rule_log in ("ingest", "qc", "de/ALS_vs_control", "score", "score_figures"):
        assert (results / f"demo/logs/{rule_log}.log").exists()


def test_axis_tests_states_and_cohort_comparison(demo_run):
    results = demo_run / "results"
    strata = pl.read_csv(results / "demo/scores/reference_strata.tsv", separator="\t")
    assert strata.rows() == [("all samples", 19, 6, 0, 6, True, "")]  # one region in the demo
    tests = pl.read_parquet(results / "demo/scores/axis_tests.parquet")
    singscore = tests.filter(pl.col("method") == "singscore")
    assert singscore.filter(pl.col("signature") == "axis:oxidative_stress")["n_test"].to_list() == [
        13
    ]
    # one sample per donor after collapsing: ordinary least squares, never the mixed model
    assert set(singscore["model"].drop_nulls()) == {"ols"}
    composition = pl.read_csv(results / "demo/scores/composition.tsv", separator="\t")
    tdp43 = composition.filter(
        (pl.col("signature") == "axis:tdp43_loss") & (pl.col("method") == "singscore")
    )
    assert tdp43["top_cell_type"].to_list() == ["celltype_neurons"]  # TDP-43 targets are neuronal
    states = pl.read_parquet(results / "demo/subtypes/subtypes.parquet")
    assert states.height == 19 and states["p_ox"].null_count() == 0  # controls scored too
    # the 6,000-gene demo subset is far from the reference: every sample out by distance
    assert set(states["out_of_reference_by"]) == {"distance"}
    assert set(states["state_call"]) <= {"Ox-like", "Glia-like", "TE-like", "unassigned"}
    nmf = pl.read_csv(results / "demo/subtypes/nmf.tsv", separator="\t")
    assert nmf.height == 13 and nmf["nmf_k"].null_count() == 0  # subtypes.discovery: true
    for subtype in ("ALS-Ox", "ALS-Glia", "ALS-TE"):  # no sample called: empty, with the reason
        summary = pl.read_csv(results / f"demo/subtypes/de/{subtype}.summary.tsv", separator="\t")
        assert summary["note"][0].startswith(f"not fitted: 0 {subtype}")
        assert pl.read_parquet(results / f"demo/subtypes/de/{subtype}.parquet").height == 0
    meta = pl.read_parquet(results / "catalog/axis_meta.parquet")
    assert meta.filter(pl.col("method") == "singscore")["k"].max() == 1  # one dataset in the demo
    for figure in (
        "demo/scores/axis_forest.png",
        "demo/subtypes/states.png",
        "demo/subtypes/projection.png",
        "demo/subtypes/nmf_consensus.png",
        "catalog/axis_meta.png",
    ):
        assert (results / figure).stat().st_size > 10_000, figure


def test_outputs_match_their_schemas(demo_run):
    results = demo_run / "results"
    rows_match_schema(
        pl.read_parquet(results / "demo/de/ALS_vs_control.parquet"), "de_results.schema.yaml"
    )
    rows_match_schema(
        pl.read_csv(results / "demo/qc/sample_qc.tsv", separator="\t", infer_schema_length=None),
        "sample_qc.schema.yaml",
    )
    obs = ad.read_h5ad(results / "demo/counts.h5ad").obs
    sheet = pl.from_pandas(
        obs.astype(object).where(obs.notna(), None).astype(str).replace("None", None)
    )
    rows_match_schema(sheet, "samples.schema.yaml")
    for collection in FAST_ENRICH["collections"]:
        table = pl.read_parquet(results / f"demo/enrich/ALS_vs_control/{collection}.parquet")
        rows_match_schema(table, "enrichment.schema.yaml")
    scores = pl.read_parquet(results / "demo/scores/signature_scores.parquet")
    rows_match_schema(scores, "signature_scores.schema.yaml")
    for table, schema in (
        ("demo/scores/axis_tests.parquet", "axis_tests"),
        ("demo/subtypes/subtypes.parquet", "subtypes"),
        ("demo/subtypes/axis_tests.parquet", "axis_tests"),
        ("catalog/axis_meta.parquet", "axis_meta"),
    ):
        rows_match_schema(pl.read_parquet(results / table), f"{schema}.schema.yaml")


def test_rerun_has_nothing_to_do(demo_run):
    again = run_workflow(demo_run, demo_test_config(), "-n")
    assert again.returncode == 0
    assert "Nothing to be done" in again.stdout + again.stderr


def test_report_has_every_figure_and_caption(demo_run):
    report = demo_run / "report.html"  # outside results/: other tests compare that tree
    result = build_report(demo_run, report)
    assert result.returncode == 0, result.stderr[-3000:]
    html = report.read_text()
    for name in (
        "library_sizes.png",
        "pca.png",
        "sex_check.png",
        "ALS_vs_control.volcano.png",
        "ALS_vs_control.ma.png",
        "dotplot.png",
        "axis_heatmap.png",
        "axis_distributions.png",
        "ALS_vs_control.summary.tsv",
    ):
        assert name in html, f"{name} missing from the report"
    # every caption file's opening words appear in the report
    for caption in sorted((REPO / "workflow" / "report").glob("*.rst")):
        words = caption.read_text().split()
        plain = [w for w in words if w.isalpha()][:4]
        assert all(w in html for w in plain), f"caption {caption.name} missing"
    if shutil.which("chromium"):
        shot = demo_run / "report.png"
        subprocess.run(
            [
                "chromium",
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--window-size=1400,1000",
                "--virtual-time-budget=8000",
                f"--screenshot={shot}",
                report.as_uri(),
            ],
            capture_output=True,
            timeout=120,
        )
        assert shot.exists() and shot.stat().st_size > 10_000  # the report rendered
