"""Range checks of read counts, the same for a text table and an ``.h5ad``'s X.

A count is an integer >= 0 that an int64 holds exactly. Each rule has one message, used by
every reader (the text reader adds the file line and column, the h5ad reader the sample and
gene), so a value is rejected the same way whatever file it came in:

======================  ===================================================================
``count is missing``    empty, ``NA``, ``N/A``, ``null``, ``-`` (text only)
``spreadsheet error``   ``#N/A``, ``#VALUE!`` ... (a formula error exported as text)
``count is NaN``        a float NaN
``count is infinite``   ``Inf``
``count is too large``  a float at or above 2^53 (not an exact integer: ``1e20``), or an
                        integer beyond int64 (``uint64`` X, a 20-digit number)
``count is negative``
``not an integer``      a fraction, unless ``counts_rounding: round`` (then rounded half to
                        even, counted, and reported)
``look normalised``     fractions that are log-transformed or TPM/CPM values
                        (:func:`normalised_evidence`), refused under either rounding mode:
                        rounding is for estimated counts (salmon, RSEM), whose fractions sit on
                        counts in the thousands, not for values below 30 or summing to 10^6
======================  ===================================================================
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from alsig.errors import AlsigError
from alsig.validation.advice import WORKFLOW, InputAdvice

#: floats at or above this are not exact integers (``1e20`` is not a read count)
FLOAT_EXACT = 2.0**53
INT64_MAX = int(np.iinfo(np.int64).max)

NEEDS_RAW_COUNTS = "alsig needs raw integer read counts >= 0 (not TPM/FPKM/normalised values)."


def advised_fix(rule: str, advice: InputAdvice) -> str:
    """Word the fix of a bad count for the tool that reads it (the fixes that name a setting).

    Parameters
    ----------
    rule
        :data:`TOO_LARGE` or :data:`NOT_INTEGER`.
    advice
        The calling tool's remedies (:class:`~alsig.validation.advice.InputAdvice`).

    Returns
    -------
    str
        A sentence, with a leading space (appended to :data:`NEEDS_RAW_COUNTS`).
    """
    if rule == TOO_LARGE:
        return (
            " Counts above 2^53 written as floats, or above 2^63, cannot be read exactly and are "
            "not read counts: check that these values are a sample's counts (in a text table, "
            f"annotation columns: {advice.annotation_columns})."
        )
    return (
        f" For estimated counts (salmon, RSEM expected_count) {advice.rounding} to round them to "
        "integers."
    )


SPREADSHEET_FIX = (
    " The cell holds a spreadsheet formula error: fix the formula in the spreadsheet (or the "
    "export) and write the count."
)
NORMALISED_FIX = (
    " The values look normalised, not counted ({evidence}). Give the raw read counts "
    "(featureCounts, HTSeq, STAR, or salmon / RSEM estimated counts); rounding is for "
    "estimated counts and does not turn normalised values back into counts."
)
#: a matrix (or column) with fewer non-zero values than this says nothing about its shape
NORMALISED_MIN_VALUES = 100
#: log2 of a billion reads is 30: log-scale values of any library stay below it
LOG_SCALE_MAX = 30.0
#: TPM and CPM make every sample sum to a million (this close)
PER_MILLION_TOLERANCE = 0.01
#: values looked at for the share of fractions (a stride through the matrix)
_SAMPLE_VALUES = 1_000_000
MISSING = "count is missing (empty or NA)"
NAN = "count is NaN"
INFINITE = "count is infinite"
TOO_LARGE = "count is too large"
NEGATIVE = "count is negative"
NOT_INTEGER = "count is not an integer"
SPREADSHEET = "count is a spreadsheet error value"
ROUNDING = ("none", "round")


def count_message(location: str, what: str, value: object, fix: str = "") -> str:
    """Word the one message of a bad count.

    Parameters
    ----------
    location
        Where: ``file 'x.tsv', line 3, column 'S2'`` or ``file 'x.h5ad', sample 'S2', gene 'SOD1'``.
    what
        The rule broken (:data:`NAN`, :data:`TOO_LARGE`, ...).
    value
        The value as read.
    fix
        What to do beyond :data:`NEEDS_RAW_COUNTS`.

    Returns
    -------
    str
    """
    return f"{location}: {what} (value {value!r}). {NEEDS_RAW_COUNTS}{fix}"


def normalised_evidence(values: np.ndarray, library_sizes: np.ndarray | None = None) -> str:
    """Say why non-integer values look log-transformed or TPM/CPM rather than estimated counts.

    Estimated counts (salmon, RSEM ``expected_count``) are fractions on a count scale: a real
    library has genes in the thousands. Log-scale values (log1p, log2 CPM) stay below
    :data:`LOG_SCALE_MAX`; TPM and CPM sum to a million in every sample.

    Parameters
    ----------
    values
        The values (any shape; NaN, infinite and negative values are ignored).
    library_sizes
        The sum of each sample, for the TPM/CPM rule (None: not applied).

    Returns
    -------
    str
        The evidence, for the message (``largest value 11.2; 93% of the non-zero values are
        fractions``); empty when the values do not look normalised, or when fewer than
        :data:`NORMALISED_MIN_VALUES` are non-zero (a toy table).
    """
    flat = np.asarray(values, dtype=np.float64).ravel()
    nonzero = flat[np.isfinite(flat) & (flat > 0)]
    if len(nonzero) < NORMALISED_MIN_VALUES:
        return ""
    sample = nonzero[:: max(1, len(nonzero) // _SAMPLE_VALUES)]
    fractional = float(np.mean(sample != np.rint(sample)))
    if fractional < 0.5:
        return ""
    largest = float(nonzero.max())
    fractions = f"{fractional:.0%} of the non-zero values are fractions"
    if largest < LOG_SCALE_MAX:
        return f"largest value {largest:.3g}; {fractions}: log-scale values"
    if library_sizes is not None and len(library_sizes):
        sizes = np.asarray(library_sizes, dtype=np.float64)
        if np.all(np.abs(sizes - 1e6) <= PER_MILLION_TOLERANCE * 1e6):
            return f"every sample sums to 1,000,000; {fractions}: TPM or CPM"
    return ""


def check_rounding(rounding: str) -> None:
    """Raise unless ``rounding`` is a ``counts_rounding`` mode.

    Parameters
    ----------
    rounding
        ``none`` or ``round``.

    Raises
    ------
    AlsigError
        Naming the config key.
    """
    if rounding not in ROUNDING:
        raise AlsigError(f"config key counts_rounding: '{rounding}' is not one of {ROUNDING}.")


def integer_counts(
    matrix: np.ndarray | sp.spmatrix,
    *,
    rounding: str,
    source: str,
    locate: Callable[[int, int], str],
    hint: str = "",
    advice: InputAdvice = WORKFLOW,
) -> tuple[np.ndarray, int]:
    """Convert a numeric matrix to exact int64 counts, or raise naming the first bad cell.

    Parameters
    ----------
    matrix
        Dense or sparse, any numeric dtype; samples as rows (an ``.h5ad``'s X: the row sums are
        the library sizes of the TPM/CPM rule of :func:`normalised_evidence`).
    rounding
        ``none``: a fraction is an error; ``round``: fractions are rounded half to even.
    source
        Where the whole matrix is, e.g. ``file 'x.h5ad', X``.
    locate
        ``(row, column) -> location text`` for the message.
    hint
        Appended to every message (e.g. where raw counts belong in this file format).
    advice
        The remedies the messages name, worded for the calling tool
        (:class:`~alsig.validation.advice.InputAdvice`).

    Returns
    -------
    counts : numpy.ndarray
        Dense int64, same shape.
    n_rounded : int
        Cells rounded under ``rounding: round``.

    Raises
    ------
    AlsigError
        A boolean or non-numeric matrix, a cell breaking a rule of the module docstring, or
        fractions that look normalised (under either ``rounding``).
    """
    check_rounding(rounding)
    csr = None
    if sp.issparse(matrix):
        csr = sp.csr_matrix(matrix, copy=True)
        csr.sum_duplicates()  # a cell stored twice is one count (their sum)
    data: np.ndarray = csr.data if csr is not None else np.asarray(matrix)
    where_cells = csr if csr is not None else matrix  # what the messages locate a cell in
    dtype = data.dtype
    if dtype == np.bool_ or not (
        np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)
    ):
        raise AlsigError(f"{source} holds {dtype} values, not numbers. {NEEDS_RAW_COUNTS}")
    n_rounded = 0
    # each mask is built only when the rules before it found nothing (a 2,000 x 60,000 float X
    # is 0.96 GB; a list of all masks at once would hold several times that)
    if np.issubdtype(dtype, np.floating):
        rounded = np.rint(data)
        rules = [
            (lambda: np.isnan(data), NAN, ""),
            (lambda: np.isinf(data), INFINITE, ""),  # from here on, every value is finite
            (
                lambda: (data >= FLOAT_EXACT) | (data <= -FLOAT_EXACT),
                TOO_LARGE,
                advised_fix(TOO_LARGE, advice),
            ),
            (lambda: data < 0, NEGATIVE, ""),
        ]
        _raise_first(rules, where_cells, data, locate, hint)
        if not np.array_equal(data, rounded):
            # rows are samples: their sums are the library sizes
            rows = csr if csr is not None else data
            sizes = np.asarray(rows.sum(axis=1)).ravel() if rows.ndim == 2 else None
            evidence = normalised_evidence(data, sizes)
            if evidence:
                fix = NORMALISED_FIX.format(evidence=evidence)
                rule = (lambda: data != rounded, NOT_INTEGER, fix)
                _raise_first([rule], where_cells, data, locate, hint)
            if rounding == "none":
                rule = (lambda: data != rounded, NOT_INTEGER, advised_fix(NOT_INTEGER, advice))
                _raise_first([rule], where_cells, data, locate, hint)
        if rounding == "round":
            n_rounded = int(np.count_nonzero(data != rounded))
        data = rounded
    elif np.issubdtype(dtype, np.unsignedinteger):
        rule = (lambda: data > INT64_MAX, TOO_LARGE, advised_fix(TOO_LARGE, advice))
        _raise_first([rule], where_cells, data, locate, hint)
    else:
        _raise_first([(lambda: data < 0, NEGATIVE, "")], where_cells, data, locate, hint)
    if csr is not None:
        csr.data = data.astype(np.int64)
        return csr.toarray(), n_rounded
    return data.astype(np.int64), n_rounded


def _raise_first(
    rules, matrix, data: np.ndarray, locate: Callable[[int, int], str], hint: str
) -> None:
    """Raise the message of the first rule whose mask has a hit, at its cell."""
    for build_mask, what, fix in rules:
        hits = np.flatnonzero(build_mask())
        if not len(hits):
            continue
        row, column = _position(matrix, data, int(hits[0]))
        value = data.flat[int(hits[0])].item()
        raise AlsigError(count_message(locate(row, column), what, value, fix + hint))


def _position(matrix, data: np.ndarray, flat: int) -> tuple[int, int]:
    """Return (row, column) of the ``flat``-th stored value.

    The order is row-major for dense, CSR order for sparse.
    """
    if sp.issparse(matrix):  # CSR (see integer_counts): data in row order
        row = int(np.searchsorted(matrix.indptr, flat, side="right") - 1)
        return row, int(matrix.indices[flat])
    dense_row, dense_column = np.unravel_index(flat, data.shape)
    return int(dense_row), int(dense_column)
