r"""Identifiers and names as one canonical text: NFC, no invisible characters, stripped.

The same visible name can be stored as different code points: ``é`` as one character (NFC, what
most editors write) or as ``e`` + a combining accent (NFD, what macOS file names and some
exports use), or with an invisible character pasted in from a web page or a word processor
(``JR9`` + a zero-width space). Two such spellings of a sample id would never match; two of a
donor would be two donors, two of a region two levels. Every id and name alsig reads goes
through :func:`clean_names`, which says which it changed, so the repair is reported rather than
silent; a message that shows such a value uses ``repr()``, where they are visible (``'\u200b'``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from alsig.errors import name_some

#: characters that print as nothing: zero-width space / non-joiner / joiner, word joiner, the
#: byte-order mark (zero-width no-break space), soft hyphen, Mongolian vowel separator,
#: invisible operators and the bidirectional marks and embeddings (Unicode category Cf, less
#: the few that print, such as the Arabic number signs)
INVISIBLE_CHARACTERS = (
    "\u00ad\u180e\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufeff"
)
_INVISIBLE = re.compile(f"[{INVISIBLE_CHARACTERS}]")


def without_invisible(text: str) -> str:
    """``text`` without :data:`INVISIBLE_CHARACTERS` (unchanged, and cheap, for ASCII).

    Parameters
    ----------
    text
        Any string.

    Returns
    -------
    str
    """
    return text if text.isascii() else _INVISIBLE.sub("", text)


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
    """One id or name as alsig compares it: NFC, no invisible characters, stripped; None stays None.

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
    return without_invisible(nfc(str(value))).strip()


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
    invisible
        The inputs that held :data:`INVISIBLE_CHARACTERS` (as read, in order).
    """

    names: list[str | None]
    stripped: list[str] = field(default_factory=list)
    normalised: list[str] = field(default_factory=list)
    invisible: list[str] = field(default_factory=list)

    def notes(
        self, what: str, kinds: tuple[str, ...] = ("stripped", "normalised", "invisible")
    ) -> list[str]:
        """One line per kind of change, for the log and the provenance.

        Parameters
        ----------
        what
            What the names are, e.g. ``"gene id(s)"``.
        kinds
            The kinds of change to say (``stripped``, ``normalised``, ``invisible``).

        Returns
        -------
        list of str
        """
        out = []
        if self.stripped and "stripped" in kinds:
            shown = name_some(self.stripped, show=repr)
            out.append(f"whitespace around {len(self.stripped)} {what} removed: {shown}")
        if self.normalised and "normalised" in kinds:
            shown = name_some(self.normalised, show=repr)
            out.append(
                f"{len(self.normalised)} {what} normalised to Unicode NFC (same letters, "
                f"other code points): {shown}"
            )
        if self.invisible and "invisible" in kinds:
            out.append(invisible_note([repr(v) for v in self.invisible], what))
        return out


def invisible_note(shown: list[str], what: str) -> str:
    r"""Say that invisible characters were removed, naming at most 10 of the values.

    Parameters
    ----------
    shown
        The values as read, each already shown with ``repr`` (where the characters are
        visible: ``'JR9\u200b'``), optionally with where they were.
    what
        What they are, e.g. ``"sample id(s)"``.

    Returns
    -------
    str
    """
    named = name_some(shown)
    return (
        f"invisible character(s) (zero-width space, joiner, byte-order mark ...) removed from "
        f"{len(shown)} {what}: {named}"
    )


def clean_names(values: Iterable[object]) -> CleanedNames:
    """:func:`clean_name` of each value, recording which were stripped, normalised or invisible.

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
    invisible: list[str] = []
    for value in values:
        if value is None:
            names.append(None)
            continue
        raw = str(value)
        composed = nfc(raw)
        if composed != raw:
            normalised.append(raw)
        visible = without_invisible(composed)
        if visible != composed:
            invisible.append(raw)
        clean = visible.strip()
        if clean != visible:
            stripped.append(raw)
        names.append(clean)
    return CleanedNames(names, stripped, normalised, invisible)
