"""Gene sets: GMT files and the collections a run tests.

GMT: one set per line, tab-separated ``name<TAB>description<TAB>gene1<TAB>gene2...``. A
collection is a GMT file with an id (the output file name): the shipped ones are listed in
``resources/genesets/manifest.tsv``, users add their own by path. This module imports only the
standard library, so the workflow's planning can resolve collections at parse time.
"""

from __future__ import annotations

import csv
import functools
import gzip
import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alsig.errors import AlsigError, where
from alsig.io import open_text, write_text
from alsig.resources import geneset_manifest
from alsig.validation import did_you_mean

log = logging.getLogger(__name__)

MANIFEST_COLUMNS = [
    "id",
    "file",
    "name",
    "version",
    "source",
    "license",
    "n_sets",
    "sha256",
    "optional",
]
# collection ids become file names ({collection}.parquet, {collection}.coverage.tsv): no dots
COLLECTION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def read_gmt(path: str | os.PathLike[str]) -> dict[str, list[str]]:
    """Read a GMT file into ``{set name: [genes]}`` (order kept, duplicate genes dropped).

    Parameters
    ----------
    path
        A GMT file, plain or gzipped; ``#`` lines and blank lines are skipped.

    Returns
    -------
    dict
        ``{set name: [genes]}`` in file order.

    Raises
    ------
    AlsigError
        Naming file and line for a malformed line, an empty set, a duplicated set name or an
        empty file.
    """
    gmt = Path(path)
    if not gmt.exists():
        raise AlsigError(f"gene-set file '{gmt}' does not exist; check the path in the config.")
    sets: dict[str, list[str]] = {}
    try:
        with open_text(gmt) as handle:
            for line_no, raw in enumerate(handle, start=1):
                line = raw.rstrip("\r\n")
                if not line.strip() or line.startswith("#"):
                    continue
                fields = line.split("\t")
                if len(fields) < 2 or not fields[0].strip():
                    raise AlsigError(
                        f"{where(gmt, row=line_no)}: malformed GMT line (expected "
                        "'name<TAB>description<TAB>gene...', tab-separated). Fix or remove the line."
                    )
                name = fields[0].strip()
                genes = list(dict.fromkeys(g.strip() for g in fields[2:] if g.strip()))
                if not genes:
                    raise AlsigError(
                        f"{where(gmt, row=line_no)}: gene set '{name}' has no genes. "
                        "Remove the line or add its genes (tab-separated after the description)."
                    )
                if name in sets:
                    raise AlsigError(
                        f"{where(gmt, row=line_no)}: gene set '{name}' appears twice. "
                        "Set names must be unique within a file."
                    )
                sets[name] = genes
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError, OSError) as exc:
        raise AlsigError(
            f"{where(gmt)}: cannot be read as a (gzipped) text GMT file: {exc}"
        ) from exc
    if not sets:
        raise AlsigError(f"{where(gmt)}: contains no gene sets.")
    return sets


def write_gmt(
    sets: dict[str, list[str]],
    path: str | os.PathLike[str],
    descriptions: dict[str, str] | None = None,
) -> None:
    """Write ``{set name: [genes]}`` as a GMT file (atomically).

    Parameters
    ----------
    sets
        The gene sets, written in order.
    path
        The file to write.
    descriptions
        ``{set name: description}``; ``na`` for sets without one.
    """
    descriptions = descriptions or {}
    lines = [
        "\t".join([name, descriptions.get(name, "na"), *genes]) for name, genes in sets.items()
    ]
    write_text("\n".join(lines) + "\n", path)


@dataclass(frozen=True)
class Collection:
    """A gene-set collection: an id (used in output file names) and its GMT file."""

    id: str
    path: Path
    name: str = ""
    version: str = ""
    source: str = ""
    license: str = ""
    sha256: str = ""  # expected checksum (manifest); empty: not checked
    optional: bool = False  # missing file -> skipped with a warning instead of an error

    def describe(self) -> dict[str, Any]:
        """Provenance fields (id, name, version, source, license, file)."""
        return {
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "source": self.source,
            "license": self.license,
            "file": str(self.path),
        }


