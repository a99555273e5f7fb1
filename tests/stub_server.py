"""A local stand-in for NCBI GEO on 127.0.0.1, with programmable faults.

Routes (the real NCBI URL layout, so the workflow's URL builders are tested too):

- ``/geo/download/?type=rnaseq_counts&acc=GSEnnn&format=file&file=GSEnnn_raw_counts_...tsv.gz``
  -> ``<root>/GSEnnn/<file>`` (``acc`` must match the file's accession);
- ``/geo/download/?type=rnaseq_counts&format=file&file=Human.GRCh38.p13.annot.tsv.gz``
  -> ``<root>/<file>``;
- ``/geo/series/GSE900nnn/GSE900001/matrix/GSE900001_series_matrix.txt.gz`` (or, for a series
  on several platforms, ``GSE900001-GPL570_series_matrix.txt.gz``)
  -> ``<root>/GSE900001/<file>`` (the ``nnn`` folder must be right, as on the real FTP site);
- anything registered with :meth:`StubServer.register` (e.g. NCBI E-utilities).

Requests are counted per *key*: the served file name for GEO routes, the URL path otherwise
(``server.hits["GSE900001_series_matrix.txt.gz"]``). A GEO file is served with ``Last-Modified``
(the file's mtime) and ``ETag`` (a digest of its content), and answers ``HEAD`` with the same
headers and no body; HEAD requests are counted in ``server.heads`` (not in ``hits``, which stays
the number of downloads) and see no faults. Faults are queued per key and consumed one
per request (attempt), ``None`` meaning "serve normally"; ``always=`` sets a fault for every
request. Fault kinds: :meth:`Fault.drop`, :meth:`Fault.truncate`, :meth:`Fault.status`
(429 with ``Retry-After``, 500, ...), :meth:`Fault.slow`, :meth:`Fault.no_length`.

Use as a context manager (``with StubServer(root) as server:``) or through the ``geo_stub``
fixture of ``tests/unit/test_download.py``; the server stops on exit. Extra routes::

    server.register("/entrez/eutils/", lambda path, query: (200, {}, b"{}"))

A handler gets the URL path and the parsed query (``dict[str, list[str]]``) and returns
``(status, headers, body)`` or the string ``"drop"`` (close without answering).
"""

from __future__ import annotations

import collections
import contextlib
import email.utils
import gzip
import hashlib
import os
import re
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

Handler = Callable[[str, dict[str, list[str]]], object]
DATA = Path(__file__).resolve().parent / "data" / "geo"
_SERIES = re.compile(r"^/geo/series/(GSE\d*nnn)/(GSE\d+)/matrix/([^/]+)$")


