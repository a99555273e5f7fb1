"""Fault injection: the workflow killed with SIGKILL mid-job, and a writer failing mid-write.

- kill -9 of the whole snakemake process tree while the DE job runs, and while the scoring job
  runs; a rerun with ``--rerun-incomplete`` completes and its tables equal (values and bytes) those
  of an uninterrupted run (the shared ``demo_run`` fixture, tests/e2e/conftest.py);
- a writer of ``alsig.io`` failing mid-write (full disk) leaves the previous output untouched and
  no temporary file behind.

A partial download is never used: covered by tests/unit/test_download.py (the download goes to a
temporary file, is checked and only then renamed).
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import polars as pl
import pytest

from alsig import io as alsig_io
from alsig.io import sha256_file
from tests.conftest import demo_test_config, uses_demo_run, workflow_command
from tests.e2e.conftest import (
    DE_TABLE,
    ENRICH_TABLES,
    SCORE_TABLE,
    assert_same_table,
)


def snakemake_cmd(workdir: Path, *targets: str, extra: tuple[str, ...] = ()) -> list[str]:
    return workflow_command(workdir, demo_test_config(), *targets, extra_args=extra)


def upstream_done(reference: Path, workdir: Path, remove: tuple[str, ...]) -> None:
    """Copy the reference workdir (results + .snakemake metadata, mtimes kept) and delete the
    outputs of the stage under test, so the run only redoes that stage (saves ingest + QC)."""
    shutil.copytree(reference, workdir, symlinks=True)
    for rel in remove:
        path = workdir / rel
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def run_and_kill(workdir: Path, targets: tuple[str, ...], started: Path, timeout: float = 300):
    """Start snakemake in its own process group; SIGKILL the whole group as soon as ``started``
    (the job's log) says the job started: the run writes a "not started" line there when it
    starts, which the rule script replaces with its own log once it runs. Returns the output so
    far."""
    out = workdir / "killed_run.out"
    with open(out, "w") as handle:
        proc = subprocess.Popen(
            snakemake_cmd(workdir, *targets),
            stdout=handle,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            start_new_session=True,  # own process group: killpg reaches every job
        )
        deadline = time.monotonic() + timeout
        try:
            while not (started.exists() and " started (" in started.read_text()):
                if proc.poll() is not None:
                    pytest.fail(
                        f"snakemake ended before {started.name}:\n{out.read_text()[-3000:]}"
                    )
                if time.monotonic() > deadline:
                    pytest.fail(f"{started} not written within {timeout} s")
                time.sleep(0.02)
            os.killpg(proc.pid, signal.SIGKILL)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    return out.read_text()


def rerun(workdir: Path, *targets: str) -> subprocess.CompletedProcess:
    """What a user does after a kill -9: ``--unlock`` (the killed run's lock stays), then
    ``--rerun-incomplete``."""
    unlock = subprocess.run(
        snakemake_cmd(workdir, *targets, extra=("--unlock",)),
        capture_output=True,
        text=True,
        cwd=workdir,
        timeout=300,
    )
    assert unlock.returncode == 0, unlock.stderr[-3000:]
    return subprocess.run(
        snakemake_cmd(workdir, *targets, extra=("--rerun-incomplete",)),
        capture_output=True,
        text=True,
        cwd=workdir,
        timeout=900,
    )


def no_temp_files(directory: Path) -> list[Path]:
    return [p for p in directory.rglob(".*.tmp")]


@uses_demo_run
@pytest.mark.parametrize(
    ("stage", "outputs", "started", "targets"),
    [
        pytest.param(
            "de_demo",  # the demo's DE job (one rule per dataset: its contrasts are config)
            ("results/demo/de", "results/demo/enrich", "results/demo/logs/de"),
            "results/demo/logs/de/de.log",
            (DE_TABLE, *ENRICH_TABLES),
            id="during_de",
        ),
        pytest.param(
            "score",
            ("results/demo/scores", "results/demo/logs/score.log"),
            "results/demo/logs/score.log",
            (SCORE_TABLE,),
            id="during_scoring",
        ),
    ],
)
def test_kill9_then_rerun_incomplete_matches_uninterrupted(
    tmp_path, demo_run, stage, outputs, started, targets
):
    workdir = tmp_path / "run"
    upstream_done(demo_run, workdir, outputs)
    qc_before = sha256_file(workdir / "results/demo/qc/filtered.h5ad")

    killed = run_and_kill(workdir, targets, workdir / started)
    assert f"rule {stage}:" in killed, killed[-3000:]
    # the job died before finishing: none of the tables exists, half-written or not
    for target in targets:
        assert not (workdir / target).exists(), f"{target} exists after kill -9 mid-{stage}"
    # Snakemake's incomplete-job marker is what --rerun-incomplete acts on
    assert any((workdir / ".snakemake" / "incomplete").iterdir())

    result = rerun(workdir, *targets)
    assert result.returncode == 0, result.stderr[-4000:]
    assert f"rule {stage}:" in result.stderr
    for rule in ("ingest", "qc"):  # upstream outputs were complete and are not redone
        assert f"rule {rule}:" not in result.stderr
    assert sha256_file(workdir / "results/demo/qc/filtered.h5ad") == qc_before
    for target in targets:
        assert_same_table(workdir / target, demo_run / target)
        # the tables embed no timestamps: identical bytes, too
        assert sha256_file(workdir / target) == sha256_file(demo_run / target), target
    assert not no_temp_files(workdir / "results"), no_temp_files(workdir / "results")


class DiskFull(OSError):
    def __init__(self) -> None:
        super().__init__(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("writer", ["write_parquet", "write_tsv", "write_text"])
def test_failing_writer_keeps_previous_output(tmp_path, monkeypatch, writer):
    """A write that fails half-way (ENOSPC after some bytes hit the disk) raises, leaves the
    previous output byte-identical and removes its temporary file."""
    old = pl.DataFrame({"gene": ["A", "B"], "value": [1.0, 2.0]})
    new = pl.DataFrame({"gene": ["A", "B", "C"], "value": [3.0, 4.0, 5.0]})
    target = tmp_path / "out" / ("table.parquet" if writer == "write_parquet" else "table.tsv")
    payload = (lambda df: df.write_csv(separator="\t")) if writer == "write_text" else (lambda d: d)
    # a table's writer records its schema; any versioned schema does for this test
    options = {"schema": "reference_strata"} if writer == "write_parquet" else {}
    getattr(alsig_io, writer)(payload(old), target, **options)
    before = sha256_file(target)

    def half_then_enospc(self, file, *args, **kwargs):
        Path(file).write_bytes(b"PAR1 half a file")  # some bytes reach the temporary file
        raise DiskFull()

    monkeypatch.setattr(pl.DataFrame, "write_parquet", half_then_enospc)
    monkeypatch.setattr(pl.DataFrame, "write_csv", half_then_enospc)
    monkeypatch.setattr(Path, "write_text", lambda self, *a, **k: half_then_enospc(None, self))
    with pytest.raises(OSError) as info:
        getattr(alsig_io, writer)(
            payload(new) if writer != "write_text" else "new text", target, **options
        )
    assert info.value.errno == errno.ENOSPC
    monkeypatch.undo()

    assert sha256_file(target) == before
    if writer == "write_parquet":
        assert pl.read_parquet(target).equals(old)
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]


def test_failing_fsync_keeps_previous_output(tmp_path, monkeypatch):
    """ENOSPC can surface only at fsync (delayed allocation): still no rename, no temp file."""
    target = tmp_path / "result.tsv"
    alsig_io.write_text("old\n", target)
    real_fsync = os.fsync

    def failing_fsync(fd):
        raise DiskFull()

    monkeypatch.setattr(alsig_io.os, "fsync", failing_fsync)
    with pytest.raises(OSError):
        alsig_io.write_text("new\n", target)
    monkeypatch.setattr(alsig_io.os, "fsync", real_fsync)
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]
