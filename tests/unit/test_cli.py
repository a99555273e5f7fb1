import pytest

from alsig.cli import main


def test_check_config_accepts_the_default_config(repo, capsys, monkeypatch):
    monkeypatch.chdir(repo)
    assert main(["check-config", "config/config.yaml"]) == 0
    assert "OK (1 dataset(s))" in capsys.readouterr().out


def test_check_config_names_the_bad_key(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("datasets:\n  x:\n    source: lokal\n    condition: {column: g}\n")
    assert main(["check-config", str(bad)]) == 2  # bad config: usage error
    assert (
        "config key datasets.x.source: 'lokal' is not one of ['geo', 'local']"
        in capsys.readouterr().err
    )


def test_check_config_reports_missing_local_file(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "datasets:\n  x:\n    source: local\n    counts: nope.tsv\n    samples: s.tsv\n"
        "    condition: {column: g}\n"
    )
    assert main(["check-config", str(cfg), "--workdir", str(tmp_path)]) == 2
    assert "datasets.x.counts: file 'nope.tsv' does not exist" in capsys.readouterr().err


def test_signatures_lists_every_shipped_signature_with_its_sources(capsys):
    import json

    assert main(["signatures", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    names = {r["signature"]: r for r in rows}
    assert {"nrf2_targets", "als_ox_markers", "te_hervk"} <= set(names)
    assert names["glutamate_clearance_loss"]["genes"].startswith("-SLC1A2")  # down genes marked
    assert all(r["sources"] for r in rows) and len({r["version"] for r in rows}) == 1
    assert main(["signatures"]) == 0
    assert capsys.readouterr().out.startswith("signature\taxis\ttable\tn_up\tn_down\tgenes")


def test_help_is_plain_text_and_names_the_exit_codes(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "``" not in text and "Exit codes: 0 ok; 1 the work failed; 2 bad usage" in text


def test_api_key_on_the_command_line_is_discouraged(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("alsig.ops.discover_only", lambda *a, **k: [])
    assert main(["discover", "--config", str(tmp_path / "none.yaml"), "--api-key", "k"]) == 0
    assert "--api-key is visible in `ps`; set NCBI_API_KEY instead" in capsys.readouterr().err


def test_check_config_warns_about_a_slurm_run_without_partition(repo, tmp_path):
    from alsig.preflight.profile import slurm_partition_warnings

    slurm = repo / "workflow" / "profiles" / "slurm"
    # the cluster has a default partition: the plugin uses it, nothing to say
    assert slurm_partition_warnings(slurm, {}, lambda: "debug") == []
    (warning,) = slurm_partition_warnings(slurm, {}, lambda: None)
    assert "no default partition" in warning and "slurm_partition=<partition>" in warning
    assert "SNAKEMAKE_SLURM_PARTITIONS" in warning
    # a partition file in the environment is one of the answers
    assert slurm_partition_warnings(slurm, {"SNAKEMAKE_SLURM_PARTITIONS": "p.yaml"}, None) == []

    def no_slurm():
        raise OSError("sinfo not found")

    (warning,) = slurm_partition_warnings(slurm, {}, no_slurm)
    assert "cannot be checked here (sinfo not found)" in warning
    # a local profile is not checked
    assert slurm_partition_warnings(repo / "workflow" / "profiles" / "default", {}, None) == []
    (tmp_path / "profile.yaml").write_text(
        "executor: slurm\ndefault-resources:\n  slurm_partition: short\n"
    )
    assert slurm_partition_warnings(tmp_path, {}, None) == []


def test_check_config_warns_when_jobs_ask_more_cpus_than_any_node_has(repo, tmp_path):
    from alsig.preflight.profile import slurm_cpu_warnings

    slurm = repo / "workflow" / "profiles" / "slurm"
    (warning,) = slurm_cpu_warnings(slurm, lambda: 2)  # the shipped profile on a 2-CPU node
    assert "jobs ask up to 4 CPUs (de, subtypes_de (from 10 M samples x genes): 4" in warning
    assert "enrich: 4" in warning and "largest Slurm node has 2" in warning
    assert warning.endswith(
        "PENDING forever (reason PartitionConfig); pass --max-threads 2 to snakemake"
    )
    assert slurm_cpu_warnings(slurm, lambda: 8) == []

    def no_slurm():
        raise OSError("sinfo not found")

    assert slurm_cpu_warnings(slurm, no_slurm) == []  # the partition warning says it already
    assert slurm_cpu_warnings(repo / "workflow" / "profiles" / "default", lambda: 1) == []
    (tmp_path / "profile.yaml").write_text("executor: slurm\nmax-threads: 2\n")
    assert slurm_cpu_warnings(tmp_path, lambda: 2) == []  # capped by the profile


def test_check_config_prints_the_slurm_warning(repo, capsys, monkeypatch):
    import alsig.preflight.profile

    monkeypatch.chdir(repo)
    monkeypatch.setattr(alsig.preflight.profile, "sinfo_default_partition", lambda: None)
    monkeypatch.setattr(alsig.preflight.profile, "sinfo_node_cpus", lambda: 2)
    monkeypatch.delenv("SNAKEMAKE_SLURM_PARTITIONS", raising=False)
    code = main(["check-config", "config/config.yaml", "--profile", "workflow/profiles/slurm"])
    out = capsys.readouterr()
    assert code == 0 and "OK (1 dataset(s))" in out.out
    assert "warning: " in out.err and "no default partition" in out.err
    assert "pass --max-threads 2 to snakemake" in out.err


def test_pending_jobs_and_report_path_of_alsig_report(tmp_path):
    from alsig.cli import pending_jobs
    from alsig.report.target import report_target

    dry_run = (
        "[Sat Dec  5 12:43:03 2026]\nrule score_figures:\n    input: a\n"
        "    wildcards: dataset=demo\n    resources: tmpdir=/tmp\n\n"
        "[Sat Dec  5 12:43:03 2026]\nlocalrule all:\n    input: b\n"
    )
    assert pending_jobs(dry_run) == ["score_figures (dataset=demo)"]
    assert (
        pending_jobs("Nothing to be done (all requested files are present and up to date).") == []
    )
    assert report_target(tmp_path / "run_b") == f"{tmp_path}/run_b/report.html"
    big = tmp_path / "shared" / "GSE1" / "de"
    big.mkdir(parents=True)
    (big / "table.tsv").write_bytes(b"x" * 20_000_000)  # 26.7 MB as base64, over the 25 MB limit
    assert report_target(tmp_path / "shared") == f"{tmp_path}/shared/report.zip"


def _reprocess_project(tmp_path, registry_status: str = "needs_curation"):
    """A base config (E-utilities never reached) and a registry with one row."""
    config = tmp_path / "reprocess.yaml"
    config.write_text(
        "reprocess:\n  eutils_base_url: http://127.0.0.1:9/entrez/eutils/\n  retries: 0\n"
        "datasets: {}\n"
    )
    state = tmp_path / "results" / "reprocess"
    state.mkdir(parents=True)
    (state / "registry.tsv").write_text(
        f"schema_version\taccession\tdataset\tstatus\n1\tGSE1\tGSE1\t{registry_status}\n"
    )
    return config, state


def test_reprocess_with_a_broken_registry_is_one_line_and_exit_2(tmp_path, capsys, caplog):
    import json

    config, state = _reprocess_project(tmp_path, "needs-curation")
    code = main(["reprocess", "--config", str(config), "--workdir", str(tmp_path)])
    summary = json.loads((state / "last_run.json").read_text())
    assert code == 2 and (summary["status"], summary["exit_code"]) == ("config_error", 2)
    assert "column 'status': unknown status 'needs-curation'" in summary["error"]
    assert "Did you mean 'needs_curation'?" in summary["error"]
    (record,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert record.getMessage() == summary["error"] and "\n" not in record.getMessage()
    assert "Traceback" not in capsys.readouterr().err


def test_reprocess_bug_is_one_line_asking_for_a_report_traceback_in_a_file(
    tmp_path, capsys, caplog, monkeypatch
):
    import json

    from alsig.ops.registry import Registry

    def broken(cls, path):
        raise RuntimeError("boom")

    monkeypatch.setattr(Registry, "load", classmethod(broken))
    config, state = _reprocess_project(tmp_path)
    code = main(["reprocess", "--config", str(config), "--workdir", str(tmp_path)])
    summary = json.loads((state / "last_run.json").read_text())
    assert code == 1 and summary["status"] == "error"
    (trace,) = (state / "logs").glob("*.traceback.log")
    assert "RuntimeError: boom" in trace.read_text() and "Traceback" in trace.read_text()
    assert summary["error"] == (
        f"unexpected error, please report it with the config: RuntimeError: boom "
        f"(traceback in {trace})"
    )
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == [summary["error"]]
    assert "Traceback" not in capsys.readouterr().err


def test_discover_exit_codes_are_those_of_reprocess(tmp_path, capsys, monkeypatch):
    from alsig.sources.eutils import EUtilsError

    config, _ = _reprocess_project(tmp_path, "needs-curation")
    command = ["discover", "--config", str(config), "--workdir", str(tmp_path)]
    assert main(command) == 2  # the registry
    assert "unknown status 'needs-curation'" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("reprocess:\n  retries: three\ndatasets: {}\n")
    assert main(["discover", "--config", str(bad)]) == 2  # the config
    assert "reprocess.retries: 'three' is not of type 'integer'" in capsys.readouterr().err

    def unreachable(*args, **kwargs):
        raise EUtilsError("GET http://x/esearch.fcgi failed after 1 attempt(s)")

    monkeypatch.setattr("alsig.ops.discover_only", unreachable)
    assert main(command) == 3  # NCBI
    assert "alsig discover: discovery failed: GET http://x/esearch.fcgi" in capsys.readouterr().err

    def bug(*args, **kwargs):
        raise KeyError("accession")

    monkeypatch.setattr("alsig.ops.discover_only", bug)
    assert main(command) == 1
    err = capsys.readouterr().err
    assert "unexpected error, please report it with the config: KeyError: 'accession'" in err
    assert "Traceback" not in err
