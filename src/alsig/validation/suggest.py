"""``did you mean`` for a name that is not one of the allowed ones (a config key, a column)."""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterable

from alsig.errors import AlsigError

log = logging.getLogger(__name__)


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


def check_label(label: str, values: Iterable[object], key: str, *, consequence: str) -> None:
    """Check that a configured level (e.g. ``score.control_label``) names some sample.

    A label that matches a value only when letter case and spaces are ignored is a typo: refused,
    naming the value to write. A label that matches nothing at all may be right (a cohort
    without controls): a warning says what follows from it.

    Parameters
    ----------
    label
        The configured level.
    values
        The samples' values of the column the label is looked up in.
    key
        The config key of the label, for the messages.
    consequence
        What the run does when no sample has the label (for the warning).

    Raises
    ------
    AlsigError
        The label differs from a value only in letter case or spaces.
    """
    present = sorted({str(v) for v in values if v is not None and v == v})
    if str(label) in present:
        return
    folded = [v for v in present if v.strip().casefold() == str(label).strip().casefold()]
    if folded:
        raise AlsigError(
            f"config key {key}: '{label}' matches no sample, but {folded[0]!r} does (letter case "
            f"or spaces differ); write it as the samples have it. Values: {', '.join(present)}."
        )
    log.warning(
        "config key %s: '%s' matches no sample (values: %s): %s",
        key,
        label,
        ", ".join(present[:20]) or "none",
        consequence,
    )