@dataclass(frozen=True)
class Fault:
    """One misbehaviour for one request."""

    kind: str  # drop | truncate | status | slow | no_length
    code: int = 0
    retry_after: str | None = None
    seconds: float = 0.0
    fraction: float = 0.5

    @classmethod
    def drop(cls) -> Fault:
        """Close the connection without sending anything."""
        return cls("drop")

    @classmethod
    def truncate(cls, fraction: float = 0.5) -> Fault:
        """Send the full Content-Length, then only ``fraction`` of the body, then close."""
        return cls("truncate", fraction=fraction)

    @classmethod
    def no_length(cls, fraction: float = 0.5) -> Fault:
        """Send ``fraction`` of the body without a Content-Length (a silently truncated file)."""
        return cls("no_length", fraction=fraction)

    @classmethod
    def status(cls, code: int, retry_after: str | float | None = None) -> Fault:
        """Answer with HTTP ``code`` (and ``Retry-After`` when given)."""
        return cls(
            "status", code=code, retry_after=None if retry_after is None else str(retry_after)
        )

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Wait ``seconds`` before answering (normally) — longer than the client timeout."""
        return cls("slow", seconds=seconds)


class StubServer:
    """Threaded HTTP server on 127.0.0.1 (random free port) serving files from ``root``."""

    def __init__(self, root: str | Path = DATA) -> None:
        self.root = Path(root)
        self.hits: collections.Counter[str] = collections.Counter()
        self.heads: collections.Counter[str] = collections.Counter()
        self.log: list[tuple[str, str, int | str]] = []  # (key, path+query, status or fault)
        self._faults: dict[str, list[Fault | None]] = {}
        self._always: dict[str, Fault] = {}
        self._routes: list[tuple[str, Handler]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        assert self._server is not None, "server not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def download_base_url(self) -> str:
        return f"{self.base_url}/geo/download/"

    @property
    def series_base_url(self) -> str:
        return f"{self.base_url}/geo/series/"

    def register(self, path_prefix: str, handler: Handler) -> None:
        """Route requests whose path starts with ``path_prefix`` to ``handler`` (first match)."""
        with self._lock:
            self._routes.append((path_prefix, handler))

    def inject(self, key: str, *faults: Fault | None, always: Fault | None = None) -> None:
        """Queue ``faults`` for the next requests of ``key`` (one per request, ``None`` = ok)."""
        with self._lock:
            self._faults.setdefault(key, []).extend(faults)
            if always is not None:
                self._always[key] = always

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._always.clear()

    def total_hits(self) -> int:
        return sum(self.hits.values())

    def change_file(self, relative: str, *edits: tuple[bytes, bytes]) -> None:
        """Replace a gzipped file under ``root`` with its text edited (each ``(old, new)`` must
        occur), dated a minute later (its ``Last-Modified``): GEO changing a file in place."""
        path = self.root / relative
        body = gzip.decompress(path.read_bytes())
        for old, new in edits:
            assert old in body, f"{old!r} is not in {path}"
            body = body.replace(old, new)
        mtime = path.stat().st_mtime
        path.write_bytes(gzip.compress(body, mtime=0))
        os.utime(path, (mtime + 60, mtime + 60))

    # ---------------------------------------------------------------------------------------
    def start(self) -> StubServer:
        handler = type("BoundHandler", (_RequestHandler,), {"stub": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> StubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------------------------------
    def _next_fault(self, key: str) -> Fault | None:
        with self._lock:
            self.hits[key] += 1
            queue = self._faults.get(key)
            if queue:
                return queue.pop(0)
            return self._always.get(key)

    def resolve(self, path: str, query: dict[str, list[str]]) -> tuple[str, Path | None, str]:
        """(counter key, file to serve or None, reason when None) for a GEO route."""
        if path.rstrip("/") == "/geo/download":
            name = (query.get("file") or [""])[0]
            if not name or "/" in name or (query.get("format") or [""])[0] != "file":
                return path, None, "bad download query"
            if (query.get("type") or [""])[0] != "rnaseq_counts":
                return name, None, "type must be rnaseq_counts"
            if name.startswith("GSE"):
                acc = name.split("_", 1)[0]
                if (query.get("acc") or [""])[0] != acc:
                    return name, None, "acc does not match file"
                return name, self.root / acc / name, ""
            return name, self.root / name, ""
        match = _SERIES.match(path)
        if match:
            folder, acc, name = match.groups()
            expected = acc[:-3] + "nnn" if len(acc) > 6 else "GSEnnn"
            # one matrix per series, or one per platform (GSE1-GPL570_series_matrix.txt.gz)
            if folder != expected or not re.match(rf"{acc}(-GPL\d+)?_", name):
                return name, None, "wrong series folder"
            return name, self.root / acc / name, ""
        return path, None, "no route"


def _file_headers(file: Path, body: bytes) -> dict[str, str]:
    """Headers of a served file: its type, ``Last-Modified`` (mtime) and ``ETag`` (content)."""
    return {
        "Content-Type": "application/octet-stream",
        "Last-Modified": email.utils.formatdate(file.stat().st_mtime, usegmt=True),
        "ETag": f'"{hashlib.sha256(body).hexdigest()[:16]}"',
    }


class _RequestHandler(BaseHTTPRequestHandler):
    stub: StubServer
    protocol_version = "HTTP/1.0"  # close-delimited bodies allowed (Fault.no_length)

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        parsed = urllib.parse.urlparse(self.path)
        query = urllib.parse.parse_qs(parsed.query)
        for prefix, handler in list(self.stub._routes):
            if parsed.path.startswith(prefix):
                key = parsed.path
                fault = self.stub._next_fault(key)
                if fault is not None and self._apply_fault(fault, key, b"", "application/json"):
                    return
                answer = handler(parsed.path, query)
                if answer == "drop":
                    self._drop(key)
                    return
                status, headers, body = answer  # type: ignore[misc]
                self._send(status, body, headers, key)
                return
        key, file, reason = self.stub.resolve(parsed.path, query)
        fault = self.stub._next_fault(key)
        body = file.read_bytes() if file is not None and file.is_file() else None
        if fault is not None and self._apply_fault(fault, key, body or b"", None):
            return
        if body is None:
            self._send(404, f"Not Found ({reason or 'no such file'})\n".encode(), {}, key)
            return
        assert file is not None  # a body was read from it
        self._send(200, body, _file_headers(file, body), key)

    def do_HEAD(self) -> None:  # noqa: N802 (http.server API)
        """A GEO file's headers (as for GET), without the body; 404 when there is none."""
        parsed = urllib.parse.urlparse(self.path)
        key, file, _ = self.stub.resolve(parsed.path, urllib.parse.parse_qs(parsed.query))
        with self.stub._lock:
            self.stub.heads[key] += 1
        if file is None or not file.is_file():
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = file.read_bytes()
        self.send_response(200)
        for name, value in _file_headers(file, body).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()

    # ---------------------------------------------------------------------------------------
    def _apply_fault(self, fault: Fault, key: str, body: bytes, content_type: str | None) -> bool:
        """Act out ``fault``; True when the request is finished."""
        if fault.kind == "slow":
            time.sleep(fault.seconds)
            return False
        if fault.kind == "drop":
            self._drop(key)
            return True
        if fault.kind == "status":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            self._send(fault.code, f"HTTP {fault.code}\n".encode(), headers, key)
            return True
        cut = body[: int(len(body) * fault.fraction)]
        self.send_response(200)
        self.send_header("Content-Type", content_type or "application/octet-stream")
        if fault.kind == "truncate":
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(cut)
        self.wfile.flush()
        self.stub.log.append((key, self.path, fault.kind))
        self._drop(key, record=False)
        return True

    def _drop(self, key: str, record: bool = True) -> None:
        if record:
            self.stub.log.append((key, self.path, "drop"))
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send(self, status: int, body: bytes, headers: dict[str, str], key: str) -> None:
        self.stub.log.append((key, self.path, status))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass
