"""The QC stage's MultiQC custom content, read by the real ``multiqc``."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from alsig.settings import complete
from alsig.stages.qc.mqc import write_multiqc
from alsig.stages.qc.pipeline import run_qc
from tests.unit.test_qc import simulate


def _multiqc() -> str:
    # the venv's multiqc sits beside its python; PATH may not hold the venv's bin
    candidate = Path(sys.executable).with_name("multiqc")
    found = str(candidate) if candidate.exists() else shutil.which("multiqc")
    if found is None:
        pytest.skip("multiqc is not installed (pip install -e '.[test]')")
    return found


def test_multiqc_reads_the_qc_general_stats_and_pca(tmp_path):
    _, table, summary = run_qc(simulate(n_samples=12), complete("qc"), n_cpus=1)
    # one sample with each problem, so the report shows both badges
    table["sex_mismatch"] = [i == 0 for i in range(len(table))]
    table["qc_outlier"] = [i == 1 for i in range(len(table))]
    qc_dir = tmp_path / "results" / "demo" / "qc"
    write_multiqc(
        table,
        summary["pca_variance_ratio"],
        "demo",
        qc_dir / "alsig_general_stats_mqc.tsv",
        qc_dir / "alsig_pca_mqc.tsv",
    )
    out = tmp_path / "mqc"
    result = subprocess.run(
        [
            _multiqc(),
            str(tmp_path / "results"),
            "--outdir",
            str(out),
            "--data-format",
            "tsv",
            "--no-ansi",
            "--force",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stdout + result.stderr
    assert "alsig_general_stats" in log and "alsig_qc_pca" in log, log[-3000:]
    stats = (out / "multiqc_data" / "multiqc_general_stats.txt").read_text().splitlines()
    header = stats[0].split("\t")
    for column in (
        "total_counts",
        "n_genes_detected",
        "pct_mito",
        "sex_inferred",
        "sex_mismatch",
        "qc_outlier",
        "qc_kept",
    ):
        assert any(h.endswith(f"-{column}") for h in header), (column, header)
    assert sorted(line.split("\t")[0] for line in stats[1:]) == sorted(table["sample"])
    assert (out / "multiqc_data" / "multiqc_alsig_qc_pca_plot.txt").exists()
    assert "alsig QC PCA (demo)" in (out / "multiqc_report.html").read_text()
    badges = _badges((out / "multiqc_report.html").read_text())
    # a problem flag set is a red badge, unset a green one; kept: yes green, no red
    assert badges["sex_mismatch"] == {"yes": RED, "none": GREEN}, badges
    assert badges["qc_outlier"] == {"yes": RED, "none": GREEN}, badges
    assert badges["qc_kept"].get("yes") == GREEN, badges


RED, GREEN = "#d9534f", "#5cb85c"  # MultiQC's "fail" and "pass" badge colours


def _badges(report: str) -> dict[str, dict[str, str]]:
    """Column -> value -> badge colour of the General Statistics cells of the report."""
    found: dict[str, dict[str, str]] = {}
    cell = re.compile(
        r'<td[^>]*class="[^"]*?(sex_mismatch|qc_outlier|qc_kept)[^"]*"[^>]*>\s*'
        r'<span class="badge" style="background-color:([^"]+)">([^<]+)</span>'
    )
    for column, colour, value in cell.findall(report):
        found.setdefault(column, {})[value] = colour
    return found
