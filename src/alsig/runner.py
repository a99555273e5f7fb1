"""Glue between Snakemake ``script:`` entry points and the stages' ``run`` functions.

A rule script (``workflow/scripts/<stage>.py``) is two lines::

    from alsig.runner import run_stage
    from alsig.stages.qc import run

    run_stage(snakemake, run)

:func:`run_stage` unpacks Snakemake's job object into plain values, so no stage ever sees it:
``run(inputs, outputs, settings, threads, **params)`` gets dicts of file names, the job's
resolved settings (``params.settings``) and every other ``params`` entry as a keyword (dataset,
contrast, ...). It sends logging to the job's ``log:`` file and turns an :class:`AlsigError`
into a one-paragraph message (log and stderr) and exit status 1 instead of a traceback. Stages
write their outputs atomically, so a failed job leaves no partial file.
"""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Callable
from typing import Any

from alsig.errors import AlsigError

log = logging.getLogger("alsig")


def configure_logging(log_path: str | None, level: int = logging.INFO) -> None:
    """Log to stderr and, when given, to ``log_path`` (replacing it); warnings are logged."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        handlers.append(logging.FileHandler(log_path, mode="w"))
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    logging.captureWarnings(True)
    warnings.simplefilter("default")


def job_arguments(smk: Any) -> dict[str, Any]:
    """The keyword arguments of a stage's ``run`` for one Snakemake job."""
    params = dict(smk.params.items())
    return {
        "inputs": dict(smk.input.items()),
        "outputs": dict(smk.output.items()),
        "settings": params.pop("settings", {}),
        "threads": int(smk.threads),
        **params,
    }


def job_start_line(smk: Any) -> str:
    """What a job says when it starts: rule, wildcards, threads, and the time and memory its
    rule's resource model planned (so a long silent step can be told from a hung one)."""
    wildcards = ", ".join(f"{k}={v}" for k, v in dict(smk.wildcards.items()).items())
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


def run_stage(smk: Any, run: Callable[..., None]) -> None:
    """Run one job: ``run(**job_arguments(smk))`` with logging and clean user errors."""
    log_path = smk.log[0] if len(smk.log) else None
    configure_logging(log_path)
    log.info("%s", job_start_line(smk))
    try:
        run(**job_arguments(smk))
    except AlsigError as exc:
        log.error("%s", exc)
        print(f"alsig error in rule '{smk.rule}': {exc}", file=sys.stderr)
        sys.exit(1)
