"""Minimum sizes: genes and samples, no empty library, no two samples with one library.

Smaller inputs than this fail later with a library's error (a header-only table ends in a
scanpy ``IndexError`` in QC; an all-zero library stops the size factors), so they are stopped
where the file is read, naming the file and the sample. Two columns with identical counts in
every gene pass every later stage silently (one library counted as two samples, possibly of two
conditions), so they are stopped here too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import numpy as np

from alsig.errors import AlsigError, name_some
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
        shown = name_some(names, show=repr)
        raise AlsigError(
            f"{location}: {len(names)} sample(s) have no counts in any {features} (an empty "
            f"library): {shown}. {remedy}"
        )


def identical_columns(counts: np.ndarray, sample_ids: Sequence[str]) -> list[list[str]]:
    """Group the samples whose counts are identical in every gene (all-zero columns excluded).

    Parameters
    ----------
    counts
        Genes x samples.
    sample_ids
        One id per column.

    Returns
    -------
    list of list of str
        Each group of two or more sample ids, in column order; groups in order of first column.
    """
    counts = np.asarray(counts)
    groups: dict[bytes, list[int]] = {}
    for column in range(counts.shape[1]):
        values = np.ascontiguousarray(counts[:, column], dtype=np.int64)
        if values.any():  # an empty library has its own message
            digest = hashlib.blake2b(values.tobytes(), digest_size=16).digest()
            groups.setdefault(digest, []).append(column)
    return [
        [sample_ids[c] for c in columns]
        for columns in groups.values()
        if len(columns) > 1
        # a 128-bit digest does not collide by chance; the comparison makes it certain
        and all(np.array_equal(counts[:, columns[0]], counts[:, c]) for c in columns[1:])
    ]


def check_distinct_libraries(counts: np.ndarray, sample_ids: Sequence[str], location: str) -> None:
    """Raise naming the samples whose counts are identical in every gene.

    Two sequenced libraries never give the same count in every gene, not even technical
    replicates of one RNA: such columns are one library pasted twice, or listed under two
    names, and would count one library as two samples.

    Parameters
    ----------
    counts
        Genes x samples.
    sample_ids
        One id per column.
    location
        The file.

    Raises
    ------
    AlsigError
        Naming every group of identical columns (at most ten).
    """
    groups = identical_columns(counts, sample_ids)
    if not groups:
        return
    shown = name_some(groups, sep="; ", show=lambda group: " = ".join(map(repr, group)))
    raise AlsigError(
        f"{location}: {len(groups)} group(s) of sample columns hold identical counts in every "
        f"gene: {shown}. Two libraries never give identical counts (not even technical "
        "replicates): one column is a copy of another (a paste or export error), or one library "
        "is listed under two names. Put each sample's own counts in its column, or remove the "
        "copy from the count matrix and the sample sheet."
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
