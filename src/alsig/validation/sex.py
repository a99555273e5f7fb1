"""Reported sex: the spellings read as ``female`` / ``male``, and a refusal for anything else.

A sex label that is not understood must never become "unknown" silently: QC's sex check
compares the reported sex with the one inferred from XIST and the Y genes, and a missing label
switches that check off for the sample, so a mislabelled donor would stay in DE. Numeric codes
are refused rather than guessed: PLINK writes 1 = male, 2 = female, other tools the reverse.

Read (any letter case, spaces ignored): ``female``, ``f``, ``woman``, ``women``, ``xx`` ->
``female``; ``male``, ``m``, ``man``, ``men``, ``xy`` -> ``male`` (XX / XY: the chromosomal sex,
which is what the check compares with). The "not known" spellings of
:data:`~alsig.validation.tokens.MISSING_VALUE_TOKENS` (empty, ``NA``, ``Unknown``, ...) are
missing. Everything else (``1`` / ``2``, ``Mal``, ``intersex``) stops the run.
"""

from __future__ import annotations

from collections.abc import Sequence

from alsig.errors import AlsigError, name_some
from alsig.validation.tokens import is_missing_value

#: a spelling (lower case, no spaces) -> the canonical label
SEX_SPELLINGS = {
    **dict.fromkeys(("female", "f", "woman", "women", "xx"), "female"),
    **dict.fromkeys(("male", "m", "man", "men", "xy"), "male"),
}
#: how to write sex, for the messages
HOW_TO_WRITE_SEX = (
    "Write female or male (F/M, woman/man and XX/XY are read too, in any case), or leave the "
    "cell empty (or NA) where the sex is not known. Numeric codes are not read: 1/2 mean "
    "male/female in PLINK and the reverse elsewhere, so recode them to the words."
)


def sex_label(value: object) -> str | None:
    """Return ``female`` or ``male`` for a recognised spelling, else None.

    None for a missing cell and for a spelling that is not recognised alike; use
    :func:`read_sex` where an unrecognised value must stop the run.

    Parameters
    ----------
    value
        A cell as read.

    Returns
    -------
    str or None
    """
    if value is None or (isinstance(value, float) and value != value):
        return None
    return SEX_SPELLINGS.get("".join(str(value).split()).lower())


def read_sex(
    values: Sequence[object], samples: Sequence[str], *, column: str, location: str
) -> list[str | None]:
    """Read a sex column: ``female`` / ``male``, None where it says "not known".

    Parameters
    ----------
    values
        One cell per sample.
    samples
        The sample ids, for the message.
    column
        The sheet column, for the message.
    location
        The file (or dataset), for the message.

    Returns
    -------
    list of str or None

    Raises
    ------
    AlsigError
        A value that is neither a recognised spelling nor missing, naming the values, their
        samples (at most 10) and how to write them.
    """
    labels: list[str | None] = []
    unread: dict[str, list[str]] = {}
    for sample, value in zip(samples, values, strict=True):
        label = sex_label(value)
        if label is None and not is_missing_value(value):
            unread.setdefault(str(value), []).append(str(sample))
        labels.append(label)
    if unread:
        n_samples = sum(len(s) for s in unread.values())
        spelled = ", ".join(f"{v!r} x{len(group)}" for v, group in unread.items())
        named = [f"{s} ({v!r})" for v, group in unread.items() for s in group]
        shown = name_some(named)
        raise AlsigError(
            f"{location}, column '{column}' (`sex`): {n_samples} sample(s) have a sex alsig "
            f"cannot read: {spelled} ({shown}). {HOW_TO_WRITE_SEX}"
        )
    return labels
