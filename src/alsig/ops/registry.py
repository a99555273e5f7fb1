"""The dataset registry: every GEO series discovery has seen, and what became of it.

Storage: one TSV (``<state_dir>/registry.tsv``), one row per series, human-readable and diffable,
always written atomically (temp file + rename, :func:`alsig.io.write_tsv`), so a run killed at any
point leaves either the previous or the new table, never a torn one. Every row carries
``schema_version``; a file written by a newer alsig is refused rather than misread.

Status of a series (``status`` column; ``reason`` says why):

- ``new``: seen, not yet processed successfully (also: changed on GEO since it was processed, or
  released from ``excluded``); the next run processes it.
- ``processed``: its outputs were built from the content recorded in ``processed_fingerprint``.
- ``needs_curation``: its conditions cannot be resolved by the configured rules; ``reason`` has the
  values that did not match. Resolve by adding ``datasets.<id>`` (``source: geo``, ``accession``,
  ``condition.column/rules``) to the config; every run re-checks these.
- ``failed``: the workflow failed for it (``reason`` = the error); retried by every run.
- ``excluded``: listed under ``reprocess.exclude`` by the user (``reason`` = their reason).

Content fingerprint (``fingerprint``): sha256 over the esummary fields GEO changes when a series is
updated (see :meth:`alsig.sources.eutils.SeriesSummary.fingerprint`). It is cheap, so every run checks every
series without downloading anything; a change marks the series ``new`` again and flags its cached
downloads as stale (``stale_cache``) so they are downloaded again. After processing,
``data_sha256`` records the sha256 of the downloaded count file and series matrix (from the
downloader's sidecars) for provenance.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from alsig.errors import AlsigError, name_some, where
from alsig.io import write_tsv
from alsig.validation.suggest import did_you_mean

if TYPE_CHECKING:
    from alsig.sources.eutils import SeriesSummary

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
STATUSES = ("new", "processed", "needs_curation", "failed", "excluded")
#: what to do about a registry row that cannot be read (the end of every such message)
REPAIR = (
    "Correct that row of the registry (or restore the file from a backup, or delete it to "
    "rediscover every series), then run again."
)


def utc_now() -> str:
    """Return the current UTC time, ISO 8601 to the second (``2024-03-15T12:00:00+00:00``)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass
class Entry:
    """One registry row (all text on disk; booleans as ``true``/``false``)."""

    accession: str
    dataset: str
    status: str = "new"
    reason: str = ""
    title: str = ""
    n_samples: int = 0
    pdat: str = ""
    fingerprint: str = ""
    processed_fingerprint: str = ""
    data_sha256: str = ""
    condition_column: str = ""
    condition_labels: str = ""  # what the rules made of each value: "'sALS/FTD' -> ALS (4); ..."
    #: digest of the default condition rules it was curated with (alsig.ops.curation.rules_digest;
    #: empty: curated by its datasets.<id> entry, or by alsig 0.4.7 or earlier)
    condition_rules: str = ""
    sample_columns: str = (
        ""  # canonical=column pairs for ingest ``columns`` ("sex=sex;subject=...")
    )
    first_seen: str = ""
    last_checked: str = ""
    last_processed: str = ""
    stale_cache: bool = False
    platforms: str = ""  # the series' platforms as esummary lists them ("GPL16791;GPL17021")
    platform: str = ""  # the one whose series matrix is used, when there are several
    samples: str = ""  # the series' GSMs as esummary lists them ("GSM1;GSM2")
    schema_version: int = SCHEMA_VERSION

    def sample_set(self) -> set[str]:
        """Return the series' GSM accessions (from its last esummary)."""
        return {gsm for gsm in self.samples.split(";") if gsm}


COLUMNS = ["schema_version"] + [f.name for f in fields(Entry) if f.name != "schema_version"]


@dataclass
class Observation:
    """What one discovery pass changed (accessions)."""

    new: list[str]
    changed: list[str]
    unchanged: list[str]
    excluded: list[str]
    released: list[str]
    missing: list[str]
    #: accession -> why it is held back: it shares samples with a series that is kept
    #: (:func:`shared_samples`); a held series is ``needs_curation``
    shared: dict[str, str] = field(default_factory=dict)
    #: warnings about series processed although they share samples (``allow_shared_samples``)
    shared_allowed: list[str] = field(default_factory=list)


