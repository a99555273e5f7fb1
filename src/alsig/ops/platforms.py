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
from alsig.ops.downloads import fetch_series_matrix
from alsig.ops.registry import Entry, Registry
from alsig.sources.geo import is_human, no_human_sample, organisms, sample_facts

log = logging.getLogger(__name__)

#: ``!Sample_library_strategy`` of an RNA-seq sample
RNA_SEQ = "rna-seq"


@dataclass(frozen=True)
class PlatformSamples:
    """What one platform's series matrix holds.

    ``n_human_unknown``: human samples whose library strategy the file does not give (older
    series matrices have no ``!Sample_library_strategy`` line; neither have arrays').
    """

    platform: str
    file: str
    n_samples: int
    n_human_rnaseq: int
    organisms: tuple[str, ...]
    n_human_unknown: int = 0

    def describe(self) -> str:
        """Return ``GPL570: 4 samples (Homo sapiens), 0 human RNA-seq``."""
        organisms = ", ".join(self.organisms) or "organism not given"
        unknown = (
            f", {self.n_human_unknown} human of library strategy not given"
            if self.n_human_unknown
            else ""
        )
        return (
            f"{self.platform}: {self.n_samples} samples ({organisms}), "
            f"{self.n_human_rnaseq} human RNA-seq{unknown}"
        )


def platform_samples(path: Path, platform: str) -> PlatformSamples:
    """Count the human RNA-seq samples of one platform's series matrix.

    A sample without a library strategy (no such line, or an empty cell) is counted apart: it
    may or may not be RNA-seq.

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
    human = is_human(facts)
    human_rnaseq = human & (strategy == RNA_SEQ).fill_null(False)
    human_unknown = human & (strategy.is_null() | (strategy == ""))
    return PlatformSamples(
        platform,
        path.name,
        facts.height,
        int(human_rnaseq.sum()),
        tuple(organisms(facts)),
        int(human_unknown.sum()),
    )


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
    samples is taken (kept in the registry: asked once); when no matrix gives a library
    strategy for its human samples, the one platform with human samples. When none or several
    qualify, the series becomes ``needs_curation`` naming each platform's samples and the key to
    set. A matrix that cannot be downloaded is named in a WARNING; the series becomes ``failed``
    (retried like any failed series) only when the choice depends on it.

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
    decided: set[str] = set()
    for entry in registry.needing_work(settings["retry_failed"], skip):
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

    The download is the one curation reads next (same file); a failed one is left to curation
    to report.
    """
    try:
        facts = sample_facts(fetch_series_matrix(entry.accession, geo=geo, cache_dir=cache_dir))
    except AlsigError:
        return None
    if facts.height == 0 or is_human(facts).any():
        return None
    return (
        "needs_curation",
        f"series matrix: {no_human_sample(facts)}. Add it to reprocess.exclude.",
    )


def _choose(
    entry: Entry, platforms: list[str], *, geo: Mapping[str, Any], cache_dir: Path
) -> tuple[str, str] | None:
    """Set ``entry.platform`` from its platforms' matrices, or return (status, reason)."""
    found = []
    missing: dict[str, str] = {}  # platform -> why its matrix could not be read
    for platform in platforms:
        try:
            dest = fetch_series_matrix(entry.accession, platform, geo=geo, cache_dir=cache_dir)
            found.append(platform_samples(dest, platform))
        except AlsigError as exc:
            missing[platform] = str(exc).rstrip(".")
    each = "; ".join(p.describe() for p in found)
    unread = "; ".join(f"series matrix of platform {p}: {why}" for p, why in missing.items())
    rnaseq = [p for p in found if p.n_human_rnaseq]
    # no strategy given for any human sample (older series): the human samples are all there is
    # to go by; a matrix that names RNA-seq wins over one that does not (arrays give none)
    usable = rnaseq or ([] if missing else [p for p in found if p.n_human_unknown])
    if len(usable) == 1:
        entry.platform = usable[0].platform
        how = "" if rnaseq else " (the only one with human samples; no library strategy given)"
        log.info(
            "%s: samples on %d platforms; using %s%s (%s)",
            entry.accession,
            len(platforms),
            usable[0].file,
            how,
            each,
        )
        if missing:
            log.warning(
                "%s: using %s's series matrix; not read, and not needed for the choice: %s",
                entry.accession,
                usable[0].platform,
                unread,
            )
        return None
    key = (
        f"datasets.{entry.dataset}.platform (with source: geo, accession: {entry.accession} and "
        "its condition)"
    )
    if len(usable) > 1:
        return "needs_curation", (
            f"GEO splits this series by platform and {len(usable)} of its series matrices hold "
            f"human {'RNA-seq ' if rnaseq else ''}samples ({each}); alsig reads one series "
            f"matrix per dataset. Set {key} to the platform to use, or add the series to "
            "reprocess.exclude."
        )
    if missing:  # none of those read qualifies: the answer lies in the ones not read
        read = f" The others hold no human RNA-seq sample ({each})." if found else ""
        return "failed", f"{unread}.{read} Retried at the next run; or set {key}."
    return "needs_curation", (
        f"GEO splits this series by platform and none of its series matrices holds human "
        f"RNA-seq samples, whose counts NCBI computes ({each}). Add it to "
        f"reprocess.exclude, or set {key} to the platform to use."
    )
