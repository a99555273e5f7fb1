"""Gene chunks: the engine reads a few hundred genes at a time, as a genes x samples float64 copy,
so no full samples x genes float array ever exists; and numba's thread count for a block."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numba
import numpy as np

#: default chunk: about this many float64 values (8 MB) per genes x samples array
CHUNK_VALUES = 1 << 20


def default_chunk_size(n_samples: int) -> int:
    """Genes per chunk for ``n_samples`` samples (between 16 and 8192)."""
    return int(min(8192, max(16, CHUNK_VALUES // max(n_samples, 1))))


def gene_chunks(n_genes: int, chunk_size: int) -> Iterator[slice]:
    """Consecutive slices of ``chunk_size`` genes covering ``range(n_genes)``."""
    for start in range(0, n_genes, chunk_size):
        yield slice(start, min(start + chunk_size, n_genes))


def genes_by_samples(counts: np.ndarray, genes: np.ndarray) -> np.ndarray:
    """Counts of ``genes`` (column indices of the samples x genes matrix) as a C-contiguous
    genes x samples float64 array."""
    return np.ascontiguousarray(counts[:, genes].T, dtype=np.float64)


@contextmanager
def numba_threads(threads: int):
    """Run the block with ``threads`` numba threads (capped at numba's pool), then restore."""
    before = numba.get_num_threads()
    numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
    try:
        yield
    finally:
        numba.set_num_threads(before)
