"""Input paths: a file that exists, is a file (not a directory), can be read and is not empty.

Every reader and the pre-flight (``alsig check-config``) ask :func:`path_problem`, so a
directory given where a file was meant is named as such instead of ending in
``IsADirectoryError``.
"""

from __future__ import annotations

import os
from pathlib import Path

from alsig.errors import AlsigError, where


def path_problem(
    path: str | Path,
    *,
    allow_empty: bool = False,
    example: str = "data/counts.tsv.gz",
    holds: str = "a table with a header line",
) -> str | None:
    """Why ``path`` cannot be read as an input file, or None when it can.

    Parameters
    ----------
    path
        The input file.
    allow_empty
        Accept a 0-byte file (the caller reports it in its own words).
    example
        A path of the kind wanted, named when ``path`` is a directory.
    holds
        What the file should hold, named when it is empty.

    Returns
    -------
    str or None
        A sentence that starts after the file's name, e.g. ``"is a directory, not a file ..."``.
    """
    path = Path(path)
    if not path.exists():
        return "does not exist; check the path in the config"
    if path.is_dir():
        inside = sorted(p.name for p in path.iterdir() if p.is_file())[:5]
        listing = f" (it holds {', '.join(map(repr, inside))})" if inside else " (it is empty)"
        return (
            f"is a directory, not a file{listing}; give the path of the file itself, e.g. "
            f"'{example}'"
        )
    if not os.access(path, os.R_OK):
        return "cannot be read (permission denied); check the file's permissions"
    if not allow_empty and path.stat().st_size == 0:
        return f"is empty; expected {holds}"
    return None


def check_input_file(path: str | Path, *, allow_empty: bool = False) -> Path:
    """``path`` as a :class:`~pathlib.Path` after :func:`path_problem` found nothing wrong.

    Parameters
    ----------
    path
        The input file.
    allow_empty
        Accept a 0-byte file.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    AlsigError
        ``file '<path>' does not exist`` / ``is a directory, not a file`` / ``cannot be read`` /
        ``is empty``.
    """
    problem = path_problem(path, allow_empty=allow_empty)
    if problem:
        raise AlsigError(f"{where(path)} {problem}.")
    return Path(path)
