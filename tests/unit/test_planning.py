"""The workflow's plan: targets, inputs and the resource models of alsig.planning."""

from __future__ import annotations

import os

import anndata as ad
import numpy as np
import pandas as pd
import polars as pl
import pytest
import yaml

from alsig import planning
from alsig.errors import AlsigError
from alsig.genesets import count_gene_sets
from alsig.settings import RunSettings, complete
from tests.conftest import REPO


def test_default_config_targets_every_stage_and_the_catalog():
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    targets = planning.all_targets(RunSettings(config))
    assert "results/demo/de/ALS_vs_control.parquet" in targets
    assert "results/demo/de/ALS_vs_control.ma.png" in targets
    assert "results/demo/enrich/ALS_vs_control/go_bp.parquet" in targets
    assert "results/demo/scores/axis_heatmap.png" in targets
    assert f"results/{planning.CATALOG_MANIFEST}" in targets
    assert targets[-1] == f"results/{planning.AXIS_META}.png"
    config["de"] = {"contrasts": {"a": ["condition", "x", "y"]}}
    assert planning.contrasts(RunSettings(config)["demo"].de) == ["a"]


def test_the_run_summary_reads_the_summaries_of_contrasts_and_tests():
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["de"] = {
        "design": "~ sex + condition",
        "contrasts": {"a": ["condition", "ALS", "control"]},
        "tests": {"sex_effect": {"test": "lrt", "reduced": "~ condition"}},
    }
    inputs = planning.run_summary_inputs(RunSettings(config))
    assert inputs["de"] == [
        "results/demo/de/a.summary.tsv",
        "results/demo/de/sex_effect.summary.tsv",
    ]


def test_each_config_writes_under_its_own_output_dir():
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["output_dir"] = "results/run_b/"
    targets = planning.all_targets(RunSettings(config))
    assert all(t.startswith("results/run_b/") for t in targets)
    assert "results/run_b/demo/qc/filtered.h5ad" in targets
    assert targets[-1] == f"results/run_b/{planning.AXIS_META}.png"


def test_datasets_left_out_on_purpose_are_released_from_the_run_record(tmp_path):
    folder = str(tmp_path / "results")
    assert planning.release_datasets(folder, ["GSE1"]) == []  # no record yet
    planning.claim_output_dir(folder, ["demo", "GSE1"])
    with pytest.raises(AlsigError, match="holds another run"):
        planning.check_output_dir(folder, ["GSE2"])
    # alsig reprocess: GSE1 excluded by the user, GSE2 new; 'demo' is not one of its series
    assert planning.release_datasets(folder, ["GSE1", "GSE3"]) == ["GSE1"]
    with pytest.raises(AlsigError, match=r"holds another run \(datasets \['demo'\]\)"):
        planning.check_output_dir(folder, ["GSE2"])  # the guard still holds for other runs
    assert planning.release_datasets(folder, ["demo"]) == ["demo"]
    assert planning.check_output_dir(folder, ["GSE2"]) is None


def test_an_output_dir_holding_another_run_is_refused_and_a_growing_run_is_not(tmp_path):
    folder = str(tmp_path / "results")
    assert planning.check_output_dir(folder, ["demo"]) is None  # nothing there yet
    planning.claim_output_dir(folder, ["demo"])
    assert planning.check_output_dir(folder, ["demo", "GSE124439"]) is None  # the run grows
    with pytest.raises(AlsigError, match=r"holds another run \(datasets \['demo'\]\).*output_dir"):
        planning.check_output_dir(folder, ["GSE124439", "GSE67196"])
    planning.claim_output_dir(folder, ["demo", "GSE124439"])
    warning = planning.check_output_dir(folder, ["GSE124439"])
    assert warning and "['demo']" in warning and "no longer include" in warning


