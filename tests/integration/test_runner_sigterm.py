"""A job process that gets SIGTERM while it writes an output (Slurm's ``scancel``, time or memory
limit) ends without leaving its hidden temporary file (a child process: not a unit test, see
tests/unit/conftest.py; in-process: tests/unit/test_runner.py)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

#: The job: a run_stage whose stage writes its output atomically and waits, mid-write, to be
#: stopped (the file ``writing`` tells the test it is there).
CHILD = """
import sys, time
from pathlib import Path
from types import SimpleNamespace
from alsig.io import atomic_path
from alsig.runner import run_stage

folder = Path(sys.argv[1])

class Named(dict):
    def __iter__(self):
        return iter(self.values())

def run(inputs, outputs, settings, threads):
    with atomic_path(outputs["h5ad"]) as tmp:
        tmp.write_bytes(b"half of a matrix")
        (folder / "writing").touch()
        while True:
            time.sleep(1)

smk = SimpleNamespace(
    rule="qc", log=[str(folder / "job.log")], wildcards=Named(), resources=Named(), threads=1,
    params=Named(), input=Named(), output=Named(h5ad=str(folder / "filtered.h5ad")),
)
run_stage(smk, run)
"""


def test_sigterm_mid_write_removes_the_temporary_file_and_says_so(tmp_path):
    job = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path)])
    try:
        # handshake, not a timing: wait (at most a minute, against a hang) until the write is on
        deadline = time.monotonic() + 60
        while not (tmp_path / "writing").exists():
            assert job.poll() is None, "the job ended before it wrote"
            assert time.monotonic() < deadline, "the job never started its write"
            time.sleep(0.05)
        assert [p.name for p in tmp_path.glob(".filtered.h5ad.*.tmp")]  # the write is under way
        job.send_signal(signal.SIGTERM)
        assert job.wait(timeout=60) == 128 + signal.SIGTERM  # ended by alsig, not by the signal
    finally:
        if job.poll() is None:
            job.kill()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["job.log", "writing"]
    assert "rule qc stopped by SIGTERM after" in (tmp_path / "job.log").read_text()
