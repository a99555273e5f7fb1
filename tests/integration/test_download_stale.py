"""A stale partial download of a killed run is removed by the next fetch (needs a dead PID: one
short child process, hence not in the unit tier)."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from alsig.sources.download import fetch
from tests.stub_server import DATA, StubServer
from tests.unit.test_download import FAST, MATRIX, matrix_url


@pytest.fixture
def geo_stub():
    with StubServer(DATA) as server:
        yield server


def test_leftover_part_of_a_killed_run_is_removed(geo_stub, tmp_path):
    # a process that no longer exists left a partial download behind
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True
    )
    pid = int(dead.stdout)
    host = socket.gethostname().replace("-", "_")
    stale = tmp_path / f".{MATRIX}.part-{host}-{pid}-deadbeef"
    stale.write_bytes(b"\x1f\x8b partial")
    other_host = tmp_path / f".{MATRIX}.part-otherhost-1-cafe"
    other_host.write_bytes(b"in progress elsewhere")
    fetch(matrix_url(geo_stub), tmp_path / MATRIX, **FAST)
    assert not stale.exists()
    assert other_host.exists()  # may belong to a live download on another machine: left alone
    assert (tmp_path / MATRIX).read_bytes() == (DATA / "GSE900001" / MATRIX).read_bytes()
