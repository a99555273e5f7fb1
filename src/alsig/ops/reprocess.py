"""Scheduled reprocessing: discover GEO series, update the registry, run the DAG for what changed.

One command (``alsig reprocess --config config/reprocess.yaml``), safe to run from cron/scrontab:

1. take an exclusive lock (``<state_dir>/reprocess.lock``, ``fcntl.flock``); a second run waits up
   to ``lock_timeout_seconds`` and otherwise exits with :data:`EXIT_LOCKED` and a message;
2. discover series with NCBI E-utilities (esearch + esummary); if that fails after retries the run
   exits with :data:`EXIT_DISCOVERY` and the registry is not touched;
3. merge them into the registry (new / changed / excluded), then for every series that needs work
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
A run killed at any point leaves the previous registry (atomic writes) and every finished output
(Snakemake's own bookkeeping) intact; the next run picks up every series not yet ``processed``.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from alsig.errors import AlsigError
from alsig.io import write_text
from alsig.ops.registry import Registry, utc_now
from alsig.sources.eutils import (
    DEFAULT_BASE_URL,
    DEFAULT_TERM,
    EUtils,
    SeriesSummary,
    discover_series,
)

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_DATASETS_FAILED = 1  # the run finished; at least one dataset (or the catalog) failed
EXIT_USAGE = 2  # unreadable config / bad settings
EXIT_DISCOVERY = 3  # E-utilities unreachable after retries; registry untouched
EXIT_LOCKED = 75  # another run holds the lock (EX_TEMPFAIL): try again at the next slot

REPO = Path(__file__).resolve().parents[3]  # the checkout (src/alsig/ops/ -> .)
#: the ingest output of a dataset (data contract); forced for series that changed on GEO
INGEST_OUTPUT = "results/{dataset}/counts.h5ad"
SUMMARY_VERSION = 1

DEFAULT_CONDITION = {
    # characteristic columns tried in order (alsig.sources.geo normalises "disease state" -> disease_state)
    "columns": [
        "disease_state",
        "disease",
        "diagnosis",
        "condition",
        "disease_status",
        "sample_group",
        "group",
    ],
    # first match wins: "other" and control patterns first so "non-ALS control" is a control
    "rules": [
        {"pattern": r"(?i)\bother\b", "condition": "other"},
        {
            "pattern": r"(?i)\b(control|healthy|normal|non[- ]?neurolog\w*|non[- ]?ALS|CTRL|HC)\b",
            "condition": "control",
        },
        {
            "pattern": r"(?i)\b(s?ALS|f?ALS|amyotrophic lateral sclerosis|ALS[- ]?\w*)\b",
            "condition": "ALS",
        },
    ],
}

DEFAULTS: dict[str, Any] = {
    "state_dir": "results/reprocess",
    "term": DEFAULT_TERM,
    "eutils_base_url": DEFAULT_BASE_URL,
    "api_key_env": "NCBI_API_KEY",
    "email": None,
    "requests_per_second": None,
    "timeout_seconds": 30,
    "retries": 5,
    "backoff_seconds": 2,
    "lock_timeout_seconds": 0,
    "targets": [],
    "cores": 2,
    "snakemake_args": [],
    "retry_failed": True,
    "default_condition": DEFAULT_CONDITION,
    "required_conditions": ["ALS", "control"],
    "min_samples_per_condition": 2,
    "exclude": {},
}
GEO_DEFAULTS = {
    "download_base_url": "https://www.ncbi.nlm.nih.gov/geo/download/",
    "series_base_url": "https://ftp.ncbi.nlm.nih.gov/geo/series/",
    "cache_dir": ".cache/alsig/geo",
    "timeout_seconds": 60,
    "retries": 5,
    "backoff_seconds": 2,
}


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------
def load_base_config(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise AlsigError(f"cannot read config '{path}': {exc}") from exc
    if not isinstance(config, dict):
        raise AlsigError(f"config '{path}' must be a mapping (YAML dict).")
    return config


def reprocess_settings(config: dict[str, Any]) -> dict[str, Any]:
    """``reprocess:`` section of the base config over :data:`DEFAULTS` (unknown keys refused)."""
    section = config.get("reprocess") or {}
    unknown = sorted(set(section) - set(DEFAULTS))
    if unknown:
        raise AlsigError(
            f"config key reprocess: unknown key(s) {unknown}; allowed keys: {sorted(DEFAULTS)}"
        )
    settings = {**copy.deepcopy(DEFAULTS), **copy.deepcopy(section)}
    settings["default_condition"] = {
        **DEFAULT_CONDITION,
        **(section.get("default_condition") or {}),
    }
    for i, rule in enumerate(settings["default_condition"]["rules"]):
        try:
            re.compile(rule["pattern"])
        except (re.error, KeyError, TypeError) as exc:
            raise AlsigError(
                f"config key reprocess.default_condition.rules[{i}]: {rule!r} is not a "
                f"{{pattern, condition}} with a valid regular expression ({exc})."
            ) from exc
    exclude = settings["exclude"]
    if isinstance(exclude, list):
        settings["exclude"] = {str(a): "excluded by the user" for a in exclude}
    return settings


def geo_settings(config: dict[str, Any]) -> dict[str, Any]:
    return {**GEO_DEFAULTS, **(config.get("geo") or {})}


def series_matrix_url(series_base_url: str, accession: str) -> str:
    """Same layout as ``geo_series_matrix_url`` in workflow/rules/common.smk."""
    folder = accession[:-3] + "nnn" if len(accession) > 6 else "GSEnnn"
    return (
        f"{series_base_url.rstrip('/')}/{folder}/{accession}/matrix/"
        f"{accession}_series_matrix.txt.gz"
    )


# --------------------------------------------------------------------------------------------
# Lock
# --------------------------------------------------------------------------------------------
class LockedError(AlsigError):
    """Another reprocess run holds the lock."""


@contextlib.contextmanager
def run_lock(path: str | Path, timeout: float = 0.0, poll: float = 0.2) -> Iterator[int]:
    """Hold an exclusive ``flock`` on ``path`` for the block; wait up to ``timeout`` seconds.

    The kernel releases the lock when the process dies, so a killed run never leaves a stale lock.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")  # noqa: SIM115 (held for the whole block)
    deadline = time.monotonic() + max(0.0, timeout)
    try:
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "unknown process"
                    raise LockedError(
                        f"another reprocess run holds the lock {path} ({holder}); waited "
                        f"{timeout:g}s. Nothing was changed; the next scheduled run will retry."
                    ) from None
                time.sleep(poll)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {utc_now()}\n")
        handle.flush()
        yield handle.fileno()
    finally:
        handle.close()  # releases the flock


