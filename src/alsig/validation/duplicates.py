"""Duplicate rules shared by every reader.

Exact repeats, and names that differ only in letter case or whitespace (``GAPDH`` / ``gapdh``,
``Bulbar`` / ``bulbar``), which are reported, never merged or split silently.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from alsig.errors import AlsigError, name_some

_HAS_LETTER = re.compile(r"[^\W\d_]")
_SPACES = re.compile(r"\s+")


def repeated(names: Iterable[str]) -> list[str]:
    """Names that occur more than once, each once, in order of their second occurrence.

    Parameters
    ----------
    names
        Ids or names (already cleaned).

    Returns
    -------
    list of str
    """
    seen: set[str] = set()
    dups: dict[str, None] = {}
    for name in names:
        if name in seen:
            dups.setdefault(name, None)
        seen.add(name)
    return list(dups)


def check_unique(names: Sequence[str], where_text: str, what: str, fix: str) -> None:
    """Raise naming the first ten names that occur more than once.

    Parameters
    ----------
    names
        Ids or names (already cleaned).
    where_text
        The location, e.g. ``file 'x.tsv'`` (:func:`alsig.errors.where`).
    what
        What the names are (``"sample ids"``).
    fix
        What to do.

    Raises
    ------
    AlsigError
        When a name repeats.
    """
    dups = repeated(names)
    if dups:
        shown = name_some(dups, show=repr)
        raise AlsigError(f"{where_text}: duplicate {what}: {shown}. {fix}")


def case_variants(names: Iterable[object]) -> list[list[str]]:
    """Group distinct names that are the same after case folding and collapsing whitespace.

    Parameters
    ----------
    names
        Ids, names or sheet values (None and names without a letter are skipped).

    Returns
    -------
    list of list of str
        Each group sorted, groups in order of first occurrence.
    """
    groups: dict[str, dict[str, None]] = {}
    for name in names:
        if name is None:
            continue
        text = str(name)
        if not _HAS_LETTER.search(text):
            continue
        groups.setdefault(_SPACES.sub(" ", text.strip()).casefold(), {})[text] = None
    return [sorted(group) for group in groups.values() if len(group) > 1]
