"""alsig.runner: every job log says what the job is when it starts and ends with
``done in N s`` naming what it did; values are logged as a reader writes them; a job whose
shipped files are not the planned ones stops (``params.shipped``, alsig.resources); a job
stopped by SIGTERM or killed while writing leaves no temporary file (a real child process:
tests/integration/test_runner_sigterm.py)."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import signal
from types import SimpleNamespace

import numpy as np
import pytest

from alsig.errors import AlsigError
from alsig.io import atomic_path
from alsig.planning import table_version
from alsig.resources import (
    HIDDEN_INPUTS,
    hidden_input_files,
    hidden_inputs_digest,
    load_schema,
    subtype_model_dir,
)
from alsig.runner import (
    JobStopped,
    job_end_line,
    mark_logs_not_started,
    process_usage,
    readable,
    run_stage,
)
from tests.conftest import REPO


@pytest.fixture(autouse=True)
def _restore_logging():
    """run_stage configures the root logger for a job process: put the test's back after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.captureWarnings(False)


class Named(dict):
    """Snakemake's Namedlist stand-in: ``items()``, ``len`` and iteration over the values."""

    def __iter__(self):
        return iter(self.values())


def job(tmp_path, **wildcards):
    return SimpleNamespace(
        rule="enrich",
        log=[str(tmp_path / "job.log")],
        wildcards=Named(wildcards),
        resources=Named(mem_mb=600, runtime=6),
        threads=4,
        params=Named(dataset="demo"),
        input=Named(de="x.parquet"),
        output=Named(parquet=str(tmp_path / "y.parquet")),
    )


def test_a_job_log_starts_with_what_it_is_and_ends_with_done_in(tmp_path):
    def run(inputs, outputs, settings, threads, dataset):
        logging.getLogger("alsig.stage").info(
            "dataset %s: conditions %s; kept %s", dataset, {"ALS": np.int64(26)}, [np.float64(1.5)]
        )

    smk = job(tmp_path, dataset="demo", contrast="ALS_vs_control", collection="hallmark")
    run_stage(smk, run)
    lines = (tmp_path / "job.log").read_text().splitlines()
    assert (
        "rule enrich started (dataset=demo, contrast=ALS_vs_control, collection=hallmark; 4"
        in (lines[0])
    )
    assert "dataset demo: conditions ALS: 26; kept 1.5" in lines[1]
    assert "np.int64" not in "\n".join(lines)
    assert re.search(
        r"rule enrich done in 0 s \(dataset=demo, contrast=ALS_vs_control, collection=hallmark\); "
        r"\d+ CPU-s, peak memory \d+ MB \(planned 600 MB, of which 400 MB for a cluster job's "
        r"Snakemake\)$",
        lines[-1],
    )


def test_the_last_line_gives_what_the_process_used_from_the_operating_system():
    import resource

    cpu, peak_mb = process_usage()
    own = resource.getrusage(resource.RUSAGE_SELF)
    assert cpu >= own.ru_utime + own.ru_stime > 0
    assert peak_mb >= own.ru_maxrss / 1024 > 10  # KiB on Linux; a Python with numpy: > 10 MB
    smk = SimpleNamespace(rule="qc", wildcards=Named(), resources=Named(runtime=5))
    assert (
        job_end_line(smk, 3.2, (40.4, 511.6)) == "rule qc done in 3 s; 40 CPU-s, peak memory 512 MB"
    )
    assert job_end_line(smk, 3.2) == "rule qc done in 3 s"


def test_a_failed_job_ends_with_its_error_not_done(tmp_path, capsys):
    def run(inputs, outputs, settings, threads, dataset):
        raise AlsigError("counts.tsv, line 3: not a number")

    with pytest.raises(SystemExit):
        run_stage(job(tmp_path, dataset="demo"), run)
    text = (tmp_path / "job.log").read_text()
    assert "done in" not in text and text.rstrip().endswith("counts.tsv, line 3: not a number")
    assert "alsig error in rule 'enrich'" in capsys.readouterr().err


def test_sigterm_during_a_write_stops_the_job_without_leaving_its_temporary_file(tmp_path):
    """Slurm's scancel (and its time and memory limits) send SIGTERM first: the job unwinds,
    so the atomic write removes its temporary file, and the log says why the job ended."""
    reached = []

    def run(inputs, outputs, settings, threads, dataset):
        with atomic_path(outputs["parquet"]) as tmp:
            tmp.write_text("half of a table")
            os.kill(os.getpid(), signal.SIGTERM)
            reached.append("after the signal")
            tmp.write_text("a whole table")

    # ignored outside run_stage: were SIGTERM not handled there, the write would finish and the
    # test fail on the output (rather than the signal ending pytest)
    outside = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        with pytest.raises(JobStopped) as stop:
            run_stage(job(tmp_path, dataset="demo"), run)
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN  # given back
    finally:
        signal.signal(signal.SIGTERM, outside)
    assert stop.value.code == 128 + signal.SIGTERM and reached == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["job.log"]
    assert (
        (tmp_path / "job.log")
        .read_text()
        .rstrip()
        .endswith(
            "rule enrich stopped by SIGTERM after 0 s (scancel, or the cluster's time or memory "
            "limit); the outputs it was writing were not kept"
        )
    )


def test_a_job_removes_what_a_killed_write_of_its_own_outputs_left(tmp_path):
    """A job killed outright (kill -9, Slurm's SIGKILL) while writing leaves its temporary file;
    the next attempt removes those of its own outputs, with a warning naming them, and leaves
    other files' alone (another job may be writing them)."""
    own = tmp_path / ".y.parquet.k2_x9abc.tmp"
    other = tmp_path / ".z.parquet.k2_x9abc.tmp"
    for leftover in (own, other):
        leftover.write_text("half of a table")

    def run(inputs, outputs, settings, threads, dataset):
        pass

    run_stage(job(tmp_path, dataset="demo"), run)
    assert not own.exists() and other.exists()
    assert (
        "WARNING alsig: removed 1 temporary file(s) that an interrupted earlier attempt of this "
        f"job left beside its outputs (killed while writing): {own}"
    ) in (tmp_path / "job.log").read_text()


