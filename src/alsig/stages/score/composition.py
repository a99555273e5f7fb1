"""How much of each signature score is cell-type composition.

Bulk ALS cortex and spinal cord differ between samples mostly in their cell mix: neurons are
lost, microglia and astrocytes expand, oligodendrocyte signal falls (Humphrey et al. 2023 Nat
Neurosci). A signature score then moves with composition whatever its mechanism. For every
non-cell-type signature and axis, :func:`composition_share` reports R² (and adjusted R²) of
``score ~ neurons + astrocytes + microglia + oligodendrocytes + opcs + endothelial`` (the
dataset's cell-type marker scores, same method), and the single cell type explaining most,
with the sign of its correlation. A high share means: read the score as composition first.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from alsig.signatures.model import CELL_TYPE_AXIS
from alsig.tables import schemas

SCHEMA = "composition"


def _r2(y: np.ndarray, X: np.ndarray) -> tuple[float, float]:
    design = np.column_stack([np.ones(len(y)), X])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = np.sum((y - design @ coef) ** 2)
    total = np.sum((y - y.mean()) ** 2)
    if total <= 0:
        return np.nan, np.nan
    r2 = 1 - residual / total
    n, p = len(y), X.shape[1]
    adjusted = 1 - (1 - r2) * (n - 1) / (n - p - 1) if n - p - 1 > 0 else np.nan
    return float(r2), float(adjusted)


def composition_share(scores: pl.DataFrame) -> pl.DataFrame:
    """Share of each signature's score variance explained by the cell-type marker scores.

    Parameters
    ----------
    scores
        A dataset's long score table (``signature_scores``); ``singscore_adjusted`` rows
        (composition residuals already) and ``log2cpm`` rows (TE counts) are skipped.

    Returns
    -------
    One row per method x non-cell-type signature, columns of the shipped ``composition`` schema.
    """
    rows = []
    for (dataset, method), part in scores.group_by(["dataset", "method"], maintain_order=True):
        if method in ("singscore_adjusted", "log2cpm"):  # residuals already / no cell types
            continue
        wide = part.pivot(on="signature", index="sample", values="score")
        cell_types = [
            s
            for s in part.filter(pl.col("axis") == CELL_TYPE_AXIS)["signature"].unique(
                maintain_order=True
            )
            if s in wide.columns and wide[s].null_count() == 0
        ]
        axes = dict(part.select("signature", "axis").unique().iter_rows())
        for signature in wide.columns[1:]:
            if axes[signature] == CELL_TYPE_AXIS:
                continue
            rows.append(_share_row(dataset, method, signature, axes[signature], wide, cell_types))
    table = pl.DataFrame(rows, schema=schemas.polars_schema(SCHEMA), orient="row")
    return schemas.validate(table, SCHEMA, "composition share")


def _share_row(dataset, method, signature, axis, wide, cell_types) -> tuple:
    y = wide[signature].to_numpy().astype(float)
    use = np.isfinite(y)
    if not cell_types or use.sum() <= len(cell_types) + 1:
        return (
            dataset,
            method,
            signature,
            axis,
            len(cell_types),
            int(use.sum()),
            None,
            None,
            None,
            None,
            None,
        )
    X = wide.select(cell_types).to_numpy().astype(float)[use]
    r2, adjusted = _r2(y[use], X)
    single = [np.corrcoef(y[use], X[:, j])[0, 1] for j in range(X.shape[1])]
    best = int(np.nanargmax(np.square(single)))
    return (
        dataset,
        method,
        signature,
        axis,
        len(cell_types),
        int(use.sum()),
        _finite(r2),
        _finite(adjusted),
        cell_types[best],
        _finite(single[best] ** 2),
        "positive" if single[best] > 0 else "negative",
    )


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None
