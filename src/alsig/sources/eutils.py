"""NCBI E-utilities client for GEO series discovery (esearch + esummary, JSON).

NCBI asks for at most 3 requests/s without an API key and 10 with one
(https://www.ncbi.nlm.nih.gov/books/NBK25497/); :class:`RateLimiter` spaces every request of a
client accordingly. Transient failures (dropped connections, 429, 5xx) are retried with backoff by
:func:`alsig.sources.http.get_bytes`; every error names the URL.

Typical use::

    client = EUtils(api_key=os.environ.get("NCBI_API_KEY"))
    series = discover_series(client, DEFAULT_TERM)   # list[SeriesSummary]
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from alsig.errors import AlsigError
from alsig.settings import defaults
from alsig.sources.http import get_bytes

log = logging.getLogger(__name__)

#: The E-utilities root and the search for ALS RNA-seq series: the ``reprocess:`` defaults of the
#: config schema (the one place they are written).
DEFAULT_BASE_URL: str = defaults("reprocess")["eutils_base_url"]
DEFAULT_TERM: str = defaults("reprocess")["term"]
#: esummary fields whose change means GEO updated the series (see :meth:`SeriesSummary.fingerprint`).
FINGERPRINT_FIELDS = (
    "accession",
    "title",
    "summary",
    "n_samples",
    "suppfile",
    "gpl",
    "gdstype",
    "taxon",
    "samples",
)
ESUMMARY_BATCH = 200  # NCBI allows up to 500 uids per JSON esummary; stay well below
ESEARCH_PAGE = 500


class EUtilsError(AlsigError):
    """E-utilities could not be reached, or answered with something that is not its JSON layout.

    Either way discovery failed (``alsig reprocess`` exits 3 and leaves the registry as it was);
    the message names the request and quotes what was wrong.
    """


#: the end of every message about an answer in an unexpected layout
MALFORMED_ADVICE = (
    "This is not the layout E-utilities sends: check reprocess.eutils_base_url (a proxy or a "
    "maintenance page?), or try again later."
)
#: esummary fields alsig reads as text (:class:`SeriesSummary`)
TEXT_FIELDS = (
    "accession",
    "title",
    "summary",
    "pdat",
    "suppfile",
    "gdstype",
    "taxon",
    "gpl",
    "entrytype",
)


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def whole_number(value: object) -> int | None:
    """Return ``value`` as a count (an int, or digits as text, as E-utilities writes them).

    Parameters
    ----------
    value
        A JSON value.

    Returns
    -------
    int or None
        ``None`` for anything else (a bool, a negative or fractional number, other text).
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value)
    return None


def uid_list(value: object, where_text: str) -> list[str]:
    """Return a JSON list of uids (digit strings) as text, or raise quoting what it is.

    Parameters
    ----------
    value
        The JSON value (``idlist`` of esearch, ``uids`` of esummary).
    where_text
        The request and field, for the message.

    Returns
    -------
    list of str

    Raises
    ------
    EUtilsError
        Not a list, or an element that is not a uid.
    """
    if not isinstance(value, list):
        raise EUtilsError(
            f"{where_text} is {_shown(value)}, not a list of uids. {MALFORMED_ADVICE}"
        )
    bad = [item for item in value if isinstance(item, bool) or whole_number(item) is None]
    if bad:
        raise EUtilsError(
            f"{where_text} holds {len(bad)} value(s) that are not uids (digits), e.g. "
            f"{', '.join(_shown(b) for b in bad[:5])}. {MALFORMED_ADVICE}"
        )
    return [str(item).strip() for item in value]


def check_esummary_document(uid: str, doc: dict[str, Any]) -> None:
    """Raise unless the fields alsig reads from one esummary document have their JSON types.

    Parameters
    ----------
    uid
        The document's uid.
    doc
        The document.

    Raises
    ------
    EUtilsError
        No accession; a text field that is not text; ``n_samples`` that is not a count;
        ``samples`` that is not a list of ``{"accession": ...}`` objects. The message quotes the
        value.
    """
    location = f"esummary uid {uid}"
    problems = []
    if not doc.get("accession"):
        problems.append(f"no 'accession' (got {_shown(doc.get('accession'))})")
    for name in TEXT_FIELDS:
        if name in doc and not isinstance(doc[name], str):
            problems.append(f"'{name}' is {_shown(doc[name])}, not text")
    if "n_samples" in doc and whole_number(doc["n_samples"]) is None:
        problems.append(f"'n_samples' is {_shown(doc['n_samples'])}, not a count")
    samples = doc.get("samples", [])
    if not isinstance(samples, list) or not all(
        isinstance(s, dict) and isinstance(s.get("accession"), str) and s["accession"]
        for s in samples
    ):
        problems.append(
            f'\'samples\' is {_shown(samples)}, not a list of {{"accession": "GSM..."}}'
        )
    if problems:
        accession = doc.get("accession")
        named = f" ({accession})" if isinstance(accession, str) and accession else ""
        raise EUtilsError(f"{location}{named}: {'; '.join(problems)}. {MALFORMED_ADVICE}")


