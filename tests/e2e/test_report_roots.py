"""``alsig report`` (``make report CONFIG=...``): one run, one report, in the run's own folder.

Two configs share a project directory with two output roots: the session's demo run in
``results/`` (``config/config.yaml``) and the same config run again in ``results/run_b/``
(``config/b.yaml``; ``second_root_run``, tests/e2e/conftest.py, which the determinism test reads
too). Each report holds its own run only, and a report is refused while ``snakemake --dry-run``
lists pending jobs (naming them), unless ``--allow-stale``.
"""

from __future__ import annotations

import pytest

from alsig.cli import main
from tests.conftest import REPO, uses_demo_run
from tests.e2e.conftest import second_root_group

pytestmark = [second_root_group, uses_demo_run, pytest.mark.slow]


def report(project, config: str, *extra: str) -> int:
    snakefile = str(REPO / "workflow" / "Snakefile")
    return main(
        ["report", "--config", config, "--workdir", str(project), "--snakefile", snakefile, *extra]
    )


def test_each_config_gets_its_own_report_in_its_own_root(second_root_run, capsys):
    assert report(second_root_run, "config/config.yaml") == 0
    assert report(second_root_run, "config/b.yaml") == 0
    out = capsys.readouterr().out
    first, second = (
        second_root_run / "results" / "report.html",
        second_root_run / "results/run_b/report.html",
    )
    assert f"{first} (1 dataset(s))" in out and f"{second} (1 dataset(s))" in out
    text_a, text_b = first.read_text(), second.read_text()
    assert "results/run_b/demo/" in text_b and "results/run_b" not in text_a
    assert "results/demo/" in text_a
    assert "results/demo/" not in text_b  # the first run's files are not in the second report


def test_a_report_of_stale_outputs_is_refused_naming_the_jobs(second_root_run, capsys):
    heatmap = second_root_run / "results/run_b/demo/scores/axis_heatmap.png"
    kept = heatmap.read_bytes()
    heatmap.unlink()
    try:
        built = second_root_run / "results/run_b/report.html"
        before = built.stat().st_mtime_ns if built.exists() else None
        assert report(second_root_run, "config/b.yaml") == 1
        err = capsys.readouterr().err
        assert "not up to date: 1 job(s) pending: score_figures (dataset=demo)" in err
        assert "--allow-stale" in err
        assert (built.stat().st_mtime_ns if built.exists() else None) == before
        # the other run is up to date: its report is still built
        assert report(second_root_run, "config/config.yaml") == 0
    finally:
        heatmap.write_bytes(kept)
