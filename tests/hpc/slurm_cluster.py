"""Start and stop a throw-away single-node Slurm (munged, slurmctld, slurmd) on localhost.

For the `slurm`-marked test (tests/hpc/test_slurm.py) and for trying the Slurm profile by hand:

    python tests/hpc/slurm_cluster.py start     # prints the partition to use ("debug")
    python tests/hpc/slurm_cluster.py status
    python tests/hpc/slurm_cluster.py stop

Needs root and Debian's `slurm-wlm` + `munge` packages (tests/hpc/install_slurm.sh); no systemd.
Rules it keeps (see /work/shared/hpc/slurm_localhost.md for why the config looks like this):

- Slurm reads its config from /etc/slurm/slurm.conf only (srun inside a job ignores SLURM_CONF),
  so the script writes that file with a marker line, refuses to overwrite a slurm.conf it did not
  write, and removes its own file on stop. Everything else (state, spool, PID and log files) lives
  in a scratch folder (default /tmp/alsig-slurm, or $ALSIG_SLURM_SCRATCH).
- It stops only daemons it started: their PIDs and process start times are recorded in
  <scratch>/cluster.json, and a PID is signalled only while /proc still shows the same program
  with the same start time (so a reused PID is never hit). A munged that was already running is
  used as it is and left running.
- A crashed earlier run is recovered: `start` first stops the daemons recorded by that run (still
  alive, same start time) and removes stale PID files (dead process or a PID now owned by another
  program) before starting fresh ones. A slurmctld/slurmd that this script did not start makes
  `start` fail with a message instead of being touched.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

SLURM_CONF = Path("/etc/slurm/slurm.conf")
MARKER = "# written by alsig tests/hpc/slurm_cluster.py; removed by its stop()"
MUNGE_KEY = Path("/etc/munge/munge.key")
MUNGE_SOCKET_DIR = Path("/run/munge")
DEFAULT_SCRATCH = Path(os.environ.get("ALSIG_SLURM_SCRATCH", "/tmp/alsig-slurm"))
PARTITION = "debug"
T = TypeVar("T")
REQUIRED_PROGRAMS = (
    "munged",
    "munge",
    "unmunge",
    "slurmctld",
    "slurmd",
    "sbatch",
    "squeue",
    "sinfo",
    "scontrol",
)


class SlurmClusterError(RuntimeError):
    """The local cluster cannot be started (the message says why and what to do)."""


class ForeignSlurmError(SlurmClusterError):
    """Another Slurm/munge setup is present on this host; this script leaves it alone."""


def program(name: str) -> str | None:
    """Full path of a program; daemons live in sbin, which a user's PATH may lack."""
    return shutil.which(name) or shutil.which(name, path="/usr/local/sbin:/usr/sbin:/sbin")


def missing_requirements() -> list[str]:
    """Why a local Slurm cannot be started here (empty when it can)."""
    problems = [f"`{p}` not found" for p in REQUIRED_PROGRAMS if program(p) is None]
    if problems:
        problems.append("install with tests/hpc/install_slurm.sh (apt: slurm-wlm munge)")
    if os.geteuid() != 0:
        problems.append("not root (slurmd/slurmctld/munged must be started as root)")
    return problems


# --- processes -------------------------------------------------------------------------------


