"""alsig.sources.download.fetch against the local GEO stub (tests/stub_server.py): retries, cache, checks."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import shutil
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from alsig.errors import AlsigError
from alsig.sources.download import Download, GzipChecker, fetch, read_sidecar, server_change
from alsig.sources.http import RetryPolicy, Transient
from tests.stub_server import DATA, Fault, StubServer

COUNTS = "GSE900001_raw_counts_GRCh38.p13_NCBI.tsv.gz"
MATRIX = "GSE900001_series_matrix.txt.gz"
ANNOT = "Human.GRCh38.p13.annot.tsv.gz"
FAST = {"timeout": 5.0, "retries": 3, "backoff": 0.0}


@pytest.fixture
def geo_stub():
    with StubServer(DATA) as server:
        yield server


def counts_url(server: StubServer, acc: str = "GSE900001") -> str:
    return (
        f"{server.download_base_url}?type=rnaseq_counts&acc={acc}&format=file"
        f"&file={acc}_raw_counts_GRCh38.p13_NCBI.tsv.gz"
    )


def matrix_url(server: StubServer, acc: str = "GSE900001") -> str:
    return f"{server.series_base_url}{acc[:-3]}nnn/{acc}/matrix/{acc}_series_matrix.txt.gz"


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".part-" in p.name)


def test_happy_path_writes_file_and_sidecar(geo_stub, tmp_path):
    dest = tmp_path / "cache" / "GSE900001" / COUNTS
    record = fetch(counts_url(geo_stub), dest, **FAST)
    original = (DATA / "GSE900001" / COUNTS).read_bytes()
    assert dest.read_bytes() == original
    assert isinstance(record, Download) and not record.cached
    assert record.attempts == 1 and record.size == len(original)
    assert record.sha256 == hashlib.sha256(original).hexdigest()
    meta = json.loads(Path(f"{dest}.json").read_text())
    assert meta["url"] == counts_url(geo_stub)
    assert meta["size"] == len(original)
    assert meta["sha256"] == hashlib.sha256(original).hexdigest()
    assert meta["attempts"] == 1
    assert meta["retrieved_at"].endswith("+00:00")
    assert geo_stub.hits[COUNTS] == 1
    assert leftovers(dest.parent) == []


def test_cache_hit_makes_no_request(geo_stub, tmp_path):
    dest = tmp_path / MATRIX
    first = fetch(matrix_url(geo_stub), dest, **FAST)
    assert geo_stub.total_hits() == 1
    second = fetch(matrix_url(geo_stub), dest, **FAST)
    assert geo_stub.total_hits() == 1
    assert second.cached and second.sha256 == first.sha256
    assert second.retrieved_at == first.retrieved_at


def test_cache_is_not_used_when_file_or_url_differs(geo_stub, tmp_path):
    dest = tmp_path / MATRIX
    fetch(matrix_url(geo_stub), dest, **FAST)
    dest.write_bytes(dest.read_bytes()[:-5])  # damaged cached file -> downloaded again
    fetch(matrix_url(geo_stub), dest, **FAST)
    assert geo_stub.hits[MATRIX] == 2
    assert dest.read_bytes() == (DATA / "GSE900001" / MATRIX).read_bytes()
    meta = read_sidecar(dest)
    meta["url"] = "http://elsewhere.invalid/x"
    Path(f"{dest}.json").write_text(json.dumps(meta))
    fetch(matrix_url(geo_stub), dest, **FAST)
    assert geo_stub.hits[MATRIX] == 3


@pytest.fixture
def changing_stub(tmp_path):
    """A stub serving a copy of the GEO data, so a test can change a file on the server."""
    root = tmp_path / "server"
    shutil.copytree(DATA, root)
    with StubServer(root) as server:
        yield server


def test_sidecar_records_the_servers_last_modified_and_etag(geo_stub, tmp_path):
    dest = tmp_path / MATRIX
    record = fetch(matrix_url(geo_stub), dest, **FAST)
    meta = read_sidecar(dest)
    assert meta["sidecar_version"] == 2
    assert meta["last_modified"].endswith(" GMT") and meta["etag"].startswith('"')
    assert (record.last_modified, record.etag) == (meta["last_modified"], meta["etag"])
    assert fetch(matrix_url(geo_stub), dest, **FAST).etag == meta["etag"]  # from the cache


def test_server_change_names_what_changed_and_costs_no_download(changing_stub, tmp_path):
    dest = tmp_path / COUNTS
    fetch(counts_url(changing_stub), dest, **FAST)
    policy = RetryPolicy(timeout=5, retries=0)
    assert server_change(dest, policy) == ""
    changing_stub.change_file(f"GSE900001/{COUNTS}", (b"\t3125\t", b"\t99999\t"))
    change = server_change(dest, policy)
    assert change.startswith("Last-Modified '") and "-> '" in change
    size = dest.stat().st_size
    assert f"size {size} -> " in change
    assert changing_stub.hits[COUNTS] == 1 and changing_stub.heads[COUNTS] == 2

    # a sidecar of an older alsig (no Last-Modified / ETag): the size still tells
    meta = read_sidecar(dest)
    del meta["last_modified"], meta["etag"]
    Path(f"{dest}.json").write_text(json.dumps(meta))
    assert server_change(dest, policy) == f"size {size} -> {size + 1} bytes"


def test_server_change_etag_when_no_last_modified(changing_stub, tmp_path):
    dest = tmp_path / COUNTS
    fetch(counts_url(changing_stub), dest, **FAST)
    meta = read_sidecar(dest)
    del meta["last_modified"]
    Path(f"{dest}.json").write_text(json.dumps(meta))
    changing_stub.change_file(f"GSE900001/{COUNTS}", (b"\t3125\t", b"\t3126\t"))  # same size
    change = server_change(dest, RetryPolicy(timeout=5, retries=0))
    assert change.startswith(f"ETag {meta['etag']} -> ") and "size" not in change


def test_server_change_that_cannot_be_checked_says_why(changing_stub, tmp_path):
    dest = tmp_path / COUNTS
    fetch(counts_url(changing_stub), dest, **FAST)
    (changing_stub.root / "GSE900001" / COUNTS).unlink()
    with pytest.raises(AlsigError, match=r"HEAD http://127\.0\.0\.1:\d+/geo/download/.*HTTP 404"):
        server_change(dest, RetryPolicy(timeout=5, retries=0))
    with pytest.raises(AlsigError, match="has no download record"):
        server_change(tmp_path / "elsewhere.gz", RetryPolicy(timeout=5, retries=0))


def test_refresh_keeps_the_old_copy_until_the_new_one_is_complete(changing_stub, tmp_path):
    dest = tmp_path / COUNTS
    fetch(counts_url(changing_stub), dest, **FAST)
    old = dest.read_bytes()
    changing_stub.change_file(f"GSE900001/{COUNTS}", (b"\t3125\t", b"\t99999\t"))
    changing_stub.inject(COUNTS, always=Fault.truncate())
    with pytest.raises(AlsigError, match="truncated|incomplete"):
        fetch(counts_url(changing_stub), dest, **{**FAST, "retries": 1}, refresh=True)
    assert dest.read_bytes() == old and leftovers(dest.parent) == []
    changing_stub.clear_faults()
    record = fetch(counts_url(changing_stub), dest, **FAST, refresh=True)
    assert not record.cached and b"\t99999\t" in gzip.decompress(dest.read_bytes())
    assert read_sidecar(dest)["sha256"] == record.sha256


def test_retry_after_dropped_connection(geo_stub, tmp_path, caplog):
    geo_stub.inject(COUNTS, Fault.drop())
    dest = tmp_path / COUNTS
    with caplog.at_level(logging.INFO, logger="alsig.sources.download"):
        record = fetch(counts_url(geo_stub), dest, **FAST)
    assert record.attempts == 2
    assert geo_stub.hits[COUNTS] == 2
    assert read_sidecar(dest)["attempts"] == 2
    assert dest.read_bytes() == (DATA / "GSE900001" / COUNTS).read_bytes()
    attempts = [r.getMessage() for r in caplog.records if r.getMessage().startswith("GET ")]
    assert len(attempts) == 2 and "attempt 2 of 4" in attempts[1]


def test_429_with_retry_after_is_honoured(geo_stub, tmp_path, monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr("alsig.sources.http.time.sleep", waits.append)
    geo_stub.inject(MATRIX, Fault.status(429, retry_after=7), Fault.status(429, retry_after=9999))
    record = fetch(matrix_url(geo_stub), tmp_path / MATRIX, timeout=5, retries=3, backoff=0.5)
    assert record.attempts == 3
    assert waits == [7.0, 120.0]  # the server's Retry-After, capped at MAX_RETRY_AFTER


def test_500_then_200_uses_exponential_backoff(geo_stub, tmp_path, monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr("alsig.sources.http.time.sleep", waits.append)
    geo_stub.inject(ANNOT, Fault.status(500), Fault.status(502))
    record = fetch(
        f"{geo_stub.download_base_url}?type=rnaseq_counts&format=file&file={ANNOT}",
        tmp_path / ANNOT,
        timeout=5,
        retries=3,
        backoff=0.25,
    )
    assert record.attempts == 3
    assert waits == [0.25, 0.5]
    assert geo_stub.hits[ANNOT] == 3


@pytest.mark.parametrize("fault", [Fault.truncate(), Fault.no_length()], ids=["length", "gzip"])
def test_truncated_body_is_never_used(geo_stub, tmp_path, fault):
    """A short body (Content-Length mismatch, or a gzip stream without its end) is retried."""
    dest = tmp_path / COUNTS
    geo_stub.inject(COUNTS, fault, always=fault)
    with pytest.raises(AlsigError) as error:
        fetch(counts_url(geo_stub), dest, timeout=5, retries=2, backoff=0)
    message = str(error.value)
    assert counts_url(geo_stub) in message and "after 3 attempt(s)" in message
    assert ("incomplete response" if fault.kind == "truncate" else "truncated gzip") in message
    assert not dest.exists() and not Path(f"{dest}.json").exists()
    assert leftovers(tmp_path) == []
    geo_stub.clear_faults()
    geo_stub.inject(COUNTS, fault)  # once more, then a good answer
    assert fetch(counts_url(geo_stub), dest, timeout=5, retries=2, backoff=0).attempts == 2
    assert gzip.decompress(dest.read_bytes()).startswith(b"GeneID\tGSM9001001")


def test_404_is_not_retried_and_names_the_url(geo_stub, tmp_path):
    url = counts_url(geo_stub, "GSE999999")
    with pytest.raises(AlsigError, match="HTTP 404") as error:
        fetch(url, tmp_path / "x.tsv.gz", **FAST)
    assert url in str(error.value) and "check the accession" in str(error.value)
    assert geo_stub.hits["GSE999999_raw_counts_GRCh38.p13_NCBI.tsv.gz"] == 1
    assert list(tmp_path.iterdir()) == []


def test_wrong_series_folder_is_a_404(geo_stub, tmp_path):
    url = f"{geo_stub.series_base_url}GSE9nnn/GSE900001/matrix/{MATRIX}"
    with pytest.raises(AlsigError, match="HTTP 404"):
        fetch(url, tmp_path / MATRIX, **FAST)


def test_retries_exhausted_leaves_nothing(geo_stub, tmp_path, monkeypatch):
    monkeypatch.setattr("alsig.sources.http.time.sleep", lambda s: None)
    geo_stub.inject(MATRIX, always=Fault.status(500))
    dest = tmp_path / "cache" / MATRIX
    with pytest.raises(AlsigError) as error:
        fetch(matrix_url(geo_stub), dest, timeout=5, retries=2, backoff=1)
    message = str(error.value)
    assert matrix_url(geo_stub) in message
    assert "after 3 attempt(s)" in message and "HTTP 500" in message
    assert geo_stub.hits[MATRIX] == 3
    assert not dest.exists() and leftovers(dest.parent) == []


def test_slow_server_times_out_then_succeeds(geo_stub, tmp_path):
    geo_stub.inject(MATRIX, Fault.slow(1.5))
    record = fetch(matrix_url(geo_stub), tmp_path / MATRIX, timeout=0.5, retries=2, backoff=0)
    assert record.attempts == 2


def test_connection_refused_is_retried_then_fails(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/geo/download/?file=x.gz"
    with pytest.raises(AlsigError, match="after 2 attempt"):
        fetch(url, tmp_path / "x.gz", timeout=2, retries=1, backoff=0)


def test_no_network_is_said_at_the_first_attempt_without_retries(tmp_path, monkeypatch):
    """On a machine without internet (the host name does not resolve) alsig says so at once
    instead of backing off through every retry."""
    slept = []
    monkeypatch.setattr("alsig.sources.http.time.sleep", slept.append)
    with pytest.raises(
        AlsigError, match=r"cannot resolve no-such-host.invalid .*no network access"
    ):
        fetch("https://no-such-host.invalid/x.gz", tmp_path / "x.gz", retries=5, backoff=2)
    assert slept == [] and not (tmp_path / "x.gz").exists()
    from alsig.sources.eutils import EUtils

    client = EUtils(base_url="https://no-such-host.invalid/entrez/eutils/", retries=5)
    with pytest.raises(AlsigError, match="no network access"):
        client.esearch("ALS")
    assert slept == []


def test_html_instead_of_gzip_is_rejected(geo_stub, tmp_path):
    geo_stub.register("/html/", lambda path, query: (200, {}, b"<html>maintenance</html>"))
    with pytest.raises(AlsigError, match="HTML"):
        fetch(f"{geo_stub.base_url}/html/file.gz", tmp_path / "file.gz", timeout=5, retries=0)
    assert geo_stub.hits["/html/file.gz"] == 1


def test_gzip_checker_accepts_concatenated_members_and_rejects_garbage():
    data = gzip.compress(b"a" * 1000) + gzip.compress(b"b" * 10)
    checker = GzipChecker()
    for i in range(0, len(data), 7):
        checker.feed(data[i : i + 7])
    checker.finish(len(data))
    broken = GzipChecker()
    broken.feed(data[:20])
    with pytest.raises(Transient, match="truncated gzip"):
        broken.finish(20)
    with pytest.raises(Transient, match="not valid gzip"):
        GzipChecker().feed(b"plain text, not gzip")


def test_stub_routes_and_registered_handler(geo_stub):
    geo_stub.register("/entrez/eutils/", lambda path, query: (200, {}, query["term"][0].encode()))
    with urllib.request.urlopen(f"{geo_stub.base_url}/entrez/eutils/esearch.fcgi?term=ALS") as r:
        assert r.read() == b"ALS"
    assert geo_stub.hits["/entrez/eutils/esearch.fcgi"] == 1
    geo_stub.inject("/entrez/eutils/esearch.fcgi", Fault.status(503, retry_after=0))
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(f"{geo_stub.base_url}/entrez/eutils/esearch.fcgi?term=x")
    assert error.value.code == 503 and error.value.headers["Retry-After"] == "0"
    assert os.fspath(geo_stub.root) == os.fspath(DATA)


def test_one_retry_loop_serves_downloads_and_api_calls(monkeypatch):
    """with_retries: a Transient's own wait wins over the backoff; GaveUp names the last problem."""
    from alsig.sources.http import GaveUp, RetryPolicy, with_retries

    waits: list[float] = []
    monkeypatch.setattr("alsig.sources.http.time.sleep", waits.append)
    policy = RetryPolicy(timeout=1, retries=2, backoff=0.5)
    answers = iter([Transient("HTTP 503", wait=3.0), Transient("dropped"), "body"])

    def attempt(number: int) -> str:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return f"{answer} on attempt {number}"

    assert with_retries("http://x", attempt, policy) == "body on attempt 3"
    assert waits == [3.0, 1.0]

    def always(number: int) -> str:
        raise Transient(f"failure {number}")

    with pytest.raises(GaveUp) as gave_up:
        with_retries("http://x", always, policy)
    assert gave_up.value.attempts == 3 and gave_up.value.problem == "failure 3"