def read_manifest(path: str | Path | None = None) -> dict[str, Collection]:
    """Return the shipped collections, ``{id.

    Collection}``, from ``resources/genesets/manifest.tsv``.
    """
    manifest = Path(path or geneset_manifest())
    if not manifest.exists():
        raise AlsigError(
            f"gene-set manifest '{manifest}' does not exist; regenerate resources/genesets with "
            "`python scripts/build_genesets.py`."
        )
    with manifest.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        missing = [c for c in MANIFEST_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise AlsigError(f"{where(manifest)}: missing column(s) {missing}.")
        rows = list(reader)
    collections: dict[str, Collection] = {}
    for line_no, row in enumerate(rows, start=2):
        cid = (row["id"] or "").strip()
        if not COLLECTION_ID.match(cid) or not (row["file"] or "").strip():
            raise AlsigError(
                f"{where(manifest, row=line_no)}: needs an id (letters, digits, '_', '-') "
                "and a file."
            )
        if cid in collections:
            raise AlsigError(f"{where(manifest, row=line_no)}: collection id '{cid}' repeated.")
        collections[cid] = Collection(
            id=cid,
            path=(manifest.parent / row["file"].strip()).resolve(),
            name=row["name"] or cid,
            version=row["version"] or "",
            source=row["source"] or "",
            license=row["license"] or "",
            sha256=(row["sha256"] or "").strip().lower(),
            optional=(row["optional"] or "").strip().lower() in ("true", "1", "yes"),
        )
    return collections


def resolve_collections(
    collection_ids: Sequence[str],
    extra_gmt: Sequence[Mapping[str, str]] = (),
    manifest: str | Path | None = None,
    base_dir: str | Path = ".",
    key: str = "enrich.collections",
) -> list[Collection]:
    """Return the collections a run uses.

    Shipped ids from ``enrich.collections`` plus user GMT files from ``enrich.extra_gmt``
    (``[{id, path}]``, paths relative to ``base_dir``).

    Every problem :func:`collection_problems` finds, and a missing user file, is an
    :class:`AlsigError` naming the config key. An optional shipped collection whose file does
    not exist (yet) is skipped with a warning.

    Parameters
    ----------
    collection_ids
        Ids of shipped collections (``enrich.collections``).
    extra_gmt
        User collections (``enrich.extra_gmt``).
    manifest
        The manifest of shipped collections; the shipped one when not given.
    base_dir
        Folder that relative user paths are relative to.
    key
        The config key that lists ``collection_ids``, for the messages.

    Returns
    -------
    list of Collection
        Shipped collections in the given order, then the user ones.
    """
    shipped = read_manifest(manifest)
    problems = collection_problems(collection_ids, extra_gmt, shipped, key=key)
    if problems:
        raise AlsigError("\n".join(problems))
    chosen = []
    for cid in collection_ids or ():
        collection = shipped[cid]
        if collection.path.exists():
            chosen.append(collection)
        else:  # an optional one (collection_problems refused the others)
            log.warning(
                "collection '%s' skipped: its file %s does not exist (yet)", cid, collection.path
            )
    for i, entry in enumerate(extra_gmt or ()):
        chosen.append(_user_collection(f"config key enrich.extra_gmt[{i}]", entry, base_dir))
    return chosen


def collection_problems(
    collection_ids: Sequence[str],
    extra_gmt: Sequence[Mapping[str, str]],
    shipped: Mapping[str, Collection],
    key: str = "enrich.collections",
) -> list[str]:
    """Every problem of a run's collection ids, one line each naming its config key.

    The run (:func:`resolve_collections`) stops on them; ``alsig check-config`` lists them all.
    Ids only: whether a user's GMT file can be read is the readers' question.

    Parameters
    ----------
    collection_ids
        Ids of shipped collections, as listed under ``key``.
    extra_gmt
        User collections (``enrich.extra_gmt``): their ids must be valid and new.
    shipped
        The shipped collections (:func:`read_manifest`).
    key
        The config key that lists ``collection_ids``.

    Returns
    -------
    list of str
        ``config key <key>[i]: ...`` lines; empty when all is well.
    """
    problems = []
    seen: set[str] = set()
    for i, cid in enumerate(collection_ids or ()):
        where_listed = f"config key {key}[{i}]"
        if cid not in shipped:
            problems.append(
                f"{where_listed}: unknown collection '{cid}'; shipped collections are "
                f"{', '.join(sorted(shipped))} (resources/genesets/manifest.tsv)."
                f"{did_you_mean(cid, shipped)} Add your own GMT under enrich.extra_gmt."
            )
        elif cid in seen:
            problems.append(f"{where_listed}: collection '{cid}' is listed twice.")
        elif not shipped[cid].path.exists() and not shipped[cid].optional:
            problems.append(
                f"{where_listed}: the file of collection '{cid}' ({shipped[cid].path}) is "
                "missing; regenerate resources/genesets with `python scripts/build_genesets.py`."
            )
        seen.add(cid)
    taken = set(shipped)
    for i, entry in enumerate(extra_gmt or ()):
        cid = str((entry or {}).get("id", "")).strip()
        where_listed = f"config key enrich.extra_gmt[{i}].id"
        if not COLLECTION_ID.match(cid):
            problems.append(
                f"{where_listed}: '{cid}' is not a valid collection id (letters, digits, '_', "
                "'-'; it becomes an output file name)."
            )
        elif cid in taken:
            problems.append(
                f"{where_listed}: '{cid}' is already used by another collection; pick another id."
            )
        taken.add(cid)
    return problems


def _user_collection(key: str, entry: Mapping[str, str], base_dir: str | Path) -> Collection:
    cid = str((entry or {}).get("id", "")).strip()
    raw_path = str((entry or {}).get("path", "")).strip()
    path = Path(raw_path)
    if not path.is_absolute():
        path = Path(base_dir) / path
    if not raw_path or not path.exists():
        raise AlsigError(
            f"{key}.path: gene-set file '{raw_path}' does not exist "
            f"(relative to {Path(base_dir).resolve()})."
        )
    return Collection(
        id=cid,
        path=path.resolve(),
        name=cid,
        version="user-supplied",
        source=str(raw_path),
        license="user-supplied",
    )


def count_gene_sets(path: str | Path) -> int:
    """Return number of non-empty, non-comment lines of a (gzipped) GMT file (no validation).

    Cached per file version: Snakemake asks for every enrich job's memory and runtime, and a
    collection file is the same for all of them.
    """
    path = Path(path)
    return _count_gene_sets(str(path), path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _count_gene_sets(path: str, mtime_ns: int) -> int:
    with open_text(path, errors="replace") as handle:
        return sum(1 for line in handle if line.strip() and not line.startswith("#"))