class RateLimiter:
    """At most ``per_second`` calls per second across threads (a minimum spacing between calls)."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self._lock = threading.Lock()
        self._next = 0.0

    def wait(self) -> None:
        """Sleep until the next call is allowed, and book it."""
        with self._lock:
            now = time.monotonic()
            if now < self._next:
                time.sleep(self._next - now)
                now = self._next
            self._next = now + self.interval


@dataclass(frozen=True)
class SeriesSummary:
    """The esummary fields of one GEO series (``db=gds``, ``entrytype`` GSE) alsig uses."""

    uid: str
    accession: str
    title: str = ""
    summary: str = ""
    n_samples: int = 0
    pdat: str = ""
    suppfile: str = ""
    gdstype: str = ""
    taxon: str = ""
    gpl: str = ""
    entrytype: str = ""
    samples: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_esummary(cls, uid: str, doc: dict[str, Any]) -> SeriesSummary:
        """Read the fields alsig uses from one esummary document.

        Parameters
        ----------
        uid
            The document's uid.
        doc
            The esummary document (``result[uid]``); kept as ``raw``.

        Returns
        -------
        SeriesSummary
            Missing fields empty; samples sorted by accession.

        Raises
        ------
        EUtilsError
            A field of the wrong type (:func:`check_esummary_document`).
        """
        check_esummary_document(str(uid), doc)
        samples = tuple(sorted(s["accession"] for s in doc.get("samples") or []))
        return cls(
            uid=str(uid),
            accession=str(doc.get("accession", "")),
            title=str(doc.get("title", "")),
            summary=str(doc.get("summary", "")),
            n_samples=whole_number(doc.get("n_samples", 0)) or 0,
            pdat=str(doc.get("pdat", "")),
            suppfile=str(doc.get("suppfile", "")),
            gdstype=str(doc.get("gdstype", "")),
            taxon=str(doc.get("taxon", "")),
            gpl=str(doc.get("gpl", "")),
            entrytype=str(doc.get("entrytype", "")),
            samples=samples,
            raw=doc,
        )

    def fingerprint(self) -> str:
        """Hash the fields GEO changes when a series is updated (sha256).

        Title, summary, sample list / count, platform(s), supplementary file types, series type and
        taxon: an added/removed sample, a re-analysis or a metadata correction changes it; the
        publication date or volatile link fields do not. Cheap (no download) so every run can
        check every known series.

        Returns
        -------
        str
            ``esummary:<sha256 hex>``.
        """
        payload = {name: getattr(self, name) for name in FINGERPRINT_FIELDS}
        payload["samples"] = list(self.samples)
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return "esummary:" + hashlib.sha256(text.encode()).hexdigest()


class EUtils:
    """esearch/esummary JSON client with an API key option, rate limit, retries and backoff."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        api_key: str | None = None,
        tool: str = "alsig",
        email: str | None = None,
        timeout: float = 30.0,
        retries: int = 5,
        backoff: float = 1.0,
        requests_per_second: float | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.api_key = api_key or None
        self.tool = tool
        self.email = email
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        if requests_per_second is None:
            requests_per_second = 10.0 if self.api_key else 3.0
        self.limiter = RateLimiter(requests_per_second)
        self.requests = 0

    def url(self, endpoint: str, params: dict[str, Any]) -> str:
        """Return the URL of one request, with the client's tool, email and API key.

        Parameters
        ----------
        endpoint
            ``esearch.fcgi`` or ``esummary.fcgi``.
        params
            The query parameters; ``retmode=json`` is added.

        Returns
        -------
        str
            The URL (it holds the API key: use :meth:`_redacted` for messages).
        """
        query = dict(params)
        query["retmode"] = "json"
        if self.tool:
            query["tool"] = self.tool
        if self.email:
            query["email"] = self.email
        if self.api_key:
            query["api_key"] = self.api_key
        return f"{self.base_url}{endpoint}?{urllib.parse.urlencode(query)}"

    def _redacted(self, url: str) -> str:
        return url.replace(self.api_key, "***") if self.api_key else url

    def get_json(self, endpoint: str, params: dict[str, Any]) -> dict[str, Any]:
        """GET one E-utilities endpoint (rate-limited, retried) and parse its JSON object.

        Parameters
        ----------
        endpoint, params
            As for :meth:`url`.

        Returns
        -------
        dict
            The response's JSON object.

        Raises
        ------
        EUtilsError
            The request failed, or the response is not a JSON object or is an E-utilities
            error; the message names the URL with the API key masked.
        """
        url = self.url(endpoint, params)
        shown = self._redacted(url)

        def count_and_wait() -> None:
            self.limiter.wait()
            self.requests += 1

        try:
            body = get_bytes(
                url,
                timeout=self.timeout,
                retries=self.retries,
                backoff=self.backoff,
                before_request=count_and_wait,
            )
        except AlsigError as exc:
            raise EUtilsError(str(exc).replace(url, shown)) from None
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise EUtilsError(
                f"GET {shown}: the response is not JSON ({exc}; starts with {body[:80]!r}). "
                "Check the E-utilities base URL."
            ) from exc
        if not isinstance(data, dict):
            raise EUtilsError(
                f"GET {shown}: expected a JSON object, got {type(data).__name__}. "
                f"{MALFORMED_ADVICE}"
            )
        if "error" in data:  # e.g. {"error": "API rate limit exceeded", ...} or a bad api_key
            raise EUtilsError(f"GET {shown}: E-utilities error: {data['error']}")
        return data

    def esearch(self, term: str, *, db: str = "gds", page_size: int = ESEARCH_PAGE) -> list[str]:
        """Return all uids matching ``term`` (paged with retstart/retmax), in NCBI's order.

        Parameters
        ----------
        term
            The esearch query.
        db
            The Entrez database.
        page_size
            Uids per request (``retmax``).

        Returns
        -------
        list of str
            The uids.

        Raises
        ------
        EUtilsError
            A request failed, or a response has no ``esearchresult``, reports an error, or has
            a ``count`` that is not a count or an ``idlist`` that is not a list of uids.
        """
        ids: list[str] = []
        start = 0
        while True:
            params = {"db": db, "term": term, "retstart": start, "retmax": page_size}
            data = self.get_json("esearch.fcgi", params)
            shown = f"GET {self._redacted(self.url('esearch.fcgi', params))}"
            result = data.get("esearchresult")
            if not isinstance(result, dict):
                raise EUtilsError(
                    f"{shown}: no 'esearchresult' in the response (keys: {sorted(data)})."
                )
            if "ERROR" in result:
                raise EUtilsError(f"esearch for {term!r}: E-utilities error: {result['ERROR']}")
            total = whole_number(result.get("count"))
            if total is None:
                raise EUtilsError(
                    f"{shown}: esearchresult.count is {_shown(result.get('count'))}, not a "
                    f"count. {MALFORMED_ADVICE}"
                )
            page = uid_list(result.get("idlist", []), f"{shown}: esearchresult.idlist")
            ids.extend(page)
            start += len(page)
            if start < total and not page:
                log.warning(
                    "esearch db=%s: NCBI counts %d uid(s) but sent an empty page at %d; "
                    "continuing with the %d it sent",
                    db,
                    total,
                    start,
                    len(ids),
                )
            if not page or start >= total:
                break
        log.info("esearch db=%s: %d uid(s) for %s", db, len(ids), term)
        return ids

    def esummary(
        self, ids: list[str], *, db: str = "gds", batch_size: int = ESUMMARY_BATCH
    ) -> dict[str, dict[str, Any]]:
        """Fetch the esummary document of each uid, in batches of ``batch_size`` uids.

        Parameters
        ----------
        ids
            The uids.
        db
            The Entrez database.
        batch_size
            Uids per request.

        Returns
        -------
        dict of str to dict
            Uid -> document; uids without a document are left out (logged as a warning).

        Raises
        ------
        EUtilsError
            A request failed, or a response has no ``result`` or ``uids`` that are not a list
            of uids.
        """
        docs: dict[str, dict[str, Any]] = {}
        for offset in range(0, len(ids), batch_size):
            chunk = ids[offset : offset + batch_size]
            params = {"db": db, "id": ",".join(chunk)}
            data = self.get_json("esummary.fcgi", params)
            shown = f"GET {self._redacted(self.url('esummary.fcgi', params))}"
            result = data.get("result")
            if not isinstance(result, dict):
                raise EUtilsError(f"{shown}: no 'result' in the response (keys: {sorted(data)}).")
            for uid in uid_list(result.get("uids", []), f"{shown}: result.uids"):
                doc = result.get(uid)
                if not isinstance(doc, dict) or "error" in doc:
                    log.warning("esummary: uid %s has no document (%s)", uid, doc)
                    continue
                docs[str(uid)] = doc
        return docs


def discover_series(
    client: EUtils, term: str = DEFAULT_TERM, *, taxon: str | None = "Homo sapiens"
) -> list[SeriesSummary]:
    """Find the GEO series (GSE) matching ``term``.

    Parameters
    ----------
    client
        The E-utilities client.
    term
        The esearch query on ``db=gds``.
    taxon
        Keep only series of this organism (None: any).

    Returns
    -------
    list of SeriesSummary
        Sorted by accession; entries that are not series (GDS, GPL, GSM) are dropped.
    """
    ids = client.esearch(term, db="gds")
    docs = client.esummary(ids, db="gds") if ids else {}
    series = []
    for uid, doc in docs.items():
        item = SeriesSummary.from_esummary(uid, doc)
        if not item.accession.startswith("GSE") or (item.entrytype and item.entrytype != "GSE"):
            continue
        if taxon and item.taxon and taxon not in item.taxon.split("; "):
            log.info("skipping %s: taxon %r", item.accession, item.taxon)
            continue
        series.append(item)
    series.sort(key=lambda s: (len(s.accession), s.accession))
    log.info("discovered %d GEO series", len(series))
    return series
