"""HTTP GET (and HEAD) with retries: the one retry loop behind every request alsig makes.

Retried: connection errors, timeouts, dropped or incomplete responses, HTTP 429 (honouring a
``Retry-After`` of seconds, capped) and 5xx, with exponential backoff (``backoff * 2**(k-1)``
seconds before retry ``k``). Not retried: other 4xx, which end the loop at once.

:func:`with_retries` runs one caller-supplied attempt per try; an attempt opens the URL with
:func:`open_url` (which sorts failures into :class:`Transient` and :class:`Refused`) and reads the
body its own way: :func:`get_bytes` into memory (NCBI E-utilities JSON),
:func:`alsig.sources.download.fetch` into a verified temporary file; :func:`head` reads the
headers only (has a file changed on the server?). Every error names the URL.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import alsig
from alsig.errors import AlsigError

log = logging.getLogger(__name__)

USER_AGENT = f"alsig/{alsig.__version__} (ALS RNA-seq workflow; python-urllib)"
MAX_RETRY_AFTER = 60.0

T = TypeVar("T")


class Transient(Exception):
    """A failed attempt worth retrying; ``wait`` (seconds) replaces the backoff when set."""

    def __init__(self, problem: str, wait: float | None = None) -> None:
        super().__init__(problem)
        self.wait = wait


class Refused(Exception):
    """The server answered with a status that retrying cannot change (4xx other than 429)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"HTTP {status} {reason}")
        self.status = status
        self.reason = reason


class Unreachable(Exception):
    """The host name does not resolve: the machine has no network (or no DNS).

    Retrying cannot help, so the caller is told at the first attempt instead of after every
    backoff.
    """

    def __init__(self, host: str, reason: object) -> None:
        super().__init__(
            f"cannot resolve {host} ({reason}): this machine seems to have no network access "
            "(or no DNS). Run where the internet is reachable; cached files are still used."
        )
        self.host = host


class GaveUp(Exception):
    """Every attempt failed transiently; ``problem`` is the last failure."""

    def __init__(self, attempts: int, problem: str) -> None:
        super().__init__(f"{attempts} attempt(s); last problem: {problem}")
        self.attempts = attempts
        self.problem = problem


class HttpStatusError(AlsigError):
    """A non-retryable HTTP status (or retries exhausted on a retryable one)."""

    def __init__(self, msg: str, status: int | None = None) -> None:
        super().__init__(msg)
        self.status = status


@dataclass(frozen=True)
class RetryPolicy:
    """How long one attempt may take and how often, and how patiently, to try again.

    Parameters
    ----------
    timeout
        Seconds per socket operation (connect, each read).
    retries
        Retries after the first attempt.
    backoff
        Seconds before the first retry; doubles for each further one.
    max_retry_after
        Cap on a server's ``Retry-After``.
    """

    timeout: float = 30.0
    retries: int = 5
    backoff: float = 1.0
    max_retry_after: float = MAX_RETRY_AFTER

    @property
    def attempts(self) -> int:
        """Attempts in all: the first and the retries."""
        return self.retries + 1

    def wait_after(self, attempt: int) -> float:
        """Return the backoff after a failed attempt.

        Parameters
        ----------
        attempt
            The attempt that failed (1-based).

        Returns
        -------
        float
            Seconds: ``backoff * 2**(attempt - 1)``.
        """
        return self.backoff * 2 ** (attempt - 1)


def retry_after(headers: Any, cap: float) -> float | None:
    """Read a response's ``Retry-After`` of seconds.

    Parameters
    ----------
    headers
        The response headers (or None).
    cap
        The longest wait accepted, in seconds.

    Returns
    -------
    float or None
        Seconds, between 0 and ``cap``; None when absent or an HTTP date.
    """
    value = headers.get("Retry-After") if headers is not None else None
    if value is None:
        return None
    try:
        return min(cap, max(0.0, float(value)))
    except ValueError:
        return None


@contextlib.contextmanager
def open_url(
    url: str,
    policy: RetryPolicy,
    headers: Mapping[str, str] | None = None,
    method: str = "GET",
) -> Iterator[http.client.HTTPResponse]:
    """Open a GET (or ``method``) of ``url`` for the ``with`` block, sorting its failures.

    Failures, also while the block reads the body, become :class:`Transient` (worth another
    attempt), :class:`Refused` (not) or :class:`Unreachable` (no network).

    Parameters
    ----------
    url
        The URL.
    policy
        Its ``timeout`` (per socket operation) and ``max_retry_after`` are used.
    headers
        Request headers besides the user agent.
    method
        ``GET``, or ``HEAD`` for the headers only.

    Yields
    ------
    http.client.HTTPResponse
        The response, its body unread.

    Raises
    ------
    Transient
        A connection error, timeout, dropped response, HTTP 429 or 5xx.
    Refused
        Any other HTTP error status.
    Unreachable
        The host name does not resolve.
    """
    request = urllib.request.Request(
        url, headers={"User-Agent": USER_AGENT, **(headers or {})}, method=method
    )
    try:
        with urllib.request.urlopen(request, timeout=policy.timeout) as response:
            yield response
    except urllib.error.HTTPError as exc:
        status, reason, response_headers = exc.code, exc.reason, exc.headers
        exc.close()
        if status == 429 or status >= 500:
            wait = None
            if status in (429, 503):
                wait = retry_after(response_headers, policy.max_retry_after)
            raise Transient(f"HTTP {status} {reason}", wait) from None
        raise Refused(status, str(reason)) from None
    except (
        urllib.error.URLError,
        http.client.HTTPException,
        ConnectionError,
        TimeoutError,
        OSError,
    ) as exc:
        cause = getattr(exc, "reason", None) or exc
        # "name unknown" is not going to change on a retry; EAI_AGAIN (a DNS hiccup) may
        if isinstance(cause, socket.gaierror) and cause.errno != socket.EAI_AGAIN:
            raise Unreachable(urllib.parse.urlsplit(url).hostname or url, cause) from None
        raise Transient(f"{type(exc).__name__}: {cause}") from None


