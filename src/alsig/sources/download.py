"""Robust, cached file downloads (GEO counts, annotation, series matrices).

:func:`fetch` GETs one URL into ``dest``:

- connect/read ``timeout`` per socket operation;
- retries through :func:`alsig.sources.http.with_retries`: exponential backoff on connection
  errors, timeouts, dropped or incomplete responses, HTTP 429 (a ``Retry-After`` of seconds is
  honoured, capped at :data:`MAX_RETRY_AFTER`) and 5xx; other 4xx fail at once;
- the body goes to a temporary file in the destination folder, is checked (``Content-Length``
  when the server sends one; a ``.gz`` file must be one complete gzip stream, so a truncated
  download is never used) and only then renamed onto ``dest`` (atomic on POSIX);
- a sidecar ``<dest>.json`` records url, size, sha256, retrieval time, attempts and the
  server's ``Last-Modified`` / ``ETag`` of the file;
- cache: when ``dest`` and a sidecar for the same URL, size and sha256 exist, nothing is requested
  (``refresh=True`` downloads again, replacing the old copy only once the new one is complete).

:func:`server_change` asks the server (HTTP HEAD) whether a cached file changed since it was
downloaded: ``Last-Modified`` and size, or the ``ETag`` when the server sends no ``Last-Modified``.

Temporary files are named ``.<name>.part-<host>-<pid>-<random>``; leftovers from a killed run on
this host are removed by the next fetch of the same file, and are never mistaken for ``dest``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import socket
import zlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from alsig.errors import AlsigError
from alsig.io import sha256_file, write_text
from alsig.sources.http import (
    GaveUp,
    Refused,
    RetryPolicy,
    Transient,
    Unreachable,
    check_length,
    head,
    open_url,
    with_retries,
)

log = logging.getLogger(__name__)

#: Downloads wait longer for a busy server than API calls do.
MAX_RETRY_AFTER = 120.0
CHUNK = 1 << 20
SIDECAR_VERSION = 2  # 2: etag, last_modified


@dataclass(frozen=True)
class Download:
    """What :func:`fetch` produced (also the content of the ``<dest>.json`` sidecar)."""

    url: str
    path: str
    size: int
    sha256: str
    retrieved_at: str
    attempts: int
    cached: bool = False
    last_modified: str = ""
    etag: str = ""

    def sidecar(self) -> dict[str, Any]:
        """Return the sidecar record of this download.

        Returns
        -------
        dict
            The fields but ``cached``, ``path`` as the file name only, and ``sidecar_version``.
        """
        record = asdict(self)
        record.pop("cached")
        record["path"] = Path(self.path).name
        record["sidecar_version"] = SIDECAR_VERSION
        return record


def sidecar_path(dest: str | os.PathLike[str]) -> Path:
    """Return where the sidecar of a download lives.

    Parameters
    ----------
    dest
        The downloaded file.

    Returns
    -------
    pathlib.Path
        ``<dest>.json``.
    """
    return Path(f"{dest}.json")


def read_sidecar(dest: str | os.PathLike[str]) -> dict[str, Any] | None:
    """Read the sidecar of a download.

    Parameters
    ----------
    dest
        The downloaded file.

    Returns
    -------
    dict or None
        The sidecar's record; None when it is missing, unreadable or not a JSON object.
    """
    path = sidecar_path(dest)
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def cached(url: str, dest: str | os.PathLike[str]) -> Download | None:
    """Return the cached download of ``url`` at ``dest``, if there is one.

    Parameters
    ----------
    url
        The URL the file must have come from.
    dest
        The file.

    Returns
    -------
    Download or None
        The download (``cached=True``) when the file and its sidecar agree on url, size and
        sha256; None otherwise (a sha256 mismatch is logged as a warning).
    """
    dest = Path(dest)
    meta = read_sidecar(dest)
    if meta is None or not dest.is_file() or meta.get("url") != url:
        return None
    if meta.get("size") != dest.stat().st_size:
        return None
    if meta.get("sha256") != sha256_file(dest):
        log.warning("cached %s does not match its sidecar sha256; downloading it again", dest)
        return None
    return Download(
        url=url,
        path=str(dest),
        size=int(meta["size"]),
        sha256=str(meta["sha256"]),
        retrieved_at=str(meta.get("retrieved_at", "")),
        attempts=int(meta.get("attempts", 0)),
        cached=True,
        last_modified=str(meta.get("last_modified") or ""),
        etag=str(meta.get("etag") or ""),
    )


def fetch(
    url: str,
    dest: str | os.PathLike[str],
    *,
    timeout: float = 60.0,
    retries: int = 5,
    backoff: float = 2.0,
    max_retry_after: float = MAX_RETRY_AFTER,
    refresh: bool = False,
) -> Download:
    """Download ``url`` to ``dest`` (cached, verified, atomic); see the module docstring.

    Parameters
    ----------
    url, dest
        The file's URL, and where it goes (``<dest>.json`` is its sidecar).
    timeout, retries, backoff, max_retry_after
        As for :class:`alsig.sources.http.RetryPolicy` (``retries`` after the first attempt).
    refresh
        Download even when the cache has the file (the old copy stays until the new one is
        complete, and when the download fails).

    Returns
    -------
    Download
        What was downloaded, or found in the cache (``cached``).

    Raises
    ------
    AlsigError
        Naming the URL, when the server refuses (4xx other than 429) or every attempt failed;
        ``dest`` is then left untouched (absent when it was absent).
    """
    dest = Path(dest)
    hit = None if refresh else cached(url, dest)
    if hit is not None:
        log.info("cached: %s (%d bytes, sha256 %s) for %s", dest, hit.size, hit.sha256[:12], url)
        return hit
    dest.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_parts(dest)
    policy = RetryPolicy(
        timeout=timeout, retries=retries, backoff=backoff, max_retry_after=max_retry_after
    )

    def attempt(number: int) -> tuple[tuple[int, str, Any], int]:
        log.info("GET %s -> %s (attempt %d of %d)", url, dest, number, policy.attempts)
        return _attempt(url, dest, policy), number

    try:
        (size, digest, headers), attempts = with_retries(url, attempt, policy)
    except Refused as exc:
        raise AlsigError(
            f"download of {url} failed: HTTP {exc.status} {exc.reason}; "
            f"{_refusal_hint(exc.status)}."
        ) from None
    except Unreachable as exc:
        raise AlsigError(
            f"download of {url} failed: {exc} Nothing was written to {dest}."
        ) from None
    except GaveUp as exc:
        raise AlsigError(
            f"download of {url} failed after {exc.attempts} attempt(s); last problem: "
            f"{exc.problem}. The server or the network may be down: run again later (finished "
            "downloads are cached), raise `geo.retries` / `geo.timeout_seconds`, or check "
            f"`geo.download_base_url` / `geo.series_base_url`. Nothing was written to {dest}."
        ) from None
    return _record(url, dest, size, digest, attempts, headers)


def _record(url: str, dest: Path, size: int, digest: str, attempts: int, headers: Any) -> Download:
    """Record a finished download and write it as the file's sidecar."""
    record = Download(
        url=url,
        path=str(dest),
        size=size,
        sha256=digest,
        retrieved_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        attempts=attempts,
        last_modified=headers.get("Last-Modified") or "",
        etag=headers.get("ETag") or "",
    )
    write_text(json.dumps(record.sidecar(), indent=2) + "\n", sidecar_path(dest))
    log.info("downloaded %s: %d bytes, sha256 %s, %d attempt(s)", dest, size, digest, attempts)
    return record


