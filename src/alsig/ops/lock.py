"""One reprocessing run at a time: an exclusive ``flock`` on ``<state_dir>/reprocess.lock``."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from alsig.errors import AlsigError
from alsig.ops.registry import utc_now


class LockedError(AlsigError):
    """Another reprocess run holds the lock."""


@contextlib.contextmanager
def run_lock(path: str | Path, timeout: float = 0.0, poll: float = 0.2) -> Iterator[int]:
    """Hold an exclusive ``flock`` on ``path`` for the block; wait up to ``timeout`` seconds.

    The kernel releases the lock when the process dies, so a killed run never leaves a stale
    lock. The file records the holder (pid and start time) for the message of a waiting run.

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
                    holder = handle.read().strip() or "unknown process"
                    raise LockedError(
                        f"another reprocess run holds the lock {path} ({holder}); waited "
                        f"{timeout:g}s. Nothing was changed; the next scheduled run will retry."
                    ) from None
                time.sleep(poll)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {utc_now()}\n")
        handle.flush()
        yield handle.fileno()
    finally:
        handle.close()  # releases the flock
