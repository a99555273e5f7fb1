"""The cohort comparison at a glance.

Datasets x axes heatmap of standardised effects, with the random-effects combination as the last
column.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from alsig import plotting


def plot_axis_meta(meta: pl.DataFrame, *, method: str = "singscore", contrast: str | None = None):
    """Heatmap of per-dataset and combined standardised axis effects (axis composites only).

    Parameters
    ----------
    meta
        The run's ``axis_meta`` table.
    method
        Scoring method shown.
    contrast
        Contrast shown (default: the first in the table).

    Returns
    -------
    A matplotlib Figure: rows = axes, columns = datasets + "combined"; the cell text is the
    effect, a trailing "*" marks a combined effect consistent across datasets.
    """
    plt = plotting._pyplot()
    part = meta.filter((pl.col("method") == method) & pl.col("signature").str.starts_with("axis:"))
    contrast = contrast or (part["contrast"][0] if part.height else "")
    part = part.filter(pl.col("contrast") == contrast).sort("signature")
    per_dataset = [_parse_effects(e) for e in part["effects"].to_list()]
    datasets = sorted({d for effects in per_dataset for d in effects})
    columns = [*datasets, "combined"]
    grid = np.full((part.height, len(columns)), np.nan)
    for i, (effects, row) in enumerate(zip(per_dataset, part.iter_rows(named=True), strict=True)):
        for j, dataset in enumerate(datasets):
            grid[i, j] = effects.get(dataset, np.nan)
        grid[i, -1] = row["effect"] if row["effect"] is not None else np.nan
    limit = max(1.0, float(np.nanmax(np.abs(grid))) if np.isfinite(grid).any() else 1.0)
    fig, ax = plt.subplots(
        figsize=(1.4 * len(columns) + 3.5, 0.42 * max(part.height, 1) + 1.8),
        constrained_layout=True,
    )
    image = ax.imshow(grid, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    consistent = part["consistent"].to_list()
    for (i, j), value in np.ndenumerate(grid):
        if np.isfinite(value):
            mark = "*" if j == len(columns) - 1 and consistent[i] else ""
            ax.text(j, i, f"{value:+.2f}{mark}", ha="center", va="center", fontsize="small")
    ax.set_xticks(range(len(columns)), columns, rotation=30, ha="right")
    ax.set_yticks(range(part.height), [s.removeprefix("axis:") for s in part["signature"]])
    ax.set_title(
        f"{method}, {contrast}: standardised effect per cohort (* consistent)", fontsize="medium"
    )
    fig.colorbar(image, ax=ax, label="standardised effect", shrink=0.8)
    return fig


def _parse_effects(text: str) -> dict[str, float]:
    """``{dataset: std_effect}`` from the ``effects`` column (``d=+0.123(0.045);...``)."""
    out = {}
    for item in filter(None, (text or "").split(";")):
        dataset, rest = item.split("=", 1)
        out[dataset] = float(rest.split("(", 1)[0])
    return out
