"""Glue between Snakemake ``script:`` entry points and the stages' ``run`` functions.

A rule script (``workflow/scripts/<stage>.py``) is a few lines::

    from alsig.runner import run_stage
    from alsig.settings import QcSettings
    from alsig.stages.qc import run

    run_stage(snakemake, run, QcSettings)

:func:`run_stage` unpacks Snakemake's job object into plain values, so no stage ever sees it:
``run(inputs, outputs, settings, threads, **params)`` gets dicts of file names, the job's
settings (``params.settings``, resolved once by ``common.smk``, made the stage's typed settings
object here) and every other ``params`` entry as a keyword (dataset, contrast, ...). It sends
logging to the job's ``log:`` file, opens it with what the job is (rule, wildcards, threads, the
planned time and memory) and closes it with ``rule <rule> done in N s (<wildcards>)`` and what
the job's process used (CPU seconds, peak memory: :func:`process_usage`), and turns
an :class:`AlsigError` into a one-paragraph message (log and stderr) and exit status 1 instead of
a traceback. Values in log messages are written as a reader would (:class:`ReadableFormatter`:
``ALS: 26, control: 12``, not ``{'ALS': np.int64(26), ...}``). Stages write their outputs
atomically, so a failed job leaves no partial file; a job stopped by SIGTERM (Slurm's
``scancel``, time or memory limit) unwinds as an exception so that the atomic writes remove
their temporary files, and a job removes those an earlier attempt killed outright
(``kill -9``, Slurm's SIGKILL after its grace time) left beside its outputs.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import FrameType
from typing import Any

from alsig.errors import AlsigError, name_some
from alsig.io import remove_interrupted_writes
from alsig.planning.sizing import JOB_OVERHEAD_MB
from alsig.resources import hidden_input_files, hidden_inputs_digest
from alsig.settings.run import complete
from alsig.settings.stages import from_mapping, stage_of

log = logging.getLogger("alsig")


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def readable(value: Any) -> Any:
    """Return a log argument as a reader would write it.

    numpy scalars become Python numbers, mappings ``key: value, ...`` and lists or tuples
    ``a, b, c`` (recursively); anything else is returned as it is.

    Parameters
    ----------
    value
        One argument of a log call.

    Returns
    -------
    object
        A number or string for the message's ``%`` formatting.
    """
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return value.item()
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {readable(v)}" for k, v in value.items()) or "none"
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return ", ".join(str(readable(v)) for v in items) or "none"
    return value


class ReadableFormatter(logging.Formatter):
    """A formatter that writes every argument of a message with :func:`readable`."""

    def format(self, record: logging.LogRecord) -> str:
        """Format ``record`` with its arguments made readable (the record is left unchanged).

        Parameters
        ----------
        record
            The log record.

        Returns
        -------
        str
            The formatted line.
        """
        args = record.args
        if isinstance(args, tuple) and args:
            record = logging.makeLogRecord(record.__dict__)
            record.args = tuple(readable(a) for a in args)
        return super().format(record)


def configure_logging(log_path: str | None, level: int = logging.INFO) -> None:
    """Log to stderr and, when given, to ``log_path`` (replacing it); warnings are logged.

    Parameters
    ----------
    log_path
        The job's log file, or None.
    level
        The logging level.
    """
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        handlers.append(logging.FileHandler(log_path, mode="w"))
    for handler in handlers:
        handler.setFormatter(ReadableFormatter(LOG_FORMAT))
    logging.basicConfig(level=level, handlers=handlers, force=True)
    logging.captureWarnings(True)
    warnings.simplefilter("default")


def mark_logs_not_started(logs: Iterable[str], run_started: str) -> list[str]:
    """Replace the logs of the jobs a run is about to execute with one line saying so.

    A job's log is written only once its process starts (:func:`configure_logging` replaces
    it). A job that never starts (a group cancelled before it reached that member, a failure
    upstream) kept the log of an earlier run, and Snakemake's ``show-failed-logs`` printed that
    (e.g. ``rule enrich done in 2 s``) under this run's ``Error in rule enrich``. Called when the
    run starts, so such a log now says the job did not start.

    Parameters
    ----------
    logs
        The log files of the jobs this run will execute.
    run_started
        When the run started (``YYYY-MM-DD HH:MM:SS``).

    Returns
    -------
    list of str
        The logs written (one that cannot be written is left for the job to report).
    """
    line = (
        f"{run_started} INFO alsig: not started: the snakemake run of {run_started} planned this "
        "job; the job's own log replaces this line when it starts\n"
    )
    written = []
    for log_file in logs:
        path = Path(log_file)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(line)
        except OSError:  # the job itself will fail on it, naming the file
            continue
        written.append(log_file)
    return written


def job_arguments(
    smk: Any, settings_type: type | None = None, *, settings_subset: bool = False
) -> dict[str, Any]:
    """Return the keyword arguments of a stage's ``run`` for one Snakemake job.

    Parameters
    ----------
    smk
        Snakemake's job object (``snakemake`` in a rule script).
    settings_type
        The stage's settings class (:mod:`alsig.settings.stages`); ``params.settings`` is passed
        as it is (a mapping, or ``None`` when the rule has none) without one.
    settings_subset
        ``params.settings`` holds only the keys the job reads
        (:meth:`alsig.settings.RunSettings.params_of`): the others take the schema's defaults.

    Returns
    -------
    dict
        ``inputs``, ``outputs``, ``settings``, ``threads`` and every other ``params`` entry
        except ``shipped``, which is checked here (:func:`check_hidden_inputs`) and not passed,
        and ``table_version`` (a rerun trigger, :func:`alsig.planning.table_version`).

    Raises
    ------
    AlsigError
        ``params.shipped`` is not the sha256 of the shipped files installed here.
    """
    params = dict(smk.params.items())
    settings = params.pop("settings", None)
    if "shipped" in params:
        check_hidden_inputs(smk.rule, params.pop("shipped"))
    # a rerun trigger only (alsig.planning.table_version): the job writes the installed version
    params.pop("table_version", None)
    if settings_type is not None and settings_subset:
        settings = complete(stage_of(settings_type), settings)
    elif settings_type is not None:
        settings = from_mapping(settings_type, settings)
    return {
        "inputs": dict(smk.input.items()),
        "outputs": dict(smk.output.items()),
        "settings": settings,
        "threads": int(smk.threads),
        **params,
    }


def check_hidden_inputs(rule: str, planned: str) -> None:
    """Stop a job whose shipped files differ from those the workflow planned it with.

    Rules that read shipped files without declaring them (:data:`alsig.resources.HIDDEN_INPUTS`)
    carry their sha256 as ``params.shipped``, which reruns them when an upgrade changes those
    files. A job that would read other files than the planned ones runs another install of alsig
    than Snakemake's (a cluster node with its own environment): its outputs would not be what the
    run's records say.

    Parameters
    ----------
    rule
        The job's rule (a key of :data:`alsig.resources.HIDDEN_INPUTS`).
    planned
        ``params.shipped``: the sha256 Snakemake computed when it planned the job.

    Raises
    ------
    AlsigError
        The shipped files here have another sha256.
    """
    here = hidden_inputs_digest(rule)
    if planned != here:
        files = ", ".join(str(path) for path in hidden_input_files(rule))
        raise AlsigError(
            f"the shipped files this job reads ({files}; sha256 {here[:12]}) are not the ones the "
            f"workflow was planned with (sha256 {str(planned)[:12]}): the job runs another alsig "
            "install than Snakemake's. Run both from one environment."
        )


def _wildcards(smk: Any) -> str:
    return ", ".join(f"{k}={v}" for k, v in dict(smk.wildcards.items()).items())


def job_start_line(smk: Any) -> str:
    """Return what a job says when it starts.

    Rule, wildcards, threads, and the time and memory its rule's resource model planned (so a
    long silent step can be told from a hung one).

    Parameters
    ----------
    smk
        Snakemake's job object.

    Returns
    -------
    str
        E.g. ``rule de started (dataset=demo, contrast=ALS_vs_control; 4 thread(s); ...)``.
    """
    wildcards = _wildcards(smk)
    resources = dict(smk.resources.items())
    planned = []
    if "runtime" in resources:
        planned.append(f"expected at most {resources['runtime']} min")
    if "mem_mb" in resources:
        planned.append(f"{resources['mem_mb']} MB")
    return (
        f"rule {smk.rule} started ({wildcards or 'no wildcards'}; {int(smk.threads)} thread(s)"
        + (f"; planned: {', '.join(planned)}" if planned else "")
        + ")"
    )


def process_usage() -> tuple[float, float] | None:
    """Return the CPU seconds and peak memory (MB) of this process and its finished children.

    Read from the operating system (``getrusage``) when the job ends, so nothing between two
    samples is missed, unlike a Snakemake ``benchmark:`` record (sampled every 0.5 s for the
    first 15 s of a job, then every 30 s).

    Returns
    -------
    tuple of float, or None
        ``(cpu_seconds, peak_mb)``: user + system time of the process since it started (imports
        included) and of the children it waited for; the larger peak resident set of the two.
        None where ``resource`` does not exist (Windows).
    """
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    unit = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return cpu, max(own.ru_maxrss, children.ru_maxrss) * unit / 2**20


def job_end_line(smk: Any, seconds: float, usage: tuple[float, float] | None = None) -> str:
    """Return the last line of a finished job's log: what it did and what it cost.

    Parameters
    ----------
    smk
        Snakemake's job object.
    seconds
        Wall time of the job's work.
    usage
        ``(cpu_seconds, peak_mb)`` of the job's process (:func:`process_usage`), or None.

    Returns
    -------
    str
        E.g. ``rule enrich done in 12 s (dataset=demo, contrast=ALS_vs_control,
        collection=hallmark); 14 CPU-s, peak memory 412 MB (planned 1000 MB, of which 400 MB for
        a cluster job's Snakemake)``: what to set
        ``runtime``, ``threads`` and ``mem_mb`` from (``--set-resources``).
    """
    wildcards = _wildcards(smk)
    line = f"rule {smk.rule} done in {seconds:.0f} s" + (f" ({wildcards})" if wildcards else "")
    if usage is None:
        return line
    cpu, peak_mb = usage
    planned = dict(smk.resources.items()).get("mem_mb")
    # the plan holds the Snakemake processes of a cluster job too; the peak is this process's
    return f"{line}; {cpu:.0f} CPU-s, peak memory {peak_mb:.0f} MB" + (
        f" (planned {planned} MB, of which {JOB_OVERHEAD_MB} MB for a cluster job's Snakemake)"
        if planned is not None
        else ""
    )


class JobStopped(SystemExit):
    """SIGTERM reached the job: raised in the job's main thread, it unwinds every ``finally``.

    Python's default for SIGTERM ends the process at once, so :func:`alsig.io.atomic_path`
    left its half-written temporary file (hidden, mode 0600, GBs for a large cohort's h5ad)
    beside the output. Slurm sends SIGTERM first on ``scancel``, at the time limit and when a
    job step goes over its memory, then SIGKILL after its grace time (KillWait, 30 s by
    default).
    """


def _stop_job(signum: int, frame: FrameType | None) -> None:
    raise JobStopped(128 + signum)


def stop_on_sigterm() -> Any:
    """Make SIGTERM raise :class:`JobStopped` in this process; return the handler it replaces.

    Returns
    -------
    object
        The previous handler (give it back with ``signal.signal``), or None when not called
        from the main thread (where Python allows no handler; nothing is changed).
    """
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _stop_job)


def remove_interrupted_outputs(outputs: Iterable[str]) -> list[Path]:
    """Remove the temporary files that interrupted writes of ``outputs`` left beside them.

    A job killed outright (SIGKILL) while :func:`alsig.io.atomic_path` wrote one of its
    outputs leaves ``.<output name>.<random>.tmp`` in the output's folder, which nothing else
    removes. Snakemake holds the lock on these outputs for this job, so no other write of them
    can be under way (other files' temporary files in the same folder are left alone).

    Parameters
    ----------
    outputs
        The job's output files.

    Returns
    -------
    list of Path
        The temporary files removed.
    """
    names_by_folder: defaultdict[Path, set[str]] = defaultdict(set)
    for output in outputs:
        path = Path(output)
        names_by_folder[path.parent].add(path.name)
    return [
        removed
        for folder, names in names_by_folder.items()
        for removed in remove_interrupted_writes(folder, names)
    ]


def run_stage(
    smk: Any,
    run: Callable[..., None],
    settings_type: type | None = None,
    *,
    settings_subset: bool = False,
) -> None:
    """Run one job: ``run(**job_arguments(smk, ...))``, logged, user errors clean.

    Parameters
    ----------
    smk
        Snakemake's job object.
    run
        The stage's entry point.
    settings_type
        The stage's settings class, or ``None`` for rules without stage settings.
    settings_subset
        The rule passes only the settings keys the job reads (see :func:`job_arguments`).
    """
    log_path = smk.log[0] if len(smk.log) else None
    configure_logging(log_path)
    log.info("%s", job_start_line(smk))
    removed = remove_interrupted_outputs(str(path) for path in smk.output)
    if removed:
        log.warning(
            "removed %d temporary file(s) that an interrupted earlier attempt of this job left "
            "beside its outputs (killed while writing): %s",
            len(removed),
            name_some(str(path) for path in removed),
        )
    started = time.monotonic()
    previous_handler = stop_on_sigterm()
    try:
        run(**job_arguments(smk, settings_type, settings_subset=settings_subset))
    except AlsigError as exc:
        log.error("%s", exc)
        print(f"alsig error in rule '{smk.rule}': {exc}", file=sys.stderr)
        sys.exit(1)
    except JobStopped:
        log.error(
            "rule %s stopped by SIGTERM after %.0f s (scancel, or the cluster's time or memory "
            "limit); the outputs it was writing were not kept",
            smk.rule,
            time.monotonic() - started,
        )
        raise
    finally:
        if previous_handler is not None:
            signal.signal(signal.SIGTERM, previous_handler)
    log.info("%s", job_end_line(smk, time.monotonic() - started, process_usage()))
