"""How much of each signature score goes with the cell mix.

Bulk ALS cortex and spinal cord differ between samples largely in their cell mix: neurons are
lost, microglia and astrocytes expand, oligodendrocyte signal changes (Humphrey et al. 2023 Nat
Neurosci). A signature score then moves with composition whatever its mechanism. For every
non-cell-type signature and axis, :func:`composition_share` reports R² (and adjusted R²) of
``score ~ neurons + astrocytes + microglia + oligodendrocytes`` on QC's BRETIGEA cell-type marker
indices (:mod:`alsig.cellmix`; :data:`~alsig.cellmix.ADJUSTMENT_TYPES`), recomputed without the
signature's own genes so that a signature sharing genes with the markers is not explained by
itself, and the single index explaining most, with the sign of its correlation. A high share
means: read the score as composition first.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from alsig.cellmix import ADJUSTMENT_TYPES, SignatureIndices
from alsig.signatures.model import CELL_TYPE_AXIS
from alsig.tables import schemas

SCHEMA = "composition"
#: Version of the composition layout (the schema's ``x-schema-version``).
SCHEMA_VERSION: str = str(schemas.load(SCHEMA)["x-schema-version"])
#: methods whose rows are not explained again (residuals already)
SKIPPED_METHODS = ("singscore_adjusted",)


def _r2(y: np.ndarray, X: np.ndarray) -> tuple[float, float]:
    design = np.column_stack([np.ones(len(y)), X])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = np.sum((y - design @ coef) ** 2)
    total = np.sum((y - y.mean()) ** 2)
    if total <= 0:
        return np.nan, np.nan
    r2 = min(max(1 - residual / total, 0.0), 1.0)  # rounding must not leave [0, 1]
    n, p = len(y), X.shape[1]
    adjusted = 1 - (1 - r2) * (n - 1) / (n - p - 1) if n - p - 1 > 0 else np.nan
    return float(r2), float(adjusted)


def composition_share(
    scores: pl.DataFrame,
    cell_indices: SignatureIndices,
    *,
    cell_types: Sequence[str] = ADJUSTMENT_TYPES,
) -> pl.DataFrame:
    """Share of each signature's score variance explained by the cell-type marker indices.

    Parameters
    ----------
    scores
        A dataset's long score table (``signature_scores``); ``singscore_adjusted`` rows
        (composition residuals already) and cell-type marker signatures are skipped.
    cell_indices
        The dataset's indices per signature (:func:`alsig.cellmix.signature_indices`).
    cell_types
        The indices in the model.

    Returns
    -------
    polars.DataFrame
        One row per method x non-cell-type signature, columns of the shipped ``composition``
        schema.
    """
    rows = []
    for (dataset, method), part in scores.group_by(["dataset", "method"], maintain_order=True):
        if method in SKIPPED_METHODS:
            continue
        axes = dict(part.select("signature", "axis").unique().iter_rows())
        for signature in part["signature"].unique(maintain_order=True):
            if axes[signature] == CELL_TYPE_AXIS:
                continue
            one = part.filter(pl.col("signature") == signature)
            y = np.asarray(one["score"].fill_null(np.nan).to_numpy(), dtype=float)
            indices = cell_indices.of(signature).reindex(one["sample"].to_list())
            usable = [t for t in cell_types if t in indices and indices[t].notna().all()]
            rows.append(
                (
                    dataset,
                    method,
                    signature,
                    axes[signature],
                    *_share(y, indices[usable].to_numpy(dtype=float), usable),
                    int(cell_indices.markers_excluded.get(signature, 0)),
                )
            )
    table = pl.DataFrame(rows, schema=schemas.polars_schema(SCHEMA), orient="row")
    return schemas.validate(table, SCHEMA, "composition share")


def _share(y: np.ndarray, X: np.ndarray, cell_types: list[str]) -> tuple:
    use = np.isfinite(y)
    if not cell_types or use.sum() <= len(cell_types) + 1:
        return (len(cell_types), int(use.sum()), None, None, None, None, None)
    X = X[use]
    r2, adjusted = _r2(y[use], X)
    single = [np.corrcoef(y[use], X[:, j])[0, 1] for j in range(X.shape[1])]
    if not np.isfinite(single).any():
        return (len(cell_types), int(use.sum()), _finite(r2), _finite(adjusted), None, None, None)
    best = int(np.nanargmax(np.square(single)))
    return (
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
