"""``did you mean`` for a name that is not one of the allowed ones (a config key, a column)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(word: object, options: Iterable[object]) -> str:
    """`` Did you mean 'x'?`` for the closest option, or an empty string.

    A spelling that differs only in letter case or surrounding whitespace is matched first;
    otherwise :func:`difflib.get_close_matches` picks up to two.

    Parameters
    ----------
    word
        What was written.
    options
        What may be written.

    Returns
    -------
    str
        Starts with a space, so it can be appended to a sentence.
    """
    text = str(word)
    names = [str(o) for o in options]
    folded = [n for n in names if n.strip().casefold() == text.strip().casefold() and n != text]
    close = folded or difflib.get_close_matches(text, names, n=2, cutoff=0.6)
    if not close:
        return ""
    return " Did you mean " + " or ".join(repr(c) for c in close) + "?"