def test_a_job_this_run_never_started_does_not_show_an_earlier_run_s_log(tmp_path):
    """At a run's start the logs of the jobs it executes say "not started" (show-failed-logs
    printed an earlier run's "done in" for group members that never started); the job's own
    log replaces the line when it starts."""
    earlier = tmp_path / "job.log"
    earlier.write_text("2026-12-07 10:49:31,028 INFO alsig: rule enrich done in 2 s\n")
    never = tmp_path / "logs" / "enrich" / "report.log"  # folder not there yet
    assert mark_logs_not_started([str(earlier), str(never)], "2026-12-07 10:50:01") == [
        str(earlier),
        str(never),
    ]
    line = (
        "2026-12-07 10:50:01 INFO alsig: not started: the snakemake run of 2026-12-07 10:50:01 "
        "planned this job; the job's own log replaces this line when it starts\n"
    )
    assert earlier.read_text() == line and never.read_text() == line

    run_stage(job(tmp_path, dataset="demo"), lambda **_: None)
    text = earlier.read_text()
    assert "not started" not in text and "rule enrich done in 0 s" in text


def test_readable_values():
    assert readable({"a": np.int64(2), "b": [1, 2]}) == "a: 2, b: 1, 2"
    assert readable(np.float32(0.5)) == 0.5 and readable({}) == "none"
    assert readable({"x", "y"}) == "x, y" and readable("text") == "text"


def test_a_job_with_the_planned_shipped_files_runs_without_the_digest(tmp_path):
    seen = {}

    def run(inputs, outputs, settings, threads, dataset):
        seen["dataset"] = dataset

    smk = job(tmp_path, dataset="demo")
    smk.rule = "qc"
    smk.params = Named(dataset="demo", shipped=hidden_inputs_digest("qc"))
    run_stage(smk, run)  # ``shipped`` is checked by the runner, not passed to the stage
    assert seen == {"dataset": "demo"}


def test_a_tables_version_reruns_its_rule_and_is_not_passed_to_the_stage(tmp_path):
    """Rules whose table changed version take it as a parameter (a rerun trigger on upgrade);
    the runner drops it before calling the stage."""
    seen = {}

    def run(inputs, outputs, settings, threads, dataset):
        seen["dataset"] = dataset

    smk = job(tmp_path, dataset="demo")
    smk.rule = "axis_tests"
    smk.params = Named(dataset="demo", table_version=table_version("axis_tests"))
    run_stage(smk, run)
    assert seen == {"dataset": "demo"}
    assert table_version("axis_tests") == str(load_schema("axis_tests")["x-schema-version"])
    assert table_version("axis_meta") == str(load_schema("axis_meta")["x-schema-version"])
    rules = {p.name: p.read_text() for p in (REPO / "workflow/rules").glob("*.smk")}
    assert rules["axes.smk"].count('planning.table_version("axis_tests")') == 1
    assert rules["subtypes.smk"].count('planning.table_version("axis_tests")') == 1
    assert rules["catalog.smk"].count('planning.table_version("axis_meta")') == 1


def test_a_job_whose_shipped_files_differ_from_the_plan_stops_naming_them(tmp_path, capsys):
    def run(inputs, outputs, settings, threads, dataset):
        raise AssertionError("the stage must not run")

    smk = job(tmp_path, dataset="demo")
    smk.rule = "qc"
    smk.params = Named(dataset="demo", shipped="0" * 64)
    with pytest.raises(SystemExit) as stop:
        run_stage(smk, run)
    assert stop.value.code == 1
    err = capsys.readouterr().err
    assert "bretigea_human_brain.tsv.gz" in err
    assert "not the ones the workflow was planned with (sha256 000000000000)" in err


def test_the_shipped_files_digest_of_each_rule_covers_its_files():
    """Each rule's digest is over the files it reads, and the rule passes it as params.shipped;
    the subtype models' value is the one 0.4.0 recorded (its formula), so upgrading from 0.4.0
    reruns no projection."""

    def digest_of(files):
        expected = hashlib.sha256()
        for f in files:
            expected.update(f.name.encode())
            expected.update(hashlib.sha256(f.read_bytes()).digest())
        return expected.hexdigest()

    models = sorted(
        [
            *subtype_model_dir().glob("*.json"),
            *subtype_model_dir().glob("*.reference.parquet"),
            *subtype_model_dir().glob("*.tsv"),
        ]
    )
    assert [f.name for f in hidden_input_files("subtypes")] == [
        "cv_predictions.tsv",
        "genes.json",
        "genes.reference.parquet",
        "genes_te.json",
        "genes_te.reference.parquet",
        "reference_calls.tsv",
    ]
    assert hidden_inputs_digest("subtypes") == digest_of(models)
    assert [f.name for f in hidden_input_files("qc")] == ["bretigea_human_brain.tsv.gz"]
    rule_files = "".join(f.read_text() for f in (REPO / "workflow" / "rules").glob("*.smk"))
    for rule in HIDDEN_INPUTS:
        assert hidden_inputs_digest(rule) == digest_of(hidden_input_files(rule))
        body = re.search(rf"^rule {rule}:\n(?:(?!rule ).*\n)*", rule_files, re.M)
        assert body is not None, rule
        assert f'shipped=lambda wc: alsig_resources.hidden_inputs_digest("{rule}")' in body[0]