class Registry:
    """In-memory registry; :meth:`load` / :meth:`save` read and write the TSV."""

    def __init__(self, entries: dict[str, Entry] | None = None, path: Path | None = None) -> None:
        self.entries: dict[str, Entry] = dict(entries or {})
        self.path = path

    # ---------------------------------------------------------------- storage
    @classmethod
    def load(cls, path: str | Path) -> Registry:
        """Return the registry stored at ``path`` (empty when the file does not exist yet).

        Raises
        ------
        AlsigError
            An unparsable file, missing columns, an unknown status (with the closest one), a
            newer schema version, an empty or repeated accession or a count that is not a whole
            number, naming the file, line and column and what to do.
        """
        path = Path(path)
        if not path.exists():
            return cls({}, path)
        try:
            table = pl.read_csv(path, separator="\t", infer_schema=False)
        except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
            raise AlsigError(
                f"{where(path)}: the registry cannot be parsed ({str(exc).splitlines()[0]}). "
                "Restore it from a backup or delete it to rediscover every series."
            ) from exc
        missing = [c for c in ("schema_version", "accession", "status") if c not in table.columns]
        if missing:
            raise AlsigError(f"{where(path, row=1)}: registry columns {missing} are missing.")
        entries: dict[str, Entry] = {}
        first_line: dict[str, int] = {}
        for row_number, row in enumerate(table.iter_rows(named=True), start=2):
            version = _integer(row, "schema_version", path, row_number)
            if version > SCHEMA_VERSION:
                raise AlsigError(
                    f"{where(path, row=row_number, column='schema_version')}: registry schema "
                    f"version {version} is newer than this alsig understands ({SCHEMA_VERSION}); "
                    "upgrade alsig."
                )
            accession = (row["accession"] or "").strip()
            if not accession:
                raise AlsigError(
                    f"{where(path, row=row_number, column='accession')}: the accession is empty. "
                    f"{REPAIR}"
                )
            if accession in first_line:
                raise AlsigError(
                    f"{where(path, row=row_number, column='accession')}: {accession} is also on "
                    f"line {first_line[accession]}; keep one row per series. {REPAIR}"
                )
            first_line[accession] = row_number
            if row["status"] not in STATUSES:
                raise AlsigError(
                    f"{where(path, row=row_number, column='status')}: unknown status "
                    f"'{row['status']}'; expected one of {list(STATUSES)}."
                    f"{did_you_mean(row['status'], STATUSES)} {REPAIR}"
                )
            _integer(row, "n_samples", path, row_number)
            entries[accession] = _entry_from_row({**row, "accession": accession})
        return cls(entries, path)

    def to_frame(self) -> pl.DataFrame:
        """One string row per series, in accession order (the TSV's content)."""
        rows = []
        for entry in sorted(self.entries.values(), key=lambda e: (len(e.accession), e.accession)):
            record = asdict(entry)
            record["stale_cache"] = "true" if entry.stale_cache else "false"
            rows.append({c: str(record[c]) or None for c in COLUMNS})  # "" -> empty cell
        return pl.DataFrame(rows, schema={c: pl.String for c in COLUMNS})

    def save(self, path: str | Path | None = None) -> Path:
        """Write the TSV atomically to ``path`` (default: where it was loaded from)."""
        target = Path(path or self.path)  # type: ignore[arg-type]  # a loaded registry has a path
        write_tsv(self.to_frame(), target)
        return target

    # ---------------------------------------------------------------- updates
    def observe(
        self,
        series: list[SeriesSummary],
        *,
        exclude: dict[str, str] | None = None,
        dataset_ids: dict[str, str] | None = None,
        allow_shared: Collection[str] = (),
        now: str | None = None,
    ) -> Observation:
        """Merge one discovery pass: add new series, flag changed ones, apply user exclusions.

        Series sharing samples (GSMs) with a series that is kept are held back as
        ``needs_curation`` (:func:`shared_samples`; ``Observation.shared``), except those in
        ``allow_shared`` (``reprocess.allow_shared_samples``).
        """
        now = now or utc_now()
        exclude = exclude or {}
        dataset_ids = dataset_ids or {}
        result = Observation([], [], [], [], [], [])
        seen = set()
        for item in series:
            seen.add(item.accession)
            fingerprint = item.fingerprint()
            entry = self.entries.get(item.accession)
            if entry is None:
                entry = Entry(
                    accession=item.accession,
                    dataset=dataset_ids.get(item.accession, item.accession),
                    first_seen=now,
                    fingerprint=fingerprint,
                    reason="first seen",
                )
                self.entries[item.accession] = entry
                result.new.append(item.accession)
            elif fingerprint != entry.fingerprint:
                entry.stale_cache = bool(entry.fingerprint)
                entry.fingerprint = fingerprint
                if entry.status == "processed":
                    entry.status = "new"
                    entry.reason = "changed on GEO since it was processed"
                result.changed.append(item.accession)
            else:
                result.unchanged.append(item.accession)
            entry.dataset = dataset_ids.get(item.accession, entry.dataset)
            entry.title, entry.n_samples, entry.pdat = item.title, item.n_samples, item.pdat
            entry.platforms = ";".join(platform_ids(item.gpl))
            entry.samples = ";".join(item.samples)
            entry.last_checked = now
        for accession, entry in self.entries.items():
            if accession not in seen:
                result.missing.append(accession)
            if accession in exclude:
                if entry.status != "excluded":
                    result.excluded.append(accession)
                entry.status, entry.reason = (
                    "excluded",
                    exclude[accession] or "excluded by the user",
                )
            elif entry.status == "excluded":
                entry.status, entry.reason = "new", "no longer excluded"
                result.released.append(accession)
        result.shared, result.shared_allowed = shared_samples(self.entries, allow_shared)
        for accession, reason in result.shared.items():
            self.set(accession, "needs_curation", reason)
        return result

    def set(self, accession: str, status: str, reason: str = "") -> Entry:
        """Give a series a status (one of :data:`STATUSES`) and its reason."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        entry = self.entries[accession]
        entry.status, entry.reason = status, reason
        return entry

    def mark_processed(self, accession: str, *, data_sha256: str = "", now: str | None = None):
        """Return a series' outputs were built: record the fingerprint they were built from."""
        entry = self.set(accession, "processed", "")
        entry.processed_fingerprint = entry.fingerprint
        entry.data_sha256 = data_sha256
        entry.last_processed = now or utc_now()
        entry.stale_cache = False
        return entry

    def with_status(self, *statuses: str) -> list[Entry]:
        """Return the entries with any of ``statuses``."""
        return [e for e in self.entries.values() if e.status in statuses]

    def needing_work(self, retry_failed: bool, skip: Collection[str] = ()) -> list[Entry]:
        """Return the series a run looks at again (:func:`statuses_needing_work`).

        Parameters
        ----------
        retry_failed
            ``reprocess.retry_failed``.
        skip
            Accessions this run already decided (held for sharing samples, no series matrix
            to use).

        Returns
        -------
        list of Entry
            In registry order.
        """
        wanted = statuses_needing_work(retry_failed)
        return [e for e in self.with_status(*wanted) if e.accession not in skip]

    def counts(self) -> dict[str, int]:
        """Return number of series per status (every status, zeros included)."""
        out = dict.fromkeys(STATUSES, 0)
        for entry in self.entries.values():
            out[entry.status] += 1
        return out


