"""The real workflow (Snakefile + rules + scripts) run on small data in a temporary directory."""

import gzip
import shutil
import subprocess

import anndata as ad
import pytest
import yaml

from tests.conftest import (
    REPO,
    SNAKEMAKE,
    absolute_paths,
    needs_shared,
    run_workflow,
    snakemake_in,
)


def test_demo_ingest_end_to_end(tmp_path, demo_config):
    result = run_workflow(tmp_path, demo_config, "results/demo/counts.h5ad")
    assert result.returncode == 0, result.stderr[-3000:]
    adata = ad.read_h5ad(tmp_path / "results/demo/counts.h5ad")
    assert adata.shape == (38, 6000)
    assert adata.obs["condition"].value_counts().to_dict() == {"ALS": 26, "control": 12}
    assert adata.obs["subject"].nunique() == 19
    assert (tmp_path / "results/demo/logs/ingest.log").read_text()
    # a rerun has nothing to do
    again = run_workflow(tmp_path, demo_config, "results/demo/counts.h5ad")
    assert again.returncode == 0
    assert "Nothing to be done" in again.stdout + again.stderr


def test_config_typo_names_the_key(tmp_path, demo_config):
    demo_config["datasets"]["demo"]["sample_colum"] = "sample_id"
    result = run_workflow(tmp_path, demo_config, "-n")
    assert result.returncode != 0
    assert "config key datasets.demo: unknown key(s) ['sample_colum']" in result.stderr


def test_a_resource_setting_for_no_rule_stops_the_run_before_it_starts(tmp_path, demo_config):
    """Snakemake skips --set-resources of an unknown rule without a word; the DE rule is de_demo."""
    result = run_workflow(
        tmp_path, demo_config, "-n", extra_args=("--set-resources", "de:mem_mb=32000")
    )
    assert result.returncode != 0
    assert (
        "alsig error: --set-resources names rule 'de', which this workflow does not have "
        "(did you mean de_demo?)" in result.stderr
    )
    right = run_workflow(
        tmp_path, demo_config, "-n", extra_args=("--set-resources", "de_demo:mem_mb=32000")
    )
    assert right.returncode == 0, right.stderr[-2000:]


