"""One reprocessing run at a time: an exclusive ``flock`` on ``<state_dir>/reprocess.lock``."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

from alsig.errors import AlsigError, name_some
from alsig.io import remove_interrupted_writes
from alsig.ops.registry import utc_now

log = logging.getLogger(__name__)


class LockedError(AlsigError):
    """Another reprocess run holds the lock."""


@contextlib.contextmanager
def run_lock(path: str | Path, timeout: float = 0.0, poll: float = 0.2) -> Iterator[int]:
    """Hold an exclusive ``flock`` on ``path`` for the block; wait up to ``timeout`` seconds.

    The kernel releases the lock when the process dies, so a killed run never leaves a stale
    lock. The file records the holder (pid and start time) for the message of a waiting run.
    The holder owns the lock's folder: temporary files of atomic writes a killed holder left
    there are removed when the lock is taken (:func:`clean_interrupted_writes`).

    Parameters
    ----------
    path
        The lock file (created with its folder).
    timeout
        Seconds to wait for another holder.
    poll
        Seconds between tries.

    Yields
    ------
    int
        The lock file's descriptor (a child process that inherits it keeps the lock).

    Raises
    ------
    LockedError
        Another process still holds the lock after ``timeout``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")  # noqa: SIM115 (held for the whole block)
    deadline = time.monotonic() + max(0.0, timeout)
    try:
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    raise LockedError(
                        locked_message(path, handle.read().strip(), handle.fileno())
                        + f" Waited {timeout:g}s; nothing was changed; the next scheduled run "
                        "will retry."
                    ) from None
                time.sleep(poll)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {utc_now()}\n")
        handle.flush()
        clean_interrupted_writes(path.parent)
        yield handle.fileno()
    finally:
        handle.close()  # releases the flock


def locked_message(path: Path, holder: str, own_fd: int) -> str:
    """Say who holds the lock ``path``, and what (not) to do about it.

    The file names the run that took the lock. When that process has ended, the lock is held by
    a child that inherited the descriptor (the snakemake of a run killed with SIGKILL keeps
    running): the message names it, and warns that deleting the file would let a new run start
    beside it.

    Parameters
    ----------
    path
        The lock file.
    holder
        Its content (``pid <n> since <time>``; empty when unknown).
    own_fd
        This process's descriptor of the file (not a holder).

    Returns
    -------
    str
        One paragraph.
    """
    recorded = re.fullmatch(r"pid (\d+) since (\S+)", holder)
    if recorded is None or pid_alive(int(recorded.group(1))):
        what = f"{holder}, still running" if recorded else (holder or "holder unknown")
        return f"another reprocess run holds the lock {path} ({what})."
    openers = [f"pid {pid}: {command}" for pid, command in processes_with_open(path, own_fd)]
    found = (
        f" Processes with the lock file open: {'; '.join(openers[:5])}."
        if openers
        else f" Find it with `fuser -v {path}` or `ps -ef | grep snakemake`."
    )
    return (
        f"the lock {path} is still held, although the run that took it ({holder}) has ended: "
        "a process it started holds it, most likely its snakemake, left running when that run "
        f"was killed.{found} Let it finish (or stop it); do not delete the lock file while it "
        "runs, or a new run would start beside it."
    )


def pid_alive(pid: int) -> bool:
    """Return whether a process ``pid`` runs (also one of another user; a zombie has ended)."""
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    with contextlib.suppress(OSError):  # no /proc (not Linux): trust the signal test
        # /proc/<pid>/stat: "pid (command) state ...": the command may hold spaces and ")"
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def processes_with_open(path: Path, own_fd: int) -> list[tuple[int, str]]:
    """Return (pid, command line) of the processes with ``path`` open, from ``/proc``.

    What ``fuser`` does, for the processes this user may inspect (Linux; elsewhere none).
    This process's descriptor ``own_fd`` is left out.

    Parameters
    ----------
    path
        The file.
    own_fd
        This process's descriptor of it.

    Returns
    -------
    list of (int, str)
        In pid order; the command line shortened to 120 characters.
    """
    target = str(path.resolve())
    found = []
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        pid = int(fd_dir.parent.name)
        skip = str(own_fd) if pid == os.getpid() else None
        if not any(fd.name != skip and _points_to(fd, target) for fd in _entries(fd_dir)):
            continue
        try:
            raw = (fd_dir.parent / "cmdline").read_bytes()
        except OSError:  # it ended meanwhile
            continue
        command = " ".join(raw.decode(errors="replace").split("\0")).strip()
        found.append((pid, command if len(command) <= 120 else command[:117] + "..."))
    return sorted(found)


def _entries(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except OSError:  # another user's process, or it ended meanwhile
        return []


def _points_to(link: Path, target: str) -> bool:
    try:
        return os.readlink(link) == target
    except OSError:  # closed meanwhile (e.g. the descriptor that listed the folder)
        return False


def clean_interrupted_writes(folder: Path) -> list[Path]:
    """Remove what atomic writes of a killed run left in ``folder`` and its subfolders.

    The old files themselves are intact (the rename never happened); only the temporary files
    (mode 0600, named as :data:`alsig.io.ATOMIC_TEMP_NAME`) stay behind. Called by the lock's
    holder, so no write of another run is under way there. One warning names what went.

    Parameters
    ----------
    folder
        The lock's folder (the reprocess state folder); its direct subfolders too.

    Returns
    -------
    list of Path
        The files removed.
    """
    folders = [folder, *sorted(p for p in folder.iterdir() if p.is_dir())]
    removed = [path for each in folders for path in remove_interrupted_writes(each)]
    if removed:
        names = [str(p.relative_to(folder)) for p in removed]
        log.warning(
            "cleaned up an interrupted write (a run killed while writing): removed %d "
            "temporary file(s) in %s (%s); the files being written kept their previous versions",
            len(removed),
            folder,
            name_some(names),
        )
    return removed