def fetch_geo(
    url: str, dest: str | os.PathLike[str], geo: Mapping[str, Any], *, refresh: bool = False
) -> Download:
    """:func:`fetch` with the timeout, retries and backoff of the config's ``geo:`` section.

    Parameters
    ----------
    url, dest, refresh
        As for :func:`fetch`.
    geo
        The ``geo:`` section with its defaults (``alsig.settings.section(config, "geo")``).

    Returns
    -------
    Download
    """
    return fetch(
        url,
        dest,
        timeout=geo["timeout_seconds"],
        retries=geo["retries"],
        backoff=geo["backoff_seconds"],
        refresh=refresh,
    )


def geo_retry_policy(geo: Mapping[str, Any]) -> RetryPolicy:
    """Return the timeout, retries and backoff of the config's ``geo:`` section as a policy.

    Parameters
    ----------
    geo
        The ``geo:`` section with its defaults.

    Returns
    -------
    RetryPolicy
    """
    return RetryPolicy(
        timeout=geo["timeout_seconds"], retries=geo["retries"], backoff=geo["backoff_seconds"]
    )


def server_change(dest: str | os.PathLike[str], policy: RetryPolicy) -> str:
    """Ask the server (HTTP HEAD) whether a downloaded file changed since it was downloaded.

    Compared with what the sidecar recorded: ``Last-Modified`` and the size
    (``Content-Length``); the ``ETag`` only when ``Last-Modified`` cannot be compared
    (load-balanced servers may give one file different ETags). A sidecar written before alsig
    recorded these headers has the size only.

    Parameters
    ----------
    dest
        The downloaded file (with its sidecar).
    policy
        Timeout and retries of the HEAD request.

    Returns
    -------
    str
        What differs (``Last-Modified 'Fri, ...' -> 'Mon, ...'; size 3125 -> 3130 bytes``); empty
        when nothing does.

    Raises
    ------
    AlsigError
        The file has no sidecar, the server refused the HEAD (e.g. HTTP 404, or 405: it does not
        answer HEAD), or it could not be reached; or it sends none of these headers, so a change
        cannot be seen.
    """
    meta = read_sidecar(dest)
    if meta is None or not meta.get("url"):
        raise AlsigError(f"{dest} has no download record ({sidecar_path(dest)}): cannot check it")
    headers = head(str(meta["url"]), policy, {"Accept-Encoding": "identity"})
    modified, before_modified = headers.get("Last-Modified"), meta.get("last_modified")
    etag, before_etag = headers.get("ETag"), meta.get("etag")
    length = headers.get("Content-Length")
    differences = []
    if modified and before_modified:
        if modified != before_modified:
            differences.append(f"Last-Modified {before_modified!r} -> {modified!r}")
    elif etag and before_etag and etag != before_etag:
        differences.append(f"ETag {before_etag} -> {etag}")
    if length is not None and length.isdigit():
        if int(length) != meta.get("size"):
            differences.append(f"size {meta.get('size')} -> {length} bytes")
    elif not (modified and before_modified) and not (etag and before_etag):
        raise AlsigError(
            f"cannot tell whether {meta['url']} changed: the server sent no Last-Modified, ETag "
            "or Content-Length to compare with the download record"
        )
    return "; ".join(differences)


