"""Running snakemake for a reprocessing run, which datasets failed, and stopping on a signal.

Failures are read from snakemake's log and ``--summary``. Within :func:`stop_on_signals` a stop
signal (SIGTERM from Slurm or a cron timeout, SIGINT, SIGHUP) raises :class:`Interrupted`; while
snakemake runs it is passed on to snakemake instead, the run waits for snakemake to stop, and
:meth:`SnakemakeRun.raise_if_interrupted` then ends the run.
"""

from __future__ import annotations

import contextlib
import logging
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from alsig.errors import name_some
from alsig.io import write_text

log = logging.getLogger(__name__)

#: signals that stop a run: Slurm (scancel, time limit) and cron timeouts send SIGTERM
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
#: what snakemake is sent for each: SIGHUP would kill it outright (no handler), SIGTERM makes it
#: finish the running jobs and exit; SIGINT (Ctrl-C) makes it cancel them
FORWARDED_AS = {
    signal.SIGTERM: signal.SIGTERM,
    signal.SIGINT: signal.SIGINT,
    signal.SIGHUP: signal.SIGTERM,
}


class Interrupted(Exception):
    """A stop signal ended the run; ``exit_code`` is 128 + its number (the shell's convention).

    Parameters
    ----------
    signum
        The signal received.
    during
        What the run was doing, for the message.
    """

    def __init__(self, signum: int, during: str = "") -> None:
        self.signum = signum
        self.signal_name = signal.Signals(signum).name
        self.exit_code = 128 + signum
        super().__init__(
            f"stopped by {self.signal_name}{' ' + during if during else ''}: no further step "
            "was started and no series was marked failed; series not finished stay queued and "
            "the next run resumes them"
        )


@dataclass
class StopHandler:
    """The handler of :data:`STOP_SIGNALS` while :func:`stop_on_signals` is active.

    With a snakemake ``child`` running the signal is passed on to it (the run waits for it);
    otherwise the first signal raises :class:`Interrupted` and later ones are ignored, so that
    the summary of the stopped run is still written.
    """

    received: int | None = None
    child: subprocess.Popen[bytes] | None = None

    def __call__(self, signum: int, _frame: object) -> None:
        """Handle one stop signal (see the class).

        Raises
        ------
        Interrupted
            At the first signal while no snakemake runs.
        """
        first = self.received is None
        if first:
            self.received = signum
        if self.child is not None and self.child.poll() is None:
            if first:
                log.warning(
                    "received %s: passing it on to snakemake (pid %d) and waiting for it to stop",
                    signal.Signals(signum).name,
                    self.child.pid,
                )
            self.child.send_signal(FORWARDED_AS.get(signal.Signals(signum), signum))
            return
        if first:
            raise Interrupted(signum)
        log.warning("received %s again: already stopping", signal.Signals(signum).name)


_active_handlers: list[StopHandler] = []


@contextlib.contextmanager
def stop_on_signals() -> Iterator[StopHandler]:
    """Within the block, a stop signal raises :class:`Interrupted` (or goes to snakemake).

    Nested use shares the outer handler. Outside the main thread (no signal handlers) the block
    runs unguarded.

    Yields
    ------
    StopHandler
        The handler (``received``: the first signal, or None).
    """
    if _active_handlers:
        yield _active_handlers[-1]
        return
    handler = StopHandler()
    previous = {}
    for signum in STOP_SIGNALS:
        with contextlib.suppress(ValueError):  # not the main thread: no handlers
            previous[signum] = signal.signal(signum, handler)
    _active_handlers.append(handler)
    try:
        yield handler
    finally:
        _active_handlers.remove(handler)
        for signum, before in previous.items():
            signal.signal(signum, before)


@dataclass
class SnakemakeRun:
    """One snakemake call: exit status, wall time, log file and command line.

    ``interrupted`` is the stop signal received while it ran (passed on to it), or None.
    """

    returncode: int
    seconds: float
    log: Path
    command: list[str]
    interrupted: int | None = None

    def raise_if_interrupted(self, phase: str) -> None:
        """Raise :class:`Interrupted` when a stop signal arrived while snakemake ran.

        Parameters
        ----------
        phase
            The run's phase, for the message.

        Raises
        ------
        Interrupted
            Naming the signal, the phase and the snakemake log.
        """
        if self.interrupted is not None:
            raise Interrupted(
                self.interrupted,
                f"while snakemake ran (phase {phase}; snakemake exited {self.returncode}, "
                f"log {self.log})",
            )


@dataclass
class Failures:
    """What a snakemake call did not build.

    Dataset -> error, and a problem of the run as a whole (a global output not built, or the DAG
    itself failing).
    """

    datasets: dict[str, str] = field(default_factory=dict)
    problem: str = ""


