"""Integer read counts in memory and on disk.

Dense when a step needs it, int32 unless a value needs int64.

int32 halves the size of X for every real dataset, but a count above 2**31 - 1 (a summed
replicate, a huge pooled library) must not wrap around, so the dtype follows the data.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

INT32_MAX = int(np.iinfo(np.int32).max)


def count_dtype(values: np.ndarray | sp.spmatrix) -> np.dtype:
    """``int32`` when every value fits, else ``int64``."""
    data = np.asarray(values.data if sp.issparse(values) else values)
    if data.size and (data.max() > INT32_MAX or data.min() < -INT32_MAX - 1):
        return np.dtype(np.int64)
    return np.dtype(np.int32)


def as_counts(values: np.ndarray | sp.spmatrix) -> np.ndarray | sp.spmatrix:
    """``values`` as integer counts of :func:`count_dtype` (no copy when already so)."""
    dtype = count_dtype(values)
    return values.astype(dtype, copy=False) if values.dtype != dtype else values


def dense_counts(adata: Any) -> np.ndarray:
    """Return ``adata.X`` as a dense integer numpy array.

    Parameters
    ----------
    adata
        An AnnData with counts in ``X`` (CSR or dense).

    Returns
    -------
    numpy.ndarray
        Samples x genes counts.
    """
    x = adata.X
    if sp.issparse(x):
        x = x.toarray()
    return np.asarray(x)