def check_length(headers: Any, size: int) -> None:
    """Raise :class:`Transient` when the body is shorter or longer than its ``Content-Length``.

    Parameters
    ----------
    headers
        The response headers (or None: nothing to check).
    size
        The number of body bytes received.

    Raises
    ------
    Transient
        The size differs from ``Content-Length``.
    """
    expected = headers.get("Content-Length") if headers is not None else None
    if expected is not None and expected.isdigit() and size != int(expected):
        raise Transient(f"incomplete response: got {size} of {expected} bytes (connection dropped)")


def with_retries(url: str, attempt: Callable[[int], T], policy: RetryPolicy) -> T:
    """``attempt(k)`` for k = 1, 2, ... until one returns; sleeps between transient failures.

    Parameters
    ----------
    url
        For the log lines.
    attempt
        One try, given its 1-based number; raises :class:`Transient` to be retried. Anything
        else it raises (:class:`Refused`, :class:`AlsigError`) ends the loop.
    policy
        Retries and backoff.

    Returns
    -------
    What the successful attempt returned.

    Raises
    ------
    GaveUp
        When all ``policy.attempts`` attempts failed transiently.
    """
    problem = "no attempt made"
    for number in range(1, policy.attempts + 1):
        try:
            return attempt(number)
        except Transient as exc:
            problem = str(exc)
            wait = exc.wait if exc.wait is not None else policy.wait_after(number)
        if number < policy.attempts:
            log.warning(
                "attempt %d of %d for %s failed: %s; retrying in %.2f s",
                number,
                policy.attempts,
                url,
                problem,
                wait,
            )
            time.sleep(wait)
        else:
            log.error("attempt %d of %d for %s failed: %s", number, policy.attempts, url, problem)
    raise GaveUp(policy.attempts, problem)


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

    Parameters
    ----------
    url
        The URL (its text appears in every error).
    timeout, retries, backoff
        As for :class:`RetryPolicy`.
    headers
        Extra request headers.
    before_request
        Runs before every attempt (a rate limiter).

    Returns
    -------
    bytes
        The response body.

    Raises
    ------
    HttpStatusError
        A non-retryable status (with ``status``), or every attempt failed.
    """
    policy = RetryPolicy(timeout=timeout, retries=retries, backoff=backoff)

    def attempt(number: int) -> bytes:
        if before_request is not None:
            before_request()
        with open_url(url, policy, headers) as response:
            body = response.read()
            check_length(response.headers, len(body))
        log.debug("GET %s -> %d bytes (attempt %d)", url, len(body), number)
        return body

    try:
        return with_retries(url, attempt, policy)
    except Refused as exc:
        raise HttpStatusError(
            f"GET {url} failed with HTTP {exc.status} {exc.reason}; this is not a transient "
            "error: check the URL/query (and the API key, if one is set).",
            exc.status,
        ) from None
    except Unreachable as exc:
        raise HttpStatusError(str(exc)) from None
    except GaveUp as exc:
        raise HttpStatusError(
            f"GET {url} failed after {exc.attempts} attempt(s); last error: {exc.problem}. "
            "The server may be down or rate-limiting: try again later (the scheduled run will)."
        ) from None


def head(url: str, policy: RetryPolicy, headers: Mapping[str, str] | None = None) -> Any:
    """HEAD ``url`` (retrying transient failures) and return the response headers.

    Parameters
    ----------
    url
        The URL.
    policy
        Timeout, retries and backoff.
    headers
        Extra request headers.

    Returns
    -------
    email.message.Message
        The headers (``.get("Last-Modified")``, ...).

    Raises
    ------
    HttpStatusError
        The server refused (with ``status``, e.g. 404 or 405: no HEAD), or every attempt failed.
    """

    def attempt(number: int) -> Any:
        with open_url(url, policy, headers, method="HEAD") as response:
            log.debug("HEAD %s (attempt %d)", url, number)
            return response.headers

    try:
        return with_retries(url, attempt, policy)
    except Refused as exc:
        raise HttpStatusError(f"HEAD {url}: HTTP {exc.status} {exc.reason}", exc.status) from None
    except Unreachable as exc:
        raise HttpStatusError(str(exc)) from None
    except GaveUp as exc:
        raise HttpStatusError(
            f"HEAD {url} failed after {exc.attempts} attempt(s); last error: {exc.problem}"
        ) from None
