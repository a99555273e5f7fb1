"""Curation before any snakemake job.

Can ingest resolve a series' conditions, and which of its series-matrix columns give the canonical
obs fields?.

A series whose conditions the rules cannot resolve becomes ``needs_curation`` with the reason, so
the workflow never sees a dataset it would fail on.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from alsig.errors import AlsigError
from alsig.ops.downloads import refresh_cached
from alsig.ops.registry import Entry, Registry, statuses_needing_work
from alsig.sources import geo_layout
from alsig.sources.download import fetch_geo
from alsig.sources.geo import read_series_matrix
from alsig.stages.ingest.geo import series_matrix_layout
from alsig.stages.ingest.samples import resolve_conditions

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
    """Whether a series' conditions resolve: the column used, or the reason they do not."""

    ok: bool
    column: str = ""
    reason: str = ""
    conditions: dict[str, int] = field(default_factory=dict)


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

    With a config override for the dataset its ``condition`` is used as is (the user curated it).
    Otherwise each default column present in the series is tried with the default rules; the
    first that resolves every sample and has ``min_samples`` of each required condition wins.

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
        What a default resolution must yield.

    Returns
    -------
    CurationResult
    """
    if override is not None:
        return _check_override(sheet, override, dataset=dataset, source=source)
    return _check_defaults(
        sheet,
        dataset=dataset,
        source=source,
        default_condition=default_condition,
        required_conditions=required_conditions,
        min_samples=min_samples,
    )


def _check_defaults(
    sheet: pl.DataFrame,
    *,
    dataset: str,
    source: str,
    default_condition: Mapping[str, Any],
    required_conditions: list[str],
    min_samples: int,
) -> CurationResult:
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
        found = dict(Counter(labels))
        if [c for c in required_conditions if found.get(c, 0) < min_samples]:
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


def _check_override(
    sheet: pl.DataFrame, override: Mapping[str, Any], *, dataset: str, source: str
) -> CurationResult:
    layout = series_matrix_layout(override, sheet.columns)  # "sample group" -> sample_group
    try:
        labels = resolve_conditions(
            sheet,
            sample_column="sample",
            condition_column=layout.condition_column,
            rules=layout.rules,
            dataset=dataset,
            source=source,
        )
    except AlsigError as exc:
        return CurationResult(False, layout.condition_column, str(exc))
    return CurationResult(True, layout.condition_column, "", dict(Counter(labels)))


def curate_series(
    entry: Entry,
    *,
    override: Mapping[str, Any] | None,
    settings: Mapping[str, Any],
    geo: Mapping[str, Any],
    cache_dir: Path,
) -> CurationResult | None:
    """Download a series' matrix and check its conditions (:func:`check_conditions`).

    Records the detected sample columns on ``entry``; a failed download marks it ``failed``. The
    matrix goes where the workflow's ``download_geo_series_matrix`` rule puts it
    (:func:`alsig.sources.geo_layout.cache_files`), so it is downloaded once for both.

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
    CurationResult or None
        None when the series matrix could not be downloaded or read.
    """
    accession = entry.accession
    url = geo_layout.series_matrix_url(geo["series_base_url"], accession, entry.platform)
    dest = Path(geo_layout.cache_files(str(cache_dir), accession, entry.platform)["series_matrix"])
    try:
        fetch_geo(url, dest, geo)
        sheet = read_series_matrix(dest)
    except AlsigError as exc:
        entry.status, entry.reason = "failed", f"series matrix: {exc}"
        return None
    entry.sample_columns = encode_columns(detect_sample_columns(list(sheet.columns)))
    return check_conditions(
        sheet,
        dataset=entry.dataset,
        source=str(dest),
        override=override,
        default_condition=settings["default_condition"],
        required_conditions=list(settings["required_conditions"]),
        min_samples=int(settings["min_samples_per_condition"]),
    )


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

    Queued series become ``new``, the others ``needs_curation`` with the reason. A series
    flagged ``stale_cache`` (changed on GEO, a file changed on the server, ``--force``) first
    downloads its cached files again (a failure marks it ``failed``; the old copies stay). The
    registry is saved.

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
    wanted = statuses_needing_work(settings["retry_failed"])
    to_process: set[str] = set()
    for entry in [e for e in registry.entries.values() if e.status in wanted]:
        if entry.accession in skip:
            continue
        if entry.stale_cache:  # changed on GEO or on the server (or --force)
            try:
                names = refresh_cached(entry.accession, cache_dir=cache_dir, geo=geo)
            except AlsigError as exc:
                registry.set(entry.accession, "failed", f"downloading it again: {exc}")
                continue
            if names:
                log.info("%s: downloaded again: %s", entry.accession, ", ".join(names))
        override = overrides.get(entry.accession, (None, None))[1]
        verdict = curate_series(
            entry, override=override, settings=settings, geo=geo, cache_dir=cache_dir
        )
        if verdict is None:
            continue
        if verdict.ok:
            entry.condition_column = verdict.column
            if entry.status != "new":
                registry.set(entry.accession, "new", f"queued (was {entry.status})")
            to_process.add(entry.accession)
        else:
            registry.set(entry.accession, "needs_curation", verdict.reason)
    registry.save()
    return to_process
