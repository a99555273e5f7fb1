"""Entry point of the GEO download rules (``download_geo_*``).

A module of its own so that a download job imports the HTTP machinery only, not the readers
and AnnData that :mod:`.job` needs (~1 s of imports per job).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from alsig.sources.download import fetch_geo


def run_download(
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    settings: Mapping[str, Any],
    threads: int = 1,
    *,
    urls: Sequence[str],
    files: Sequence[str],
) -> None:
    """Rules ``download_geo_*``: fetch each of ``urls`` into the matching one of ``files``.

    Downloads are cached: a file already downloaded from the same URL is not requested again.

    Parameters
    ----------
    inputs
        None.
    outputs
        Unused: the rules' outputs are unnamed, so they come as ``files``.
    settings
        The config's ``geo:`` section with its defaults (timeout, retries, backoff).
    threads
        Unused.
    urls, files
        What to download, and where to.
    """
    for url, dest in zip(urls, files, strict=True):
        fetch_geo(url, dest, settings)