def statuses_needing_work(retry_failed: bool) -> set[str]:
    """Return the statuses of the series a run looks at again.

    Parameters
    ----------
    retry_failed
        ``reprocess.retry_failed``.

    Returns
    -------
    set of str
        ``new`` and ``needs_curation``, and ``failed`` when failed series are retried.
    """
    return {"new", "needs_curation"} | ({"failed"} if retry_failed else set())


def platform_ids(gpl: str) -> list[str]:
    """Return the platforms of an esummary ``gpl`` field as GEO accessions.

    Parameters
    ----------
    gpl
        esummary's ``gpl``: the platform numbers, ``;``-separated (``"16791;17021"``).

    Returns
    -------
    list of str
        ``["GPL16791", "GPL17021"]``, in esummary's order.
    """
    ids = [part.strip() for part in gpl.replace(",", ";").split(";") if part.strip()]
    return [i if i.upper().startswith("GPL") else f"GPL{i}" for i in ids]


#: which series of a pair sharing samples is kept, in order (docs: README "Reprocessing")
KEEP_ORDER = (
    "a series processed or to be processed is kept over one waiting for curation or failed, "
    "then a series processed earlier, then a SubSeries over the SuperSeries that holds it, then "
    "the series seen first"
)
#: statuses of the series that are kept over others sharing their samples without waiting
HOLDING = ("processed", "new")


