"""A Slurm run refuses to start while jobs of an earlier, dead run still work in its folder
(alsig.planning.slurm_jobs; the real squeue: tests/integration/test_slurm_jobs_squeue.py, the
real cluster: tests/hpc/test_slurm_stop.py)."""

from __future__ import annotations

import pytest

from alsig.errors import AlsigError
from alsig.planning import check_leftover_slurm_jobs
from alsig.planning.slurm_jobs import SQUEUE_SEPARATOR, leftover_jobs, parse_squeue


def squeue_text(*rows: tuple[str, ...]) -> str:
    return "".join(SQUEUE_SEPARATOR.join(row) + "\n" for row in rows)


def listing(text: str):
    return lambda: parse_squeue(text)


def test_a_job_of_a_dead_run_in_this_folder_stops_the_run_naming_it_and_the_scancel(tmp_path):
    here, elsewhere = str(tmp_path / "proj"), str(tmp_path / "other")
    (tmp_path / "proj").mkdir()
    text = squeue_text(
        ("61", "RUNNING", "9978-run", here, "rule_enrich_enrich_enrich_report"),
        ("62", "PENDING", "9978-run", here + "/", "rule_summaries_subtypes"),
        ("70", "RUNNING", "other-run", elsewhere, "rule_qc_wildcards_demo"),  # another folder
        ("71", "RUNNING", "alsig-head", here, "(null)"),  # not a Snakemake job: no rule_ comment
    )
    with pytest.raises(AlsigError) as error:
        check_leftover_slurm_jobs(here, None, listing(text))
    message = str(error.value)
    assert message.startswith(
        f"2 Slurm job(s) of an earlier run still work in this folder ({here}): "
        "61 RUNNING rule_enrich_enrich_enrich_report (run 9978-run), "
        "62 PENDING rule_summaries_subtypes (run 9978-run)."
    )
    assert "Cancel these jobs first: `scancel 61 62`; then run `snakemake --unlock`" in message
    assert "70" not in message and "71" not in message


def test_the_run_s_own_slurm_job_and_other_folders_are_not_leftovers(tmp_path):
    here = str(tmp_path)
    jobs = parse_squeue(
        squeue_text(
            ("5", "RUNNING", "head", here, "rule_all"),  # snakemake's own job (SLURM_JOB_ID)
            ("6", "RUNNING", "run", str(tmp_path / "sub"), "rule_qc_wildcards_demo"),
        )
    )
    assert leftover_jobs(jobs, here, "5") == []
    assert check_leftover_slurm_jobs(here, "5", lambda: jobs) is None


def test_a_folder_reached_through_a_symlink_is_the_same_folder(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    text = squeue_text(("8", "RUNNING", "run", str(tmp_path / "real"), "rule_de_demo"))
    with pytest.raises(AlsigError, match=r"`scancel 8`"):
        check_leftover_slurm_jobs(str(tmp_path / "link"), None, listing(text))


def test_without_squeue_the_run_goes_on_with_one_note(tmp_path):
    def no_squeue():
        raise OSError("squeue not found")

    assert check_leftover_slurm_jobs(str(tmp_path), None, no_squeue) == (
        "could not list your Slurm jobs (squeue not found); not checked whether jobs of an "
        "earlier run still work in this folder"
    )


def test_parse_squeue_keeps_separators_of_the_fields_only():
    (job,) = parse_squeue(
        squeue_text(("9", "RUNNING", "my run", "/data/a b|c", "rule_x_wildcards_a|b")) + "junk\n"
    )
    assert (job.job_id, job.name, job.workdir, job.comment) == (
        "9",
        "my run",
        "/data/a b|c",
        "rule_x_wildcards_a|b",
    )
