"""Curation before any snakemake job.

Can ingest resolve a series' conditions, and which of its series-matrix columns give the canonical
obs fields?.

A series whose conditions the rules cannot resolve becomes ``needs_curation`` with the reason, so
the workflow never sees a dataset it would fail on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from alsig.errors import AlsigError, name_some, where
from alsig.ops.downloads import fetch_series_matrix, refresh_cached
from alsig.ops.in_vitro import in_vitro_evidence
from alsig.ops.registry import Entry, Registry
from alsig.sources.geo import read_series_matrix
from alsig.stages.ingest.geo import series_matrix_layout
from alsig.stages.ingest.samples import condition_map, label_values, resolve_conditions
from alsig.validation import clean_sheet

log = logging.getLogger(__name__)

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
    """``{"sex": "sex", "subject": "donor"}`` -> ``sex=sex;subject=donor`` (a registry cell)."""
    return ";".join(f"{k}={v}" for k, v in columns.items())


def decode_columns(text: str) -> dict[str, str]:
    """Return the inverse of :func:`encode_columns`."""
    return dict(item.split("=", 1) for item in text.split(";") if "=" in item)


@dataclass
class CurationResult:
    """Whether a series' conditions resolve: the column used, or the reason they do not.

    ``labels`` is what the rules made of each distinct value of ``column``
    (:func:`alsig.stages.ingest.samples.condition_map`), for the registry and the log.
    """

    ok: bool
    column: str = ""
    reason: str = ""
    conditions: dict[str, int] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)


#: a value that names ALS without being one of its spellings ("ALS mimic", "non-ALS disease")
_MENTIONS_ALS = re.compile(r"(?i)\bALS\b|amyotrophic")
#: distinct values written out as rules in a reason's config example
_RULES_SHOWN = 10


@dataclass(frozen=True)
class ColumnLabels:
    """The labels a set of rules gives the samples of one series-matrix column.

    Parameters
    ----------
    column
        The column.
    samples, values, labels
        One per sample: its GSM, its value in ``column`` and its label (None: no rule matches).
    """

    column: str
    samples: list[str]
    values: list[str]
    labels: list[str | None]

    @classmethod
    def of(
        cls, sheet: pl.DataFrame, column: str, rules: list[dict[str, str]] | None
    ) -> ColumnLabels:
        """Label ``sheet[column]`` by ``rules`` (:func:`label_values`)."""
        values = sheet.get_column(column).cast(pl.String).fill_null("").to_list()
        samples = [str(s) for s in sheet.get_column("sample").to_list()]
        return cls(column, samples, values, label_values(values, rules))

    @property
    def found(self) -> dict[str, int]:
        """Samples per label (unresolved samples left out)."""
        return dict(Counter(label for label in self.labels if label is not None))

    @property
    def unresolved(self) -> dict[str, list[str]]:
        """Value -> the samples that have it, for the values no rule matches."""
        out: dict[str, list[str]] = {}
        for sample, value, label in zip(self.samples, self.values, self.labels, strict=True):
            if label is None:
                out.setdefault(value, []).append(sample)
        return out

    def short_of(self, required: list[str], min_samples: int) -> list[str]:
        """Return the required labels with fewer than ``min_samples`` samples."""
        return [c for c in required if self.found.get(c, 0) < min_samples]

    def mapping(self, *, resolved_only: bool = False) -> list[str]:
        """Return the value -> label record (:func:`condition_map`)."""
        pairs = [
            (v, label)
            for v, label in zip(self.values, self.labels, strict=True)
            if label is not None or not resolved_only
        ]
        return condition_map([v for v, _ in pairs], [label for _, label in pairs])

    def dataset_entry(self, dataset: str) -> str:
        """Return a ``datasets.<id>`` entry (YAML) with one rule per value; 'other' if unknown."""
        pairs = dict.fromkeys(zip(self.values, self.labels, strict=True))
        rules = [
            {"pattern": f"^{_literal(value)}$", "condition": label or "other"}
            for value, label in list(pairs)[:_RULES_SHOWN]
        ]
        entry = {"source": "geo", "accession": dataset}
        condition = {"column": self.column, "rules": rules}
        text = yaml.safe_dump(
            {"datasets": {dataset: {**entry, "condition": condition}}},
            default_flow_style=True,
            sort_keys=False,
            width=1_000_000,
        ).strip()
        more = len(pairs) - _RULES_SHOWN
        return f"{text} (and a rule for each of the {more} other values)" if more > 0 else text


def _literal(value: str) -> str:
    """``value`` as a regex matching itself (readable: only regex syntax is escaped)."""
    return re.sub(r"([.^$*+?{}\[\]\\|()])", r"\\\1", value)


def check_conditions(
    sheet: pl.DataFrame,
    *,
    dataset: str,
    source: str,
    override: Mapping[str, Any] | None,
    default_condition: Mapping[str, Any],
    required_conditions: list[str],
    min_samples: int,
) -> CurationResult:
    """Resolve conditions as ingest will (:func:`alsig.stages.ingest.samples.resolve_conditions`).

    With a config override for the dataset its ``condition`` is used as is (the user curated
    it), and must still give ``min_samples`` of each condition its DE contrasts compare.
    Otherwise a series whose samples are an in vitro model
    (:func:`alsig.ops.in_vitro.in_vitro_evidence`) is not taken, and each default column present
    in the series is tried with the default rules; the first that resolves every sample and has
    ``min_samples`` of each required condition wins. A refusal's reason names the values, their
    samples and the config that fixes it.

    Parameters
    ----------
    sheet
        The series matrix's sample sheet.
    dataset, source
        For the messages (dataset id, series-matrix file).
    override
        The dataset's entry of the base config, or None.
    default_condition
        ``reprocess.default_condition`` (``columns``, ``rules``).
    required_conditions, min_samples
        What a resolution must yield (an override with its own ``de.contrasts``: the
        conditions those compare).

    Returns
    -------
    CurationResult
    """
    if override is not None:
        return _check_override(
            sheet,
            override,
            dataset=dataset,
            source=source,
            required_conditions=required_conditions,
            min_samples=min_samples,
        )
    return _check_defaults(
        sheet,
        dataset=dataset,
        default_condition=default_condition,
        required_conditions=required_conditions,
        min_samples=min_samples,
    )


def _check_defaults(
    sheet: pl.DataFrame,
    *,
    dataset: str,
    default_condition: Mapping[str, Any],
    required_conditions: list[str],
    min_samples: int,
) -> CurationResult:
    tried = [
        ColumnLabels.of(sheet, column, default_condition["rules"])
        for column in default_condition["columns"]
        if column in sheet.columns
    ]
    resolved = next(
        (t for t in tried if not t.unresolved and not t.short_of(required_conditions, min_samples)),
        None,
    )
    problems = _condition_problems(tried, required_conditions, min_samples)
    in_vitro = in_vitro_evidence(sheet)
    if in_vitro:  # whatever its labels: not a tissue cohort
        reason = _in_vitro_reason(dataset, in_vitro, tried, resolved, problems)
        return CurationResult(False, "", reason)
    if resolved is not None:
        return CurationResult(True, resolved.column, "", resolved.found, resolved.mapping())
    if not tried:
        return CurationResult(
            False,
            "",
            "conditions not resolved by reprocess.default_condition: none of the condition "
            f"columns {list(default_condition['columns'])} is in the series (columns: "
            f"{list(sheet.columns)}). Add datasets.{dataset} (source: geo, accession, "
            "condition.column/rules) to the config, or, if it has no ALS-vs-control "
            f"comparison, {_exclude(dataset)}.",
        )
    return CurationResult(False, "", _unresolved_reason(dataset, tried, problems))


def _exclude(dataset: str, why: str = "<why>") -> str:
    return f"reprocess: {{exclude: {{{dataset}: '{why}'}}}}"


def _in_vitro_reason(
    dataset: str,
    evidence: list[str],
    tried: list[ColumnLabels],
    resolved: ColumnLabels | None,
    problems: list[str],
) -> str:
    example = resolved or next((t for t in tried if t.unresolved), None)
    entry = (
        example.dataset_entry(dataset)
        if example is not None
        else f"{{datasets: {{{dataset}: {{source: geo, accession: {dataset}, condition: "
        "{column: <characteristic>, rules: [...]}}}}"
    )
    conditions = f" Its conditions need curation too: {'; '.join(problems)}." if problems else ""
    return (
        f"in vitro model ({'; '.join(evidence)}): the default run compares ALS with control "
        f"tissue and does not pool cell models with it.{conditions} Add it with "
        f"datasets.{dataset} if you want it (e.g. {entry}), or "
        f"{_exclude(dataset, 'in vitro model')}."
    )


def _condition_problems(
    tried: list[ColumnLabels], required_conditions: list[str], min_samples: int
) -> list[str]:
    """Return, per column tried, why it does not resolve (empty when one does)."""
    parts = []
    for attempt in tried:
        short = attempt.short_of(required_conditions, min_samples)
        if attempt.unresolved:
            parts.append(_unknown_values(attempt))
        elif short:
            parts.append(
                f"'{attempt.column}': every sample resolves ({name_some(attempt.mapping())}) "
                f"but {' and '.join(short)} {'has' if len(short) == 1 else 'have'} fewer than "
                f"{min_samples} samples: a DE contrast of {' vs '.join(required_conditions)} "
                f"needs >= {min_samples} samples of each"
            )
        else:
            return []
    return parts


def _unresolved_reason(dataset: str, tried: list[ColumnLabels], problems: list[str]) -> str:
    reason = "conditions not resolved by reprocess.default_condition: " + "; ".join(problems)
    with_values = next((t for t in tried if t.unresolved), None)
    if with_values is None:  # one-sided: no rule can give it the condition it lacks
        return (
            f"{reason}. It cannot be compared as it is: add {_exclude(dataset)} to the config "
            f"(a datasets.{dataset} entry would not help: DE needs both conditions)."
        )
    return (
        f"{reason}. Add datasets.{dataset} to the config with a rule for each value (condition "
        "ALS, control, or other to keep a sample out of the comparison), e.g. "
        f"{with_values.dataset_entry(dataset)}; or, if it has no ALS-vs-control comparison, "
        f"{_exclude(dataset)}."
    )


def _unknown_values(attempt: ColumnLabels) -> str:
    unknown = attempt.unresolved
    described = []
    for value, samples in unknown.items():
        shown = repr(value) if value else "(empty)"
        note = (
            "; names ALS but is no spelling of the disease" if _MENTIONS_ALS.search(value) else ""
        )
        described.append(f"{shown} ({name_some(samples, limit=5)}{note})")
    resolved = attempt.mapping(resolved_only=True)
    known = f"; the others resolve: {name_some(resolved)}" if resolved else ""
    return (
        f"'{attempt.column}': {sum(len(s) for s in unknown.values())} sample(s) have a value "
        f"the default rules do not take as ALS or control: {name_some(described)}{known}"
    )


def _check_override(
    sheet: pl.DataFrame,
    override: Mapping[str, Any],
    *,
    dataset: str,
    source: str,
    required_conditions: list[str],
    min_samples: int,
) -> CurationResult:
    layout = series_matrix_layout(override, sheet.columns)  # "sample group" -> sample_group
    try:
        resolve_conditions(
            sheet,
            sample_column="sample",
            condition_column=layout.condition_column,
            rules=layout.rules,
            dataset=dataset,
            source=source,
        )
    except AlsigError as exc:
        return CurationResult(False, layout.condition_column, str(exc))
    labels = ColumnLabels.of(sheet, layout.condition_column, layout.rules)
    compared = _compared_conditions(override, required_conditions)
    short = labels.short_of(compared, min_samples)
    if short:
        return CurationResult(
            False,
            layout.condition_column,
            f"datasets.{dataset}: its rules label {name_some(labels.mapping())}, so "
            f"{' and '.join(short)} {'has' if len(short) == 1 else 'have'} fewer than "
            f"{min_samples} samples, and DE compares {' vs '.join(compared)} (>= {min_samples} "
            f"samples of each): every run would fail in DE. Fix the rules of datasets.{dataset}"
            f".condition, or remove the entry and add "
            f"{_exclude(str(override.get('accession') or dataset))}.",
        )
    return CurationResult(True, layout.condition_column, "", labels.found, labels.mapping())


def _compared_conditions(override: Mapping[str, Any], required: list[str]) -> list[str]:
    """Return the conditions a dataset's DE needs samples of.

    Without its own ``de.contrasts`` the default contrasts run (``required``); with them, the
    levels of those on ``condition``. Either way, the ``condition`` values of the ``subset`` of
    each contrast and ``de.tests`` entry. Empty when its own contrasts and tests use no condition
    (a contrast of another factor): nothing to check.
    """
    de = override.get("de") or {}
    own = de.get("contrasts") or {}
    compared: list[str] = [] if own else list(required)

    def add(levels: Collection[Any]) -> None:
        for level in map(str, levels):
            if level not in compared:
                compared.append(level)

    for spec in own.values():
        levels = spec if isinstance(spec, list) else (spec or {}).get("contrast") or []
        if len(levels) == 3 and levels[0] == "condition":
            add(levels[1:])
    subsets = [spec for spec in own.values() if isinstance(spec, Mapping)]
    subsets += [test for test in (de.get("tests") or {}).values() if isinstance(test, Mapping)]
    for spec in subsets:
        add(((spec.get("subset") or {}).get("condition")) or [])
    return compared


def rules_digest(rules: list[dict[str, str]]) -> str:
    """Return the digest of condition rules that the registry's ``condition_rules`` records.

    Parameters
    ----------
    rules
        ``reprocess.default_condition.rules`` (``{pattern, condition}``, in order).

    Returns
    -------
    str
        The first 16 hex digits of the sha256 of the rules (their order counts: first match wins).
    """
    text = json.dumps([[rule["pattern"], rule["condition"]] for rule in rules])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def curate_series(
    entry: Entry,
    *,
    override: Mapping[str, Any] | None,
    settings: Mapping[str, Any],
    geo: Mapping[str, Any],
    cache_dir: Path,
) -> CurationResult:
    """Check a series' conditions (:func:`check_conditions`) on its series matrix.

    The matrix is downloaded unless cached. Records the detected sample columns on ``entry``, and on a resolution the condition column,
    the value -> label record and the digest of the default rules (empty with an ``override``:
    :func:`rules_digest`). The matrix goes where the workflow's ``download_geo_series_matrix``
    rule puts it (:func:`alsig.ops.downloads.fetch_series_matrix`), so it is downloaded once.

    Parameters
    ----------
    entry
        The series' registry row.
    override
        The dataset's entry of the base config, or None.
    settings
        The ``reprocess:`` settings.
    geo
        The ``geo:`` settings (series URL, timeout, retries).
    cache_dir
        The GEO download cache (``geo.cache_dir`` in the project directory).

    Returns
    -------
    CurationResult

    Raises
    ------
    AlsigError
        The series matrix could not be downloaded or read.
    """
    dest = fetch_series_matrix(entry.accession, entry.platform, geo=geo, cache_dir=cache_dir)
    # the text ingest will read (NFC, stripped, invisible characters gone): the default rules
    # match whole values, so curation must see the values ingest will see
    sheet = clean_sheet(read_series_matrix(dest), sample_column="sample", location=where(dest))
    entry.sample_columns = encode_columns(detect_sample_columns(list(sheet.columns)))
    default_condition = settings["default_condition"]
    verdict = check_conditions(
        sheet,
        dataset=entry.dataset,
        source=str(dest),
        override=override,
        default_condition=default_condition,
        required_conditions=list(settings["required_conditions"]),
        min_samples=int(settings["min_samples_per_condition"]),
    )
    entry.condition_labels = "; ".join(verdict.labels)
    if verdict.ok:
        entry.condition_column = verdict.column
        by_default = override is None
        entry.condition_rules = rules_digest(default_condition["rules"]) if by_default else ""
    return verdict


def queue_series(
    registry: Registry,
    *,
    skip: Collection[str] = (),
    overrides: Mapping[str, tuple[str, Mapping[str, Any]]],
    settings: Mapping[str, Any],
    geo: Mapping[str, Any],
    cache_dir: Path,
) -> set[str]:
    """Curate every series that needs work; those whose conditions resolve are queued.

    Queued series become ``new``, the others ``needs_curation`` with the reason (``failed``
    when the series matrix cannot be downloaded or read). A series flagged ``stale_cache``
    (changed on GEO, a file changed on the server, ``--force``) first downloads its cached files
    again (a failure marks it ``failed``; the old copies stay). The registry is saved.

    Parameters
    ----------
    registry
        After this run's discovery.
    skip
        Series whose status this run already decided (held back by discovery for sharing
        samples, no series matrix to use): not curated, status kept.
    overrides
        accession -> (dataset id, settings) of the base config's GEO datasets.
    settings
        The ``reprocess:`` settings (``retry_failed`` adds ``failed`` series to those retried).
    geo
        The ``geo:`` settings.
    cache_dir
        The GEO download cache.

    Returns
    -------
    set of str
        The accessions to process.
    """
    to_process: set[str] = set()
    for entry in registry.needing_work(settings["retry_failed"], skip):
        if entry.stale_cache:  # changed on GEO or on the server (or --force)
            try:
                names = refresh_cached(entry.accession, cache_dir=cache_dir, geo=geo)
            except AlsigError as exc:
                registry.set(entry.accession, "failed", f"downloading it again: {exc}")
                continue
            if names:
                log.info("%s: downloaded again: %s", entry.accession, ", ".join(names))
        override = overrides.get(entry.accession, (None, None))[1]
        try:
            verdict = curate_series(
                entry, override=override, settings=settings, geo=geo, cache_dir=cache_dir
            )
        except AlsigError as exc:
            registry.set(entry.accession, "failed", f"series matrix: {exc}")
            continue
        if verdict.ok:
            log.info(
                "%s: conditions from '%s': %s",
                entry.accession,
                verdict.column,
                name_some(verdict.labels, limit=20),
            )
            if entry.status != "new":
                registry.set(entry.accession, "new", f"queued (was {entry.status})")
            to_process.add(entry.accession)
        else:
            registry.set(entry.accession, "needs_curation", verdict.reason)
    registry.save()
    return to_process


def recurate_processed(
    registry: Registry,
    *,
    overrides: Mapping[str, tuple[str, Mapping[str, Any]]],
    settings: Mapping[str, Any],
    geo: Mapping[str, Any],
    cache_dir: Path,
) -> list[str]:
    """Curate again the processed series the current default condition rules did not curate.

    A processed series without a ``datasets.<id>`` entry gets the default rules in its run
    config, so rules that changed since it was curated (an alsig upgrade, an edit of
    ``reprocess.default_condition.rules``; a registry of alsig 0.4.7 or earlier records none)
    rerun its ingest with them, where values they no longer take would fail every night. Each
    such series is curated again from its cached series matrix (downloaded when not cached):
    one that resolves stays ``processed`` with its new labels (its ingest reruns once: logged);
    one that does not becomes ``needs_curation`` with the reason, and leaves the catalog (a
    warning). One whose matrix cannot be read stays ``processed`` (a warning; checked again at
    the next run). The registry is saved.

    Parameters
    ----------
    registry
        After this run's curation (:func:`queue_series`).
    overrides, settings, geo, cache_dir
        As for :func:`queue_series`.

    Returns
    -------
    list of str
        Warnings for the run summary: the series that leave the catalog, or could not be checked.
    """
    digest = rules_digest(settings["default_condition"]["rules"])
    warnings = []
    for entry in registry.with_status("processed"):
        if entry.accession in overrides or entry.condition_rules == digest:
            continue
        since = (
            "changed since it was curated"
            if entry.condition_rules
            else "may differ from those it was curated with (the registry, written by alsig "
            "0.4.7 or earlier, does not record them)"
        )
        before = entry.condition_labels
        try:
            verdict = curate_series(
                entry, override=None, settings=settings, geo=geo, cache_dir=cache_dir
            )
        except AlsigError as exc:
            warnings.append(
                f"{entry.accession}: the default condition rules (reprocess.default_condition"
                f".rules) {since}, and its series matrix could not be read to curate it again "
                f"({str(exc).rstrip('.')}); it stays processed, its ingest runs with the "
                "current rules, and the next run tries again."
            )
            continue
        if verdict.ok:
            labels = name_some(verdict.labels, limit=20)
            changed = f" (before: {before})" if before and before != entry.condition_labels else ""
            (log.warning if changed else log.info)(
                "%s: the default condition rules %s; curated again, its conditions still "
                "resolve from '%s': %s%s. It stays processed; its ingest reruns once with the "
                "current rules.",
                entry.accession,
                since,
                verdict.column,
                labels,
                changed,
            )
            continue
        reason = (
            f"the default condition rules (reprocess.default_condition.rules) {since}; curated "
            f"again, the series is no longer taken: {verdict.reason}"
        )
        registry.set(entry.accession, "needs_curation", reason)
        warnings.append(
            f"{entry.accession} was processed and leaves the catalog (now needs_curation): {reason}"
        )
    registry.save()
    return warnings
