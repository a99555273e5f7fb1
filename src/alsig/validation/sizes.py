"""Minimum sizes: a count matrix has genes and samples, and no sample has an empty library.

Smaller inputs than this fail later with a library's error (a header-only table ends in a
scanpy ``IndexError`` in QC; an all-zero library stops the size factors), so they are stopped
where the file is read, naming the file and the sample.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from alsig.errors import AlsigError
from alsig.validation.advice import WORKFLOW


def check_matrix_size(n_genes: int, n_samples: int, location: str) -> None:
    """Raise when a count matrix has no gene row or no sample column.

    Parameters
    ----------
    n_genes, n_samples
        The matrix's size after reading (and dropping rows without an id).
    location
        The file, e.g. ``file 'counts.tsv'``.

    Raises
    ------
    AlsigError
        A header-only table, or no sample column.
    """
    if n_samples < 1:
        raise AlsigError(
            f"{location}: no sample columns; expected genes as rows, samples as columns."
        )
    if n_genes < 1:
        raise AlsigError(
            f"{location}: no gene rows (only a header, or every row was dropped); a count matrix "
            "needs one row per gene. Check that the file is complete (was it cut off when it was "
            "copied or exported?)."
        )


def check_libraries(
    counts: np.ndarray,
    sample_ids: Sequence[str],
    location: str,
    *,
    features: str = "gene",
    remedy: str = WORKFLOW.empty_library,
) -> None:
    """Raise naming every sample whose counts are all zero (an empty library).

    Parameters
    ----------
    counts
        Features x samples (genes, or TEs).
    sample_ids
        One id per column.
    location
        The file.
    features
        What the rows are, for the message (``gene``, ``TE``).
    remedy
        Why it is refused and what the user does about it, worded for the tool that reads the
        file (:class:`~alsig.validation.advice.InputAdvice`).

    Raises
    ------
    AlsigError
        Naming the samples by id (never by position).
    """
    if counts.size == 0:
        return
    empty = np.flatnonzero(~np.asarray(counts).any(axis=0))
    if len(empty):
        names = [sample_ids[int(i)] for i in empty]
        shown = ", ".join(map(repr, names[:10])) + (" ..." if len(names) > 10 else "")
        raise AlsigError(
            f"{location}: {len(names)} sample(s) have no counts in any {features} (an empty "
            f"library): {shown}. {remedy}"
        )


def level_shortfalls(counts: Mapping[str, int], levels: Sequence[str], minimum: int) -> list[str]:
    """List the levels of a comparison with too few samples, one phrase each.

    The one rule for "samples per level", used by DE before fitting and by the pre-flight
    (which counts collapsed replicate groups, as QC will make them).

    Parameters
    ----------
    counts
        Samples (or groups) per level.
    levels
        The levels compared (test, reference).
    minimum
        Fewest samples each needs (``de.min_samples_per_level``).

    Returns
    -------
    list of str
        E.g. ``level 'control' has 1 sample(s), at least 2 needed``; empty when all is well.
    """
    problems = []
    for level in levels:
        n = int(counts.get(level, 0))
        if n == 0:
            problems.append(f"level '{level}' has no samples")
        elif n < minimum:
            problems.append(f"level '{level}' has {n} sample(s), at least {minimum} needed")
    return problems
