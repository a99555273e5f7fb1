"""The start check for Slurm jobs of a dead run, with a fake ``squeue`` on PATH (it starts a
subprocess: not a unit test, see tests/unit/conftest.py; the logic: tests/unit/
test_planning_slurm_jobs.py)."""

from __future__ import annotations

import os
import stat

import pytest

from alsig.errors import AlsigError
from alsig.planning import check_leftover_slurm_jobs
from alsig.planning.slurm_jobs import squeue_jobs


def fake_squeue(folder, script: str) -> None:
    """Put an executable ``squeue`` running ``script`` (sh) in ``folder``."""
    path = folder / "squeue"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def bin_dir(tmp_path, monkeypatch):
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}/usr/bin{os.pathsep}/bin")
    return folder


def test_squeue_is_asked_for_this_user_s_jobs_with_their_folder_and_comment(tmp_path, bin_dir):
    # the fake prints its arguments' format back as one job of this folder
    fake_squeue(
        bin_dir,
        f'[ "$1" = --me ] || exit 3\nprintf "42\\037RUNNING\\037uuid\\037%s\\037rule_qc\\n" '
        f'"{tmp_path}"\n',
    )
    (job,) = squeue_jobs()
    assert (job.job_id, job.state, job.workdir, job.comment) == (
        "42",
        "RUNNING",
        str(tmp_path),
        "rule_qc",
    )
    with pytest.raises(AlsigError, match=r"`scancel 42`"):
        check_leftover_slurm_jobs(str(tmp_path), None)


def test_a_failing_squeue_is_one_note_naming_its_message(tmp_path, bin_dir):
    fake_squeue(bin_dir, 'echo "squeue: error: Unable to contact slurm controller" >&2\nexit 1\n')
    assert check_leftover_slurm_jobs(str(tmp_path), None) == (
        "could not list your Slurm jobs (squeue: error: Unable to contact slurm "
        "controller); not checked whether jobs of an earlier run still work in this folder"
    )


def test_no_squeue_on_path_is_one_note(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    note = check_leftover_slurm_jobs(str(tmp_path), None)
    assert note is not None and note.startswith("could not list your Slurm jobs (squeue not found)")
