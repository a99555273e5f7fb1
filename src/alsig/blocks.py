"""Block-wise passes over a samples x genes matrix.

QC's matrix-sized steps (size factors, the expression filter, the normalised and VST layers, the
PCA's gene variances, the per-sample metrics) run gene block by gene block (or sample block by
sample block for per-sample metrics), so their float64 temporaries are a few tens of MB each
instead of one samples x genes copy each (960 MB at 2,000 x 60,000;
``bench/results/qc_memory.md``).

The blocks do not change a number. Elementwise steps are the same on any block. A per-gene sum
(a mean, a variance) depends on the memory order numpy sums in, and the blocks keep the one of
the whole-matrix code: over a C-ordered matrix numpy accumulates sample after sample for every
column of a block, as for the whole matrix, provided the block has at least two columns (it sums
a single column pairwise; :func:`blocks` never yields a one-wide block unless the matrix is);
a column selection (``x[:, genes]``) is Fortran-ordered and each of its columns is summed
pairwise on its own, in a block as in the whole. A per-sample statistic (a median over genes,
scanpy's metrics) reads whole rows, so sample blocks give the same values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

#: genes per block (2,000 samples: 33 MB per float64 temporary); fixed, so results never depend
#: on the machine
GENE_BLOCK = 2048
#: samples per block of per-sample steps (60,000 genes: 61 MB per float32 temporary)
SAMPLE_BLOCK = 256


def blocks(n: int, size: int) -> Iterator[slice]:
    """Yield consecutive slices covering ``range(n)``, each at most ``size`` wide.

    Parameters
    ----------
    n
        Length of the axis.
    size
        Largest block width (at least 2 is used).

    Yields
    ------
    slice
        The blocks in order; a last block of width 1 is merged into the one before it, so every
        block is at least two wide when ``n >= 2``.
    """
    size = max(2, int(size))
    starts = list(range(0, n, size))
    if len(starts) > 1 and n - starts[-1] < 2:
        starts.pop()
    for i, lo in enumerate(starts):
        yield slice(lo, starts[i + 1] if i + 1 < len(starts) else n)


def map_gene_blocks(
    counts: np.ndarray,
    transform: Callable[[np.ndarray], np.ndarray],
    dtype: np.dtype | type,
    block_size: int = GENE_BLOCK,
) -> np.ndarray:
    """Return ``transform`` of ``counts`` computed gene block by gene block.

    Parameters
    ----------
    counts
        Samples x genes.
    transform
        Elementwise: the values of a samples x block slice of ``counts`` (so blocks give the
        whole-matrix values).
    dtype
        The result's dtype; each block is cast to it as ``astype`` would.
    block_size
        Genes per block.

    Returns
    -------
    numpy.ndarray
        Samples x genes of ``dtype``; no samples x genes temporary of any other dtype.
    """
    out = np.empty(counts.shape, dtype=dtype)
    for columns in blocks(counts.shape[1], block_size):
        out[:, columns] = transform(counts[:, columns])
    return out


def gene_means(
    counts: np.ndarray,
    transform: Callable[[np.ndarray], np.ndarray],
    block_size: int = GENE_BLOCK,
    *,
    columns: np.ndarray | None = None,
) -> np.ndarray:
    """Return the per-gene mean of ``transform(counts)`` without its samples x genes matrix.

    Parameters
    ----------
    counts
        Samples x genes.
    transform
        Elementwise, giving float64 (e.g. division by size factors).
    block_size
        Genes per block.
    columns
        Indices of the genes to average (default: all).

    Returns
    -------
    numpy.ndarray
        One float64 mean per gene (of ``columns``), bit for bit equal to
        ``transform(counts).mean(axis=0)``, or with ``columns`` to
        ``transform(counts)[:, columns].mean(axis=0)``: a column selection is Fortran-ordered,
        so numpy sums each of its genes pairwise rather than sample after sample, and the
        blocks are selected the same way.
    """
    if columns is None:
        out = np.empty(counts.shape[1])
        for part in blocks(counts.shape[1], block_size):
            out[part] = transform(counts[:, part]).mean(axis=0)
        return out
    columns = np.asarray(columns)
    out = np.empty(len(columns))
    for part in blocks(len(columns), block_size):
        out[part] = transform(counts[:, columns[part]]).mean(axis=0)
    return out
