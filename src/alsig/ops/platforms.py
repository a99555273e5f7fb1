"""Which series matrix a GEO series uses when GEO splits it by platform.

A series with samples on several platforms (human and mouse, an array and an RNA-seq SubSeries)
has no ``<GSE>_series_matrix.txt.gz`` on GEO, only one ``<GSE>-<GPL>_series_matrix.txt.gz`` per
platform (:mod:`alsig.sources.geo_layout`). NCBI's counts hold the human RNA-seq samples, so the
platform whose matrix holds human RNA-seq samples is the one to use. Before curation, every such
series that needs work gets its platform (the registry's ``platform``; the run config's
``datasets.<id>.platform``), or goes to ``needs_curation`` saying why none or several qualify.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alsig.errors import AlsigError
from alsig.ops.registry import Entry, Registry, statuses_needing_work
from alsig.sources import geo_layout
from alsig.sources.download import fetch_geo
from alsig.sources.geo import is_human, sample_facts

log = logging.getLogger(__name__)

#: ``!Sample_library_strategy`` of an RNA-seq sample
RNA_SEQ = "rna-seq"


@dataclass(frozen=True)
class PlatformSamples:
    """What one platform's series matrix holds."""

    platform: str
    file: str
    n_samples: int
    n_human_rnaseq: int
    organisms: tuple[str, ...]

    def describe(self) -> str:
        """Return ``GPL570: 4 samples (Homo sapiens), 0 human RNA-seq``."""
        organisms = ", ".join(self.organisms) or "organism not given"
        return (
            f"{self.platform}: {self.n_samples} samples ({organisms}), "
            f"{self.n_human_rnaseq} human RNA-seq"
        )


def platform_samples(path: Path, platform: str) -> PlatformSamples:
    """Count the human RNA-seq samples of one platform's series matrix.

    Parameters
    ----------
    path
        The downloaded ``<GSE>-<GPL>_series_matrix.txt.gz``.
    platform
        Its platform.

    Returns
    -------
    PlatformSamples

    Raises
    ------
    AlsigError
        The file is not a complete series matrix.
    """
    facts = sample_facts(path)
    strategy = facts.get_column("library_strategy").str.strip_chars().str.to_lowercase()
    human_rnaseq = is_human(facts) & (strategy == RNA_SEQ).fill_null(False)
    organisms = tuple(sorted({o for o in facts.get_column("organism").to_list() if o}))
    return PlatformSamples(platform, path.name, facts.height, int(human_rnaseq.sum()), organisms)


def choose_platforms(
    registry: Registry,
    *,
    skip: Collection[str],
    overrides: Mapping[str, tuple[str, Mapping[str, Any]]],
    settings: Mapping[str, Any],
    geo: Mapping[str, Any],
    cache_dir: Path,
) -> set[str]:
    """Give each series that needs work the platform of its series matrix.

    A series on one platform uses ``<GSE>_series_matrix.txt.gz`` (``platform`` empty); one
    whose matrix holds no human sample becomes ``needs_curation``. For a
    series on several (esummary ``gpl``), the base config's ``datasets.<id>.platform`` wins;
    else each platform's matrix is downloaded into the cache and the one holding human RNA-seq
    samples is taken (kept in the registry: asked once). When none or several do, the series
    becomes ``needs_curation`` naming each platform's samples and the key to set; when a matrix
    cannot be downloaded, ``failed`` (retried like any failed series).

    Parameters
    ----------
    registry
        After this run's discovery (not saved here).
    skip
        Series already decided in this run (held back for sharing samples).
    overrides
        accession -> (dataset id, settings) of the base config's GEO datasets.
    settings
        The ``reprocess:`` settings (``retry_failed``).
    geo
        The ``geo:`` settings.
    cache_dir
        The GEO download cache.

    Returns
    -------
    set of str
        The series decided here (``needs_curation`` or ``failed``): not to be curated.
    """
    wanted = statuses_needing_work(settings["retry_failed"])
    decided: set[str] = set()
    for entry in registry.entries.values():
        if entry.status not in wanted or entry.accession in skip:
            continue
        override = overrides.get(entry.accession, (None, None))[1] or {}
        platforms = [p for p in entry.platforms.split(";") if p]
        problem = None
        if override.get("platform"):
            entry.platform = str(override["platform"])
        elif len(platforms) < 2:
            entry.platform = ""
            problem = _no_human_sample(entry, geo=geo, cache_dir=cache_dir)
        elif entry.platform not in platforms:
            problem = _choose(entry, platforms, geo=geo, cache_dir=cache_dir)
        if problem:
            registry.set(entry.accession, *problem)
            decided.add(entry.accession)
    return decided


def _no_human_sample(
    entry: Entry, *, geo: Mapping[str, Any], cache_dir: Path
) -> tuple[str, str] | None:
    """(needs_curation, reason) for a series matrix without a human sample, else None.

    The download is the one curation reads next (same URL and file); a failed one is left to
    curation to report.
    """
    url = geo_layout.series_matrix_url(geo["series_base_url"], entry.accession)
    dest = Path(geo_layout.cache_files(str(cache_dir), entry.accession)["series_matrix"])
    try:
        fetch_geo(url, dest, geo)
        facts = sample_facts(dest)
    except AlsigError:
        return None
    if facts.height == 0 or is_human(facts).any():
        return None
    organisms = ", ".join(sorted({o for o in facts.get_column("organism").to_list() if o}))
    return "needs_curation", (
        f"none of the {facts.height} samples of its series matrix is human "
        f"({organisms or 'organism not given'}; taxid not 9606), and NCBI computes its counts "
        "for human samples only. Add it to reprocess.exclude."
    )


def _choose(
    entry: Entry, platforms: list[str], *, geo: Mapping[str, Any], cache_dir: Path
) -> tuple[str, str] | None:
    """Set ``entry.platform`` from its platforms' matrices, or return (status, reason)."""
    found = []
    for platform in platforms:
        url = geo_layout.series_matrix_url(geo["series_base_url"], entry.accession, platform)
        dest = Path(
            geo_layout.cache_files(str(cache_dir), entry.accession, platform)["series_matrix"]
        )
        try:
            fetch_geo(url, dest, geo)
            found.append(platform_samples(dest, platform))
        except AlsigError as exc:
            return "failed", f"series matrix of platform {platform}: {exc}"
    usable = [p for p in found if p.n_human_rnaseq]
    if len(usable) == 1:
        entry.platform = usable[0].platform
        log.info(
            "%s: samples on %d platforms; using %s (%s)",
            entry.accession,
            len(found),
            usable[0].file,
            "; ".join(p.describe() for p in found),
        )
        return None
    each = "; ".join(p.describe() for p in found)
    key = (
        f"datasets.{entry.dataset}.platform (with source: geo, accession: {entry.accession} and "
        "its condition)"
    )
    if not usable:
        return "needs_curation", (
            f"GEO splits this series by platform and none of its series matrices holds human "
            f"RNA-seq samples, whose counts NCBI computes ({each}). Add it to "
            f"reprocess.exclude, or set {key} to the platform to use."
        )
    return "needs_curation", (
        f"GEO splits this series by platform and {len(usable)} of its series matrices hold "
        f"human RNA-seq samples ({each}); alsig reads one series matrix per dataset. Set {key} "
        "to the platform to use, or add the series to reprocess.exclude."
    )
