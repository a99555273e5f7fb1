"""The outcome of a reprocessing run: its exit codes and its JSON summary.

Written to ``<state_dir>/runs/<run_id>.json`` and ``<state_dir>/last_run.json``.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alsig.io import write_text
from alsig.ops.registry import Observation, Registry, utc_now
from alsig.ops.workflow import SnakemakeRun

log = logging.getLogger(__name__)

#: 2: statuses config_error and interrupted; counts always complete; datasets.missing,
#: datasets.files_changed and warnings
SUMMARY_VERSION = 2

EXIT_OK = 0
EXIT_DATASETS_FAILED = 1  # the run finished; at least one dataset (or the catalog) failed
EXIT_USAGE = 2  # unreadable config / bad settings
EXIT_DISCOVERY = 3  # E-utilities unreachable after retries; registry untouched
EXIT_LOCKED = 75  # another run holds the lock (EX_TEMPFAIL): try again at the next slot
# a run stopped by a signal: status "interrupted", exit 128 + the signal number (143 SIGTERM),
# alsig.ops.workflow.Interrupted.exit_code


#: The run's counts (``counts`` of last_run.json; ``registry`` is added when the run got there).
COUNT_KEYS = (
    "discovered",
    "new",
    "changed",
    "unchanged",
    "missing",
    "processed",
    "failed",
    "needs_curation",
)


@dataclass
class RunSummary:
    """What one run did; :meth:`write` stores it (the keys are those of the JSON file).

    ``error``, ``warnings`` and ``snakemake_ran`` appear in the file once they are set; ``finished_at`` and
    the ``total_seconds`` timing when it is written.
    """

    run_id: str
    registry: str
    started_at: str = field(default_factory=utc_now)
    status: str = "running"
    exit_code: int | None = None
    # every count present (0) even when the run stopped before counting: monitors read them
    counts: dict[str, Any] = field(default_factory=lambda: dict.fromkeys(COUNT_KEYS, 0))
    datasets: dict[str, Any] = field(default_factory=dict)
    snakemake: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    snakemake_ran: bool | None = None
    started: float = field(default_factory=time.monotonic, repr=False)

    def timing(self, name: str, start: float) -> None:
        """Record the seconds since ``start`` (``time.monotonic()``) as ``timings[name]``."""
        self.timings[name] = round(time.monotonic() - start, 3)

    def record_discovery(self, accessions: list[str], observation: Observation) -> None:
        """Return the series discovery found and what it changed in the registry."""
        self.datasets = {
            "discovered": sorted(set(accessions)),
            "new": observation.new,
            "changed": observation.changed,
            "unchanged": observation.unchanged,
        }

    def record_missing(self, missing: dict[str, str], warnings: list[str]) -> None:
        """Tracked series the search no longer returns (accession -> status), and the warnings."""
        self.datasets["missing"] = missing
        self.warnings.extend(warnings)

    def record_snakemake(
        self, phase: str, result: SnakemakeRun, datasets: list[str], targets: list[str]
    ) -> None:
        """One snakemake call (``phase``: ``datasets`` or ``catalog_without_failed``)."""
        self.snakemake.append(
            {
                "phase": phase,
                "returncode": result.returncode,
                "seconds": result.seconds,
                "log": str(result.log),
                "datasets": sorted(datasets),
                "targets": targets or ["(default target)"],
            }
        )

    def record_outcome(
        self,
        registry: Registry,
        observation: Observation,
        *,
        ran: bool,
        problem: str,
        processed: list[str],
        failed: dict[str, str],
    ) -> tuple[str, int]:
        """Statuses and counts at the end of a run; returns its (status, exit code)."""
        curation = {e.accession: e.reason for e in registry.with_status("needs_curation")}
        self.datasets.update(
            processed=processed,
            failed=failed,
            needs_curation=curation,
            excluded={e.accession: e.reason for e in registry.with_status("excluded")},
        )
        self.counts = {  # COUNT_KEYS, then the registry's
            "discovered": len(self.datasets["discovered"]),
            "new": len(observation.new),
            "changed": len(observation.changed),
            "unchanged": len(observation.unchanged),
            "missing": len(self.datasets.get("missing", {})),
            "processed": len(processed),
            "failed": len(failed),
            "needs_curation": len(curation),
            "registry": registry.counts(),
        }
        if problem:
            self.error = problem
        self.snakemake_ran = ran
        if failed or problem:
            return "failed", EXIT_DATASETS_FAILED
        return ("ok" if ran else "nothing_to_do"), EXIT_OK

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON content (without ``finished_at``)."""
        record: dict[str, Any] = {
            "schema_version": SUMMARY_VERSION,
            "run_id": self.run_id,
            "started_at": self.started_at,
            "status": self.status,
            "exit_code": self.exit_code,
            "counts": self.counts,
            "datasets": self.datasets,
            "snakemake": self.snakemake,
            "timings": self.timings,
            "registry": self.registry,
        }
        if self.error is not None:
            record["error"] = self.error
        if self.warnings:
            record["warnings"] = self.warnings
        if self.snakemake_ran is not None:
            record["snakemake_ran"] = self.snakemake_ran
        return record

    def write(self, state: Path, status: str, code: int, *, last: bool = True) -> Path:
        """Finish the summary with ``status`` and exit ``code`` and write it.

        Parameters
        ----------
        state
            The state folder.
        status, code
            The run's outcome.
        last
            Also write ``last_run.json`` (not for a run that never got the lock).

        Returns
        -------
        Path
            ``runs/<run_id>.json``.
        """
        self.status = status
        self.exit_code = code
        self.timing("total_seconds", self.started)
        record = {**self.as_dict(), "finished_at": utc_now()}
        text = json.dumps(record, indent=2, sort_keys=False) + "\n"
        path = state / "runs" / f"{self.run_id}.json"
        write_text(text, path)
        if last:
            write_text(text, state / "last_run.json")
        return path

    def write_final(self, state: Path, status: str, code: int) -> Path:
        """:meth:`write` at the end of a run that got the lock, and say so in the log."""
        path = self.write(state, status, code)
        log.info(
            "reprocess %s: %s; processed %d, failed %d, needs curation %d (summary %s)",
            self.run_id,
            status,
            self.counts["processed"],
            self.counts["failed"],
            self.counts["needs_curation"],
            path,
        )
        return path
