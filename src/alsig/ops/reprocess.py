"""Scheduled reprocessing: discover GEO series, update the registry, run the DAG for what changed.

One command (``alsig reprocess --config config/reprocess.yaml``), safe to run from cron/scrontab:

1. take an exclusive lock (``<state_dir>/reprocess.lock``, ``fcntl.flock``); a second run waits up
   to ``lock_timeout_seconds`` and otherwise exits with :data:`EXIT_LOCKED` and a message;
2. discover series with NCBI E-utilities (esearch + esummary); if that fails after retries the run
   exits with :data:`EXIT_DISCOVERY` and the registry is not touched;
3. merge them into the registry (new / changed / excluded), ask the server whether the files in
   the GEO cache changed (:func:`alsig.ops.downloads.check_server_files`: HTTP HEAD, a changed
   file is downloaded again and its series queued), then for every series that needs work
   (new, changed, needs_curation, failed) download its series matrix (for a series GEO splits by
   platform, the one holding human RNA-seq samples: :mod:`alsig.ops.platforms`; a series
   sharing samples with a kept one is held: :func:`alsig.ops.registry.shared_samples`) and apply
   the condition rules
   (the dataset's own ``datasets.<id>.condition`` when the config has one for that accession, else
   ``reprocess.default_condition``); unresolved series become ``needs_curation`` with the reason,
   series whose matrix cannot be downloaded ``failed``; a processed series curated with other
   default condition rules is curated again (:func:`alsig.ops.curation.recurate_processed`);
   tracked series the search no longer returns are kept as they are and named (log warning,
   summary ``missing``);
4. write the run config (the base config's stage sections + datasets = processed + to-process +
   the base config's own datasets) and run ``python -m snakemake --keep-going --rerun-incomplete``
   on the default target (or ``reprocess.targets``); datasets whose outputs are still pending
   afterwards are ``failed`` (with the failing rule and log; also a series processed in an earlier
   run), and if any failed the DAG is run again without them so the catalog is refreshed for the
   others;
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
from alsig.errors import AlsigError, name_some
from alsig.ops.config import (
    check_base_config,
    geo_overrides,
    load_base_config,
    reprocess_settings,
)
from alsig.ops.curation import queue_series, recurate_processed
from alsig.ops.downloads import check_server_files, data_sha256
from alsig.ops.lock import LockedError, run_lock
from alsig.ops.platforms import choose_platforms
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
from alsig.ops.unexpected import unexpected_error
from alsig.ops.workflow import Failures, Interrupted, Workflow, find_failures, stop_on_signals
from alsig.planning import release_datasets
from alsig.settings import output_dir_of
from alsig.sources.eutils import EUtils, discover_series
from alsig.validation.suggest import did_you_mean

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
    "curation_failures",
    "eutils_client",
    "forced_accessions",
    "record_outcomes",
    "reprocess",
    "search_warnings",
    "shared_sample_warnings",
]

REPO = Path(__file__).resolve().parents[3]  # the checkout (src/alsig/ops/ -> .)
#: the ingest output of a dataset (data contract); forced for series that changed on GEO
INGEST_OUTPUT = "{output_dir}/{dataset}/counts.h5ad"


class UsageError(AlsigError):
    """A command-line argument the run cannot act on (exit :data:`EXIT_USAGE`)."""


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
        #: what every curation step reads: the config's datasets, reprocess and geo settings
        self.curation_inputs: dict[str, Any] = {
            "overrides": self.overrides,
            "settings": self.settings,
            "geo": self.geo,
            "cache_dir": self.cache_dir,
        }
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
                    return self._stopped(str(exc), "interrupted", exc.exit_code)
                except AlsigError as exc:  # a registry or config this run cannot use
                    return self._stopped(str(exc), "config_error", EXIT_USAGE)
                except Exception as exc:  # a bug: one line here, the traceback in a file
                    trace = self.state / "logs" / f"{self.run_id}.traceback.log"
                    return self._stopped(
                        unexpected_error(exc, trace), "error", EXIT_DATASETS_FAILED
                    )
                except BaseException as exc:  # record, then let it propagate (killed runs too)
                    self.summary.error = f"{type(exc).__name__}: {exc}"
                    with contextlib.suppress(Exception):
                        self.summary.write(self.state, "error", EXIT_DATASETS_FAILED)
                    raise
        # without the lock, last_run.json is the holder's: only this run's own record is written
        except LockedError as exc:
            return self._stopped(str(exc), "locked", EXIT_LOCKED, last=False)
        except Interrupted as exc:  # while waiting for the lock
            return self._stopped(str(exc), "interrupted", exc.exit_code, last=False)

    def _stopped(self, message: str, status: str, code: int, *, last: bool = True) -> int:
        """Log ``message`` (one line), record it in the summary and return ``code``.

        ``last``: also as ``last_run.json`` (not when another run holds the lock).
        """
        log.error("%s", message)
        self.summary.error = message
        with contextlib.suppress(Exception):  # the summary's disk may be what failed
            self.summary.write(self.state, status, code, last=last)
        return code

    def _run_locked(self) -> int:
        registry = Registry.load(self.state / "registry.tsv")
        try:
            observation = self._discover(registry)
        except UsageError as exc:  # nothing saved yet: the registry is as it was
            return self._stopped(str(exc), "config_error", EXIT_USAGE)
        if observation is None:
            return EXIT_DISCOVERY
        start = time.monotonic()
        status_before = {a: e.status for a, e in registry.entries.items()}
        self.summary.datasets["files_changed"] = check_server_files(
            registry, cache_dir=self.cache_dir, geo=self.geo
        )
        decided = choose_platforms(registry, skip=observation.shared, **self.curation_inputs)
        to_process = queue_series(
            registry, skip=set(observation.shared) | decided, **self.curation_inputs
        )
        recurated = recurate_processed(registry, **self.curation_inputs)
        for warning in recurated:
            log.warning("%s", warning)
        self.summary.warnings.extend(recurated)
        self.summary.timing("curation_check_seconds", start)
        not_curated = curation_failures(
            registry, status_before, to_process, retry_failed=self.settings["retry_failed"]
        )
        outcome = self._run_workflow(registry, to_process)
        processed, failed = record_outcomes(
            registry,
            to_process,
            outcome.failures.datasets,
            cache_dir=self.cache_dir,
            problem=outcome.failures.problem,
            curation_failed=not_curated,
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
            allow_shared=self.settings["allow_shared_samples"],
        )
        for accession in forced_accessions(self.options.force, registry, self.options.config):
            log.info("--force %s: processed again from its download on", accession)
            registry.set(accession, "new", "forced by --force")
            registry.entries[accession].stale_cache = True
        warnings = search_warnings(observation, registry, n_found=len(series))
        warnings += shared_sample_warnings(observation)
        for warning in warnings:
            log.warning("%s", warning)
        self.summary.record_discovery([s.accession for s in series], observation)
        self.summary.record_missing(
            {a: registry.entries[a].status for a in tracked_missing(observation, registry)},
            warnings,
        )
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
        failures = self._phase(config, "datasets", registry, forcerun)
        if failures.datasets and len(failures.datasets) < len(config["datasets"]):
            failed = {
                e.accession for e in registry.entries.values() if e.dataset in failures.datasets
            }
            config = self.configs.build(registry, include - failed)
            more = self._phase(config, "catalog_without_failed", registry)
            failures = Failures({**failures.datasets, **more.datasets}, more.problem)
        self.summary.timing("snakemake_seconds", start)
        if not failures.datasets and not failures.problem:
            record_success(self.state, self.configs.hash(config))
        return Outcome(True, failures)

    def _phase(
        self,
        config: dict[str, Any],
        phase: str,
        registry: Registry,
        forcerun: Sequence[str] = (),
    ) -> Failures:
        self._release_left_out(config, registry)
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

    def _release_left_out(self, config: Mapping[str, Any], registry: Registry) -> None:
        """Take the tracked series this run config leaves out out of the output folder's record.

        Excluded, needs-curation and failed series are left out on purpose; the workflow's
        output-folder check (:func:`alsig.planning.check_output_dir`) would otherwise take a
        run config that lacks every dataset the folder held (all of them excluded) for
        another run and refuse it. Datasets the registry does not track stay in the record.
        """
        left_out = {e.dataset for e in registry.entries.values()} - set(config["datasets"])
        released = release_datasets(str(self.workdir / output_dir_of(config)), left_out)
        if released:
            log.info(
                "not in this run (excluded, waiting for curation or failed): %s; the catalog "
                "is rebuilt without them",
                name_some(released),
            )


def record_outcomes(
    registry: Registry,
    to_process: set[str],
    failures: Mapping[str, str],
    *,
    cache_dir: Path,
    problem: str = "",
    curation_failed: Mapping[str, str] | None = None,
) -> tuple[list[str], dict[str, str]]:
    """Mark each series the run built ``processed`` and each it could not build ``failed``.

    A processed series records its data digest, a failed one the error. A series processed in an
    earlier run whose outputs this run could not build is marked ``failed`` too (it is retried
    like any failed series), unless the only error is the run's own ``problem`` (the DAG could
    not be built, so nothing is known of that series): then it stays ``processed``. Every failed
    series is named in the log with its error. The registry is saved.

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
    problem
        The error of the snakemake run as a whole (``Failures.problem``), or empty.
    curation_failed
        accession -> error of the series that failed before the workflow (their series matrix
        could not be downloaded or read; already ``failed`` in the registry).

    Returns
    -------
    processed : list of str
        Accessions, in accession order.
    failed : dict
        accession (or, for a dataset of the base config without a registry row, dataset) ->
        error, in accession order.
    """
    now = utc_now()
    processed: list[str] = []
    failed = dict(curation_failed or {})
    accession_of = {e.dataset: e.accession for e in registry.entries.values()}
    earlier: set[str] = set()
    for accession in sorted(to_process, key=_accession_order):
        entry = registry.entries[accession]
        if entry.dataset in failures:
            registry.set(accession, "failed", failures[entry.dataset])
            failed[accession] = failures[entry.dataset]
        else:
            digest = data_sha256(accession, cache_dir=cache_dir)
            registry.mark_processed(accession, data_sha256=digest, now=now)
            processed.append(accession)
    for dataset, error in failures.items():
        tracked = accession_of.get(dataset)
        if tracked is None:  # static (config) datasets have no registry row
            failed[dataset] = error
        elif tracked not in to_process and not (problem and error == problem):
            # processed in an earlier run, but this run could not rebuild its outputs
            registry.set(tracked, "failed", error)
            failed[tracked] = error
            earlier.add(tracked)
    failed = dict(sorted(failed.items(), key=lambda item: _accession_order(item[0])))
    for name, error in failed.items():
        note = " (processed in an earlier run; now marked failed)" if name in earlier else ""
        log.error("%s failed%s: %s", name, note, error)
    registry.save()
    return processed, failed


def _accession_order(accession: str) -> tuple[int, str]:
    """Sort key: GSE99 before GSE100."""
    return len(accession), accession


def curation_failures(
    registry: Registry,
    status_before: Mapping[str, str],
    to_process: set[str],
    *,
    retry_failed: bool,
) -> dict[str, str]:
    """Series that failed in this run's curation (series matrix not downloaded or read).

    Curation marks them ``failed`` and does not queue them. A series that was ``failed`` before
    the run failed again in it only when failed series are retried (``retry_failed``); else it
    was not looked at.

    Parameters
    ----------
    registry
        After curation (:func:`alsig.ops.curation.queue_series`).
    status_before
        accession -> status before curation.
    to_process
        The queued accessions.
    retry_failed
        ``reprocess.retry_failed``.

    Returns
    -------
    dict
        accession -> error.
    """
    return {
        accession: entry.reason
        for accession, entry in registry.entries.items()
        if entry.status == "failed"
        and accession not in to_process
        and (retry_failed or status_before.get(accession) != "failed")
    }


def forced_accessions(requested: Sequence[str], registry: Registry, config: Path) -> list[str]:
    """Return the registry accessions ``--force`` names.

    A spelling that differs only in letter case or spaces is taken as the registry's accession,
    with a warning.

    Parameters
    ----------
    requested
        The ``--force`` values.
    registry
        After this run's discovery.
    config
        The base config (named in the message about an excluded series).

    Returns
    -------
    list of str
        Accessions, in the order given, without repeats.

    Raises
    ------
    UsageError
        An accession the registry does not track (with the closest ones), or an excluded one
        (with how to release it).
    """
    known = sorted(registry.entries, key=_accession_order)
    by_folded = {a.casefold(): a for a in known}
    forced: list[str] = []
    problems = []
    for text in requested:
        accession = text if text in registry.entries else by_folded.get(text.strip().casefold())
        if accession is None:
            problems.append(f"'{text}' is not in the registry.{did_you_mean(text, known)}")
            continue
        if accession != text:
            log.warning("--force '%s': taken as %s (as the registry spells it)", text, accession)
        entry = registry.entries[accession]
        if entry.status == "excluded":
            problems.append(
                f"{accession} is excluded ('{entry.reason}'); remove it from reprocess.exclude "
                f"in {config} to process it again."
            )
        elif accession not in forced:
            forced.append(accession)
    if problems:
        tracked = name_some(known)
        raise UsageError(
            "--force: "
            + " ".join(problems)
            + f" The registry tracks {len(known)} series"
            + (f" ({tracked})" if known else "")
            + "; --force takes one of them (a series the search finds for the first time is "
            "processed without it). Nothing was changed."
        )
    return forced


def tracked_missing(observation: Observation, registry: Registry) -> list[str]:
    """Series the registry tracks (not excluded) that this discovery did not return."""
    return sorted(
        (a for a in observation.missing if registry.entries[a].status != "excluded"),
        key=_accession_order,
    )


def search_warnings(observation: Observation, registry: Registry, *, n_found: int) -> list[str]:
    """Warnings about tracked series the search no longer returns.

    Such series are kept as they are: a processed one stays processed and in the catalog, since
    a GEO search hiccup must not drop data. A search that returns none of the tracked series
    points at a broken ``reprocess.term`` or an NCBI hiccup, and gets its own warning.

    Parameters
    ----------
    observation
        This run's discovery merged into ``registry``.
    registry
        After the merge.
    n_found
        How many series the search returned.

    Returns
    -------
    list of str
        Empty when every tracked series was returned.
    """
    missing = tracked_missing(observation, registry)
    if not missing:
        return []
    returned = [
        a
        for a in observation.changed + observation.unchanged
        if registry.entries[a].status != "excluded"
    ]
    named = name_some(missing, show=lambda a: f"{a} ({registry.entries[a].status})")
    kept = (
        "kept as they are: a processed series stays processed and in the catalog (a GEO search "
        "hiccup must not drop data); to drop one, add it to reprocess.exclude"
    )
    if not returned:
        return [
            f"the search returned none of the {len(missing)} series the registry tracks "
            f"({n_found} series found in all): the search term (reprocess.term) is likely "
            f"broken, or NCBI had a hiccup. Not returned: {named}; {kept}."
        ]
    return [f"{len(missing)} tracked series no longer returned by the search: {named}; {kept}."]


def shared_sample_warnings(observation: Observation) -> list[str]:
    """Warnings about series held back, or processed anyway, for sharing samples with another.

    Parameters
    ----------
    observation
        This run's discovery merged into the registry (``shared``, ``shared_allowed``).

    Returns
    -------
    list of str
        One per series: a held one with its reason (``needs_curation``), then the allowed ones.
    """
    held = [
        f"{accession} not processed (needs_curation): {reason}"
        for accession, reason in sorted(
            observation.shared.items(), key=lambda item: _accession_order(item[0])
        )
    ]
    return held + list(observation.shared_allowed)


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
        print(f"alsig reprocess: {exc}", file=sys.stderr)  # one line (not logged too)
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
    series = discover_series(eutils_client(runner.settings, api_key), runner.settings["term"])
    rows = []
    for item in series:
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
    # in memory only (never saved): which tracked series the search no longer returns
    observation = registry.observe(
        series,
        exclude=runner.settings["exclude"],
        allow_shared=runner.settings["allow_shared_samples"],
    )
    warnings = search_warnings(observation, registry, n_found=len(series))
    for warning in warnings + shared_sample_warnings(observation):
        log.warning("%s", warning)
    return rows
