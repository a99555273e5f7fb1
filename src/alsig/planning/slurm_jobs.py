"""Slurm jobs an earlier run left working in this folder (checked when a Slurm run starts).

When the snakemake process of a Slurm run dies without cancelling its jobs (``kill -9``, a lost
login session, its own Slurm job cancelled or out of time: Slurm sends SIGTERM, Snakemake waits
for the running jobs, Slurm sends SIGKILL 30 s later), those jobs keep running and keep writing
the folder's outputs. A new run (after ``snakemake --unlock``) then submits the same jobs beside
them: the two write the same files at once, one job step deletes the other's fresh outputs
(``--force``), and whichever finishes last leaves its tables, possibly made with the dead run's
settings, which Snakemake then takes as this run's. The executor plugin starts every job in the
folder snakemake runs in (``sbatch -D``) and marks it with the comment ``rule_<rule or group>``,
so the jobs of this folder are found with ``squeue``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from alsig.errors import AlsigError, name_some

#: Between squeue's fields: a character no job name, folder or comment holds.
SQUEUE_SEPARATOR = "\x1f"
#: job id, state, name (the plugin: the run's "SLURM run ID"), working folder, comment
SQUEUE_FORMAT = SQUEUE_SEPARATOR.join(("%i", "%T", "%j", "%Z", "%k"))
#: The executor plugin's job comment: ``rule_<rule>_wildcards_<...>`` or ``rule_<group rules>``.
PLUGIN_COMMENT_PREFIX = "rule_"


@dataclass(frozen=True)
class SlurmJob:
    """One job as ``squeue`` lists it."""

    job_id: str
    state: str
    name: str
    workdir: str
    comment: str


def parse_squeue(text: str) -> list[SlurmJob]:
    """Read the lines of ``squeue --noheader --format`` :data:`SQUEUE_FORMAT`.

    Parameters
    ----------
    text
        squeue's output.

    Returns
    -------
    list of SlurmJob
        One per well-formed line (a line without the five fields is skipped).
    """
    jobs = []
    for line in text.splitlines():
        fields = line.split(SQUEUE_SEPARATOR)
        if len(fields) == 5:
            jobs.append(SlurmJob(*(field.strip() for field in fields)))
    return jobs


def squeue_jobs() -> list[SlurmJob]:
    """Return the user's queued and running Slurm jobs (``squeue --me``).

    Returns
    -------
    list of SlurmJob
        squeue lists jobs that are pending, running, suspended or completing, not finished ones.

    Raises
    ------
    OSError
        squeue is not installed, does not answer within 60 s or fails (its message).
    """
    squeue = shutil.which("squeue")
    if squeue is None:
        raise OSError("squeue not found")
    command = [squeue, "--me", "--noheader", "--format", SQUEUE_FORMAT]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    except subprocess.SubprocessError as exc:  # a controller that does not answer
        raise OSError(f"squeue: {exc}") from exc
    if result.returncode != 0:
        message = result.stderr.strip().splitlines()
        # squeue's own message begins with "squeue: "
        raise OSError(message[-1] if message else f"squeue: exit {result.returncode}")
    return parse_squeue(result.stdout)


def _same_folder(one: str, other: str) -> bool:
    return os.path.realpath(one) == os.path.realpath(other)


def leftover_jobs(jobs: Iterable[SlurmJob], workdir: str, own_job_id: str | None) -> list[SlurmJob]:
    """Select the Snakemake jobs among ``jobs`` that work in ``workdir``.

    Parameters
    ----------
    jobs
        The user's jobs (:func:`squeue_jobs`).
    workdir
        The folder this run works in (Snakemake's working directory).
    own_job_id
        ``SLURM_JOB_ID`` when snakemake itself runs as a Slurm job (that job is not a leftover),
        else None.

    Returns
    -------
    list of SlurmJob
        The jobs the executor plugin submitted (comment ``rule_...``) with ``workdir`` as their
        working folder, in squeue's order.
    """
    return [
        job
        for job in jobs
        if job.comment.startswith(PLUGIN_COMMENT_PREFIX)
        and job.job_id != own_job_id
        and _same_folder(job.workdir, workdir)
    ]


def check_leftover_slurm_jobs(
    workdir: str,
    own_job_id: str | None,
    list_jobs: Callable[[], list[SlurmJob]] = squeue_jobs,
) -> str | None:
    """Stop a Slurm run while Slurm jobs of an earlier run still work in its folder.

    Parameters
    ----------
    workdir
        The folder this run works in.
    own_job_id
        ``SLURM_JOB_ID`` of snakemake's own Slurm job, or None.
    list_jobs
        Returns the user's jobs; raises ``OSError`` when Slurm cannot be asked.

    Returns
    -------
    str or None
        A note when the jobs could not be listed (the run goes on unchecked), else None.

    Raises
    ------
    AlsigError
        Such jobs exist: names them (id, state, submission, run ID) and the ``scancel`` that
        cancels them, then how to resume.
    """
    try:
        jobs = list_jobs()
    except OSError as exc:
        return (
            f"could not list your Slurm jobs ({exc}); not checked whether jobs of an earlier "
            "run still work in this folder"
        )
    left = leftover_jobs(jobs, workdir, own_job_id)
    if not left:
        return None
    named = name_some(
        left, show=lambda job: f"{job.job_id} {job.state} {job.comment} (run {job.name})"
    )
    ids = " ".join(job.job_id for job in left)
    them = "these jobs" if len(left) > 1 else "this job"
    raise AlsigError(
        f"{len(left)} Slurm job(s) of an earlier run still work in this folder ({workdir}): "
        f"{named}. Their snakemake is gone (killed, a lost session, or its own Slurm job "
        "cancelled or out of time) but they still write this folder's outputs: a run beside "
        "them would compute the same files at the same time, and whichever finishes last "
        "leaves its results, maybe made with the earlier run's settings. Cancel "
        f"{them} first: `scancel {ids}`; then run `snakemake --unlock` with your options "
        "and your command again (it reruns what the cancelled jobs did not finish). If they "
        "belong to another snakemake that is still running in this folder, let it finish: two "
        "Slurm runs in one folder at once are not supported."
    )
