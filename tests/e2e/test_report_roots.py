"""``alsig report`` (``make report CONFIG=...``): one run, one report, in the run's own folder.

Two configs share a project directory with two output roots (the session's demo run in
``results/``, a second run of the demo data as dataset ``cohort_b`` in ``results/run_b/``). Each
report holds its own run only, and a report is refused while ``snakemake --dry-run`` lists
pending jobs (naming them), unless ``--allow-stale``.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from alsig.cli import main
from tests.conftest import REPO, SNAKEMAKE, fast_demo_config, uses_demo_run

# one xdist worker runs this module, so its module-scoped fixture is built once
pytestmark = [pytest.mark.xdist_group("report_roots"), uses_demo_run, pytest.mark.slow]


@pytest.fixture(scope="module")
def two_roots(demo_run, tmp_path_factory):
    """A copy of the demo run's project with a second config's run beside it."""
    project = tmp_path_factory.mktemp("two_roots") / "project"
    shutil.copytree(demo_run, project, symlinks=True)
    config = fast_demo_config()
    config["output_dir"] = "results/run_b"
    config["datasets"] = {"cohort_b": config["datasets"]["demo"]}
    # the smallest whole DAG (17 jobs, not 26): this test is about roots and reports
    config["enrich"]["collections"] = ["alsig_resistance"]
    config["subtypes"] = {"discovery": False, "enrich_collections": []}
    (project / "config" / "b.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    run = subprocess.run(
        [
            SNAKEMAKE,
            "--snakefile",
            str(REPO / "workflow" / "Snakefile"),
            "--configfile",
            "config/b.yaml",
            "--cores",
            "2",
        ],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    return project


def report(project, config: str, *extra: str) -> int:
    snakefile = str(REPO / "workflow" / "Snakefile")
    return main(
        ["report", "--config", config, "--workdir", str(project), "--snakefile", snakefile, *extra]
    )


def test_each_config_gets_its_own_report_in_its_own_root(two_roots, capsys):
    assert report(two_roots, "config/config.yaml") == 0
    assert report(two_roots, "config/b.yaml") == 0
    out = capsys.readouterr().out
    first, second = two_roots / "results" / "report.html", two_roots / "results/run_b/report.html"
    assert f"{first} (1 dataset(s))" in out and f"{second} (1 dataset(s))" in out
    text_a, text_b = first.read_text(), second.read_text()
    assert "cohort_b" in text_b and "results/run_b/cohort_b/" in text_b
    assert "cohort_b" not in text_a and "results/run_b" not in text_a
    assert "results/demo/" not in text_b  # the first run's dataset is not in the second report


def test_a_report_of_stale_outputs_is_refused_naming_the_jobs(two_roots, capsys):
    heatmap = two_roots / "results/run_b/cohort_b/scores/axis_heatmap.png"
    kept = heatmap.read_bytes()
    heatmap.unlink()
    try:
        built = two_roots / "results/run_b/report.html"
        before = built.stat().st_mtime_ns if built.exists() else None
        assert report(two_roots, "config/b.yaml") == 1
        err = capsys.readouterr().err
        assert "not up to date: 1 job(s) pending: score_figures (dataset=cohort_b)" in err
        assert "--allow-stale" in err
        assert (built.stat().st_mtime_ns if built.exists() else None) == before
        # the other run is up to date: its report is still built
        assert report(two_roots, "config/config.yaml") == 0
    finally:
        heatmap.write_bytes(kept)