def _refusal_hint(status: int) -> str:
    return {
        404: "the file does not exist on the server: check the accession (NCBI computes "
        "counts only for some human RNA-seq series) and `geo.download_base_url` / "
        "`geo.series_base_url`",
        403: "access was refused: check the base URL and any proxy",
    }.get(status, "this is not a transient error, so it was not retried; check the URL")


def _attempt(url: str, dest: Path, policy: RetryPolicy) -> tuple[int, str, Any]:
    """One GET into a temp file, verified and renamed onto ``dest``.

    Returns (size, sha256, response headers).
    """
    part = _part_path(dest)
    try:
        with open_url(url, policy, {"Accept-Encoding": "identity"}) as response:
            checker = GzipChecker() if dest.name.endswith(".gz") else None
            size, digest = _stream(response, part, checker)
            check_length(response.headers, size)
            if checker is not None:
                checker.finish(size)
            os.chmod(part, 0o644)
            os.replace(part, dest)
            headers = response.headers
        return size, digest, headers
    finally:
        part.unlink(missing_ok=True)


def _stream(response: Any, part: Path, checker: GzipChecker | None) -> tuple[int, str]:
    """Copy the body into ``part`` (synced to disk); returns (size, sha256)."""
    digest = hashlib.sha256()
    size = 0
    with open(part, "wb") as handle:
        while chunk := response.read(CHUNK):
            handle.write(chunk)
            digest.update(chunk)
            size += len(chunk)
            if checker is not None:
                checker.feed(chunk)
        handle.flush()
        os.fsync(handle.fileno())
    return size, digest.hexdigest()


class GzipChecker:
    """Incrementally checks that bytes form complete gzip member(s) with nothing after them."""

    def __init__(self) -> None:
        self._decoder = zlib.decompressobj(wbits=31)
        self._started = False
        self._head = b""

    def feed(self, chunk: bytes) -> None:
        """Check the next bytes of the body.

        Parameters
        ----------
        chunk
            The bytes after those fed so far.

        Raises
        ------
        Transient
            The bytes are not gzip data (HTML or text is named as such).
        """
        if len(self._head) < 2:
            self._head += chunk[: 2 - len(self._head)]
        data = chunk
        while data:
            self._started = True
            try:
                self._decoder.decompress(data, 0)
            except zlib.error as exc:
                raise Transient(f"the body is not valid gzip data ({exc}){self._html()}") from None
            if not self._decoder.eof:
                return
            data = self._decoder.unused_data  # a further gzip member (concatenated gzip)
            if data:
                self._decoder = zlib.decompressobj(wbits=31)
            else:
                return

    def finish(self, size: int) -> None:
        """Check that the body fed ended a complete gzip stream.

        Parameters
        ----------
        size
            The number of bytes received, for the message.

        Raises
        ------
        Transient
            The body was empty or the gzip stream is truncated.
        """
        if not self._started:
            raise Transient("empty response body (0 bytes) for a .gz file")
        if not self._decoder.eof:
            raise Transient(
                f"truncated gzip stream ({size} bytes received, the gzip end is missing)"
            )

    def _html(self) -> str:
        return "; the server sent HTML or text, not the file" if self._head[:1] in b"<{" else ""


def _host() -> str:
    return socket.gethostname().replace("-", "_") or "host"


def _part_path(dest: Path) -> Path:
    token = os.urandom(4).hex()
    return dest.with_name(f".{dest.name}.part-{_host()}-{os.getpid()}-{token}")


def _remove_stale_parts(dest: Path) -> None:
    """Delete temp files of ``dest`` left by processes on this host that no longer run."""
    prefix = f".{dest.name}.part-{_host()}-"
    for part in dest.parent.glob(f".{dest.name}.part-*"):
        if not part.name.startswith(prefix):
            continue  # another host's download in progress (shared file system): leave it
        pid_text = part.name[len(prefix) :].split("-", 1)[0]
        if pid_text.isdigit() and _alive(int(pid_text)) and int(pid_text) != os.getpid():
            continue
        log.info("removing leftover partial download %s", part)
        part.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
