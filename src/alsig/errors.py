"""User-facing errors.

Every problem a user can fix (bad input file, bad config, impossible contrast) is raised as an
``AlsigError`` whose message names the file, the row/column or config key, and what to do. Rule
scripts turn it into a one-paragraph message in the job log and a non-zero exit, never a traceback.
"""

from __future__ import annotations


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
