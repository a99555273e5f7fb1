"""Tables the end-to-end tests compare between runs of the demo DAG (the shared run itself,
``demo_run``, is a session fixture of tests/conftest.py), and the second run of the same config
that the determinism and report-roots tests share (``second_root_run``)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import polars as pl
import pytest
import yaml

from tests.conftest import FAST_ENRICH, demo_test_config, snakemake_in

DE_TABLE = "results/demo/de/ALS_vs_control.parquet"
SCORE_TABLE = "results/demo/scores/signature_scores.parquet"
ENRICH_TABLES = tuple(
    f"results/demo/enrich/ALS_vs_control/{c}.parquet" for c in FAST_ENRICH["collections"]
)
# The deterministic tables every comparison checks (values, and bytes where noted).
TABLES = (DE_TABLE, *ENRICH_TABLES, SCORE_TABLE)


def assert_same_table(a: Path, b: Path) -> None:
    """Equal values (NaN == NaN, nulls equal), same columns, same row order."""
    left, right = pl.read_parquet(a), pl.read_parquet(b)
    assert left.columns == right.columns, f"{a.name}: columns differ"
    assert left.shape == right.shape, f"{a.name}: {left.shape} vs {right.shape}"
    assert left.equals(right, null_equal=True), (
        f"{a} and {b} differ in values:\n"
        f"{pl.concat([left, right]).unique(keep='none', maintain_order=True).head(6)}"
    )


#: the output root of :func:`second_root_run` (the shared run's is ``results``)
SECOND_ROOT = "results/run_b"
#: the modules that read :func:`second_root_run` run on one xdist worker, which builds it once
second_root_group = pytest.mark.xdist_group("second_root")


@pytest.fixture(scope="session")
def second_root_run(demo_run, tmp_path_factory) -> Path:
    """The shared demo run's project with its config run again, from scratch, in a second output
    root (``config/b.yaml``: ``output_dir: results/run_b``), the DE, QC and subtype-DE jobs on two
    threads (one each in the shared run).

    Two tests read it: determinism (its tables equal the shared run's, byte for byte) and
    ``alsig report`` (two configs with two roots in one project, a report each).
    """
    project = tmp_path_factory.mktemp("second_root") / "project"
    shutil.copytree(demo_run, project, symlinks=True)  # the first root, up to date
    config = demo_test_config()
    config["output_dir"] = SECOND_ROOT
    (project / "config" / "b.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    two_threads = ("--set-threads", "de_demo=2", "qc=2", "subtypes_de=2")
    run = subprocess.run(
        [*snakemake_in(project, "config/b.yaml"), *two_threads, "--cores", "2"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    return project