def test_nested_config_values_are_typed_and_a_partly_written_job_is_named(tmp_path, demo_config):
    """`--config 'de={alpha: 0.1}'` reaches the workflow as text unless read again as YAML; a DE
    job with one file present and the rest missing gets no settings check from Snakemake."""
    (tmp_path / "results/demo/de").mkdir(parents=True)
    (tmp_path / "results/demo/de/summary.tsv").write_text("contrast\n")
    result = run_workflow(
        tmp_path, demo_config, "-n", extra_args=("--config", "de={alpha: 0.1, lfc_shrink: false}")
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "alsig warning: de_demo lacks results/demo/de/ALS_vs_control." in result.stderr
    assert "add --forcerun de_demo." in result.stderr
    assert "alsig warning: qc_demo" not in result.stderr  # none of its files exist yet


def test_a_config_key_given_twice_stops_the_run(tmp_path, demo_config):
    """YAML keeps the last of two `de:` sections; the first one's design was dropped silently."""
    run_workflow(tmp_path, demo_config, "-n")  # writes config/config.yaml
    config_file = tmp_path / "config" / "config.yaml"
    config_file.write_text(
        config_file.read_text() + "de:\n  design: '~ sex + condition'\nde:\n  alpha: 0.1\n"
    )
    plan = subprocess.run(
        [*snakemake_in(tmp_path), "-n"], capture_output=True, text=True, cwd=tmp_path, timeout=600
    )
    assert plan.returncode != 0
    assert f"config file '{config_file}': key de (lines" in plan.stderr
    assert "is given twice: YAML keeps the last one" in plan.stderr


def test_config_overrides_without_a_configfile_change_the_default_run(tmp_path):
    """`--config output_dir=x` alone used to drop the default config ('datasets' missing)."""
    (tmp_path / "config").mkdir()
    shutil.copy(REPO / "config" / "config.yaml", tmp_path / "config" / "config.yaml")
    (tmp_path / "resources").symlink_to(REPO / "resources")
    plan = subprocess.run(
        [
            SNAKEMAKE,
            "--snakefile",
            str(REPO / "workflow" / "Snakefile"),
            "--directory",
            str(tmp_path),
            "-n",
            "--config",
            "output_dir=elsewhere",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
    )
    assert plan.returncode == 0, plan.stderr[-2000:]
    assert "elsewhere/demo/counts.h5ad" in plan.stdout + plan.stderr


@pytest.mark.parametrize("bad_id", ["../x", "has space"])
def test_dataset_id_must_be_a_path_component(tmp_path, demo_config, bad_id):
    demo_config["datasets"] = {bad_id: demo_config["datasets"]["demo"]}
    result = run_workflow(tmp_path, demo_config, "-n")
    assert result.returncode != 0
    assert f"name '{bad_id}' is not allowed" in result.stderr


def test_bad_counts_fail_cleanly_without_output(tmp_path, demo_config, copy_demo):
    demo_dir = copy_demo()
    counts = demo_dir / "GSE122649_demo_counts.tsv.gz"
    lines = gzip.decompress(counts.read_bytes()).decode().splitlines()
    fields = lines[5].split("\t")
    fields[3] = "-4"
    lines[5] = "\t".join(fields)
    counts.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    before = counts.read_bytes()
    demo_config["datasets"]["demo"]["counts"] = str(counts)
    result = run_workflow(tmp_path, demo_config, "results/demo/counts.h5ad")
    assert result.returncode != 0
    log = (tmp_path / "results/demo/logs/ingest.log").read_text()
    assert "line 6, column 'GSM3477219': count is negative" in log
    assert "Traceback" not in log
    assert not (tmp_path / "results/demo/counts.h5ad").exists()
    assert not list((tmp_path / "results/demo").glob(".counts.h5ad*"))
    assert counts.read_bytes() == before  # inputs are never modified


@needs_shared
@pytest.mark.slow
def test_three_shared_cohorts_ingest(tmp_path, repo):
    config = yaml.safe_load((repo / "config/examples/shared_cohorts.yaml").read_text())
    config = absolute_paths(config, repo)
    out = config["output_dir"]  # the example's own folder: never mixed with the demo's
    targets = [f"{out}/{d}/counts.h5ad" for d in config["datasets"]]
    result = run_workflow(tmp_path, config, *targets)
    assert result.returncode == 0, result.stderr[-3000:]

    tam = ad.read_h5ad(tmp_path / out / "GSE124439/counts.h5ad")
    assert tam.n_obs == 176
    assert tam.obs["condition"].value_counts().to_dict() == {"ALS": 148, "control": 17, "other": 11}
    assert tam.obs["subject"].nunique() == 95
    assert tam.obs["sex"].value_counts().to_dict() == {"female": 96, "male": 80}
    assert "TBXT" in tam.var_names and "T" not in tam.var_names  # 2018 refGene symbol rescued
    assert 26_000 < tam.n_vars <= 27_961

    ucsd = ad.read_h5ad(tmp_path / out / "GSE122649/counts.h5ad")
    assert ucsd.shape[0] == 38
    assert ucsd.obs["condition"].value_counts().to_dict() == {"ALS": 26, "control": 12}

    mayo = ad.read_h5ad(tmp_path / out / "GSE67196/counts.h5ad")
    assert mayo.n_obs == 53
    assert mayo.obs["condition"].value_counts().to_dict() == {"ALS": 36, "control": 17}
    harmonisation = mayo.uns["provenance"]["gene_harmonisation"]
    repaired = dict(
        zip(
            harmonisation["excel_repaired"]["from"],
            harmonisation["excel_repaired"]["to"],
            strict=False,
        )
    )
    assert repaired["4-Mar"] == "MARCHF4"
    assert repaired["7-Sep"] == "SEPTIN7"
    assert "1-Mar" in harmonisation["excel_ambiguous"]["from"]
    assert harmonisation["n_duplicate_rows_summed"] > 0
    assert "SEPTIN7" in mayo.var_names and "7-Sep" not in mayo.var_names
    assert "Chr" not in mayo.obs_names
