"""The test cluster's PID-file handling, with an ordinary process standing in for a daemon.

Needs no Slurm: these are the rules that decide whether tests/hpc/slurm_cluster.py thinks a
daemon it just started is running, which must hold on every machine.
"""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest

from tests.hpc.slurm_cluster import (
    SlurmClusterError,
    daemon_in_pid_file,
    read_pid_file,
    wait_for_daemon,
)


@pytest.fixture
def sleeper():
    """A running process named ``sleep``: the daemon of these tests."""
    process = subprocess.Popen(["sleep", "60"])
    yield process
    process.kill()
    process.wait()


def test_a_pid_file_written_after_it_was_created_is_waited_for_not_read_as_an_exit(
    tmp_path: Path, sleeper: subprocess.Popen
):
    """Slurm's create_pidfile creates the file, then writes the PID: the empty file in between
    once made the CI stop a healthy slurmctld it had just started."""
    pid_file = tmp_path / "daemon.pid"
    pid_file.write_text("")  # created, PID not written yet
    assert daemon_in_pid_file(pid_file, "sleep") is None
    assert pid_file.exists(), "a daemon's PID file being written must not be deleted"

    writer = threading.Timer(0.5, lambda: pid_file.write_text(f"{sleeper.pid}\n"))
    writer.start()
    try:
        daemon = wait_for_daemon(pid_file, "sleep", timeout=10, log=tmp_path / "daemon.log")
    finally:
        writer.join()
    assert daemon.pid == sleeper.pid
    assert daemon.alive()


def test_a_daemon_that_never_names_itself_fails_with_its_log(tmp_path: Path):
    pid_file = tmp_path / "daemon.pid"
    pid_file.write_text("")
    log = tmp_path / "daemon.log"
    log.write_text("fatal: Unable to process configuration file\n")
    with pytest.raises(SlurmClusterError) as error:
        wait_for_daemon(pid_file, "sleep", timeout=0.5, log=log)
    assert f"sleep running under the PID in {pid_file} did not happen" in str(error.value)
    assert "fatal: Unable to process configuration file" in str(error.value)


def test_a_stale_pid_file_of_an_earlier_run_is_removed(tmp_path: Path, sleeper: subprocess.Popen):
    """A PID now owned by another program is stale: recovery removes the file, never signals."""
    pid_file = tmp_path / "slurmctld.pid"
    pid_file.write_text(f"{sleeper.pid}\n")  # alive, but not a slurmctld
    assert read_pid_file(pid_file, "slurmctld") is None
    assert not pid_file.exists()
    assert sleeper.poll() is None
