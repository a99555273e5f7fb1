"""A series' downloads in the GEO cache.

Has the server changed them since they were downloaded (HTTP HEAD against the sidecar's
``Last-Modified`` / size / ``ETag``)? Re-download them in place when GEO changed the series, and
their digest once the series is processed (recorded in the registry for provenance).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from alsig.errors import AlsigError
from alsig.ops.registry import Registry
from alsig.sources import geo_layout
from alsig.sources.download import (
    fetch_geo,
    geo_retry_policy,
    read_sidecar,
    server_change,
    sidecar_path,
)
from alsig.sources.http import RetryPolicy

log = logging.getLogger(__name__)


def cached_downloads(folder: Path) -> list[Path]:
    """Return the downloaded files in ``folder`` that have a sidecar (name order).

    Parameters
    ----------
    folder
        ``<cache_dir>/<accession>`` (or the cache itself, for the shared annotation).

    Returns
    -------
    list of Path
    """
    if not folder.is_dir():
        return []
    return sorted(
        path
        for path in folder.iterdir()
        if path.is_file() and path.suffix != ".json" and sidecar_path(path).is_file()
    )


def fetch_series_matrix(
    accession: str, platform: str = "", *, geo: Mapping[str, Any], cache_dir: Path
) -> Path:
    """Download a series' series matrix into the cache, unless it is there already.

    The file goes where the workflow's ``download_geo_series_matrix`` rule puts it
    (:func:`alsig.sources.geo_layout.cache_files`), so curation and the workflow download it once.

    Parameters
    ----------
    accession
        The series.
    platform
        The platform whose matrix to get, for a series GEO splits by platform (else empty).
    geo
        The ``geo:`` settings (series URL, timeout, retries).
    cache_dir
        The GEO download cache (``geo.cache_dir``).

    Returns
    -------
    Path
        The cached file.

    Raises
    ------
    AlsigError
        The download failed (naming its URL).
    """
    url = geo_layout.series_matrix_url(geo["series_base_url"], accession, platform)
    dest = Path(geo_layout.cache_files(str(cache_dir), accession, platform)["series_matrix"])
    fetch_geo(url, dest, geo)
    return dest


def refresh_cached(accession: str, *, cache_dir: Path, geo: Mapping[str, Any]) -> list[str]:
    """Download the series' cached files again, each from the URL in its sidecar.

    Each old copy is replaced only once its new one is complete (and stays when the download
    fails).

    Parameters
    ----------
    accession
        The series.
    cache_dir
        The GEO download cache (``geo.cache_dir``).
    geo
        The ``geo:`` settings (timeout, retries, backoff).

    Returns
    -------
    list of str
        The file names downloaded again.

    Raises
    ------
    AlsigError
        A download failed (naming its URL).
    """
    files = [
        p for p in cached_downloads(cache_dir / accession) if (read_sidecar(p) or {}).get("url")
    ]
    _download_again(files, geo)
    return [path.name for path in files]


def _changes(files: list[Path], policy: RetryPolicy) -> dict[Path, str]:
    """File -> what changed on the server, for the files that changed.

    A file that cannot be checked is logged (WARNING) and counted as unchanged.
    """
    changed = {}
    for path in files:
        try:
            difference = server_change(path, policy)
        except AlsigError as exc:
            log.warning("%s: not checked for a change on the server: %s", path, exc)
            continue
        if difference:
            changed[path] = difference
    return changed


def _download_again(files: list[Path], geo: Mapping[str, Any]) -> None:
    """Download ``files`` again from their sidecars' URLs (each replaced once complete)."""
    for path in files:
        fetch_geo(str((read_sidecar(path) or {})["url"]), path, geo, refresh=True)


def check_server_files(
    registry: Registry, *, cache_dir: Path, geo: Mapping[str, Any]
) -> dict[str, str]:
    """Find the tracked series whose downloaded files changed on the server, and queue them.

    One HTTP HEAD per cached file (counts, series matrix; the shared gene annotation once). A
    changed file is downloaded again at once (the old copy stays until the new one is complete),
    and its series is processed again: a ``processed`` one becomes ``new`` (its ingest reruns on
    the newer file), a ``needs_curation`` one is curated on the new series matrix. When the new
    download fails the series becomes ``failed`` and flagged ``stale_cache`` (retried like any
    failed series). A changed annotation makes every ``processed`` series ``new``. Excluded
    series are not checked. Each change is logged as a WARNING naming the file and what changed.

    Parameters
    ----------
    registry
        After this run's discovery (not saved here).
    cache_dir
        The GEO download cache.
    geo
        The ``geo:`` settings (timeout, retries, backoff).

    Returns
    -------
    dict of str to str
        accession -> what changed (the registry's new ``reason``).
    """
    policy = geo_retry_policy(geo)
    found: dict[str, str] = {}
    for entry in registry.entries.values():
        if entry.status == "excluded":
            continue
        changed = _changes(cached_downloads(cache_dir / entry.accession), policy)
        if not changed:
            continue
        what = "; ".join(f"{path.name}: {difference}" for path, difference in changed.items())
        reason = f"file changed on the server ({what})"
        log.warning("%s: %s; downloading it again", entry.accession, reason)
        found[entry.accession] = reason
        try:
            _download_again(list(changed), geo)
        except AlsigError as exc:
            registry.set(entry.accession, "failed", f"{reason}; downloading it again: {exc}")
            entry.stale_cache = True
            continue
        if entry.status == "processed":
            registry.set(entry.accession, "new", reason)
    annotation = cache_dir / geo_layout.ANNOTATION_FILE
    changed = _changes([annotation] if sidecar_path(annotation).is_file() else [], policy)
    if changed:
        reason = f"the shared gene annotation changed on the server ({changed[annotation]})"
        try:
            _download_again([annotation], geo)
        except AlsigError as exc:
            log.warning("%s; downloading it again failed (the next run retries): %s", reason, exc)
            return found
        processed = [e.accession for e in registry.with_status("processed")]
        log.warning(
            "%s: downloaded again; processing again: %s", reason, ", ".join(processed) or "none"
        )
        for accession in processed:
            registry.set(accession, "new", reason)
            found[accession] = reason
    return found


def data_sha256(accession: str, *, cache_dir: Path) -> str:
    """Sha256 over the downloader's sidecars (counts + series matrix) of a processed series.

    Empty when there are none.
    """
    folder = cache_dir / accession
    digests = []
    for sidecar in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        with contextlib.suppress(OSError, ValueError):
            digests.append(f"{sidecar.name}:{json.loads(sidecar.read_text()).get('sha256')}")
    return hashlib.sha256("\n".join(digests).encode()).hexdigest() if digests else ""
