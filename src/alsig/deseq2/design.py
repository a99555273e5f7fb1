"""The design matrix as the kernels use it.

Its distinct rows, each sample's row group, its
least-squares pseudo-inverse, and the replicate checks of DESeq2's outlier rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Design:
    """A full-rank design matrix (samples x coefficients) prepared for the kernels.

    Parameters
    ----------
    matrix
        The model matrix, float64, C-contiguous.
    columns
        Coefficient names (the model matrix's column names).

    Attributes
    ----------
    rows
        Distinct rows of ``matrix``, in order of first appearance.
    group
        Index into ``rows`` of each sample.
    pinv
        Least-squares pseudo-inverse (coefficients x samples), from the QR factors as pydeseq2's
        initial IRLS estimate uses.
    """

    matrix: np.ndarray
    columns: tuple[str, ...]
    rows: np.ndarray = field(init=False, repr=False)
    group: np.ndarray = field(init=False, repr=False)
    pinv: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        """Check the matrix and derive the distinct rows, row groups and pseudo-inverse."""
        matrix = np.ascontiguousarray(self.matrix, dtype=np.float64)
        if matrix.ndim != 2:
            raise ValueError(f"the design matrix must be 2-D, got shape {matrix.shape}")
        if not np.isfinite(matrix).all():
            raise ValueError("the design matrix has missing or infinite values")
        n, p = matrix.shape
        if len(self.columns) != p:
            raise ValueError(f"{len(self.columns)} column names for {p} design columns")
        if np.linalg.matrix_rank(matrix) < p:
            raise ValueError(
                f"the design matrix is not full rank (columns {list(self.columns)}); remove "
                "variables that are linear combinations of others"
            )
        if n <= p:
            raise ValueError(f"{n} samples for {p} coefficients: no residual degrees of freedom")
        _, first, inverse = np.unique(matrix, axis=0, return_index=True, return_inverse=True)
        order = np.argsort(first)  # distinct rows in order of first appearance
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        q, r = np.linalg.qr(matrix)
        object.__setattr__(self, "matrix", matrix)
        object.__setattr__(self, "columns", tuple(str(c) for c in self.columns))
        object.__setattr__(self, "rows", np.ascontiguousarray(matrix[first[order]]))
        object.__setattr__(self, "group", rank[inverse.ravel()].astype(np.int64))
        object.__setattr__(self, "pinv", np.ascontiguousarray(np.linalg.solve(r, q.T)))

    @classmethod
    def from_frame(cls, frame: pd.DataFrame | np.ndarray, columns=None) -> Design:
        """Build a :class:`Design` from a model-matrix DataFrame or an array with ``columns``.

        A :class:`Design` from a model-matrix DataFrame (formulaic's, as pydeseq2 builds it) or an
        array with ``columns``.
        """
        if isinstance(frame, pd.DataFrame):
            return cls(frame.to_numpy(dtype=np.float64), tuple(map(str, frame.columns)))
        matrix = np.asarray(frame, dtype=np.float64)
        names = columns if columns is not None else [f"x{j}" for j in range(matrix.shape[1])]
        return cls(matrix, tuple(map(str, names)))

    @property
    def n_samples(self) -> int:
        """Number of samples (rows)."""
        return self.matrix.shape[0]

    @property
    def n_coefficients(self) -> int:
        """Number of coefficients (columns)."""
        return self.matrix.shape[1]

    @property
    def one_row_per_coefficient(self) -> bool:
        """Tell whether the design has as many distinct rows as coefficients.

        As many distinct rows as coefficients: the means are a linear fit (DESeq2's
        ``linearModelMu`` case).
        """
        return self.rows.shape[0] == self.n_coefficients

    def replicated(self, min_replicates: int) -> np.ndarray:
        """Return the samples whose design row occurs at least ``min_replicates`` times."""
        counts = np.bincount(self.group, minlength=self.rows.shape[0])
        return counts[self.group] >= min_replicates

    def coefficient_index(self, name: str) -> int:
        """Position of coefficient ``name``.

        Raises
        ------
        KeyError
            ``name`` is not a column; the message lists the columns.
        """
        try:
            return self.columns.index(str(name))
        except ValueError:
            raise KeyError(
                f"'{name}' is not a design column; columns: {list(self.columns)}"
            ) from None

    def same_column_space(self, other: Design) -> bool:
        """Whether ``other`` spans the same column space (a releveled or reparametrised design)."""
        if other.matrix.shape != self.matrix.shape:
            return False
        stacked = np.hstack([self.matrix, other.matrix])
        return int(np.linalg.matrix_rank(stacked)) == self.n_coefficients

    def nested_in(self, full: Design) -> bool:
        """Whether this (reduced) design's columns lie in ``full``'s column space."""
        if self.n_samples != full.n_samples or self.n_coefficients >= full.n_coefficients:
            return False
        stacked = np.hstack([full.matrix, self.matrix])
        return int(np.linalg.matrix_rank(stacked)) == full.n_coefficients
