"""Shared plotting helpers: figures that stay readable from ten to a thousand samples.

Conventions: every axis is labelled, categorical colours come with a legend (at most
``MAX_LEGEND`` entries; rarer levels are pooled as "other"), point size and alpha shrink with the
number of points, and scatter layers are rasterised so that figures with 30k genes stay small.
Functions return a ``matplotlib.figure.Figure``; write it with :func:`alsig.io.save_figure`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

if TYPE_CHECKING:
    import matplotlib.axes
    import matplotlib.figure

MAX_LEGEND = 12
MISSING_LABEL = "missing"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def point_style(n_points: int) -> dict[str, Any]:
    """Marker size and alpha for ``n_points`` points (big and opaque for few, small for many)."""
    if n_points <= 50:
        return {"s": 36.0, "alpha": 0.9}
    if n_points <= 300:
        return {"s": 18.0, "alpha": 0.75}
    if n_points <= 2000:
        return {"s": 8.0, "alpha": 0.6}
    return {"s": 3.0, "alpha": 0.35}


def categorical_levels(values: Sequence[object], max_levels: int = MAX_LEGEND) -> pd.Series:
    """Return values as strings with missing and rare levels pooled, so legends stay readable.

    Missing values become ``"missing"``; levels beyond the ``max_levels - 1`` most frequent are
    pooled into ``"other"``.
    """
    series = pd.Series(list(values), dtype=object)
    series = series.where(series.notna(), MISSING_LABEL).astype(str)
    counts = series.value_counts()
    if len(counts) > max_levels:
        keep = set(counts.index[: max_levels - 1])
        series = series.where(series.isin(keep), "other")
    return series


def scatter_by(
    ax: matplotlib.axes.Axes,
    x: ArrayLike,
    y: ArrayLike,
    colour_by: ArrayLike | None = None,
    *,
    title: str = "",
    continuous: bool | None = None,
    legend_title: str | None = None,
) -> None:
    """Scatter ``x`` vs ``y`` coloured by a categorical or continuous variable.

    Categories get a legend, a continuous variable a colour bar.
    """
    plt = _pyplot()
    xs = np.asarray(x, dtype=float)
    ys = np.asarray(y, dtype=float)
    style = point_style(len(xs))
    if colour_by is None:
        ax.scatter(xs, ys, color="0.3", rasterized=True, linewidths=0, **style)
    else:
        values = pd.Series(list(np.asarray(colour_by, dtype=object)))
        if continuous is None:
            continuous = pd.api.types.is_numeric_dtype(values) and values.nunique() > MAX_LEGEND
        if continuous:
            numeric = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
            sc = ax.scatter(
                xs, ys, c=numeric, cmap="viridis", rasterized=True, linewidths=0, **style
            )
            plt.colorbar(sc, ax=ax, label=legend_title or "")
        else:
            levels = categorical_levels(values)
            order = [v for v in levels.value_counts().index if v not in ("other", MISSING_LABEL)]
            order += [v for v in ("other", MISSING_LABEL) if v in set(levels)]
            cmap = plt.get_cmap("tab10" if len(order) <= 10 else "tab20")
            for i, level in enumerate(order):
                mask = (levels == level).to_numpy()
                colour = "0.7" if level in ("other", MISSING_LABEL) else cmap(i % cmap.N)
                ax.scatter(
                    xs[mask],
                    ys[mask],
                    color=colour,
                    label=f"{level} (n={int(mask.sum())})",
                    rasterized=True,
                    linewidths=0,
                    **style,
                )
            ax.legend(
                title=legend_title,
                fontsize="x-small",
                title_fontsize="small",
                loc="best",
                markerscale=max(1.0, 24 / style["s"]) ** 0.5,
                framealpha=0.7,
            )
    if title:
        ax.set_title(title, fontsize="medium")


def grid(n_panels: int, ncols: int = 3, panel_size: tuple[float, float] = (4.6, 4.0)):
    """Return a figure with ``n_panels`` axes in rows of ``ncols`` (unused axes hidden)."""
    plt = _pyplot()
    ncols = max(1, min(ncols, n_panels))
    nrows = int(np.ceil(n_panels / ncols))
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(panel_size[0] * ncols, panel_size[1] * nrows),
        squeeze=False,
        constrained_layout=True,
    )
    flat = list(axes.ravel())
    for ax in flat[n_panels:]:
        ax.set_visible(False)
    return fig, flat[:n_panels]
