"""Gene chunks and thread blocks.

The engine reads a few hundred genes at a time as a genes x samples float64 copy, so no full
samples x genes float array ever exists. Within a chunk, compiled kernels (``nogil``) run over
blocks of genes on a thread pool: each kernel takes the range ``lo:hi`` of genes it fills, and a
gene's numbers never depend on which block or thread computed them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from threadpoolctl import threadpool_limits

#: default chunk: about this many float64 values (8 MB) per genes x samples array
CHUNK_VALUES = 1 << 20
#: genes per thread task
GENE_BLOCK = 64


def default_chunk_size(n_samples: int) -> int:
    """Genes per chunk for ``n_samples`` samples (between 16 and 8192)."""
    return int(min(8192, max(16, CHUNK_VALUES // max(n_samples, 1))))


def gene_chunks(n_genes: int, chunk_size: int) -> Iterator[slice]:
    """Consecutive slices of ``chunk_size`` genes covering ``range(n_genes)``."""
    for start in range(0, n_genes, chunk_size):
        yield slice(start, min(start + chunk_size, n_genes))


@numba.njit(cache=True, nogil=True)
def _gather(lo, hi, counts, genes, out):  # pragma: no cover - compiled
    """Copy genes ``lo:hi`` of the counts, transposed, into ``out``.

    ``out[j, i] = counts[i, genes[j]]`` for ``j`` in ``lo:hi``, sample rows in the outer loop (the
    samples x genes matrix is read row by row, a block of genes at a time).
    """
    for i in range(counts.shape[0]):
        for j in range(lo, hi):
            out[j, i] = counts[i, genes[j]]


def genes_by_samples(
    counts: np.ndarray, genes: np.ndarray, blocks: Blocks | None = None
) -> np.ndarray:
    """Return the counts of ``genes`` as a genes x samples float64 array.

    Counts of ``genes`` (column indices of the samples x genes matrix) as a C-contiguous genes x
    samples float64 array, copied on ``blocks``' threads.
    """
    out = np.empty((genes.size, counts.shape[0]))
    (blocks or Blocks(1))(_gather, genes.size, counts, np.ascontiguousarray(genes, np.int64), out)
    return out


class Blocks:
    """Run a range kernel over ``range(n)`` in blocks on ``threads`` threads.

    Runs a range kernel ``kernel(lo, hi, *args)`` over ``range(n)`` in blocks on ``threads`` threads
    (in the calling thread when 1). Use as a context manager or call :meth:`close`.

    As a context manager it also keeps BLAS to one thread: the engine's BLAS work is tiny
    (p x p solves, scipy's 2-parameter trend fit), where OpenBLAS's thread wake-ups on a busy
    machine cost ten times the arithmetic.
    """

    def __init__(self, threads: int = 1):
        self.threads = max(1, int(threads))
        self._pool = ThreadPoolExecutor(self.threads) if self.threads > 1 else None
        self._blas = None

    def __call__(self, kernel: Callable, n: int, *args, block: int = GENE_BLOCK) -> None:
        """Run ``kernel(lo, hi, *args)`` over ``range(n)`` in blocks of ``block``, in parallel.

        Parameters
        ----------
        kernel
            A range kernel (writes its results for ``lo:hi`` into its arguments).
        n
            The range's length.
        *args
            The kernel's other arguments.
        block
            Items per call.
        """
        if self._pool is None or n <= block:
            kernel(0, n, *args)
            return
        futures = [
            self._pool.submit(kernel, lo, min(lo + block, n), *args) for lo in range(0, n, block)
        ]
        for future in futures:
            future.result()

    def close(self) -> None:
        """Stop the threads."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __enter__(self) -> Blocks:
        """Limit BLAS to one thread while the kernels run (they are the parallelism)."""
        self._blas = threadpool_limits(limits=1, user_api="blas")
        return self

    def __exit__(self, *exc) -> None:
        """Stop the threads and restore BLAS's thread limits."""
        self.close()
        if self._blas is not None:
            self._blas.restore_original_limits()
            self._blas = None