def test_per_rule_settings_that_name_no_rule_are_refused_with_the_rule_meant():
    rules = ["de_demo", "de_GSE124439", "enrich", "qc", "subtypes_de"]
    planning.check_rule_names(
        {"--set-resources": ["de_demo", "enrich"], "--set-threads": [], "--groups": ["qc"]}, rules
    )
    with pytest.raises(AlsigError) as error:
        planning.check_rule_names(
            {"--set-resources": {"de": {"mem_mb": 32000}}, "--set-threads": {"enrch": 4}}, rules
        )
    message = str(error.value)
    assert "--set-resources names rule 'de', which this workflow does not have" in message
    assert "(did you mean de_GSE124439, de_demo?)" in message
    assert "--set-threads names rule 'enrch'" in message and "(did you mean enrich?)" in message
    assert "Snakemake would ignore it without a word" in message
    assert "This run's rules: de_GSE124439, de_demo, enrich, qc, subtypes_de." in message


def test_rule_memory_is_base_plus_bytes_per_cell(tmp_path):
    path = tmp_path / "m.h5ad"
    ad.AnnData(np.zeros((10, 100), dtype=np.int32)).write_h5ad(path)
    assert planning.matrix_cells(str(path)) == 1000
    # 1000 cells x 2e6 bytes = 2000 MB on top of the base, doubled on the second attempt; the
    # Snakemake processes of a cluster job on top, not doubled
    overhead = planning.JOB_OVERHEAD_MB
    assert planning.matrix_mem_mb(str(path), 2, base_mb=500, bytes_per_cell=2e6) == 5000 + overhead
    assert (
        planning.matrix_mem_mb(str(tmp_path / "not_yet.h5ad"), 1, base_mb=500, bytes_per_cell=50)
        == 500 + overhead
    )
    assert (
        planning.DE_MEMORY["base_mb"] + planning.DE_MEMORY["bytes_per_cell"] * 120 < 8000
    )  # 2000 x 60k


def test_matrix_jobs_get_their_threads_from_the_matrix_size(tmp_path):
    path = tmp_path / "m.h5ad"
    ad.AnnData(np.zeros((10, 100), dtype=np.int32)).write_h5ad(path)  # 1,000 cells
    assert planning.job_threads(str(path), 4, from_cells=1000) == 4
    assert planning.job_threads(str(path), 4, from_cells=1001) == 1
    # not made yet (a dry run): one thread; Snakemake asks again when the job is ready
    assert planning.job_threads(str(tmp_path / "not_yet.h5ad"), 4, from_cells=1) == 1
    # GSE124439 (176 x 27,961 = 4.9 M cells) runs on one thread, 2,000 x 60,000 on more
    assert 176 * 27_961 < planning.DE_PARALLEL_CELLS <= planning.QC_PARALLEL_CELLS < 2000 * 60_000


def sizing_case(tmp_path, *, sets: int, permutations: int, genes: int) -> tuple[dict, str]:
    """``enrich:`` settings with one user collection of ``sets`` gene sets and a DE table of
    ``genes`` rows, for the enrich rule's resource estimates."""
    gmt = tmp_path / f"sets{sets}.gmt"
    gmt.write_text("".join(f"S{i}\tna\tTP53\tMDM2\n" for i in range(sets)))
    enrich = {
        "collections": [],
        "permutations": permutations,
        "extra_gmt": [{"id": "user", "path": str(gmt)}],
    }
    de_table = tmp_path / f"de{genes}.parquet"
    pl.DataFrame({"symbol": [f"G{i}" for i in range(genes)]}).write_parquet(de_table)
    return enrich, str(de_table)


