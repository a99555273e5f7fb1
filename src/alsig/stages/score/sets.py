"""Signatures as gene sets for the scoring methods.

Up/down parts, the sparse gene x set indicator, sample chunks, and recombining part scores into
signature scores.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from alsig.signatures.model import DN_SUFFIX, UP_SUFFIX, Signature


def gene_set_matrix(
    genes: Sequence[str], sets: Mapping[str, Sequence[str]]
) -> tuple[sp.csc_matrix, np.ndarray, np.ndarray]:
    """Sparse 0/1 membership of genes in sets.

    Parameters
    ----------
    genes
        The gene universe (columns of the expression matrix), in order.
    sets
        ``{set name: member genes}``; duplicate members count once, absent genes are ignored.

    Returns
    -------
    tuple
        ``(indicator, n_declared, n_used)``: the ``genes x sets`` CSC matrix, the declared
        (distinct) set sizes and the number of members present in ``genes``.
    """
    index = {g: i for i, g in enumerate(genes)}
    rows, cols = [], []
    n_declared = np.zeros(len(sets), dtype=np.int64)
    for j, members in enumerate(sets.values()):
        unique = list(dict.fromkeys(members))
        n_declared[j] = len(unique)
        hit = [index[g] for g in unique if g in index]
        rows.extend(hit)
        cols.extend([j] * len(hit))
    data = np.ones(len(rows), dtype=np.float64)
    matrix = sp.csc_matrix((data, (rows, cols)), shape=(len(genes), len(sets)))
    n_used = np.asarray(matrix.sum(axis=0)).ravel().astype(np.int64)
    return matrix, n_declared, n_used


def set_members(indicator: sp.csc_matrix) -> list[np.ndarray]:
    """Gene (row) indices of each set (column) of an indicator matrix."""
    return [
        indicator.indices[indicator.indptr[j] : indicator.indptr[j + 1]]
        for j in range(indicator.shape[1])
    ]


def dense_rows(X: Any, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of a dense or sparse samples x genes matrix as float64."""
    block = X[start:stop]
    if sp.issparse(block):
        block = block.toarray()
    return np.asarray(block, dtype=np.float64)


def sample_chunks(n: int, chunk_size: int) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` of consecutive chunks of ``chunk_size`` samples (at least 1)."""
    step = max(1, int(chunk_size))
    for start in range(0, n, step):
        yield start, min(n, start + step)


def signature_parts(signatures: Sequence[Signature]) -> dict[str, list[str]]:
    """Return the gene sets scored for ``signatures``.

    Parameters
    ----------
    signatures
        Signatures with up and/or down genes.

    Returns
    -------
    dict
        ``{<sig>_UP: genes, <sig>_DN: genes}`` for the non-empty parts of each signature.
    """
    parts: dict[str, list[str]] = {}
    for sig in signatures:
        if sig.up:
            parts[sig.name + UP_SUFFIX] = list(sig.up)
        if sig.down:
            parts[sig.name + DN_SUFFIX] = list(sig.down)
    return parts


def combine_parts(
    signatures: Sequence[Signature],
    part_names: list[str],
    part_values: np.ndarray,
    up_fn: Callable[[np.ndarray], np.ndarray],
    down_fn: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """Signature values (samples x signatures): ``up_fn(up part) + down_fn(down part)``.

    ``part_values`` is samples x parts, columns named ``part_names`` as :func:`signature_parts`
    names them; a signature without a down (up) part gets only its up (down) term.
    """
    col = {name: j for j, name in enumerate(part_names)}
    out = np.zeros((part_values.shape[0], len(signatures)))
    for i, sig in enumerate(signatures):
        if sig.up:
            out[:, i] += up_fn(part_values[:, col[sig.name + UP_SUFFIX]])
        if sig.down:
            out[:, i] += down_fn(part_values[:, col[sig.name + DN_SUFFIX]])
    return out
