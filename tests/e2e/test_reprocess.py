"""Scheduled reprocessing end to end: stub NCBI (E-utilities JSON + GEO files) on 127.0.0.1.

The workflow is the real Snakefile; runs request only the ingest targets
(``results/{dataset}/counts.h5ad``) to stay fast whatever later stages exist.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import anndata as ad
import pytest
import yaml

import alsig.ops.workflow as workflow_module
from alsig.ops import EXIT_DISCOVERY, EXIT_LOCKED, Options, reprocess
from alsig.ops.lock import run_lock
from tests.conftest import FAST_ENRICH
from tests.eutils_stub import EutilsFixture
from tests.stub_server import DATA, Fault, StubServer

pytestmark = pytest.mark.slow

ESEARCH = "/entrez/eutils/esearch.fcgi"
ESUMMARY = "/entrez/eutils/esummary.fcgi"
ALSIG = str(Path(sys.executable).with_name("alsig"))


class Site:
    """Stub NCBI + a project directory with a base config."""

    def __init__(self, tmp_path: Path, published: list[str], targets=("{ingest}",)) -> None:
        self.root = tmp_path / "ncbi"
        shutil.copytree(DATA, self.root)
        self.eutils = EutilsFixture(published=list(published))
        self.stub = StubServer(self.root).start()
        self.stub.register("/entrez/eutils/", self.eutils.respond)
        self.work = tmp_path / "project"
        self.work.mkdir()
        self.config = self.work / "reprocess.yaml"
        self.datasets: dict = {}
        self.targets = [t.replace("{ingest}", "results/{dataset}/counts.h5ad") for t in targets]
        self.write_config()

    @property
    def state(self) -> Path:
        return self.work / "results" / "reprocess"

    def write_config(self) -> None:
        base = {
            "reprocess": {
                "eutils_base_url": f"{self.stub.base_url}/entrez/eutils/",
                "retries": 3,
                "backoff_seconds": 0.01,
                "requests_per_second": 100,
                "targets": self.targets,
                "cores": 2,
            },
            "geo": {
                "download_base_url": self.stub.download_base_url,
                "series_base_url": self.stub.series_base_url,
                "cache_dir": "cache/geo",
                "retries": 1,
                "backoff_seconds": 0.01,
                "timeout_seconds": 10,
            },
            # the whole-DAG test is about the default target and the catalog, not enrichment
            # or subtypes: their smallest settings
            "enrich": {**FAST_ENRICH, "collections": ["alsig_resistance"]},
            "subtypes": {"discovery": False, "enrich_collections": []},
            "datasets": self.datasets,
        }
        self.config.write_text(yaml.safe_dump(base, sort_keys=False))

    def run(self, **kwargs) -> tuple[int, dict]:
        code = reprocess(Options(config=self.config, workdir=self.work, **kwargs))
        return code, json.loads((self.state / "last_run.json").read_text())

    def registry(self) -> dict[str, dict[str, str]]:
        lines = (self.state / "registry.tsv").read_text().splitlines()
        header = lines[0].split("\t")
        rows = [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:]]
        return {row["accession"]: row for row in rows}

    def statuses(self) -> dict[str, str]:
        return {acc: row["status"] for acc, row in self.registry().items()}

    def h5ad(self, dataset: str) -> Path:
        return self.work / "results" / dataset / "counts.h5ad"

    def close(self) -> None:
        self.stub.stop()


@pytest.fixture
def site(tmp_path):
    sites = []

    def make(published, **kwargs):
        sites.append(Site(tmp_path, published, **kwargs))
        return sites[-1]

    yield make
    for s in sites:
        s.close()


def counts_file(acc: str) -> str:
    return f"{acc}_raw_counts_GRCh38.p13_NCBI.tsv.gz"


def test_discover_process_idempotent_new_series_curation_and_changes(site):
    s = site(["GSE900001", "GSE900003"])

    # 1st run: GSE900001 is processed; GSE900003's conditions match no rule -> needs_curation
    code, summary = s.run()
    assert code == 0 and summary["status"] == "ok"
    assert summary["datasets"]["processed"] == ["GSE900001"]
    assert summary["counts"]["discovered"] == 2 and summary["counts"]["needs_curation"] == 1
    reason = summary["datasets"]["needs_curation"]["GSE900003"]
    assert "'pending review'" in reason and "GSM9003001" in reason
    assert "Add datasets.GSE900003" in reason
    assert s.statuses() == {"GSE900001": "processed", "GSE900003": "needs_curation"}
    adata = ad.read_h5ad(s.h5ad("GSE900001"))
    assert adata.n_obs == 10
    assert adata.obs["condition"].value_counts().to_dict() == {"ALS": 6, "control": 4}
    assert adata.obs.loc["GSM9001002", "sex"] == "male"
    assert adata.obs.loc["GSM9001001", "subject"] == "NEUEL133AK6"
    assert not s.h5ad("GSE900003").exists()
    assert [r["phase"] for r in summary["snakemake"]] == ["datasets"]
    assert set(summary["timings"]) >= {"discover_seconds", "snakemake_seconds", "total_seconds"}
    # curation and the workflow share the GEO cache: the series matrix is downloaded once
    assert s.stub.hits["GSE900001_series_matrix.txt.gz"] == 1
    assert not (s.state / "series_matrix").exists()
    row = s.registry()["GSE900001"]
    assert row["fingerprint"] == row["processed_fingerprint"] != ""
    assert len(row["data_sha256"]) == 64 and row["condition_column"] == "disease_state"
    hits = dict(s.stub.hits)
    mtime = s.h5ad("GSE900001").stat().st_mtime_ns

    # 2nd run: nothing new -> no snakemake at all, no download
    code, summary = s.run()
    assert code == 0 and summary["status"] == "nothing_to_do"
    assert summary["snakemake"] == [] and summary["snakemake_ran"] is False
    assert summary["counts"]["unchanged"] == 2 and summary["datasets"]["processed"] == []
    assert {k: v for k, v in s.stub.hits.items() if "eutils" not in k} == {
        k: v for k, v in hits.items() if "eutils" not in k
    }
    assert len(list((s.state / "logs").iterdir())) == 1

    # 3rd run: a new series on GEO -> only that one is processed
    s.eutils.published.append("GSE900002")
    code, summary = s.run()
    assert code == 0 and summary["datasets"]["new"] == ["GSE900002"]
    assert summary["datasets"]["processed"] == ["GSE900002"]
    conditions = ad.read_h5ad(s.h5ad("GSE900002")).obs["condition"].value_counts().to_dict()
    assert conditions == {"ALS": 5, "control": 4, "other": 1}
    assert s.h5ad("GSE900001").stat().st_mtime_ns == mtime
    assert s.stub.hits[counts_file("GSE900001")] == 1

    # the user curates GSE900003; GEO updates GSE900001 (a sample added to the record)
    s.datasets["GSE900003"] = {
        "source": "geo",
        "accession": "GSE900003",
        "condition": {
            "column": "disease_state",
            "rules": [
                {"pattern": "^pending review$", "condition": "ALS"},
                {"pattern": "^see publication$", "condition": "control"},
            ],
        },
    }
    s.write_config()
    s.eutils.edits["GSE900001"] = {"n_samples": 11}
    code, summary = s.run()
    assert code == 0
    assert summary["datasets"]["changed"] == ["GSE900001"]
    assert summary["datasets"]["processed"] == ["GSE900001", "GSE900003"]
    assert s.statuses() == dict.fromkeys(["GSE900001", "GSE900002", "GSE900003"], "processed")
    assert s.stub.hits[counts_file("GSE900001")] == 2  # stale cache dropped, fetched again
    assert s.stub.hits[counts_file("GSE900002")] == 1
    assert s.h5ad("GSE900001").stat().st_mtime_ns > mtime
    curated = ad.read_h5ad(s.h5ad("GSE900003")).obs["condition"].value_counts().to_dict()
    assert curated == {"ALS": 3, "control": 3}


def test_eutils_faults_are_retried_and_persistent_failure_leaves_registry(site):
    s = site(["GSE900003"])  # needs curation: no snakemake job in this test
    s.stub.inject(ESEARCH, Fault.drop(), Fault.status(429, retry_after=0), Fault.status(500))
    s.stub.inject(ESUMMARY, Fault.drop())
    code, summary = s.run()
    assert code == 0 and summary["status"] == "nothing_to_do"
    assert s.stub.hits[ESEARCH] == 4 and s.stub.hits[ESUMMARY] == 2
    assert s.statuses() == {"GSE900003": "needs_curation"}
    before = (s.state / "registry.tsv").read_bytes()

    s.eutils.published.append("GSE900001")
    s.stub.inject(ESEARCH, always=Fault.status(500))
    code, summary = s.run()
    assert code == EXIT_DISCOVERY and summary["status"] == "discovery_failed"
    assert "esearch.fcgi" in summary["error"] and "after 4 attempt(s)" in summary["error"]
    assert (s.state / "registry.tsv").read_bytes() == before
    assert not s.h5ad("GSE900001").exists()

    s.stub.clear_faults()
    s.stub.inject(ESUMMARY, always=Fault.drop())
    code, summary = s.run()
    assert code == EXIT_DISCOVERY and "esummary.fcgi" in summary["error"]
    assert (s.state / "registry.tsv").read_bytes() == before


def test_concurrent_runs_second_exits_cleanly_or_waits(site):
    s = site(["GSE900003"])
    command = [ALSIG, "reprocess", "--config", str(s.config), "--workdir", str(s.work)]
    with run_lock(s.state / "reprocess.lock"):
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert done.returncode == EXIT_LOCKED
        assert "another reprocess run holds the lock" in done.stderr
        assert not (s.state / "registry.tsv").exists()
        assert not (s.state / "last_run.json").exists()
        waiting = subprocess.Popen(
            [*command, "--lock-timeout", "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        time.sleep(1.5)
        assert waiting.poll() is None  # still waiting for the lock
    waiting.communicate(timeout=120)  # reads and closes its pipes
    assert waiting.returncode == 0
    assert s.statuses() == {"GSE900003": "needs_curation"}
    locked = [json.loads(p.read_text()) for p in (s.state / "runs").iterdir()]
    assert sorted(r["status"] for r in locked) == ["locked", "nothing_to_do"]


def test_failed_dataset_is_isolated_and_an_interrupted_run_resumes(site, monkeypatch):
    s = site(["GSE900001", "GSE900002"])
    missing = s.root / "GSE900002" / counts_file("GSE900002")
    kept = missing.with_name("kept.tsv.gz")
    missing.rename(kept)  # the stub now answers 404 for it

    code, summary = s.run()
    assert code == 1 and summary["status"] == "failed"
    assert summary["datasets"]["processed"] == ["GSE900001"]
    error = summary["datasets"]["failed"]["GSE900002"]
    assert error.startswith("rule download_geo_") and "HTTP 404" in error
    assert counts_file("GSE900002") in error
    assert s.statuses() == {"GSE900001": "processed", "GSE900002": "failed"}
    assert "HTTP 404" in s.registry()["GSE900002"]["reason"]
    assert [r["phase"] for r in summary["snakemake"]] == ["datasets", "catalog_without_failed"]
    assert s.h5ad("GSE900001").exists() and not s.h5ad("GSE900002").exists()
    mtime = s.h5ad("GSE900001").stat().st_mtime_ns

    # a run is interrupted while snakemake runs
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(workflow_module, "run_snakemake", interrupted)
        with pytest.raises(KeyboardInterrupt):
            s.run()
    last = json.loads((s.state / "last_run.json").read_text())
    assert last["status"] == "error" and "KeyboardInterrupt" in last["error"]
    statuses = s.statuses()  # registry readable, finished work still recorded
    assert statuses["GSE900001"] == "processed" and statuses["GSE900002"] in ("failed", "new")
    assert s.h5ad("GSE900001").stat().st_mtime_ns == mtime

    # GSE900001 changes on GEO while GSE900002 still fails: the failure stays isolated
    s.eutils.edits["GSE900001"] = {"title": "corrected title"}
    code, summary = s.run()
    assert code == 1
    assert summary["datasets"]["changed"] == ["GSE900001"]
    assert summary["datasets"]["processed"] == ["GSE900001"]
    assert list(summary["datasets"]["failed"]) == ["GSE900002"]
    assert s.stub.hits[counts_file("GSE900001")] == 2
    assert s.h5ad("GSE900001").stat().st_mtime_ns > mtime
    mtime = s.h5ad("GSE900001").stat().st_mtime_ns

    # the file appears: the next run resumes with GSE900002 only
    kept.rename(missing)
    code, summary = s.run()
    assert code == 0 and summary["datasets"]["processed"] == ["GSE900002"]
    assert s.statuses() == {"GSE900001": "processed", "GSE900002": "processed"}
    assert s.h5ad("GSE900001").stat().st_mtime_ns == mtime
    assert ad.read_h5ad(s.h5ad("GSE900002")).n_obs == 10


def test_killed_run_keeps_lock_until_snakemake_ends_and_next_run_resumes(site):
    """SIGKILL the reprocess process while snakemake runs: the orphaned snakemake keeps the
    lock (inherited), so the next run waits for it instead of running beside it, then resumes."""
    import os
    import signal

    s = site(["GSE900001", "GSE900002"])
    command = [ALSIG, "reprocess", "--config", str(s.config), "--workdir", str(s.work)]
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    logs = s.state / "logs"
    deadline = time.monotonic() + 60
    while not (logs.is_dir() and any(logs.iterdir())) and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    assert s.statuses() == {"GSE900001": "new", "GSE900002": "new"}  # registry intact

    code, summary = s.run(lock_timeout=120)
    assert code == 0 and summary["status"] == "ok"
    assert summary["datasets"]["processed"] == ["GSE900001", "GSE900002"]
    assert s.statuses() == {"GSE900001": "processed", "GSE900002": "processed"}
    for dataset in ("GSE900001", "GSE900002"):
        assert ad.read_h5ad(s.h5ad(dataset)).n_obs == 10
    assert s.stub.hits[counts_file("GSE900001")] == 1  # the orphan's download was kept


def test_sigterm_while_snakemake_runs_stops_the_run_and_the_next_resumes(site):
    """Slurm's stop (SIGTERM) is passed on to snakemake; the run ends 'interrupted' (exit 143),
    starts no further snakemake call, marks no series failed, and the next run resumes."""
    import os
    import signal

    s = site(["GSE900001", "GSE900002"])
    s.stub.inject(counts_file("GSE900001"), Fault.slow(6))  # keeps snakemake busy
    command = [ALSIG, "reprocess", "--config", str(s.config), "--workdir", str(s.work)]
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not s.stub.hits[counts_file("GSE900001")] and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(first.pid, signal.SIGTERM)
    _, stderr = first.communicate(timeout=120)
    assert first.returncode == 143, stderr
    assert "Traceback" not in stderr
    assert "received SIGTERM: passing it on to snakemake" in stderr
    summary = json.loads((s.state / "last_run.json").read_text())
    assert (summary["status"], summary["exit_code"]) == ("interrupted", 143)
    assert summary["error"].startswith("stopped by SIGTERM while snakemake ran (phase datasets;")
    assert "no series was marked failed" in summary["error"]
    assert [r["phase"] for r in summary["snakemake"]] == ["datasets"]
    assert s.statuses() == {"GSE900001": "new", "GSE900002": "new"}

    s.stub.clear_faults()
    code, summary = s.run()
    assert code == 0 and summary["datasets"]["processed"] == ["GSE900001", "GSE900002"]
    assert s.statuses() == {"GSE900001": "processed", "GSE900002": "processed"}


def test_a_file_replaced_on_the_server_is_downloaded_and_processed_again(site):
    """Same esummary, new file content: counts recomputed by NCBI, a series matrix corrected."""
    s = site(["GSE900001", "GSE900003"])
    code, summary = s.run()
    assert s.statuses() == {"GSE900001": "processed", "GSE900003": "needs_curation"}
    assert ad.read_h5ad(s.h5ad("GSE900001"))["GSM9001001", "SERPINA3"].X[0, 0] == 3125

    s.stub.change_file(f"GSE900001/{counts_file('GSE900001')}", (b"12\t3125\t", b"12\t9999\t"))
    matrix = "GSE900003/GSE900003_series_matrix.txt.gz"
    s.stub.change_file(matrix, (b"pending review", b"ALS"), (b"see publication", b"Control"))
    code, summary = s.run()
    assert code == 0 and summary["status"] == "ok"
    assert sorted(summary["datasets"]["files_changed"]) == ["GSE900001", "GSE900003"]
    assert counts_file("GSE900001") in summary["datasets"]["files_changed"]["GSE900001"]
    assert summary["datasets"]["processed"] == ["GSE900001", "GSE900003"]
    assert ad.read_h5ad(s.h5ad("GSE900001"))["GSM9001001", "SERPINA3"].X[0, 0] == 9999
    assert s.stub.hits[counts_file("GSE900001")] == 2
    assert s.stub.hits["GSE900001_series_matrix.txt.gz"] == 1  # unchanged: not fetched again

    code, summary = s.run()
    assert summary["status"] == "nothing_to_do" and summary["datasets"]["files_changed"] == {}


def test_discover_command_lists_series_without_changing_anything(site):
    s = site(["GSE900001", "GSE900003"])
    done = subprocess.run(
        [ALSIG, "discover", "--config", str(s.config), "--workdir", str(s.work), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [(r["accession"], r["n_samples"], r["registry"]) for r in rows] == [
        ("GSE900001", 10, "new (not in registry)"),
        ("GSE900003", 6, "new (not in registry)"),
    ]
    assert not s.state.exists()


def test_default_target_runs_the_whole_dag_and_refreshes_the_catalog(site):
    s = site(["GSE900001", "GSE900003"], targets=())  # rule all: every stage + the catalog
    code, summary = s.run()
    assert code == 0 and summary["datasets"]["processed"] == ["GSE900001"]
    assert summary["snakemake"][0]["targets"] == ["(default target)"]
    manifest = (s.work / "results/catalog/signature_scores.manifest.tsv").read_text()
    assert [line.split("\t")[0] for line in manifest.splitlines()[1:]] == ["GSE900001"]
    assert (s.work / "results/GSE900001/qc/filtered.h5ad").exists()
    code, summary = s.run()
    assert code == 0 and summary["status"] == "nothing_to_do"


def test_invalid_base_config_is_a_usage_error_before_any_change(site, capsys):
    s = site(["GSE900001"])
    s.datasets["GSE900001"] = {"source": "geo", "accession": "GSE900001", "conditon": {}}
    s.write_config()
    code = reprocess(Options(config=s.config, workdir=s.work))
    assert code == 2
    err = capsys.readouterr().err
    assert "config key datasets.GSE900001: unknown key(s) ['conditon']" in err
    assert s.stub.total_hits() == 0 and not s.state.exists()


def test_every_failure_of_a_run_is_reported_and_search_gaps_are_named(site):
    s = site(["GSE900001", "GSE900002"])
    code, summary = s.run()
    assert code == 0 and summary["datasets"]["processed"] == ["GSE900001", "GSE900002"]

    # --force of an unknown series is a usage error that changes nothing
    before = (s.state / "registry.tsv").read_bytes()
    code, summary = s.run(force=["gse900002", "GSE123456"])
    assert code == 2 and summary["status"] == "config_error"
    assert "'GSE123456' is not in the registry" in summary["error"]
    assert "The registry tracks 2 series (GSE900001, GSE900002)" in summary["error"]
    assert (s.state / "registry.tsv").read_bytes() == before

    # GSE900001 (processed) loses its outputs and its file on the server; a new series'
    # series matrix is missing on the server; --force (any letter case) makes snakemake run
    s.h5ad("GSE900001").unlink()
    for cached in (s.work / "cache" / "geo" / "GSE900001").glob(counts_file("GSE900001") + "*"):
        cached.unlink()
    counts = s.root / "GSE900001" / counts_file("GSE900001")
    counts.rename(counts.with_name("kept.tsv.gz"))
    matrix = s.root / "GSE900003" / "GSE900003_series_matrix.txt.gz"
    matrix.rename(matrix.with_name("kept.txt.gz"))
    s.eutils.published.append("GSE900003")
    code, summary = s.run(force=["gse900002"])
    assert code == 1 and summary["status"] == "failed"
    assert summary["datasets"]["processed"] == ["GSE900002"]
    failed = summary["datasets"]["failed"]
    assert list(failed) == ["GSE900001", "GSE900003"] and summary["counts"]["failed"] == 2
    assert (
        failed["GSE900001"].startswith("rule download_geo_counts") and "404" in failed["GSE900001"]
    )
    assert failed["GSE900003"].startswith("series matrix: ") and "404" in failed["GSE900003"]
    assert s.statuses() == {"GSE900001": "failed", "GSE900002": "processed", "GSE900003": "failed"}

    # the files are back; GSE900002 drops out of the search: named, kept processed and run
    counts.with_name("kept.tsv.gz").rename(counts)
    matrix.with_name("kept.txt.gz").rename(matrix)
    s.eutils.published.remove("GSE900002")
    code, summary = s.run()
    assert code == 0 and summary["datasets"]["processed"] == ["GSE900001"]
    assert summary["datasets"]["missing"] == {"GSE900002": "processed"}
    assert summary["warnings"][0].startswith(
        "1 tracked series no longer returned by the search: GSE900002 (processed)"
    )
    assert s.statuses()["GSE900002"] == "processed"
    assert "GSE900002" in yaml.safe_load((s.state / "run_config.yaml").read_text())["datasets"]

    # an empty search: a loud warning, the registry kept
    s.eutils.published.clear()
    code, summary = s.run()
    assert code == 0 and summary["counts"]["missing"] == 3
    assert summary["warnings"][0].startswith("the search returned none of the 3 series")
    assert s.statuses()["GSE900002"] == "processed"
