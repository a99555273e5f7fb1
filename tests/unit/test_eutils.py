"""E-utilities client against a local fake serving the real esearch/esummary JSON layout."""

from __future__ import annotations

import pytest

from alsig.errors import AlsigError
from alsig.sources import eutils as eutils_module
from alsig.sources.eutils import (
    DEFAULT_TERM,
    EUtils,
    EUtilsError,
    RateLimiter,
    SeriesSummary,
    discover_series,
)
from tests.eutils_stub import EutilsFixture, serve


def client(url: str, **kwargs) -> EUtils:
    kwargs.setdefault("retries", 3)
    kwargs.setdefault("backoff", 0.01)
    kwargs.setdefault("requests_per_second", 1000)
    return EUtils(url, **kwargs)


def test_discover_reads_real_layout():
    fixture = EutilsFixture(published=["GSE900002", "GSE900001"])
    with serve(fixture) as url:
        series = discover_series(client(url), DEFAULT_TERM)
    assert [s.accession for s in series] == ["GSE900001", "GSE900002"]
    first = series[0]
    assert first.uid == "200900001"
    assert first.n_samples == 10
    assert first.pdat == "2024/03/15"
    assert first.suppfile == "CSV, TXT"
    assert first.gdstype == "Expression profiling by high throughput sequencing"
    assert len(first.samples) == 10
    assert fixture.requests == ["esearch.fcgi", "esummary.fcgi"]


def test_esearch_pages_and_esummary_batches():
    fixture = EutilsFixture(published=["GSE900001", "GSE900002", "GSE900003"])
    with serve(fixture) as url:
        eu = client(url)
        ids = eu.esearch(DEFAULT_TERM, page_size=2)
        docs = eu.esummary(ids, batch_size=2)
    assert ids == ["200900001", "200900002", "200900003"]
    assert sorted(d["accession"] for d in docs.values()) == ["GSE900001", "GSE900002", "GSE900003"]
    assert fixture.requests == ["esearch.fcgi"] * 2 + ["esummary.fcgi"] * 2


def test_api_key_sent_and_redacted_in_errors():
    fixture = EutilsFixture(fail_always=400)
    with serve(fixture) as url, pytest.raises(AlsigError) as info:
        client(url, api_key="SECRETKEY").esearch("x")
    assert fixture.api_keys == ["SECRETKEY"]  # 4xx: no retry
    message = str(info.value)
    assert "SECRETKEY" not in message and "api_key=***" in message
    assert "esearch.fcgi" in message and "HTTP 400" in message


@pytest.mark.parametrize("fault", ["drop", 429, 500])
def test_transient_failures_are_retried(fault):
    fixture = EutilsFixture(faults=[fault, fault])
    with serve(fixture) as url:
        series = discover_series(client(url), DEFAULT_TERM)
    assert len(series) == 2
    assert fixture.requests == ["esearch.fcgi"] * 3 + ["esummary.fcgi"]


def test_retries_exhausted_names_the_url():
    fixture = EutilsFixture(fail_always=500)
    with (
        serve(fixture) as url,
        pytest.raises(AlsigError, match=r"esearch\.fcgi.*after 3 attempt\(s\).*HTTP 500"),
    ):
        client(url, retries=2).esearch(DEFAULT_TERM)
    assert len(fixture.requests) == 3


def test_rate_limit_defaults_and_spacing(monkeypatch):
    assert EUtils().limiter.interval == pytest.approx(1 / 3)
    assert EUtils(api_key="k").limiter.interval == pytest.approx(1 / 10)
    # a fake clock: calls made at once are spaced by the interval, a late call does not wait
    clock = {"now": 100.0}
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock["now"] += seconds

    monkeypatch.setattr(eutils_module.time, "monotonic", lambda: clock["now"])
    monkeypatch.setattr(eutils_module.time, "sleep", sleep)
    limiter = RateLimiter(20)
    for _ in range(5):
        limiter.wait()
    assert slept == pytest.approx([0.05] * 4)
    clock["now"] += 1.0
    limiter.wait()
    assert len(slept) == 4


def test_fingerprint_tracks_content_not_dates():
    doc = {
        "accession": "GSE1",
        "title": "t",
        "n_samples": 2,
        "pdat": "2020/01/01",
        "samples": [{"accession": "GSM2"}, {"accession": "GSM1"}],
    }
    base = SeriesSummary.from_esummary("1", doc).fingerprint()
    assert SeriesSummary.from_esummary("1", {**doc, "pdat": "2021/01/01"}).fingerprint() == base
    more = {**doc, "n_samples": 3, "samples": doc["samples"] + [{"accession": "GSM3"}]}
    assert SeriesSummary.from_esummary("1", more).fingerprint() != base
    assert base.startswith("esummary:")


def test_non_json_response_is_an_error_naming_the_url():
    fixture = EutilsFixture(faults=["html"])
    with serve(fixture) as url, pytest.raises(AlsigError, match=r"esearch\.fcgi.*not JSON.*<html>"):
        client(url).esearch("x")


@pytest.mark.parametrize(
    ("esearchresult", "message"),
    [
        ({"count": "many", "idlist": ["200900003"]}, "esearchresult.count is 'many', not a count"),
        ({"count": "1", "idlist": "200900003"}, "idlist is '200900003', not a list of uids"),
        ({"count": "1", "idlist": ["GSE900003"]}, "not uids (digits), e.g. 'GSE900003'"),
        ({"idlist": ["200900003"]}, "esearchresult.count is None, not a count"),
    ],
)
def test_malformed_esearch_answer_is_a_discovery_error_quoting_it(
    esearchresult, message, monkeypatch
):
    eu = client("http://127.0.0.1:9/entrez/eutils/")
    monkeypatch.setattr(eu, "get_json", lambda endpoint, params: {"esearchresult": esearchresult})
    with pytest.raises(EUtilsError) as info:
        eu.esearch(DEFAULT_TERM)
    assert message in str(info.value) and "esearch.fcgi" in str(info.value)
    assert "check reprocess.eutils_base_url" in str(info.value)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"n_samples": "ten"}, "(GSE900001): 'n_samples' is 'ten', not a count"),
        ({"samples": "GSM1,GSM2"}, "(GSE900001): 'samples' is 'GSM1,GSM2', not a list of"),
        ({"title": ["a", "b"]}, "(GSE900001): 'title' is ['a', 'b'], not text"),
    ],
)
def test_malformed_esummary_document_is_a_discovery_error_quoting_it(edit, message):
    fixture = EutilsFixture(published=["GSE900001"], edits={"GSE900001": edit})
    with serve(fixture) as url, pytest.raises(EUtilsError) as info:
        discover_series(client(url), DEFAULT_TERM)
    assert f"esummary uid 200900001 {message}" in str(info.value)
