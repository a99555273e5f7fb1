"""User-facing errors.

Every problem a user can fix (bad input file, bad config, impossible contrast) is raised as an
``AlsigError`` whose message names the file, the row/column or config key, and what to do. Rule
scripts turn it into a one-paragraph message in the job log and a non-zero exit, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")


class AlsigError(Exception):
    """An error caused by input or configuration that the user can fix."""


def where(path: object, *, row: int | None = None, column: object = None) -> str:
    """Format a location for error messages: ``file 'x.tsv', line 12, column 'GSM1'``."""
    parts = [f"file '{path}'"]
    if row is not None:
        parts.append(f"line {row}")
    if column is not None:
        parts.append(f"column '{column}'")
    return ", ".join(parts)


#: how many values a message names before it says how many it left out
NAMED_IN_MESSAGES = 10


def name_some(
    items: Iterable[T],
    *,
    limit: int = NAMED_IN_MESSAGES,
    sep: str = ", ",
    show: Callable[[T], str] = str,
) -> str:
    """Name at most ``limit`` items, then say how many more: ``a, b, c and 7 more``.

    A message that names a thousand bad cells is unreadable, and one that names ten and ends in
    ``...`` hides how many there were; every list in a message or a log line is written so.

    Parameters
    ----------
    items
        The values, in the order they are to be named.
    limit
        How many to name.
    sep
        Between two named items.
    show
        How one item is written (``repr`` makes invisible characters and spaces visible).

    Returns
    -------
    str
    """
    values = list(items)
    named = sep.join(show(value) for value in values[:limit])
    left_out = len(values) - limit
    return f"{named} and {left_out:,} more" if left_out > 0 else named