# --------------------------------------------------------------------------------------------
# Conditions (before any snakemake job)
# --------------------------------------------------------------------------------------------
#: series-matrix columns (alsig.sources.geo key normalisation) used for ingest's canonical obs columns
SAMPLE_COLUMNS = {
    "sex": ("sex", "gender"),
    "subject": ("subject_id", "individual", "donor_id", "patient_id", "subject"),
    "region": ("tissue", "cns_subregion", "brain_region", "region", "tissue_type"),
    "batch": ("batch", "sequencing_batch", "library_batch"),
}


def detect_sample_columns(columns: list[str]) -> dict[str, str]:
    """Canonical obs column -> series-matrix column, for the first known name present."""
    found = {}
    for canonical, names in SAMPLE_COLUMNS.items():
        match = next((n for n in names if n in columns), None)
        if match:
            found[canonical] = match
    return found


def encode_columns(columns: dict[str, str]) -> str:
    return ";".join(f"{k}={v}" for k, v in columns.items())


def decode_columns(text: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in text.split(";") if "=" in item)


@dataclass
class CurationResult:
    ok: bool
    column: str = ""
    reason: str = ""
    conditions: dict[str, int] = field(default_factory=dict)


def check_conditions(
    sheet,
    *,
    dataset: str,
    source: str,
    override: dict[str, Any] | None,
    default_condition: dict[str, Any],
    required_conditions: list[str],
    min_samples: int,
) -> CurationResult:
    """Resolve conditions as ingest will (``alsig.stages.ingest.resolve_conditions``).

    With a config override for the dataset its ``condition`` is used as is (the user curated it).
    Otherwise each default column present in the series is tried with the default rules; the
    first that resolves every sample and has ``min_samples`` of each required condition wins.
    """
    from alsig.stages.ingest import resolve_conditions, series_matrix_settings

    def counts(labels: list[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        for label in labels:
            out[label] = out.get(label, 0) + 1
        return out

    if override is not None:
        condition = override.get("condition") or {}
        column = condition.get("column", "condition")
        if condition.get("column"):  # "sample group" as written in GEO -> sample_group
            column = series_matrix_settings(override, sheet.columns)["condition"]["column"]
        try:
            labels = resolve_conditions(
                sheet,
                sample_column="sample",
                condition_column=column,
                rules=condition.get("rules"),
                dataset=dataset,
                source=source,
            )
        except AlsigError as exc:
            return CurationResult(False, column, str(exc))
        return CurationResult(True, column, "", counts(labels))

    tried = []
    for column in default_condition["columns"]:
        if column not in sheet.columns:
            continue
        try:
            labels = resolve_conditions(
                sheet,
                sample_column="sample",
                condition_column=column,
                rules=default_condition["rules"],
                dataset=dataset,
                source=source,
            )
        except AlsigError as exc:
            message = str(exc).split(". Add a rule")[0].removeprefix(f"dataset '{dataset}': ")
            tried.append(f"'{column}': {message}")
            continue
        found = counts(labels)
        short = [c for c in required_conditions if found.get(c, 0) < min_samples]
        if short:
            tried.append(
                f"'{column}': resolved {found} but needs >= {min_samples} samples of each of "
                f"{required_conditions}"
            )
            continue
        return CurationResult(True, column, "", found)
    if not tried:
        tried.append(
            f"none of the condition columns {default_condition['columns']} is in the series "
            f"(columns: {list(sheet.columns)})"
        )
    reason = (
        "conditions not resolved by reprocess.default_condition: "
        + "; ".join(tried)
        + f". Add datasets.{dataset} (source: geo, accession, condition.column/rules) to the config."
    )
    return CurationResult(False, "", reason)


# --------------------------------------------------------------------------------------------
# Snakemake
# --------------------------------------------------------------------------------------------
@dataclass
class SnakemakeRun:
    returncode: int
    seconds: float
    log: Path
    command: list[str]


def snakemake_command(
    snakefile: Path, workdir: Path, config_path: Path, cores: int, args: list[str], targets
) -> list[str]:
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
    still holds the reprocess lock and no second run can start beside it. SIGTERM/SIGHUP (cron
    or Slurm stopping the run) are forwarded so snakemake stops its jobs and cleans up.
    """
    import signal

    log_path.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    log.info("running: %s (log %s)", " ".join(command), log_path)
    with open(log_path, "a") as handle:
        handle.write(f"\n$ {' '.join(command)}\n")
        handle.flush()
        proc = subprocess.Popen(
            command, stdout=handle, stderr=subprocess.STDOUT, cwd=cwd, pass_fds=keep_fds
        )
        forwarded = {}

        def forward(signum, _frame):
            proc.send_signal(signum)

        for signum in (signal.SIGTERM, signal.SIGHUP):
            with contextlib.suppress(ValueError):  # not the main thread: no handlers
                forwarded[signum] = signal.signal(signum, forward)
        try:
            returncode = proc.wait()
        finally:
            for signum, previous in forwarded.items():
                signal.signal(signum, previous)
    return SnakemakeRun(returncode, round(time.monotonic() - start, 3), log_path, command)


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


def _tail(path: Path, limit: int = 400) -> str:
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    errors = [ln for ln in lines if "Error" in ln]  # rule_runner logs the AlsigError last
    return (errors or lines or [""])[-1].strip()[:limit]


def dataset_of(path: str, datasets: dict[str, dict[str, Any]], cache_dir: str) -> str | None:
    """Which dataset an output path belongs to (results/<id>/..., or <cache>/<accession>/...)."""
    parts = Path(path).parts
    if len(parts) >= 3 and parts[0] == "results" and parts[1] in datasets:
        return parts[1]
    cache_parts = Path(cache_dir).parts
    if parts[: len(cache_parts)] == cache_parts and len(parts) > len(cache_parts) + 1:
        accession = parts[len(cache_parts)]
        for dataset, settings in datasets.items():
            if settings.get("accession") == accession:
                return dataset
    return None


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------
@dataclass
class Options:
    config: Path
    workdir: Path = Path(".")
    snakefile: Path = REPO / "workflow" / "Snakefile"
    api_key: str | None = None
    lock_timeout: float | None = None
    targets: list[str] | None = None
    cores: int | None = None
    snakemake_args: list[str] = field(default_factory=list)
    force: list[str] = field(default_factory=list)


def _hash(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


class Reprocess:
    """One reprocessing run; :meth:`run` returns the exit code and writes the summary."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.workdir = options.workdir.resolve()
        self.base = load_base_config(options.config)
        self.settings = reprocess_settings(self.base)
        self.geo = geo_settings(self.base)
        self.state = self.workdir / self.settings["state_dir"]
        self._validate_base()
        self.run_id = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + f"-{os.getpid()}"
        self.started = time.monotonic()
        self._lock_fds: tuple[int, ...] = ()
        self.summary: dict[str, Any] = {
            "schema_version": SUMMARY_VERSION,
            "run_id": self.run_id,
            "started_at": utc_now(),
            "status": "running",
            "exit_code": None,
            "counts": {},
            "datasets": {},
            "snakemake": [],
            "timings": {},
            "registry": str(self.state / "registry.tsv"),
        }

    # ------------------------------------------------------------ helpers
    def _validate_base(self) -> None:
        """The workflow part of the base config against the workflow's schema (before any change).

        A problem here would make every snakemake run fail, so it is a usage error (exit 2).
        """
        from alsig.settings import check_config, schema_errors

        probe = {k: v for k, v in self.base.items() if k != "reprocess"}
        placeholder = {"source": "geo", "accession": "GSE1", "condition": {"column": "c"}}
        probe["datasets"] = probe.get("datasets") or {"placeholder": placeholder}
        problems = schema_errors(probe)
        if not problems:
            try:
                check_config(probe, workdir=self.workdir)
            except AlsigError as exc:
                problems = [str(exc)]
        if problems:
            raise AlsigError(
                f"config '{self.options.config}' is not valid for the workflow:\n  "
                + "\n  ".join(problems)
            )

    def _timing(self, name: str, start: float) -> None:
        self.summary["timings"][name] = round(time.monotonic() - start, 3)

    def write_summary(self, status: str, code: int, *, last: bool = True) -> Path:
        self.summary["status"] = status
        self.summary["exit_code"] = code
        self.summary["finished_at"] = utc_now()
        self._timing("total_seconds", self.started)
        text = json.dumps(self.summary, indent=2, sort_keys=False) + "\n"
        path = self.state / "runs" / f"{self.run_id}.json"
        write_text(text, path)
        if last:
            write_text(text, self.state / "last_run.json")
        return path

    def _client(self) -> EUtils:
        s = self.settings
        key = self.options.api_key or os.environ.get(s["api_key_env"] or "", "") or None
        return EUtils(
            s["eutils_base_url"],
            api_key=key,
            email=s["email"],
            timeout=s["timeout_seconds"],
            retries=s["retries"],
            backoff=s["backoff_seconds"],
            requests_per_second=s["requests_per_second"],
        )

    def _overrides(self) -> dict[str, tuple[str, dict[str, Any]]]:
        """accession -> (dataset id, settings) for GEO datasets the base config defines."""
        out = {}
        for dataset, settings in (self.base.get("datasets") or {}).items():
            if (settings or {}).get("source") == "geo" and settings.get("accession"):
                out[settings["accession"]] = (dataset, settings)
        return out

    def _cache_files(self, accession: str) -> list[Path]:
        folders = [
            self.workdir / self.geo["cache_dir"] / accession,
            self.state / "series_matrix" / accession,
        ]
        return [p for folder in folders if folder.is_dir() for p in folder.iterdir()]

    def _data_sha256(self, accession: str) -> str:
        """sha256 over the downloader's sidecars (counts + series matrix) of a processed series."""
        folder = self.workdir / self.geo["cache_dir"] / accession
        digests = []
        for sidecar in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            with contextlib.suppress(OSError, ValueError):
                digests.append(f"{sidecar.name}:{json.loads(sidecar.read_text()).get('sha256')}")
        return hashlib.sha256("\n".join(digests).encode()).hexdigest() if digests else ""

    def _dataset_settings(self, entry, overrides) -> dict[str, Any]:
        if entry.accession in overrides:
            return copy.deepcopy(overrides[entry.accession][1])
        settings = {
            "description": f"{entry.accession}: {entry.title}"[:300],
            "source": "geo",
            "accession": entry.accession,
            "condition": {
                "column": entry.condition_column,
                "rules": copy.deepcopy(self.settings["default_condition"]["rules"]),
            },
        }
        columns = decode_columns(entry.sample_columns)
        if columns:
            settings["columns"] = columns
        return settings

    def build_run_config(self, registry: Registry, include: set[str]) -> dict[str, Any]:
        """Base config (without ``reprocess``) with datasets = static + ``include`` accessions."""
        config = {k: copy.deepcopy(v) for k, v in self.base.items() if k != "reprocess"}
        overrides = self._overrides()
        tracked = set(registry.entries)
        datasets = {
            name: copy.deepcopy(s)
            for name, s in (self.base.get("datasets") or {}).items()
            if not ((s or {}).get("source") == "geo" and s.get("accession") in tracked)
        }
        for accession in sorted(include, key=lambda a: (len(a), a)):
            entry = registry.entries[accession]
            datasets[entry.dataset] = self._dataset_settings(entry, overrides)
        config["datasets"] = datasets
        return config

    def _targets(self, datasets: dict[str, Any]) -> list[str]:
        targets = self.options.targets if self.options.targets is not None else None
        targets = targets if targets is not None else list(self.settings["targets"] or [])
        out: list[str] = []
        for target in targets:
            if "{dataset}" in target:
                out.extend(target.format(dataset=d) for d in datasets)
            else:
                out.append(target)
        return out

    def _snakemake(
        self, config: dict[str, Any], phase: str, forcerun: list[str] = ()
    ) -> tuple[SnakemakeRun, list[str]]:
        config_path = self.state / "run_config.yaml"
        write_text(yaml.safe_dump(config, sort_keys=False), config_path)
        forced = [f for f in forcerun if Path(f).parts[1] in config["datasets"]]
        args = [
            *(["--forcerun", *forced] if forced else []),
            "--keep-going",
            "--rerun-incomplete",
            *self.settings["snakemake_args"],
            *self.options.snakemake_args,
        ]
        cores = self.options.cores or self.settings["cores"]
        command = snakemake_command(
            self.options.snakefile.resolve(),
            self.workdir,
            config_path,
            cores,
            args,
            self._targets(config["datasets"]),
        )
        log_path = self.state / "logs" / f"{self.run_id}.snakemake.log"
        result = run_snakemake(command, log_path, self.workdir, self._lock_fds)
        text = log_path.read_text(errors="replace")
        if result.returncode != 0 and "LockException" in text.split(f"$ {' '.join(command)}")[-1]:
            # A killed earlier run left snakemake's directory lock; we hold our own flock, so no
            # other reprocess run is using this directory.
            log.warning("removing a stale snakemake lock in %s", self.workdir)
            subprocess.run([*command, "--unlock"], capture_output=True, cwd=self.workdir)
            result = run_snakemake(command, log_path, self.workdir, self._lock_fds)
        self.summary["snakemake"].append(
            {
                "phase": phase,
                "returncode": result.returncode,
                "seconds": result.seconds,
                "log": str(log_path),
                "datasets": sorted(config["datasets"]),
                "targets": self._targets(config["datasets"]) or ["(default target)"],
            }
        )
        return result, command

    def _failures(
        self, result: SnakemakeRun, command: list[str], datasets: dict[str, Any]
    ) -> tuple[dict[str, str], str]:
        """dataset -> error for datasets with pending outputs; plus a global error if any."""
        if result.returncode == 0:
            return {}, ""
        text = result.log.read_text(errors="replace").split(f"$ {' '.join(command)}")[-1]
        failures: dict[str, str] = {}
        for error in rule_errors(text):
            for path in error["output"] + error["log"]:
                dataset = dataset_of(path, datasets, self.geo["cache_dir"])
                if dataset and dataset not in failures:
                    logs = [self.workdir / p for p in error["log"]]
                    detail = next((t for t in (_tail(p) for p in logs) if t), "")
                    failures[dataset] = (
                        f"rule {error['rule']} failed (log: {', '.join(error['log']) or 'none'})"
                        + (f": {detail}" if detail else "")
                    )
        pending = pending_outputs(without_forcerun(command), self.workdir)
        if pending is None:  # the DAG itself cannot be built: every dataset of the run failed
            problem = f"snakemake failed (exit {result.returncode}); see {result.log}"
            return {d: failures.get(d, problem) for d in datasets}, problem
        for row in pending:
            dataset = dataset_of(row["output_file"], datasets, self.geo["cache_dir"])
            if dataset and dataset not in failures:
                failures[dataset] = (
                    f"output {row['output_file']} (rule {row.get('rule')}) not built; "
                    f"see {result.log}"
                )
        global_pending = [
            r["output_file"]
            for r in pending
            if not dataset_of(r["output_file"], datasets, self.geo["cache_dir"])
        ]
        problem = ""
        if global_pending or not failures:
            problem = (
                f"snakemake failed (exit {result.returncode}); outputs not built: "
                f"{global_pending[:5]}; see {result.log}"
            )
        return failures, problem

    # ------------------------------------------------------------ main
    def run(self) -> int:
        try:
            waited = time.monotonic()
            with run_lock(self.state / "reprocess.lock", self._lock_timeout()) as lock_fd:
                self._lock_fds = (lock_fd,)
                self._timing("lock_wait_seconds", waited)
                try:
                    return self._run_locked()
                except BaseException as exc:  # record, then let it propagate (killed runs too)
                    self.summary["error"] = f"{type(exc).__name__}: {exc}"
                    with contextlib.suppress(Exception):
                        self.write_summary("error", EXIT_DATASETS_FAILED)
                    raise
        except LockedError as exc:
            log.error("%s", exc)
            self.summary["error"] = str(exc)
            self.write_summary("locked", EXIT_LOCKED, last=False)
            return EXIT_LOCKED

    def _lock_timeout(self) -> float:
        if self.options.lock_timeout is not None:
            return self.options.lock_timeout
        return float(self.settings["lock_timeout_seconds"])

    def _run_locked(self) -> int:
        registry = Registry.load(self.state / "registry.tsv")
        overrides = self._overrides()
        start = time.monotonic()
        try:
            series = discover_series(self._client(), self.settings["term"])
        except AlsigError as exc:
            log.error("discovery failed: %s", exc)
            self.summary["error"] = f"discovery failed: {exc}"
            self._timing("discover_seconds", start)
            self.write_summary("discovery_failed", EXIT_DISCOVERY)
            return EXIT_DISCOVERY
        self._timing("discover_seconds", start)
        observation = registry.observe(
            series,
            exclude=self.settings["exclude"],
            dataset_ids={acc: ds for acc, (ds, _) in overrides.items()},
        )
        by_accession: dict[str, SeriesSummary] = {s.accession: s for s in series}
        for accession in self.options.force:
            if accession in registry.entries and registry.entries[accession].status != "excluded":
                registry.set(accession, "new", "forced by --force")
                registry.entries[accession].stale_cache = True

        # which series need work
        wanted = {"new", "needs_curation"} | (
            {"failed"} if self.settings["retry_failed"] else set()
        )
        candidates = [e for e in registry.entries.values() if e.status in wanted]
        start = time.monotonic()
        to_process: set[str] = set()
        for entry in candidates:
            if entry.stale_cache:  # changed on GEO (or --force): drop the cached downloads
                for path in self._cache_files(entry.accession):
                    path.unlink(missing_ok=True)
            verdict = self._curate(entry, overrides)
            if verdict is None:
                continue
            if verdict.ok:
                entry.condition_column = verdict.column
                if entry.status != "new":
                    registry.set(entry.accession, "new", f"queued (was {entry.status})")
                to_process.add(entry.accession)
            else:
                registry.set(entry.accession, "needs_curation", verdict.reason)
        self._timing("curation_check_seconds", start)
        registry.save()

        processed_before = {e.accession for e in registry.with_status("processed")}
        include = processed_before | to_process
        config = self.build_run_config(registry, include)
        config_hash = _hash({"config": config, "targets": self._targets(config["datasets"])})
        last = self._last_success()
        self.summary["datasets"] = {
            "discovered": sorted(by_accession),
            "new": observation.new,
            "changed": observation.changed,
            "unchanged": observation.unchanged,
            "to_process": sorted(to_process),
        }
        failures: dict[str, str] = {}
        problem = ""
        ran = False
        if not config["datasets"]:
            log.info("no dataset to run")
        elif not to_process and last == config_hash:
            log.info("nothing new or changed: no snakemake job")
        else:
            ran = True
            start = time.monotonic()
            # Snakemake does not rebuild missing intermediate files (the dropped downloads) when
            # the outputs exist, so changed/forced series rerun from ingest on.
            forcerun = [
                INGEST_OUTPUT.format(dataset=registry.entries[a].dataset)
                for a in sorted(to_process)
                if registry.entries[a].stale_cache
            ]
            result, command = self._snakemake(config, "datasets", forcerun)
            failures, problem = self._failures(result, command, config["datasets"])
            if failures and len(failures) < len(config["datasets"]):
                # refresh the catalog (default target) without the failed datasets
                failed_acc = {
                    e.accession for e in registry.entries.values() if e.dataset in failures
                }
                config = self.build_run_config(registry, include - failed_acc)
                result, command = self._snakemake(config, "catalog_without_failed")
                more, problem = self._failures(result, command, config["datasets"])
                failures.update(more)
            config_hash = _hash({"config": config, "targets": self._targets(config["datasets"])})
            self._timing("snakemake_seconds", start)
            if not failures and not problem:
                write_text(json.dumps({"run_config_sha256": config_hash}), self._last_path())

        # record outcomes
        now = utc_now()
        processed, failed = [], {}
        for accession in sorted(to_process, key=lambda a: (len(a), a)):
            entry = registry.entries[accession]
            if entry.dataset in failures:
                registry.set(accession, "failed", failures[entry.dataset])
                failed[accession] = failures[entry.dataset]
            else:
                registry.mark_processed(
                    accession, data_sha256=self._data_sha256(accession), now=now
                )
                processed.append(accession)
        for dataset, error in failures.items():  # static (config) datasets have no registry row
            if not any(e.dataset == dataset for e in registry.entries.values()):
                failed[dataset] = error
        registry.save()

        curation = {e.accession: e.reason for e in registry.with_status("needs_curation")}
        self.summary["datasets"].update(
            processed=processed,
            failed=failed,
            needs_curation=curation,
            excluded={e.accession: e.reason for e in registry.with_status("excluded")},
        )
        self.summary["counts"] = {
            "discovered": len(by_accession),
            "new": len(observation.new),
            "changed": len(observation.changed),
            "unchanged": len(observation.unchanged),
            "processed": len(processed),
            "failed": len(failed),
            "needs_curation": len(curation),
            "registry": registry.counts(),
        }
        if problem:
            self.summary["error"] = problem
        if failed or problem:
            status, code = "failed", EXIT_DATASETS_FAILED
        elif not ran:
            status, code = "nothing_to_do", EXIT_OK
        else:
            status, code = "ok", EXIT_OK
        self.summary["snakemake_ran"] = ran
        path = self.write_summary(status, code)
        log.info(
            "reprocess %s: %s; processed %d, failed %d, needs curation %d (summary %s)",
            self.run_id,
            status,
            len(processed),
            len(failed),
            len(curation),
            path,
        )
        return code

    def _curate(self, entry, overrides) -> CurationResult | None:
        """Download the series matrix and check conditions; None if the download failed."""
        from alsig.sources.download import fetch
        from alsig.sources.geo import read_series_matrix

        geo = self.geo
        url = series_matrix_url(geo["series_base_url"], entry.accession)
        dest = self.state / "series_matrix" / entry.accession / Path(url).name
        try:
            fetch(
                url,
                dest,
                timeout=geo["timeout_seconds"],
                retries=geo["retries"],
                backoff=geo["backoff_seconds"],
            )
            sheet = read_series_matrix(dest)
        except AlsigError as exc:
            entry.status, entry.reason = "failed", f"series matrix: {exc}"
            return None
        override = overrides.get(entry.accession, (None, None))[1]
        entry.sample_columns = encode_columns(detect_sample_columns(list(sheet.columns)))
        return check_conditions(
            sheet,
            dataset=entry.dataset,
            source=str(dest),
            override=override,
            default_condition=self.settings["default_condition"],
            required_conditions=list(self.settings["required_conditions"]),
            min_samples=int(self.settings["min_samples_per_condition"]),
        )

    def _last_path(self) -> Path:
        return self.state / "last_success.json"

    def _last_success(self) -> str | None:
        with contextlib.suppress(OSError, ValueError):
            return json.loads(self._last_path().read_text()).get("run_config_sha256")
        return None


def reprocess(options: Options) -> int:
    """Run one reprocessing pass; returns the process exit code (see ``EXIT_*``)."""
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
    """Discovery without side effects: series + their registry status (for ``alsig discover``)."""
    runner = Reprocess(Options(config=Path(config_path), api_key=api_key, workdir=Path(workdir)))
    registry = Registry.load(runner.state / "registry.tsv")
    rows = []
    for item in discover_series(runner._client(), runner.settings["term"]):
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
