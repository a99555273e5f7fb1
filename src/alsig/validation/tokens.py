"""The spellings of "no value": one vocabulary for every input path.

Two lists, because an identifier and a sample-sheet value fail differently. A gene or sample id
that reads ``NA``, ``NaN``, ``Inf`` or a spreadsheet error (``#N/A``, ``#NAME?``) names nothing:
it must never reach the gene map, where ``NA`` or ``Inf`` could be rescued as a gene alias. A
sample-sheet value is missing for more reasons (``Unknown``, ``not available``, ``?``): such a
cell is a missing covariate, never a level of a factor.

Spreadsheet error values are what Excel, LibreOffice or Google Sheets write into a cell whose
formula failed; a file exported from a spreadsheet carries them as text.
"""

from __future__ import annotations

import re

#: formula errors of Excel / Google Sheets (LibreOffice writes ``Err:502`` and the like too)
SPREADSHEET_ERRORS = frozenset(
    {
        "#N/A",
        "#NAME?",
        "#REF!",
        "#VALUE!",
        "#DIV/0!",
        "#NUM!",
        "#NULL!",
        "#SPILL!",
        "#CALC!",
        "#FIELD!",
        "#BLOCKED!",
        "#UNKNOWN!",
        "#CONNECT!",
        "#BUSY!",
        "#GETTING_DATA",
        "#N/A N/A",
        "#ERROR!",
    }
)
_LIBREOFFICE_ERROR = re.compile(r"^Err:\d{3}$", re.IGNORECASE)

#: an identifier (gene, sample, TE) that names nothing, compared in lower case after stripping
MISSING_ID_TOKENS = frozenset(
    {"", "na", "n/a", "nan", "null", "none", "-", "inf", "-inf", "+inf", "infinity", "-infinity"}
)

#: a sample-sheet value that says "not known" (a superset of :data:`MISSING_ID_TOKENS`)
MISSING_VALUE_TOKENS = MISSING_ID_TOKENS | frozenset(
    {
        "unknown",
        "unk",
        "not available",
        "not applicable",
        "not known",
        "not reported",
        "not determined",
        "unspecified",
        "missing",
        "n.a.",
        "n.a",
        "n.d.",
        "?",
    }
)


def is_spreadsheet_error(value: object) -> bool:
    """Tell whether a value is a spreadsheet formula error written as text.

    Excel's and Google Sheets' (:data:`SPREADSHEET_ERRORS`: ``#N/A``, ``#NAME?``, ...) and
    LibreOffice's ``Err:502`` and the like, in any letter case.

    Parameters
    ----------
    value
        A cell; non-strings are never errors.

    Returns
    -------
    bool
    """
    if not isinstance(value, str):
        return False
    text = value.strip()
    if not text.startswith(("#", "E", "e")):  # the cheap test first: called once per gene id
        return False
    text = text.upper()
    return text in SPREADSHEET_ERRORS or bool(_LIBREOFFICE_ERROR.match(text))


def is_missing_id(value: object) -> bool:
    """Tell whether an identifier cell names nothing.

    Nothing is None, a float NaN, an empty or ``NA``-like text (:data:`MISSING_ID_TOKENS`) or a
    spreadsheet error value.

    Parameters
    ----------
    value
        The identifier as read.

    Returns
    -------
    bool
    """
    if value is None:
        return True
    if isinstance(value, float):
        return value != value or value in (float("inf"), float("-inf"))
    text = str(value).strip()
    return text.lower() in MISSING_ID_TOKENS or is_spreadsheet_error(text)


def is_missing_value(value: object) -> bool:
    """Tell whether a sample-sheet value says "not known".

    "Not known" is :data:`MISSING_VALUE_TOKENS`, a spreadsheet error, None or NaN.

    Parameters
    ----------
    value
        The cell as read.

    Returns
    -------
    bool
    """
    if value is None:
        return True
    if isinstance(value, float):
        return value != value
    text = str(value).strip()
    return text.lower() in MISSING_VALUE_TOKENS or is_spreadsheet_error(text)


def missing_kind(value: object) -> str:
    """How to name a missing cell in a message: ``spreadsheet error '#N/A'``, ``'NA'``, ``empty``.

    Parameters
    ----------
    value
        A cell for which :func:`is_missing_value` is true.

    Returns
    -------
    str
    """
    if value is None or (isinstance(value, float) and value != value):
        return "empty"
    text = str(value).strip()
    if not text:
        return "empty"
    if is_spreadsheet_error(text):
        return f"spreadsheet error {text!r}"
    return repr(text)
