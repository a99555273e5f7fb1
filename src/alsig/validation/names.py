"""Identifiers and names as one canonical text: Unicode NFC, no surrounding whitespace.

The same visible name can be stored as different code points: ``é`` as one character (NFC, what
most editors write) or as ``e`` + a combining accent (NFD, what macOS file names and some
exports use). Two such spellings of a sample id would never match; two of a region would be two
levels. Every id and name alsig reads goes through :func:`clean_names`, which says how many it
changed, so the repair is reported rather than silent.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field


def nfc(text: str) -> str:
    """``text`` in Unicode normal form C (unchanged, and cheap, for ASCII).

    Parameters
    ----------
    text
        Any string.

    Returns
    -------
    str
    """
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def clean_name(value: object) -> str | None:
    """One id or name as alsig compares it: NFC, stripped; None stays None.

    Parameters
    ----------
    value
        The id as read (any type; non-strings are converted with ``str``).

    Returns
    -------
    str or None
    """
    if value is None:
        return None
    return nfc(str(value)).strip()


@dataclass
class CleanedNames:
    """Names after :func:`clean_names`, and what changed.

    Attributes
    ----------
    names
        One cleaned name per input (None stays None).
    stripped
        The inputs that had whitespace around them (as read, in order).
    normalised
        The inputs whose Unicode form changed under NFC (as read, in order).
    """

    names: list[str | None]
    stripped: list[str] = field(default_factory=list)
    normalised: list[str] = field(default_factory=list)

    def notes(self, what: str) -> list[str]:
        """One line per kind of change, for the log and the provenance.

        Parameters
        ----------
        what
            What the names are, e.g. ``"gene id(s)"``.

        Returns
        -------
        list of str
        """
        out = []
        if self.stripped:
            shown = ", ".join(map(repr, self.stripped[:10]))
            out.append(f"whitespace around {len(self.stripped)} {what} removed: {shown}")
        if self.normalised:
            shown = ", ".join(map(repr, self.normalised[:10]))
            out.append(
                f"{len(self.normalised)} {what} normalised to Unicode NFC (same letters, "
                f"other code points): {shown}"
            )
        return out


def clean_names(values: Iterable[object]) -> CleanedNames:
    """:func:`clean_name` of each value, recording which were stripped or NFC-normalised.

    Parameters
    ----------
    values
        Ids or names as read.

    Returns
    -------
    CleanedNames
    """
    names: list[str | None] = []
    stripped: list[str] = []
    normalised: list[str] = []
    for value in values:
        if value is None:
            names.append(None)
            continue
        raw = str(value)
        composed = nfc(raw)
        if composed != raw:
            normalised.append(raw)
        clean = composed.strip()
        if clean != composed:
            stripped.append(raw)
        names.append(clean)
    return CleanedNames(names, stripped, normalised)
