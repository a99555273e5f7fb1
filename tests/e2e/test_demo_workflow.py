"""The whole DAG (ingest -> QC -> DE -> enrichment -> scores -> catalog -> figures) on the bundled
demo, its outputs checked against the schemas in workflow/schemas/, a rerun with nothing to do, and
the snakemake report with every figure and caption."""

from __future__ import annotations

import math
import re
import shutil
import subprocess

import anndata as ad
import jsonschema
import polars as pl
import yaml

import alsig
from alsig.io import read_table_metadata
from tests.conftest import (
    FAST_ENRICH,
    REPO,
    build_report,
    snakemake_in,
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
    for rule_log in ("ingest", "qc", "de/de", "score", "score_figures"):
        assert (results / f"demo/logs/{rule_log}.log").exists()


def test_axis_tests_states_and_cohort_comparison(demo_run):
    results = demo_run / "results"
    strata = pl.read_csv(results / "demo/scores/reference_strata.tsv", separator="\t")
    assert strata.rows() == [("all samples", 19, 6, 0, 6, True, "")]  # one region in the demo
    tests = pl.read_parquet(results / "demo/scores/axis_tests.parquet")
    singscore = tests.filter((pl.col("method") == "singscore") & (pl.col("adjustment") == "none"))
    assert singscore.filter(pl.col("signature") == "axis:oxidative_stress")["n_test"].to_list() == [
        13
    ]
    # one sample per donor after collapsing: ordinary least squares, never the mixed model
    assert set(singscore["model"].drop_nulls()) == {"ols"}
    composition = pl.read_csv(results / "demo/scores/composition.tsv", separator="\t")
    tdp43 = composition.filter(
        (pl.col("signature") == "axis:tdp43_loss") & (pl.col("method") == "singscore")
    )
    # on QC's BRETIGEA indices (recomputed without the axis's genes): TDP-43 targets are neuronal,
    # and the axis scores their *loss* (down genes), so it falls as the neuron index rises
    assert tdp43["top_cell_type"].to_list() == ["neurons"]
    assert tdp43["top_cell_type_sign"].to_list() == ["negative"] and tdp43["r2"][0] > 0.5
    # both views of every score; 19 donors afford one covariate, the four indices need two PCs:
    # the cell_mix rows are null and say why (never a failed effect)
    assert tests.height == 2 * tests.filter(pl.col("adjustment") == "none").height
    cell_mix = tests.filter(
        (pl.col("adjustment") == "cell_mix") & (pl.col("method") == "singscore")
    )
    scored = cell_mix.filter(~pl.col("note").str.starts_with("not scored"))
    assert scored.height > 0 and scored["estimate"].null_count() == scored.height
    assert scored["note"].str.contains("but 19 donors allow at most 1").all()
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
    assert set(meta["adjustment"]) == {"none", "cell_mix"}
    meta_mix = meta.filter((pl.col("adjustment") == "cell_mix") & (pl.col("method") == "singscore"))
    assert (
        meta_mix["k"].max() == 0 and meta_mix["note"].str.starts_with("demo: not estimable").any()
    )
    # QC's cell indices: every kept sample, 50 markers per type, the figure
    indices = pl.read_parquet(results / "demo/qc/cell_indices.parquet")
    assert indices.height == 19 and set(indices["method"]) == {"rank"}
    assert (
        indices.select("neurons", "astrocytes", "microglia", "oligodendrocytes")
        .null_count()
        .sum_horizontal()[0]
        == 0
    )
    markers = pl.read_csv(results / "demo/qc/cell_markers.tsv", separator="\t")
    assert markers.height == 6 and (markers["n_used"] == 50).all()
    by_signature = pl.read_parquet(results / "demo/scores/cell_indices_by_signature.parquet")
    assert by_signature.filter(pl.col("signature") == "axis:tdp43_loss").height == 19
    for figure in (
        "demo/scores/axis_forest.png",
        "demo/subtypes/states.png",
        "demo/subtypes/projection.png",
        "demo/subtypes/nmf_consensus.png",
        "catalog/axis_meta.png",
        "demo/qc/cell_indices.png",
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
        ("demo/qc/cell_indices.parquet", "cell_indices"),
        ("demo/scores/cell_indices_by_signature.parquet", "signature_cell_indices"),
    ):
        rows_match_schema(pl.read_parquet(results / table), f"{schema}.schema.yaml")
    for table, schema in (
        ("demo/qc/cell_markers.tsv", "cell_markers"),
        ("demo/scores/composition.tsv", "composition"),
    ):
        rows_match_schema(pl.read_csv(results / table, separator="\t"), f"{schema}.schema.yaml")


def test_every_parquet_names_its_schema_and_the_versions(demo_run):
    """Every Parquet of the run says which row schema it follows, at which version (its schema
    file's x-schema-version) and which alsig wrote it; the catalog partitions keep the score
    table's reference columns."""
    results = demo_run / "results"
    schemas_seen = set()
    files = sorted(p for p in results.rglob("*.parquet") if p.is_file())
    for path in files:
        metadata = read_table_metadata(path)
        name = metadata.get("alsig.schema")
        assert name, f"{path}: no alsig.schema in {metadata}"
        schema = yaml.safe_load((SCHEMAS / f"{name}.schema.yaml").read_text())
        assert metadata["alsig.schema_version"] == str(schema["x-schema-version"]), path
        assert metadata["alsig.version"] == alsig.__version__, path
        schemas_seen.add(name)
    assert schemas_seen == {
        "axis_meta",
        "axis_tests",
        "cell_indices",
        "de_results",
        "enrichment",
        "signature_cell_indices",
        "signature_scores",
        "subtypes",
        "subtypes_de",
        "subtypes_enrichment",
    }
    scores = read_table_metadata(results / "demo/scores/signature_scores.parquet")
    partition = read_table_metadata(
        results / "catalog/signature_scores.parquet/dataset=demo/part-0.parquet"
    )
    assert partition == scores and scores["alsig.reference_by"] == "(all controls)"


def test_rerun_has_nothing_to_do(demo_run):
    # the run's own config file as it is: rewriting it would race with tests copying the run
    again = subprocess.run(
        [*snakemake_in(demo_run), "-n"], capture_output=True, text=True, cwd=demo_run, timeout=600
    )
    assert again.returncode == 0
    assert "Nothing to be done" in again.stdout + again.stderr


def test_a_changed_design_reruns_de_and_what_reads_it_not_ingest_or_qc(demo_run, tmp_path):
    """Snakemake's params trigger: the ingest reads only the dataset's source keys, QC and the
    scores only their own sections, so a new DE design plans the DE job and its readers."""
    project = tmp_path / "project"
    shutil.copytree(demo_run, project, symlinks=True)
    config_file = project / "config" / "config.yaml"
    config = yaml.safe_load(config_file.read_text())
    config["datasets"]["demo"].setdefault("de", {})["design"] = "~ sex + condition"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    plan = subprocess.run(
        [*snakemake_in(project), "-n"], capture_output=True, text=True, cwd=project, timeout=600
    )
    assert plan.returncode == 0, plan.stderr[-3000:]
    planned = set(re.findall(r"^(?:local)?rule (\w+):", plan.stdout + plan.stderr, re.M))
    assert {"de_demo", "enrich", "axis_tests"} <= planned, planned
    assert not {"ingest", "qc", "score"} & planned, planned
    # the axis tests read the design and contrasts of de:, not its alpha
    config["datasets"]["demo"]["de"] = {"alpha": 0.1}
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    plan = subprocess.run(
        [*snakemake_in(project), "-n"], capture_output=True, text=True, cwd=project, timeout=600
    )
    planned = set(re.findall(r"^(?:local)?rule (\w+):", plan.stdout + plan.stderr, re.M))
    assert {"de_demo", "enrich", "subtypes_de"} <= planned, planned
    assert not {"axis_tests", "subtypes_axis_tests", "score"} & planned, planned


#: rule whose shipped files change -> (rules planned, rules not planned) in the demo DAG
UPGRADE_RERUNS = {
    "ingest": ({"ingest", "qc", "de_demo", "enrich", "score", "subtypes", "run_summary"}, set()),
    "qc": ({"qc", "de_demo", "enrich", "score", "subtypes", "run_summary"}, {"ingest"}),
    "score": (
        {"score", "axis_tests", "subtypes", "subtypes_de", "run_summary"},
        {"ingest", "qc", "de_demo", "enrich"},
    ),
    "subtypes": (
        {"subtypes", "subtypes_de", "subtypes_enrich", "run_summary"},
        {"ingest", "qc", "de_demo", "enrich", "score", "axis_tests"},
    ),
}


def test_an_upgrade_with_other_shipped_files_reruns_their_rule_and_its_readers_only(
    demo_run, tmp_path
):
    """An alsig upgrade that ships another gene map, other cell markers, other ALS-Ox/TE
    signatures or other subtype models: the run's records say the rule ran with another sha256
    of them (Snakemake's params record, edited here as an older install left it), so that rule
    and what reads its outputs are planned, nothing upstream."""
    import json

    from alsig.resources import hidden_inputs_digest

    project = tmp_path / "project"
    shutil.copytree(demo_run, project, symlinks=True)
    metadata = project / ".snakemake" / "metadata"
    for rule, (rerun, kept) in UPGRADE_RERUNS.items():
        digest, edited = repr(hidden_inputs_digest(rule)), {}
        for record in metadata.iterdir():
            data = json.loads(record.read_text())
            # params: one repr per value, the shipped files' sha256 among them
            if data.get("rule") == rule and digest in data["params"]:
                edited[record] = record.read_text()
                data["params"] = [repr("0" * 64) if v == digest else v for v in data["params"]]
                record.write_text(json.dumps(data))
        assert edited, f"no Snakemake record of a {rule} job holds its shipped files' sha256"
        plan = subprocess.run(
            [*snakemake_in(project), "-n"], capture_output=True, text=True, cwd=project, timeout=600
        )
        for record, text in edited.items():  # as the demo run left it, for the next rule
            record.write_text(text)
        assert plan.returncode == 0, plan.stderr[-3000:]
        planned = set(re.findall(r"^(?:local)?rule (\w+):", plan.stdout + plan.stderr, re.M))
        assert rerun <= planned, (rule, planned)
        assert not kept & planned, (rule, planned)


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
        "cell_indices.png",
        "axis_forest.png",
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


def test_the_readmes_one_line_reads_work_as_written(demo_run, monkeypatch):
    # the block under "Signature scores" is copied into users' notebooks: run it as it is
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Signature scores", 1)[1]
    block = section.split("```python\n", 1)[1].split("```", 1)[0]
    lines = [line.split("  #", 1)[0] for line in block.splitlines() if line.strip()]
    assert lines[0].startswith("import ") and len(lines) >= 5
    monkeypatch.chdir(demo_run)  # the README's paths are relative to the project
    namespace: dict = {}
    exec(lines[0], namespace)  # noqa: S102 (the README's own imports)
    results = [eval(line, namespace) for line in lines[1:]]  # noqa: S307
    assert all(len(result) > 0 for result in results), lines
    sample_qc = results[[i for i, line in enumerate(lines[1:]) if "read_tsv" in line][0]]
    assert sample_qc["sample"].dtype == pl.String and sample_qc.height == 19


def test_every_tsv_reads_back_as_its_parquet_twin(demo_run):
    results = demo_run / "results"
    twins = [p for p in sorted(results.rglob("*.tsv")) if p.with_suffix(".parquet").is_file()]
    assert len(twins) >= 10
    for tsv in twins:
        parquet = pl.read_parquet(tsv.with_suffix(".parquet"))
        back = alsig.read_tsv(tsv)  # the schema named by the twin
        assert back.schema == parquet.schema, tsv
        assert back.equals(parquet), tsv
