"""Glue between Snakemake ``script:`` entry points and alsig functions.

A rule script is three lines::

    from alsig.rule_runner import run_rule
    from alsig.qc import run_qc_rule
    run_rule(snakemake, run_qc_rule)

``run_rule`` sends logging to the job's ``log:`` file, and turns an :class:`AlsigError` into a
clear message (in the log and on stderr) and exit status 1 instead of a library traceback.
Outputs are written atomically by the stage itself, so a failed job leaves no partial files.
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


def run_rule(smk: Any, func: Callable[[Any], None]) -> None:
    """Run ``func(snakemake)`` with logging to ``snakemake.log[0]`` and clean user errors."""
    log_path = smk.log[0] if len(smk.log) else None
    configure_logging(log_path)
    try:
        func(smk)
    except AlsigError as exc:
        log.error("%s", exc)
        print(f"alsig error in rule '{smk.rule}': {exc}", file=sys.stderr)
        sys.exit(1)