def process_start_time(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot (/proc/<pid>/stat field 22), None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # the command name (field 2) is in parentheses and may contain spaces
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":  # zombie: already dead
        return None
    return int(fields[19])


def process_name(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None


def pids_named(name: str) -> list[int]:
    """PIDs of running processes whose program name is ``name``."""
    return [
        int(entry.name)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit()
        and process_name(int(entry.name)) == name
        and process_start_time(int(entry.name)) is not None
    ]


@dataclass
class Daemon:
    """A daemon this script started: enough to recognise it again after a crash."""

    name: str
    pid: int
    start_time: int

    def alive(self) -> bool:
        """Still the same process (same program, same start time): safe to signal."""
        return (
            process_name(self.pid) == self.name and process_start_time(self.pid) == self.start_time
        )

    def stop(self, timeout: float = 20.0) -> None:
        if not self.alive():
            return
        os.kill(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                return
            time.sleep(0.2)
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)


def daemon_in_pid_file(path: Path, name: str) -> Daemon | None:
    """The running ``name`` whose PID a PID file holds; None when it names none (file untouched)."""
    try:
        pid = int(path.read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None
    start = process_start_time(pid)
    if start is None or process_name(pid) != name:
        return None
    return Daemon(name, pid, start)


def read_pid_file(path: Path, name: str) -> Daemon | None:
    """The daemon named in a PID file, or None after removing the file when it is stale (the
    process is gone or the PID was reused). Only for daemons of an earlier run: see
    :func:`wait_for_daemon` for one being started."""
    daemon = daemon_in_pid_file(path, name)
    if daemon is None:
        path.unlink(missing_ok=True)
    return daemon


def wait_for_daemon(path: Path, name: str, timeout: float, log: Path) -> Daemon:
    """The daemon ``name`` once its PID file names it running.

    A daemon may create its PID file first and write its PID into it a moment later (Slurm's
    ``create_pidfile`` does), so a file that is empty or does not yet name a running ``name``
    means "not yet"; one that exits instead fails here with its log's tail. Reading such a file
    as "exited" once made a CI run stop a healthy slurmctld it had just started, and delete that
    daemon's config and munged under it.
    """
    return wait_for(
        lambda: daemon_in_pid_file(path, name),
        f"{name} running under the PID in {path}",
        timeout,
        log,
    )


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, **kwargs)


def wait_for(check: Callable[[], T], what: str, timeout: float, log: Path | None = None) -> T:
    """The first truthy value of ``check()``, polled until ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.2)
    tail = ""
    if log is not None and log.exists():
        tail = "\n--- " + str(log) + " ---\n" + "\n".join(log.read_text().splitlines()[-30:])
    raise SlurmClusterError(f"{what} did not happen within {timeout:.0f} s{tail}")


# --- the cluster -----------------------------------------------------------------------------


@dataclass
class SlurmCluster:
    """A single-node Slurm on this host; use as a context manager or call start()/stop()."""

    scratch: Path = DEFAULT_SCRATCH
    partition: str = PARTITION
    cpus: int = field(default_factory=lambda: os.cpu_count() or 1)
    real_memory_mb: int | None = None  # default: 80 % of the memory available now
    hostname: str = field(default_factory=lambda: socket.gethostname().split(".")[0])
    started: dict[str, Daemon] = field(default_factory=dict)
    _lock: object = field(default=None, repr=False)

    @property
    def state_file(self) -> Path:
        return self.scratch / "cluster.json"

    @property
    def controller_log(self) -> Path:
        return self.scratch / "log" / "slurmctld.log"

    @property
    def node_log(self) -> Path:
        return self.scratch / "log" / "slurmd.log"

    def pid_file(self, name: str) -> Path:
        return self.scratch / "run" / f"{name}.pid"

    # state of earlier runs ----------------------------------------------------------------

    def _save_state(self) -> None:
        self.scratch.mkdir(parents=True, exist_ok=True)
        state = {name: vars(d) for name, d in self.started.items()}
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.state_file)

    def _recorded_daemons(self) -> dict[str, Daemon]:
        try:
            state = json.loads(self.state_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}
        return {name: Daemon(**d) for name, d in state.items()}

    def recover(self) -> list[str]:
        """Stop the daemons a crashed earlier run of this script left behind; clear stale files."""
        notes = []
        recorded = self._recorded_daemons()
        self._cancel_jobs_if_ours(recorded)
        for name in ("slurmd", "slurmctld", "munged"):
            daemon = recorded.get(name)
            if daemon is not None and daemon.alive():
                notes.append(f"stopping {name} (pid {daemon.pid}) left by an earlier run")
                daemon.stop()
            if name != "munged":
                read_pid_file(self.pid_file(name), name)  # removes the file when stale
        self.state_file.unlink(missing_ok=True)
        self._remove_conf()
        return notes

    def _cancel_jobs_if_ours(self, daemons: dict[str, Daemon]) -> None:
        """Cancel leftover jobs of a controller we started, so slurmstepd processes end."""
        ctld = daemons.get("slurmctld")
        if ctld is None or not ctld.alive() or not self._conf_is_ours():
            return
        run(["scancel", "--full", "--user", "root"])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            queue = run(["squeue", "-h", "-t", "PD,R,CG", "-o", "%i"])
            if queue.returncode != 0 or not queue.stdout.strip():
                return
            time.sleep(0.5)

    # config --------------------------------------------------------------------------------

    def _conf_is_ours(self) -> bool:
        return SLURM_CONF.exists() and MARKER in SLURM_CONF.read_text()

    def _remove_conf(self) -> None:
        if self._conf_is_ours():
            SLURM_CONF.unlink()

    def __post_init__(self) -> None:
        if self.real_memory_mb is None:
            self.real_memory_mb = 1024
            for line in Path("/proc/meminfo").read_text().splitlines():
                if line.startswith("MemAvailable:"):
                    self.real_memory_mb = int(int(line.split()[1]) / 1024 * 0.8)

    @property
    def memory_mb(self) -> int:
        """Memory of the node (RealMemory) in MB."""
        return self.real_memory_mb

    def slurm_conf(self) -> str:
        s, host = self.scratch, self.hostname
        return "\n".join(
            [
                MARKER,
                f"# scratch: {s}",
                "ClusterName=alsiglocal",
                f"SlurmctldHost={host}",
                "SlurmUser=root",
                "SlurmdUser=root",
                "AuthType=auth/munge",
                "CredType=cred/munge",
                f"StateSaveLocation={s}/state",
                f"SlurmdSpoolDir={s}/spool",
                f"SlurmctldPidFile={self.pid_file('slurmctld')}",
                f"SlurmdPidFile={self.pid_file('slurmd')}",
                f"SlurmctldLogFile={self.controller_log}",
                f"SlurmdLogFile={self.node_log}",
                "SlurmctldDebug=info",
                "SlurmdDebug=info",
                "ProctrackType=proctrack/linuxproc",
                "TaskPlugin=task/none",
                "SelectType=select/cons_tres",
                "SelectTypeParameters=CR_Core_Memory",
                # enforce each job's --mem as a production cluster does: a job step above it is
                # killed (a plan that leaves out the job's own Snakemake processes fails here)
                "JobAcctGatherType=jobacct_gather/linux",
                "JobAcctGatherFrequency=task=1",
                "JobAcctGatherParams=OverMemoryKill",
                "AccountingStorageType=accounting_storage/none",
                "ReturnToService=2",
                "MpiDefault=none",
                "MailProg=/bin/true",
                # keep finished jobs visible to `squeue -t all` (no accounting: sacct is disabled)
                "MinJobAge=3600",
                f"NodeName={host} CPUs={self.cpus} RealMemory={self.memory_mb} State=UNKNOWN",
                f"PartitionName={self.partition} Nodes={host} Default=YES MaxTime=INFINITE State=UP",
                "",
            ]
        )

    # munge ---------------------------------------------------------------------------------

    @staticmethod
    def munge_works() -> bool:
        try:
            cred = run(["munge", "-n"])
            if cred.returncode != 0:
                return False
            return run(["unmunge"], input=cred.stdout).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False

    def _start_munged(self) -> None:
        if self.munge_works():  # somebody's munged is running: use it, never stop it
            return
        others = pids_named("munged")
        if others:
            raise ForeignSlurmError(
                f"a munged not started by this script is running (pid {others}) but "
                "`munge -n | unmunge` fails; fix or stop it first"
            )
        munge_dir = self.scratch / "munge"
        munge_dir.mkdir(parents=True, exist_ok=True)
        for folder in (MUNGE_SOCKET_DIR, Path("/var/log/munge"), Path("/var/lib/munge"), munge_dir):
            folder.mkdir(parents=True, exist_ok=True)
            shutil.chown(folder, "munge", "munge")
        MUNGE_SOCKET_DIR.chmod(0o755)
        if not MUNGE_KEY.exists():
            MUNGE_KEY.parent.mkdir(parents=True, exist_ok=True)
            MUNGE_KEY.write_bytes(secrets.token_bytes(1024))
            shutil.chown(MUNGE_KEY, "munge", "munge")
            MUNGE_KEY.chmod(0o400)
        pid_file = munge_dir / "munged.pid"
        result = run(
            [
                program("runuser") or "runuser",
                "-u",
                "munge",
                "--",
                program("munged"),
                "--force",
                f"--pid-file={pid_file}",
                f"--log-file={munge_dir / 'munged.log'}",
            ]
        )
        if result.returncode != 0:
            raise SlurmClusterError(f"munged failed to start: {result.stderr.strip()}")
        self.started["munged"] = wait_for_daemon(pid_file, "munged", 10, munge_dir / "munged.log")
        self._save_state()
        wait_for(self.munge_works, "`munge -n | unmunge` success", 10, munge_dir / "munged.log")

    # slurm ---------------------------------------------------------------------------------

    def _start_slurm_daemon(self, name: str, args: list[str]) -> None:
        others = pids_named(name)
        if others:
            raise ForeignSlurmError(
                f"a {name} not started by this script is running (pid {others}); "
                "stop it first (this script never touches daemons it did not start)"
            )
        log = self.controller_log if name == "slurmctld" else self.node_log
        result = run([program(name), *args])
        if result.returncode != 0:
            raise SlurmClusterError(f"{name} failed to start: {result.stderr.strip()}")
        self.started[name] = wait_for_daemon(self.pid_file(name), name, 20, log)
        self._save_state()

    def node_state(self) -> str:
        result = run(["sinfo", "-h", "-N", "-o", "%T"])
        return result.stdout.strip() if result.returncode == 0 else ""

    def _take_lock(self) -> None:
        """One cluster per scratch folder: a second concurrent run must not 'recover' (stop) the
        daemons of a live first one. The kernel drops the lock when its holder dies."""
        self.scratch.mkdir(parents=True, exist_ok=True)
        self._lock = open(self.scratch / "lock", "w")  # noqa: SIM115 (held until stop())
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            self._lock = None
            raise ForeignSlurmError(
                f"another process is running the test cluster in {self.scratch}"
            ) from None

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def start(self) -> SlurmCluster:
        if problems := missing_requirements():
            raise SlurmClusterError("; ".join(problems))
        self._take_lock()
        for note in self.recover():
            print(note, file=sys.stderr)
        if SLURM_CONF.exists():
            self._release_lock()
            raise ForeignSlurmError(
                f"{SLURM_CONF} exists and was not written by this script; this script does not "
                "overwrite a real cluster's config (move it away to run the local test cluster)"
            )
        for sub in ("state", "spool", "run", "log"):
            path = self.scratch / sub
            shutil.rmtree(path, ignore_errors=True)
            path.mkdir(parents=True)
        try:
            SLURM_CONF.parent.mkdir(parents=True, exist_ok=True)
            SLURM_CONF.write_text(self.slurm_conf())
            self._start_munged()
            self._start_slurm_daemon("slurmctld", ["-c"])  # -c: no job state from earlier runs
            wait_for(
                lambda: run(["scontrol", "ping"]).stdout.count("UP") > 0,
                "slurmctld answering `scontrol ping`",
                30,
                self.controller_log,
            )
            self._start_slurm_daemon("slurmd", ["-N", self.hostname])
            wait_for(
                lambda: self.node_state() in ("idle", "mixed", "allocated"),
                f"node {self.hostname} idle in `sinfo`",
                60,
                self.node_log,
            )
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Cancel leftover jobs, stop the daemons this object started, remove our slurm.conf."""
        self._cancel_jobs_if_ours(self.started)
        for name in ("slurmd", "slurmctld", "munged"):
            daemon = self.started.get(name)
            if daemon is not None:
                daemon.stop()
        self.started.clear()
        self.state_file.unlink(missing_ok=True)
        self._remove_conf()
        self._release_lock()

    def __enter__(self) -> SlurmCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def status(self) -> dict[str, str]:
        recorded = self._recorded_daemons()
        report = {
            name: f"pid {d.pid} {'running' if d.alive() else 'gone'}"
            for name, d in recorded.items()
        }
        report["slurm.conf"] = (
            "ours"
            if self._conf_is_ours()
            else ("someone else's" if SLURM_CONF.exists() else "absent")
        )
        if recorded.get("slurmctld") and recorded["slurmctld"].alive():
            report["node"] = self.node_state()
        return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("--scratch", type=Path, default=DEFAULT_SCRATCH)
    args = parser.parse_args(argv)
    cluster = SlurmCluster(scratch=args.scratch)
    try:
        if args.action == "start":
            cluster.start()
            print(
                f"single-node Slurm up: partition {cluster.partition}, logs in {args.scratch}/log"
            )
        elif args.action == "stop":
            # a separate process: the daemons to stop are the ones recorded by `start`
            cluster.started = cluster._recorded_daemons()
            cluster.stop()
            print("stopped")
        else:
            for key, value in cluster.status().items():
                print(f"{key}: {value}")
    except SlurmClusterError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
