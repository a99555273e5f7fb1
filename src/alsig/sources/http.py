"""Small HTTP GET with retries, for JSON APIs (NCBI E-utilities).

Retried: connection errors, timeouts, dropped or incomplete responses, HTTP 429 (honouring a
``Retry-After`` of seconds, capped) and 5xx, with exponential backoff. Not retried: other 4xx,
which are raised at once. Every error names the URL and says what to do.

File downloads (temp file, atomic rename, gzip check, sidecar) live in :mod:`alsig.sources.download`;
this module only covers small in-memory bodies.
"""

from __future__ import annotations

import http.client
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable

import alsig
from alsig.errors import AlsigError

log = logging.getLogger(__name__)

USER_AGENT = f"alsig/{alsig.__version__} (+https://github.com/; ALS RNA-seq workflow)"
MAX_RETRY_AFTER = 60.0


class HttpStatusError(AlsigError):
    """A non-retryable HTTP status (or retries exhausted on a retryable one)."""

    def __init__(self, msg: str, status: int | None = None) -> None:
        super().__init__(msg)
        self.status = status


def _retry_after(headers, default: float) -> float:
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return min(MAX_RETRY_AFTER, max(0.0, float(value))) if value is not None else default
    except ValueError:  # an HTTP date: fall back to our own backoff
        return default


def get_bytes(
    url: str,
    *,
    timeout: float = 30.0,
    retries: int = 5,
    backoff: float = 1.0,
    headers: dict[str, str] | None = None,
    before_request: Callable[[], None] | None = None,
) -> bytes:
    """GET ``url`` and return the whole body; retry transient failures ``retries`` times.

    ``before_request`` runs before every attempt (a rate limiter). The wait before retry ``k``
    (1-based) is ``backoff * 2**(k-1)`` seconds, or the server's ``Retry-After`` for a 429/503.
    """
    request_headers = {"User-Agent": USER_AGENT, **(headers or {})}
    last_problem = "no attempt made"
    for attempt in range(1, retries + 2):
        wait = backoff * 2 ** (attempt - 1)
        if before_request is not None:
            before_request()
        try:
            request = urllib.request.Request(url, headers=request_headers)
            with urllib.request.urlopen(request, timeout=timeout) as response:
                expected = response.headers.get("Content-Length")
                body = response.read()
                if expected is not None and len(body) != int(expected):
                    raise http.client.IncompleteRead(body, int(expected) - len(body))
                log.debug("GET %s -> %d bytes (attempt %d)", url, len(body), attempt)
                return body
        except urllib.error.HTTPError as exc:
            if exc.code == 429 or exc.code >= 500:
                wait = _retry_after(exc.headers, wait) if exc.code in (429, 503) else wait
                last_problem = f"HTTP {exc.code} {exc.reason}"
            else:
                raise HttpStatusError(
                    f"GET {url} failed with HTTP {exc.code} {exc.reason}; this is not a transient "
                    "error: check the URL/query (and the API key, if one is set).",
                    exc.code,
                ) from exc
        except (
            urllib.error.URLError,
            http.client.HTTPException,
            ConnectionError,
            TimeoutError,
            OSError,
        ) as exc:
            reason = getattr(exc, "reason", None) or exc
            last_problem = f"{type(exc).__name__}: {reason}"
        if attempt <= retries:
            log.warning(
                "GET %s attempt %d/%d failed (%s); retrying in %.2fs",
                url,
                attempt,
                retries + 1,
                last_problem,
                wait,
            )
            time.sleep(wait)
    raise HttpStatusError(
        f"GET {url} failed after {retries + 1} attempt(s); last error: {last_problem}. "
        "The server may be down or rate-limiting: try again later (the scheduled run will)."
    )