def shared_samples(
    entries: Mapping[str, Entry], allow: Collection[str] = ()
) -> tuple[dict[str, str], list[str]]:
    """Find the series that share samples (GSMs) with a series that is kept.

    A SuperSeries lists the samples of its SubSeries; a series may also take over samples of
    another. Processing both would put the same libraries into the catalog twice and count them
    as two cohorts in the cross-cohort meta-analysis. Series are taken in the order of
    :data:`KEEP_ORDER` (processed or new; processed earlier; not holding every sample of another
    tracked series; first seen; accession); one that shares samples with a series taken before
    it is held. Excluded series take no part; a series in ``allow`` is never held and holds no other. A series
    waiting for curation or failed never holds a processed or new one; one it holds is told that
    it waits for it.

    Parameters
    ----------
    entries
        The registry's rows (their ``samples`` from esummary).
    allow
        Accessions processed though they share samples (``reprocess.allow_shared_samples``).

    Returns
    -------
    held : dict
        accession -> the reason (naming the series it shares samples with, how many, which is
        kept and how to choose the other).
    allowed : list of str
        One warning per series of ``allow`` that shares samples with another series.
    """
    samples = {
        a: e.sample_set() for a, e in entries.items() if e.status != "excluded" and e.samples
    }

    def holds_another(accession: str) -> bool:
        mine = samples[accession]
        return any(other < mine for a, other in samples.items() if a != accession and other)

    order = sorted(
        samples,
        key=lambda a: (
            entries[a].status not in HOLDING,
            not entries[a].last_processed,
            holds_another(a),
            entries[a].first_seen,
            len(a),
            a,
        ),
    )
    kept_by_sample: dict[str, str] = {}
    held: dict[str, str] = {}
    for accession in order:
        if accession in allow:
            continue
        shared: dict[str, int] = {}
        for gsm in samples[accession]:
            if gsm in kept_by_sample:
                shared[kept_by_sample[gsm]] = shared.get(kept_by_sample[gsm], 0) + 1
        if shared:
            held[accession] = _shared_reason(accession, len(samples[accession]), shared, entries)
        else:
            kept_by_sample.update(dict.fromkeys(samples[accession], accession))
    allowed = []
    for accession in sorted(set(allow) & set(samples), key=lambda a: (len(a), a)):
        shared = {
            a: len(samples[accession] & other)
            for a, other in samples.items()
            if a != accession and samples[accession] & other
        }
        if shared:
            named = ", ".join(f"{n} with {a}" for a, n in shared.items())
            allowed.append(
                f"{accession} shares samples ({named}) and is processed anyway "
                "(reprocess.allow_shared_samples): the catalog and the cross-cohort "
                "meta-analysis count those samples more than once."
            )
    return held, allowed


def _shared_reason(
    accession: str, n_samples: int, shared: dict[str, int], entries: Mapping[str, Entry]
) -> str:
    """Return why ``accession`` is held: whom it shares samples with, what is kept, what to do."""
    kept = sorted(shared, key=lambda a: (len(a), a))
    named = " and ".join(f"{shared[a]} with {a} ({entries[a].status or 'new'})" for a in kept)
    waiting = [a for a in kept if entries[a].status not in HOLDING]
    held_by = (
        "a series kept over it but not processed itself" if waiting else "a series that is kept"
    )
    reason = (
        f"shares samples with {held_by}: {named} of its {n_samples} samples (a SuperSeries and "
        "its SubSeries, or the same samples in two series); processing it too would put those "
        "samples into the catalog and the cross-cohort meta-analysis twice."
    )
    if waiting:  # kept over it, yet not processed: say so, or it seems to wait for nothing
        one = len(waiting) == 1
        reason += (
            f" It waits until {name_some(waiting)} {'is' if one else 'are'} processed (see "
            f"{'its' if one else 'their'} own reason: curated, or retried once failed)."
        )
    return (
        f"{reason} By default {KEEP_ORDER}. To process {accession} instead, add "
        f"{name_some(kept)} to reprocess.exclude; to process both anyway, add {accession} to "
        "reprocess.allow_shared_samples."
    )


def _integer(row: dict[str, str | None], column: str, path: Path, row_number: int) -> int:
    """Return a whole-number cell of a registry row (empty: 0), or raise naming it."""
    raw = (row.get(column) or "").strip()
    try:
        return int(raw or 0)
    except ValueError:
        raise AlsigError(
            f"{where(path, row=row_number, column=column)}: '{raw}' is not a whole number. {REPAIR}"
        ) from None


def _entry_from_row(row: dict[str, str | None]) -> Entry:
    values: dict[str, object] = {}
    for f in fields(Entry):
        raw = row.get(f.name)
        if raw is None:
            continue
        if f.name in ("n_samples", "schema_version"):
            values[f.name] = int(raw.strip() or 0)  # checked by Registry.load
        elif f.name == "stale_cache":
            values[f.name] = raw.strip().lower() == "true"
        else:
            values[f.name] = raw
    values["schema_version"] = SCHEMA_VERSION
    values.setdefault("dataset", row["accession"])
    return Entry(**values)  # type: ignore[arg-type]
