"""Scores derived from a dataset's signature scores: composites, z, composition residuals.

An axis composite (``axis:<axis>``) is the mean of the axis's scored signatures; ``z_vs_control``
is ``(score - control mean) / control sd`` (null with fewer than :data:`MIN_CONTROLS` controls);
``singscore_adjusted`` is the residual of each score on QC's cell-type marker indices
(:mod:`alsig.cellmix`). What the adjustment removes and what it does not: ``docs/methods.md``,
"Axis composites" and "Cell-type marker indices".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from alsig.signatures.model import CELL_TYPE_AXIS, Signature

AXIS_PREFIX = "axis:"
MIN_CONTROLS = 3


@dataclass(frozen=True)
class AxisComposites:
    """The axis composites of one method: samples x axes and per-axis gene counts."""

    values: np.ndarray  # samples x axes
    names: list[str]  # 'axis:<axis>'
    axes: list[str]
    n_genes: list[int]  # distinct genes of the axis's signatures
    n_genes_used: list[int]  # of those, present genes of the scored signatures


def axis_composites(
    scores: np.ndarray,
    signatures: Sequence[Signature],
    genes: Sequence[str],
    flagged: Sequence[bool],
) -> AxisComposites:
    """Mean score of each axis's unflagged signatures (``cell_type`` has no composite).

    Parameters
    ----------
    scores
        Samples x ``signatures`` (NaN for flagged ones).
    signatures
        The signatures, in the column order of ``scores``.
    genes
        The dataset's gene universe.
    flagged
        Per signature: not scored (coverage).

    Returns
    -------
    AxisComposites
        One column per axis in the order the axes first appear; all NaN when none of the axis's
        signatures is scored.
    """
    present = set(genes)
    axes = list(dict.fromkeys(s.axis for s in signatures if s.axis != CELL_TYPE_AXIS))
    matrix = np.full((scores.shape[0], len(axes)), np.nan)
    n_genes, n_used = [], []
    for j, axis in enumerate(axes):
        members = [i for i, s in enumerate(signatures) if s.axis == axis]
        scored = [i for i in members if not flagged[i]]
        genes_all = {g for i in members for g in signatures[i].genes}
        genes_scored = {g for i in scored for g in signatures[i].genes if g in present}
        n_genes.append(len(genes_all))
        n_used.append(len(genes_scored))
        if scored:
            matrix[:, j] = scores[:, scored].mean(axis=1)
    return AxisComposites(matrix, [AXIS_PREFIX + a for a in axes], axes, n_genes, n_used)


@dataclass(frozen=True)
class ControlReference:
    """Per-column mean and sd (n - 1) of a group's control samples."""

    mean: np.ndarray
    sd: np.ndarray
    usable: np.ndarray  # bool: enough controls with a score and sd > 0

    def z(self, scores: np.ndarray) -> np.ndarray:
        """``(scores - mean) / sd`` for the usable columns, NaN elsewhere."""
        z = np.full(scores.shape, np.nan)
        z[:, self.usable] = (scores[:, self.usable] - self.mean[self.usable]) / self.sd[self.usable]
        return z


def control_reference(
    control_scores: np.ndarray, *, min_controls: int = MIN_CONTROLS
) -> ControlReference:
    """Return reference statistics of one group of control samples.

    Parameters
    ----------
    control_scores
        The controls' scores, controls x columns (NaN = no score).
    min_controls
        Controls with a score a column needs to be usable.

    Returns
    -------
    ControlReference
        Mean and sd over each column's finite values; a column is usable with at least
        ``min_controls`` of them and sd > 0.
    """
    valid = np.isfinite(control_scores)
    n_valid = valid.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nansum(np.where(valid, control_scores, 0.0), axis=0) / np.maximum(n_valid, 1)
        sq = np.nansum(np.where(valid, (control_scores - mean) ** 2, 0.0), axis=0)
        sd = np.sqrt(sq / np.maximum(n_valid - 1, 1))
    return ControlReference(mean=mean, sd=sd, usable=(n_valid >= min_controls) & (sd > 0))


def z_vs_control(
    scores: np.ndarray, is_control: np.ndarray, *, min_controls: int = MIN_CONTROLS
) -> tuple[np.ndarray, str | None]:
    """z-scores of every sample against the control samples of the dataset.

    Parameters
    ----------
    scores
        Samples x columns.
    is_control
        Per sample: a control.
    min_controls
        Fewest controls (with a score, per column) for a z-score.

    Returns
    -------
    tuple
        ``(z, reason)``: ``z`` is samples x columns, NaN where fewer than ``min_controls``
        controls have a score or their sd is 0; ``reason`` says why every value is null (too few
        controls in the dataset), else None.
    """
    is_control = np.asarray(is_control, dtype=bool)
    n_controls = int(is_control.sum())
    if n_controls < min_controls:
        return np.full(scores.shape, np.nan), (
            f"{n_controls} control sample(s) (< {min_controls}): z_vs_control is null for every "
            "signature of this dataset"
        )
    reference = control_reference(scores[is_control], min_controls=min_controls)
    return reference.z(scores), None


def composition_residuals(scores: np.ndarray, cell_scores: np.ndarray) -> np.ndarray:
    """Scores with their linear dependence on cell-type marker indices removed.

    Parameters
    ----------
    scores
        Samples x columns to adjust.
    cell_scores
        Samples x cell-type marker indices (the regressors).

    Returns
    -------
    numpy.ndarray
        Residuals of each column after least squares on ``[1, cell_scores]``, fitted on the
        samples where the column and every regressor are finite; columns with no more such
        samples than coefficients are NaN.
    """
    design_full = np.column_stack([np.ones(cell_scores.shape[0]), cell_scores])
    out = np.full(scores.shape, np.nan)
    for j in range(scores.shape[1]):  # loop over signatures, not samples
        y = scores[:, j]
        rows = np.isfinite(y) & np.isfinite(design_full).all(axis=1)
        if rows.sum() <= design_full.shape[1]:
            continue
        design = design_full[rows]
        coef, *_ = np.linalg.lstsq(design, y[rows], rcond=None)
        out[rows, j] = y[rows] - design @ coef
    return out
