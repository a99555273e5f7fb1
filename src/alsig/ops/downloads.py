"""A series' downloads.

Dropping them when GEO changed the series, and their digest once the series is processed (recorded
in the registry for provenance).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path


def drop_cached(accession: str, *, cache_dir: Path, state: Path) -> None:
    """Delete the series' files in the GEO cache and its series matrix in the state folder."""
    for folder in (cache_dir / accession, state / "series_matrix" / accession):
        if folder.is_dir():
            for path in list(folder.iterdir()):
                path.unlink(missing_ok=True)


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