def test_rule_memory_grows_with_sets_permutations_and_genes(tmp_path):
    enrich, de_table = sizing_case(tmp_path, sets=2, permutations=500, genes=2000)
    # alsig engine (default): 600 + 0.005 x 2000 genes + 3.2e-5 x 2 sets x 500 permutations,
    # plus the job's Snakemake processes
    overhead = planning.JOB_OVERHEAD_MB
    assert planning.enrich_mem_mb(complete("enrich", enrich), "user", 1, de_table) == 610 + overhead
    assert (
        planning.enrich_mem_mb(complete("enrich", enrich), "user", 2, de_table) == 1220 + overhead
    )
    # a dry run plans the job before the DE table exists
    assert (
        planning.enrich_mem_mb(
            complete("enrich", enrich), "user", 1, str(tmp_path / "later.parquet")
        )
        == 600 + overhead
    )
    # GO BP-sized at 60k genes: the null (sets x permutations) grows, nothing grows with
    # sets x genes; measured peak 0.55 GB (bench/results/enrich_prerank.md)
    enrich, de_table = sizing_case(tmp_path, sets=5000, permutations=1000, genes=60000)
    assert (
        planning.enrich_mem_mb(complete("enrich", enrich), "user", 1, de_table)
        == 600 + 300 + 160 + overhead
    )
    enrich["permutations"] = 10000
    assert (
        planning.enrich_mem_mb(complete("enrich", enrich), "user", 1, de_table)
        == 600 + 300 + 1600 + overhead
    )


def test_enrich_memory_counts_the_matrix_camera_reads(tmp_path):
    """camera's residuals hold 32 B per sample x tested gene (the DE table's rows) and the
    matrix as read 8 B per sample x gene of qc/filtered.h5ad (measured 27 and 4.1)."""
    enrich, de_table = sizing_case(tmp_path, sets=2, permutations=500, genes=2000)
    h5ad = tmp_path / "filtered.h5ad"
    ad.AnnData(np.zeros((100, 20000), dtype=np.int32)).write_h5ad(h5ad)
    settings = complete("enrich", enrich)
    # 610 as above + 8 B x 2 M cells + 32 B x 100 x 2,000 tested genes = 16 + 6.4 MB
    assert planning.enrich_mem_mb(settings, "user", 1, de_table, str(h5ad)) == (
        610 + 22 + planning.JOB_OVERHEAD_MB
    )
    # with de.adjust_cell_mix the VST layer too: + 4 B x 2 M + 8 B x 0.2 M
    assert planning.enrich_mem_mb(settings, "user", 1, de_table, str(h5ad), cell_mix=True) == (
        610 + 32 + planning.JOB_OVERHEAD_MB
    )
    # planned before QC wrote it (dry run): the prerank model alone
    later = str(tmp_path / "later.h5ad")
    assert (
        planning.enrich_mem_mb(settings, "user", 1, de_table, later)
        == 610 + planning.JOB_OVERHEAD_MB
    )


def test_camera_memory_is_sized_on_the_tested_genes(tmp_path):
    """Without a DE table (or an empty one) the tested genes are QC's expressed genes; the
    subtypes' job holds the matrix twice and computes the residuals once."""
    h5ad = tmp_path / "filtered.h5ad"
    var = pd.DataFrame(
        {"expressed": np.arange(30_000) < 20_000}, index=[f"G{i}" for i in range(30_000)]
    )
    ad.AnnData(np.zeros((300, 30_000), dtype=np.int32), var=var).write_h5ad(h5ad)
    assert planning.h5ad_shape(str(h5ad)) == (300, 30_000, 20_000)
    # measured 260 MB (bench/results/camera_memory.md); the old model said 468
    assert planning.camera_mem_mb(str(h5ad), None, cell_mix=False) == 8 * 9 + 32 * 6
    empty = tmp_path / "empty.parquet"
    pl.DataFrame({"symbol": []}, schema={"symbol": pl.String}).write_parquet(empty)
    assert planning.camera_mem_mb(str(h5ad), str(empty), cell_mix=False) == 8 * 9 + 32 * 6
    # measured 295 MB
    assert planning.camera_mem_mb(str(h5ad), None, cell_mix=False, matrix_copies=2) == 336
    demo = RunSettings(yaml.safe_load((REPO / "config" / "config.yaml").read_text()))["demo"]
    without = planning.subtype_enrich_mem_mb(demo, 1, None, None)
    assert planning.subtype_enrich_mem_mb(demo, 1, None, str(h5ad)) == without + 336


