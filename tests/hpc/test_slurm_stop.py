"""A Slurm run refuses to start while a Slurm job of an earlier run still works in its folder
(the head of that run killed: its jobs keep running), on the real single-node Slurm of
tests/hpc/slurm_cluster.py. Skips as tests/hpc/test_slurm.py does (no Slurm, no plugin, not
root). No workflow job runs: the check comes before the first submission.
"""

from __future__ import annotations

import subprocess
import time

import pytest

from alsig.planning import check_leftover_slurm_jobs
from tests.conftest import fast_demo_config
from tests.hpc.test_slurm import (  # noqa: F401  (slurm_cluster: the module's cluster fixture)
    PROFILE,
    _skip_reason,
    run_with_plugin,
    slurm_cluster,
)

pytestmark = [
    pytest.mark.slurm,
    pytest.mark.slow,
    pytest.mark.skipif(_skip_reason() is not None, reason=f"no local Slurm: {_skip_reason()}"),
]


def listed(job_id: str) -> bool:
    """Whether squeue still lists ``job_id`` as pending, running or completing."""
    out = subprocess.run(["squeue", "-h", "-j", job_id, "-o", "%T"], capture_output=True, text=True)
    return bool(out.stdout.strip())


@pytest.mark.usefixtures("slurm_cluster")
def test_a_job_of_a_dead_run_in_this_folder_stops_the_next_run_naming_it(tmp_path):
    workdir = tmp_path / "proj"
    workdir.mkdir()
    # what the executor plugin leaves behind a killed head: a job named by the run's ID, working
    # in the project folder, with its rule in the comment
    job_id = subprocess.run(
        [
            "sbatch",
            "--parsable",
            "--job-name=0d1e-dead-run",
            "--comment=rule_enrich_enrich_enrich_report",
            f"--chdir={workdir}",
            "--mem=100M",
            "--wrap=sleep 600",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    try:
        result = run_with_plugin(
            workdir,
            fast_demo_config(),
            extra_args=(
                "--profile",
                str(PROFILE.parent),
                "--slurm-status-command",
                "squeue",
                "--max-threads",
                "1",
            ),
        )
        output = result.stdout + result.stderr
        assert result.returncode == 1, output[-3000:]
        assert (
            f"alsig error: 1 Slurm job(s) of an earlier run still work in this folder "
            f"({workdir}): {job_id} "
        ) in output
        assert "rule_enrich_enrich_enrich_report (run 0d1e-dead-run)" in output
        assert f"Cancel this job first: `scancel {job_id}`" in output
        assert "has been submitted with SLURM jobid" not in output  # stopped before any job
        assert not list((workdir / ".snakemake" / "locks").glob("*.lock"))  # lock released
    finally:
        subprocess.run(["scancel", job_id], check=False)
    deadline = time.monotonic() + 120
    while listed(job_id) and time.monotonic() < deadline:
        time.sleep(1)
    assert check_leftover_slurm_jobs(str(workdir), None) is None  # cancelled: the run may start
