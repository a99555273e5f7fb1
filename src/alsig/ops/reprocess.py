"""Scheduled reprocessing: discover GEO series, update the registry, run the DAG for what changed.

One command (``alsig reprocess --config config/reprocess.yaml``), safe to run from cron/scrontab:

1. take an exclusive lock (``<state_dir>/reprocess.lock``, ``fcntl.flock``); a second run waits up
   to ``lock_timeout_seconds`` and otherwise exits with :data:`EXIT_LOCKED` and a message;
2. discover series with NCBI E-utilities (esearch + esummary); if that fails after retries the run
   exits with :data:`EXIT_DISCOVERY` and the registry is not touched;
3. merge them into the registry (new / changed / excluded), ask the server whether the files in
   the GEO cache changed (:func:`alsig.ops.downloads.check_server_files`: HTTP HEAD, a changed
   file is downloaded again and its series queued), then for every series that needs work
   (new, changed, needs_curation, failed) download its series matrix and apply the condition rules
   (the dataset's own ``datasets.<id>.condition`` when the config has one for that accession, else
   ``reprocess.default_condition``); unresolved series become ``needs_curation`` with the reason;
4. write the run config (the base config's stage sections + datasets = processed + to-process +
   the base config's own datasets) and run ``python -m snakemake --keep-going --rerun-incomplete``
   on the default target (or ``reprocess.targets``); datasets whose outputs are still pending
   afterwards are ``failed`` (with the failing rule and log), and if any failed the DAG is run
   again without them so the catalog is refreshed for the others;
5. record statuses (registry written atomically) and write a JSON run summary
   (``<state_dir>/runs/<run_id>.json`` and ``<state_dir>/last_run.json``).

Nothing new and an unchanged run config -> no snakemake at all; the summary says ``nothing_to_do``.
SIGTERM/SIGINT/SIGHUP are passed on to snakemake; the run then starts nothing further, records no
failure and ends ``interrupted`` with exit code 128 + the signal number.
A run killed at any point leaves the previous registry (atomic writes) and every finished output
(Snakemake's own bookkeeping) intact; the next run picks up every series not yet ``processed``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alsig import settings as alsig_settings
from alsig.errors import AlsigError
from alsig.ops.config import (
    check_base_config,
    geo_overrides,
    load_base_config,
    reprocess_settings,
)
from alsig.ops.curation import queue_series
from alsig.ops.downloads import check_server_files, data_sha256
from alsig.ops.lock import LockedError, run_lock
from alsig.ops.registry import Observation, Registry, utc_now
from alsig.ops.run_config import RunConfigs, last_success, record_success
from alsig.ops.summary import (
    EXIT_DATASETS_FAILED,
    EXIT_DISCOVERY,
    EXIT_LOCKED,
    EXIT_OK,
    EXIT_USAGE,
    RunSummary,
)
from alsig.ops.workflow import Failures, Interrupted, Workflow, find_failures, stop_on_signals
from alsig.settings import output_dir_of
from alsig.sources.eutils import EUtils, discover_series

log = logging.getLogger(__name__)

__all__ = [
    "EXIT_DATASETS_FAILED",
    "EXIT_DISCOVERY",
    "EXIT_LOCKED",
    "EXIT_OK",
    "EXIT_USAGE",
    "INGEST_OUTPUT",
    "Options",
    "Outcome",
    "Reprocess",
    "discover_only",
    "eutils_client",
    "record_outcomes",
    "reprocess",
]

REPO = Path(__file__).resolve().parents[3]  # the checkout (src/alsig/ops/ -> .)
#: the ingest output of a dataset (data contract); forced for series that changed on GEO
INGEST_OUTPUT = "{output_dir}/{dataset}/counts.h5ad"


@dataclass
class Options:
    """The command line of ``alsig reprocess`` (None: the config's value)."""

    config: Path
    workdir: Path = Path(".")
    snakefile: Path = REPO / "workflow" / "Snakefile"
    api_key: str | None = None
    lock_timeout: float | None = None
    targets: list[str] | None = None
    cores: int | None = None
    snakemake_args: list[str] = field(default_factory=list)
    force: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    """What the workflow part of a run did: whether snakemake ran, and what failed."""

    ran: bool = False
    failures: Failures = field(default_factory=Failures)


def eutils_client(settings: Mapping[str, Any], api_key: str | None = None) -> EUtils:
    """Return the E-utilities client of the ``reprocess:`` settings.

    ``api_key`` (else the one in the variable ``api_key_env`` names) is sent when set.
    """
    key = api_key or os.environ.get(settings["api_key_env"] or "", "") or None
    return EUtils(
        settings["eutils_base_url"],
        api_key=key,
        email=settings["email"],
        timeout=settings["timeout_seconds"],
        retries=settings["retries"],
        backoff=settings["backoff_seconds"],
        requests_per_second=settings["requests_per_second"],
    )


class Reprocess:
    """One reprocessing run; :meth:`run` returns the exit code and writes the summary."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.workdir = options.workdir.resolve()
        self.base = load_base_config(options.config)
        self.settings = reprocess_settings(self.base)
        self.geo = alsig_settings.section(self.base, "geo")
        self.state = self.workdir / self.settings["state_dir"]
        self.cache_dir = self.workdir / self.geo["cache_dir"]
        check_base_config(self.base, options.config, self.workdir)
        self.overrides = geo_overrides(self.base)
        self.run_id = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + f"-{os.getpid()}"
        self.summary = RunSummary(run_id=self.run_id, registry=str(self.state / "registry.tsv"))
        targets = options.targets if options.targets is not None else self.settings["targets"]
        self.configs = RunConfigs(
            self.base, self.settings["default_condition"]["rules"], tuple(targets or ())
        )
        self.workflow = Workflow(
            snakefile=options.snakefile.resolve(),
            workdir=self.workdir,
            config_path=self.state / "run_config.yaml",
            log_path=self.state / "logs" / f"{self.run_id}.snakemake.log",
            cores=options.cores or self.settings["cores"],
            args=[*self.settings["snakemake_args"], *options.snakemake_args],
        )

    def run(self) -> int:
        """Take the lock, run, and write the summary (also for a run stopped by an exception).

        A stop signal ends the run with status ``interrupted`` and exit code 128 + its number.
        """
        with stop_on_signals():
            return self._run_guarded()

    def _interrupted(self, exc: Interrupted, *, last: bool = True) -> int:
        log.error("%s", exc)
        self.summary.error = str(exc)
        self.summary.write(self.state, "interrupted", exc.exit_code, last=last)
        return exc.exit_code

    def _run_guarded(self) -> int:
        try:
            waited = time.monotonic()
            timeout = self.options.lock_timeout
            if timeout is None:
                timeout = float(self.settings["lock_timeout_seconds"])
            with run_lock(self.state / "reprocess.lock", timeout) as lock_fd:
                self.workflow.keep_fds = (lock_fd,)
                self.summary.timing("lock_wait_seconds", waited)
                try:
                    return self._run_locked()
                except Interrupted as exc:
                    return self._interrupted(exc)
                except BaseException as exc:  # record, then let it propagate (killed runs too)
                    self.summary.error = f"{type(exc).__name__}: {exc}"
                    with contextlib.suppress(Exception):
                        self.summary.write(self.state, "error", EXIT_DATASETS_FAILED)
                    raise
        except LockedError as exc:
            log.error("%s", exc)
            self.summary.error = str(exc)
            self.summary.write(self.state, "locked", EXIT_LOCKED, last=False)
            return EXIT_LOCKED
        except Interrupted as exc:  # while waiting for the lock: last_run.json is the holder's
            return self._interrupted(exc, last=False)

    def _run_locked(self) -> int:
        registry = Registry.load(self.state / "registry.tsv")
        observation = self._discover(registry)
        if observation is None:
            return EXIT_DISCOVERY
        start = time.monotonic()
        self.summary.datasets["files_changed"] = check_server_files(
            registry, cache_dir=self.cache_dir, geo=self.geo
        )
        to_process = queue_series(
            registry,
            overrides=self.overrides,
            settings=self.settings,
            geo=self.geo,
            cache_dir=self.cache_dir,
        )
        self.summary.timing("curation_check_seconds", start)
        outcome = self._run_workflow(registry, to_process)
        processed, failed = record_outcomes(
            registry, to_process, outcome.failures.datasets, cache_dir=self.cache_dir
        )
        status, code = self.summary.record_outcome(
            registry,
            observation,
            ran=outcome.ran,
            problem=outcome.failures.problem,
            processed=processed,
            failed=failed,
        )
        self.summary.write_final(self.state, status, code)
        return code

    def _discover(self, registry: Registry) -> Observation | None:
        """Return the discovery merged into the registry (not saved yet).

        ``None`` (with the summary written) when discovery failed.
        """
        start = time.monotonic()
        client = eutils_client(self.settings, self.options.api_key)
        try:
            series = discover_series(client, self.settings["term"])
        except AlsigError as exc:
            log.error("discovery failed: %s", exc)
            self.summary.error = f"discovery failed: {exc}"
            self.summary.timing("discover_seconds", start)
            self.summary.write(self.state, "discovery_failed", EXIT_DISCOVERY)
            return None
        self.summary.timing("discover_seconds", start)
        observation = registry.observe(
            series,
            exclude=self.settings["exclude"],
            dataset_ids={acc: ds for acc, (ds, _) in self.overrides.items()},
        )
        for accession in self.options.force:
            if accession in registry.entries and registry.entries[accession].status != "excluded":
                registry.set(accession, "new", "forced by --force")
                registry.entries[accession].stale_cache = True
        self.summary.record_discovery([s.accession for s in series], observation)
        return observation

    def _run_workflow(self, registry: Registry, to_process: set[str]) -> Outcome:
        """Snakemake for the processed + queued series, unless nothing changed.

        A second pass without the failed datasets refreshes the catalog for the others.
        """
        include = {e.accession for e in registry.with_status("processed")} | to_process
        config = self.configs.build(registry, include)
        self.summary.datasets["to_process"] = sorted(to_process)
        if not config["datasets"]:
            log.info("no dataset to run")
            return Outcome()
        if not to_process and last_success(self.state) == self.configs.hash(config):
            log.info("nothing new or changed: no snakemake job")
            return Outcome()
        start = time.monotonic()
        # Snakemake does not rebuild missing intermediate files (the dropped downloads) when
        # the outputs exist, so changed/forced series rerun from ingest on.
        forcerun = [
            INGEST_OUTPUT.format(
                output_dir=output_dir_of(config), dataset=registry.entries[a].dataset
            )
            for a in sorted(to_process)
            if registry.entries[a].stale_cache
        ]
        failures = self._phase(config, "datasets", forcerun)
        if failures.datasets and len(failures.datasets) < len(config["datasets"]):
            failed = {
                e.accession for e in registry.entries.values() if e.dataset in failures.datasets
            }
            config = self.configs.build(registry, include - failed)
            more = self._phase(config, "catalog_without_failed")
            failures = Failures({**failures.datasets, **more.datasets}, more.problem)
        self.summary.timing("snakemake_seconds", start)
        if not failures.datasets and not failures.problem:
            record_success(self.state, self.configs.hash(config))
        return Outcome(True, failures)

    def _phase(self, config: dict[str, Any], phase: str, forcerun: Sequence[str] = ()) -> Failures:
        targets = self.configs.targets_for(config)
        result = self.workflow.run(config, targets, forcerun)
        self.summary.record_snakemake(phase, result, list(config["datasets"]), targets)
        result.raise_if_interrupted(phase)
        return find_failures(
            result,
            config["datasets"],
            workdir=self.workdir,
            cache_dir=self.geo["cache_dir"],
            output_dir=output_dir_of(config),
        )


def record_outcomes(
    registry: Registry, to_process: set[str], failures: Mapping[str, str], *, cache_dir: Path
) -> tuple[list[str], dict[str, str]]:
    """Mark each queued series ``processed`` or ``failed`` and save the registry.

    A processed series records its data digest, a failed one the error.

    Parameters
    ----------
    registry
        The registry of this run.
    to_process
        The queued accessions.
    failures
        dataset -> error, from the snakemake calls.
    cache_dir
        The GEO download cache.

    Returns
    -------
    processed : list of str
        Accessions, in accession order.
    failed : dict
        accession (or, for a dataset of the base config without a registry row, dataset) ->
        error.
    """
    now = utc_now()
    processed, failed = [], {}
    for accession in sorted(to_process, key=lambda a: (len(a), a)):
        entry = registry.entries[accession]
        if entry.dataset in failures:
            registry.set(accession, "failed", failures[entry.dataset])
            failed[accession] = failures[entry.dataset]
        else:
            digest = data_sha256(accession, cache_dir=cache_dir)
            registry.mark_processed(accession, data_sha256=digest, now=now)
            processed.append(accession)
    for dataset, error in failures.items():  # static (config) datasets have no registry row
        if not any(e.dataset == dataset for e in registry.entries.values()):
            failed[dataset] = error
    registry.save()
    return processed, failed


def reprocess(options: Options) -> int:
    """Run one reprocessing pass.

    Parameters
    ----------
    options
        The command line.

    Returns
    -------
    int
        The process exit code (``EXIT_*``): a bad config is :data:`EXIT_USAGE`.
    """
    try:
        runner = Reprocess(options)
    except AlsigError as exc:
        log.error("%s", exc)
        print(f"alsig reprocess: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return runner.run()


def discover_only(
    config_path: str | Path, api_key: str | None = None, workdir: str | Path = "."
) -> list[dict[str, Any]]:
    """Discovery without side effects: series + their registry status (for ``alsig discover``).

    Parameters
    ----------
    config_path
        The base config.
    api_key
        NCBI API key (default: the variable ``reprocess.api_key_env`` names).
    workdir
        The project directory (where the registry is).

    Returns
    -------
    list of dict
        ``accession``, ``n_samples``, ``pdat``, ``registry`` (status), ``title`` per series.
    """
    runner = Reprocess(Options(config=Path(config_path), api_key=api_key, workdir=Path(workdir)))
    registry = Registry.load(runner.state / "registry.tsv")
    rows = []
    for item in discover_series(eutils_client(runner.settings, api_key), runner.settings["term"]):
        entry = registry.entries.get(item.accession)
        if entry is None:
            state = "new (not in registry)"
        elif entry.fingerprint != item.fingerprint():
            state = f"{entry.status} (changed on GEO)"
        else:
            state = entry.status
        rows.append(
            {
                "accession": item.accession,
                "n_samples": item.n_samples,
                "pdat": item.pdat,
                "registry": state,
                "title": item.title,
            }
        )
    return rows