def test_gseapy_engine_memory_keeps_its_own_model(tmp_path):
    enrich, de_table = sizing_case(tmp_path, sets=5000, permutations=1000, genes=2000)
    enrich["engine"] = "gseapy"
    # the curves (sets x genes) and the permutation null (sets x permutations) grow
    assert (
        planning.enrich_mem_mb(complete("enrich", enrich), "user", 1, de_table)
        == 1000 + 80 + 85 + 325 + planning.JOB_OVERHEAD_MB
    )


def test_rule_runtime_grows_with_sets_permutations_and_genes(tmp_path):
    """A GO BP-sized prerank on a large ranking must not hit a fixed Slurm time limit."""
    enrich, de_table = sizing_case(tmp_path, sets=5000, permutations=1000, genes=30000)
    # alsig: 5000 sets x 1000 permutations x 1e-5 s = 50 s -> 1 min, + 5; genes do not count
    assert planning.enrich_runtime_min(complete("enrich", enrich), "user", de_table) == 6
    enrich["permutations"] = 100000
    assert planning.enrich_runtime_min(complete("enrich", enrich), "user", de_table) == 5 + 84
    # gseapy: 5000 sets x 1000 permutations x 30000 genes x 1e-8 s = 1500 s = 25 min, + 10
    enrich |= {"engine": "gseapy", "permutations": 1000}
    assert planning.enrich_runtime_min(complete("enrich", enrich), "user", de_table) == 35
    enrich["permutations"] = 10000
    assert planning.enrich_runtime_min(complete("enrich", enrich), "user", de_table) == 260
    # planned before the DE table exists (dry run)
    assert (
        planning.enrich_runtime_min(
            complete("enrich", enrich), "user", str(tmp_path / "later.parquet")
        )
        == 10
    )


def test_each_enrich_job_resolves_its_collections_once(tmp_path, monkeypatch):
    """Snakemake asks for every enrich job's input, memory and runtime while it builds the DAG:
    the run's settings are resolved once and the collection files once per settings."""
    calls = []
    resolve = planning.files.resolve_collections
    monkeypatch.setattr(
        planning.files, "resolve_collections", lambda *a, **k: calls.append(a) or resolve(*a, **k)
    )
    enrich, de_table = sizing_case(tmp_path, sets=3, permutations=10, genes=100)
    settings = complete("enrich", enrich)
    for attempt in (1, 2):
        planning.collection_files(settings)
        planning.enrich_mem_mb(settings, "user", attempt, de_table)
        planning.enrich_runtime_min(settings, "user", de_table)
    assert len(calls) == 1


def test_gene_set_count_follows_the_file(tmp_path):
    """The count is cached per file version, never stale after the file changes."""
    gmt = tmp_path / "c.gmt"
    gmt.write_text("# comment\nA\tna\tTP53\n\nB\tna\tSOD1\n")
    assert count_gene_sets(gmt) == 2
    gmt.write_text("A\tna\tTP53\n")
    os.utime(gmt, ns=(gmt.stat().st_atime_ns, gmt.stat().st_mtime_ns + 1_000_000))
    assert count_gene_sets(gmt) == 1


def test_shared_sources_and_collections_checked_once_per_run(monkeypatch):
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    monkeypatch.chdir(REPO)
    run = RunSettings(config)
    assert planning.shared_sources(run) is None
    planning.check_collections(run)
    config["datasets"]["again"] = dict(config["datasets"]["demo"])
    config["subtypes"] = {"enrich_collections": ["hallmark", "hallmark"]}
    run = RunSettings(config)
    assert "demo, again read the same counts file" in planning.shared_sources(run)
    with pytest.raises(AlsigError) as error:
        planning.check_collections(run)
    assert str(error.value).startswith(
        "dataset demo: config key subtypes.enrich_collections[1]: collection 'hallmark' is "
        "listed twice."
    )