def snakemake_command(
    snakefile: Path,
    workdir: Path,
    config_path: Path,
    cores: int,
    args: Sequence[str],
    targets: Sequence[str],
) -> list[str]:
    """``python -m snakemake`` with this interpreter, the run config and ``args``/``targets``."""
    return [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(snakefile),
        "--directory",
        str(workdir),
        "--configfile",
        str(config_path),
        "--cores",
        str(cores),
        "--nocolor",
        *args,
        *targets,
    ]


def run_snakemake(
    command: list[str], log_path: Path, cwd: Path, keep_fds: tuple[int, ...] = ()
) -> SnakemakeRun:
    """Run snakemake, output appended to ``log_path``.

    ``keep_fds`` (the lock file) are inherited, so a snakemake that outlives a killed parent
    still holds the reprocess lock and no second run can start beside it. A stop signal (cron or
    Slurm stopping the run, Ctrl-C) is passed on once (snakemake runs in its own process group,
    so a terminal's Ctrl-C reaches it only through alsig), and the call waits for snakemake to
    stop; the result's ``interrupted`` names the signal.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    log.info("running: %s (log %s)", " ".join(command), log_path)
    with open(log_path, "a") as handle, stop_on_signals() as stop:
        handle.write(f"\n$ {' '.join(command)}\n")
        handle.flush()
        proc = subprocess.Popen(
            command,
            stdout=handle,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            pass_fds=keep_fds,
            process_group=0,
        )
        stop.child = proc
        try:
            returncode = proc.wait()
        finally:
            stop.child = None
    seconds = round(time.monotonic() - start, 3)
    return SnakemakeRun(returncode, seconds, log_path, command, stop.received)


def pending_outputs(command: list[str], cwd: Path) -> list[dict[str, str]] | None:
    """``snakemake --summary`` rows whose plan is not 'no update' (None if it cannot run)."""
    proc = subprocess.run(
        [*command, "--summary"], capture_output=True, text=True, cwd=cwd, check=False
    )
    if proc.returncode != 0:
        return None
    rows = []
    header = None
    for line in proc.stdout.splitlines():
        fields_ = line.split("\t")
        if fields_[0] == "output_file":
            header = fields_
            continue
        if header and len(fields_) == len(header):
            row = dict(zip(header, fields_, strict=True))
            if row.get("plan") != "no update":
                rows.append(row)
    return rows


def without_forcerun(command: list[str]) -> list[str]:
    """``command`` minus ``--forcerun FILE...`` (forced files always look pending in --summary)."""
    out, skipping = [], False
    for arg in command:
        if arg == "--forcerun":
            skipping = True
            continue
        if skipping and not arg.startswith("-"):
            continue
        skipping = False
        out.append(arg)
    return out


_ERROR_BLOCK = re.compile(r"^Error in rule (\S+):\n((?:[ \t]+.*\n?)*)", re.MULTILINE)


def rule_errors(log_text: str) -> list[dict[str, Any]]:
    """``Error in rule X:`` blocks of a snakemake log: rule, outputs, logs."""
    errors = []
    for match in _ERROR_BLOCK.finditer(log_text):
        info: dict[str, Any] = {"rule": match.group(1), "output": [], "log": []}
        for line in match.group(2).splitlines():
            key, _, value = line.strip().partition(": ")
            if key in ("output", "log"):
                value = value.split(" (check log")[0]
                info[key] = [v.strip() for v in value.split(",") if v.strip()]
        errors.append(info)
    return errors


def log_tail(path: Path, limit: int = 400) -> str:
    """Return the last error line of a job log.

    The runner logs the AlsigError last; else the log's last line; empty when unreadable.
    """
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    errors = [ln for ln in lines if "Error" in ln]
    return (errors or lines or [""])[-1].strip()[:limit]


def dataset_of(
    path: str,
    datasets: Mapping[str, Mapping[str, Any]],
    cache_dir: str,
    output_dir: str,
) -> str | None:
    """Which dataset an output path belongs to (<output_dir>/<id>/..., <cache>/<accession>/...)."""
    parts = Path(path).parts
    root = Path(output_dir).parts
    n = len(root)
    if len(parts) >= n + 2 and parts[:n] == root and parts[n] in datasets:
        return parts[n]
    cache_parts = Path(cache_dir).parts
    if parts[: len(cache_parts)] == cache_parts and len(parts) > len(cache_parts) + 1:
        accession = parts[len(cache_parts)]
        for dataset, settings in datasets.items():
            if settings.get("accession") == accession:
                return dataset
    return None


#: the lines the workflow prints when it stops before any job (common.smk: ``sys.exit(...)``)
_ALSIG_ERROR = re.compile(r"^alsig (?:config )?error\b.*$", re.MULTILINE)


def alsig_errors(log_text: str) -> list[str]:
    """Return the ``alsig config error: ...`` / ``alsig error: ...`` lines of a snakemake log.

    The workflow prints one and exits when it refuses a config at parse time; snakemake then
    reports only its exit code.

    Parameters
    ----------
    log_text
        The log of one snakemake call.

    Returns
    -------
    list of str
        The lines, stripped, in log order, without repeats.
    """
    return list(dict.fromkeys(m.group(0).strip() for m in _ALSIG_ERROR.finditer(log_text)))


def _this_call(result: SnakemakeRun) -> str:
    """Return the part of the (appended) log written by this call."""
    return result.log.read_text(errors="replace").split(f"$ {' '.join(result.command)}")[-1]


def find_failures(
    result: SnakemakeRun,
    datasets: Mapping[str, Mapping[str, Any]],
    *,
    workdir: Path,
    cache_dir: str,
    output_dir: str,
) -> Failures:
    """Datasets with a failed rule or a pending output after ``result``, with their error.

    Parameters
    ----------
    result
        The snakemake call.
    datasets
        The run config's datasets.
    workdir
        Where snakemake ran (job logs are relative to it).
    cache_dir
        The GEO cache (``geo.cache_dir``): downloads there belong to a dataset by accession.
    output_dir
        The run's output folder (``output_dir``): ``<output_dir>/<dataset>/...`` belongs to that
        dataset.

    Returns
    -------
    Failures
    """
    if result.returncode == 0:
        return Failures()
    failures: dict[str, str] = {}
    text = _this_call(result)
    for error in rule_errors(text):
        for path in error["output"] + error["log"]:
            dataset = dataset_of(path, datasets, cache_dir, output_dir)
            if dataset and dataset not in failures:
                logs = [workdir / p for p in error["log"]]
                detail = next((t for t in (log_tail(p) for p in logs) if t), "")
                failures[dataset] = (
                    f"rule {error['rule']} failed (log: {', '.join(error['log']) or 'none'})"
                    + (f": {detail}" if detail else "")
                )
    pending = pending_outputs(without_forcerun(result.command), workdir)
    if pending is None:  # the DAG itself cannot be built: every dataset of the run failed
        said = "; ".join(alsig_errors(text))
        problem = (
            f"snakemake failed (exit {result.returncode})"
            + (f": {said}" if said else "")
            + f"; see {result.log}"
        )
        return Failures({d: failures.get(d, problem) for d in datasets}, problem)
    for row in pending:
        dataset = dataset_of(row["output_file"], datasets, cache_dir, output_dir)
        if dataset and dataset not in failures:
            failures[dataset] = (
                f"output {row['output_file']} (rule {row.get('rule')}) not built; see {result.log}"
            )
    global_pending = [
        r["output_file"]
        for r in pending
        if not dataset_of(r["output_file"], datasets, cache_dir, output_dir)
    ]
    problem = ""
    if global_pending or not failures:
        not_built = (
            f"; outputs not built: {name_some(global_pending, limit=5)}" if global_pending else ""
        )
        problem = f"snakemake failed (exit {result.returncode}){not_built}; see {result.log}"
    return Failures(failures, problem)


@dataclass
class Workflow:
    """How a reprocessing run calls snakemake.

    The Snakefile, project directory, run config and log files, cores, extra arguments, and the
    descriptors its jobs inherit (the lock).
    """

    snakefile: Path
    workdir: Path
    config_path: Path
    log_path: Path
    cores: int
    args: list[str]
    keep_fds: tuple[int, ...] = ()

    def run(
        self, config: Mapping[str, Any], targets: list[str], forcerun: Sequence[str] = ()
    ) -> SnakemakeRun:
        """Write ``config`` and run snakemake on ``targets`` (empty.

        The default target), forcing those of ``forcerun`` whose dataset is in the config.

        Returns
        -------
        SnakemakeRun
        """
        write_text(yaml.safe_dump(dict(config), sort_keys=False), self.config_path)
        forced = [f for f in forcerun if Path(f).parts[1] in config["datasets"]]
        args = [
            *(["--forcerun", *forced] if forced else []),
            "--keep-going",
            "--rerun-incomplete",
            *self.args,
        ]
        command = snakemake_command(
            self.snakefile, self.workdir, self.config_path, self.cores, args, targets
        )
        result = run_snakemake(command, self.log_path, self.workdir, self.keep_fds)
        if (
            result.interrupted is None
            and result.returncode != 0
            and "LockException" in _this_call(result)
        ):
            # A killed earlier run left snakemake's directory lock; we hold our own flock, so no
            # other reprocess run is using this directory.
            log.warning("removing a stale snakemake lock in %s", self.workdir)
            subprocess.run([*command, "--unlock"], capture_output=True, cwd=self.workdir)
            result = run_snakemake(command, self.log_path, self.workdir, self.keep_fds)
        return result
