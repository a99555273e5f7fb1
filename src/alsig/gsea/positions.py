"""Where the genes of each set stand in a ranking: the input of every positions-based walk."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def set_positions(
    genes: Sequence[str], sets: Mapping[str, Sequence[str]], min_size: int, max_size: int
) -> dict[str, np.ndarray]:
    """Return each set's ranks in ``genes``, for the sets of ``min_size`` to ``max_size`` genes.

    Parameters
    ----------
    genes
        Unique ranked gene names.
    sets
        ``{term: genes}``.
    min_size, max_size
        Inclusive range of ranked genes a set needs to be tested.

    Returns
    -------
    dict
        ``{term: ascending unique int64 ranks}``, sorted by term (gseapy's order).

    Raises
    ------
    ValueError
        When ``genes`` repeats a name.
    """
    rank = {gene: i for i, gene in enumerate(genes)}
    if len(rank) != len(genes):
        raise ValueError("ranked gene names must be unique")
    positions = {}
    for term in sorted(sets):
        found = np.unique(np.fromiter((rank[g] for g in sets[term] if g in rank), dtype=np.int64))
        if min_size <= found.size <= max_size:
            positions[term] = found
    return positions