def test_few_permutations_are_named_at_the_start(monkeypatch):
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    monkeypatch.chdir(REPO)
    assert planning.start_warnings(RunSettings(config)) == []
    config["enrich"] = {"permutations": 99}
    config["datasets"]["demo"]["enrich"] = {"permutations": 1}
    config["datasets"]["again"] = dict(config["datasets"]["demo"], enrich={"permutations": 100})
    warnings = planning.start_warnings(RunSettings(config))
    assert len(warnings) == 2  # the two datasets share a counts file, and the permutations
    assert warnings[1].startswith(
        "enrich.permutations is below 100 for demo (1): a permutation p-value cannot go below "
        "1/(permutations+1)"
    )


def test_jobs_with_some_files_missing_are_named(tmp_path):
    done, partial = tmp_path / "done.tsv", tmp_path / "old.tsv"
    done.write_text("x")
    partial.write_text("x")
    outputs = {
        "qc_demo": [str(done)],
        "de_demo": [str(partial), str(tmp_path / "new.tsv"), str(tmp_path / "new.png")],
        "enrich_demo": [str(tmp_path / "not_yet.tsv")],
    }
    warning = planning.partial_outputs(outputs)
    assert warning.startswith(f"de_demo lacks {tmp_path / 'new.tsv'} and 1 more (new in the config")
    assert warning.endswith("To rerun them with such a target, add --forcerun de_demo.")
    assert "qc_demo" not in warning and "enrich_demo" not in warning
    assert planning.partial_outputs({"qc_demo": [str(done)]}) is None


def test_output_dir_must_be_a_folder_and_dataset_ids_not_the_runs_own_names(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(AlsigError, match="config key output_dir: '.*file' is a file, not a folder"):
        planning.check_output_dir(str(tmp_path / "file"), ["demo"])
    for reserved in planning.RESERVED_DATASET_IDS:
        with pytest.raises(AlsigError, match=f"the id '{reserved}' is the name of one of"):
            planning.check_output_dir(str(tmp_path / "out"), ["demo", reserved])
    assert planning.check_output_dir(str(tmp_path / "out"), ["demo", "catalog"]) is None
    # the catalog's readers type the dataset from its folder name: dataset=001 would be 1
    for number_like in ("001", "1e3", "2019-01-01", "True", "0x1F", "nan"):
        with pytest.raises(AlsigError, match=f"the id '{number_like}' reads as a number, a date"):
            planning.check_output_dir(str(tmp_path / "out"), ["demo", number_like])
    assert planning.check_output_dir(str(tmp_path / "out"), ["d001", "GSE124439", "1_000"]) is None
    # the names the run writes in its folder are among them
    assert f"{planning.RUN_SUMMARY}.tsv" in planning.RESERVED_DATASET_IDS
    assert planning.RUN_RECORD in planning.RESERVED_DATASET_IDS


def test_a_contrast_may_not_take_the_de_summarys_name():
    from alsig.settings.schema import RESERVED_DE_NAMES

    assert f"{RESERVED_DE_NAMES[0]}.tsv" == planning.DE_SUMMARY
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["de"] = {"contrasts": {"summary": ["condition", "ALS", "control"]}}
    with pytest.raises(AlsigError, match="'summary' is the name of the dataset's DE summary"):
        RunSettings(config)


def test_output_dir_with_a_tilde_is_the_home_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["output_dir"] = "~/alsig_results/"
    assert RunSettings(config).output_dir == f"{tmp_path}/alsig_results"


def test_default_resources_given_on_the_command_line_must_keep_the_serial_slot():
    # Snakemake's --default-resources replaces the Slurm profile's list, dropping serial=1
    with pytest.raises(
        AlsigError,
        match=r"replaced the profile's default-resources .*\(now: slurm_partition\).*--default-resources serial=1 mem_mb=2000 runtime=30",
    ):
        planning.check_default_resources(
            ["serial", "_cores"], ["mem_mb", "tmpdir", "slurm_partition"]
        )
    planning.check_default_resources(["serial"], ["serial", "mem_mb", "runtime", "slurm_partition"])
    planning.check_default_resources(["_cores"], ["slurm_partition"])  # no serial slot: local runs
