"""A fake NCBI E-utilities (esearch/esummary, JSON) for tests, built from tests/data/eutils.

``EutilsFixture.respond(path, query)`` is framework-free: it returns ``(status, headers, body)`` or
the string ``"drop"`` (close the connection without a response). :func:`serve` runs it on a
threaded 127.0.0.1 server; the GEO stub (tests/stub_server.py) can route to it as well.
"""

from __future__ import annotations

import contextlib
import json
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "eutils"


def _uid(accession: str) -> str:
    return f"200{int(accession[3:]):06d}"


@dataclass
class EutilsFixture:
    """Serves the fixture series in ``published``; ``faults`` are consumed one per request."""

    published: list[str] = field(default_factory=lambda: ["GSE900001", "GSE900002"])
    faults: list[object] = field(default_factory=list)  # "drop", 429, 500, ... (one per request)
    fail_always: object = None  # a fault applied to every request when set
    requests: list[str] = field(default_factory=list)
    api_keys: list[str | None] = field(default_factory=list)
    edits: dict[str, dict] = field(default_factory=dict)  # accession -> esummary fields to change

    def __post_init__(self) -> None:
        self._docs = json.loads((DATA / "esummary_gds.json").read_text())["result"]
        self._search = json.loads((DATA / "esearch_gds.json").read_text())
        self._lock = threading.Lock()

    def respond(self, path: str, query: dict[str, list[str]]):
        with self._lock:
            endpoint = path.rstrip("/").rsplit("/", 1)[-1]
            self.requests.append(endpoint)
            self.api_keys.append((query.get("api_key") or [None])[0])
            fault = self.faults.pop(0) if self.faults else self.fail_always
        if fault == "drop":
            return "drop"
        if fault == "html":  # a proxy/maintenance page instead of JSON
            return (
                200,
                {"Content-Type": "text/html"},
                b"<html><body>Down for maintenance</body></html>",
            )
        if isinstance(fault, int):
            headers = {"Retry-After": "0"} if fault == 429 else {}
            body = {"error": "API rate limit exceeded"} if fault == 429 else {"error": "oops"}
            return fault, headers, json.dumps(body).encode()
        if endpoint == "esearch.fcgi":
            ids = [_uid(a) for a in self.published]
            start = int((query.get("retstart") or ["0"])[0])
            size = int((query.get("retmax") or ["20"])[0])
            page = ids[start : start + size]
            data = json.loads(json.dumps(self._search))
            data["esearchresult"].update(
                count=str(len(ids)), retmax=str(len(page)), retstart=str(start), idlist=page
            )
        elif endpoint == "esummary.fcgi":
            wanted = (query.get("id") or [""])[0].split(",")
            result: dict = {"uids": []}
            for uid in wanted:
                if uid in self._docs:
                    doc = dict(self._docs[uid])
                    doc.update(self.edits.get(doc["accession"], {}))
                    result["uids"].append(uid)
                    result[uid] = doc
            data = {"header": {"type": "esummary", "version": "0.3"}, "result": result}
        else:
            return 404, {}, b'{"error": "unknown endpoint"}'
        return 200, {"Content-Type": "application/json"}, json.dumps(data).encode()


class _Handler(BaseHTTPRequestHandler):
    fixture: EutilsFixture

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        parsed = urllib.parse.urlparse(self.path)
        answer = self.fixture.respond(parsed.path, urllib.parse.parse_qs(parsed.query))
        if answer == "drop":
            self.close_connection = True
            self.connection.shutdown(2)
            return
        status, headers, body = answer
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def serve(fixture: EutilsFixture) -> Iterator[str]:
    """Run ``fixture`` on 127.0.0.1; yields the E-utilities base URL."""
    handler = type("Handler", (_Handler,), {"fixture": fixture})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/entrez/eutils/"
    finally:
        server.shutdown()
        server.server_close()
