"""Shared plotting helpers: figures that stay readable from ten to a thousand samples.

Conventions: every axis is labelled, categorical colours come with a legend (at most
``MAX_LEGEND`` entries; rarer levels are pooled as "other"), point size and alpha shrink with the
number of points, and scatter layers are rasterised so that figures with 30k genes stay small.
Functions return a ``matplotlib.figure.Figure``; write it with :func:`alsig.io.save_figure`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

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


def point_style(n_points: int) -> dict[str, float]:
    """Marker size and alpha for ``n_points`` points (big and opaque for few, small for many)."""
    if n_points <= 50:
        return {"s": 36.0, "alpha": 0.9}
    if n_points <= 300:
        return {"s": 18.0, "alpha": 0.75}
    if n_points <= 2000:
        return {"s": 8.0, "alpha": 0.6}
    return {"s": 3.0, "alpha": 0.35}


def categorical_levels(values: Sequence[object], max_levels: int = MAX_LEGEND) -> pd.Series:
    """Values as strings with missing -> ``"missing"`` and levels beyond the ``max_levels - 1``
    most frequent pooled into ``"other"`` (so legends stay readable)."""
    series = pd.Series(list(values), dtype=object)
    series = series.where(series.notna(), MISSING_LABEL).astype(str)
    counts = series.value_counts()
    if len(counts) > max_levels:
        keep = set(counts.index[: max_levels - 1])
        series = series.where(series.isin(keep), "other")
    return series


def scatter_by(
    ax: matplotlib.axes.Axes,
    x: Sequence[float],
    y: Sequence[float],
    colour_by: Sequence[object] | None = None,
    *,
    title: str = "",
    continuous: bool | None = None,
    legend_title: str | None = None,
) -> None:
    """Scatter ``x`` vs ``y`` coloured by a categorical or continuous variable, with a legend
    or a colour bar."""
    plt = _pyplot()
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    style = point_style(len(x))
    if colour_by is None:
        ax.scatter(x, y, color="0.3", rasterized=True, linewidths=0, **style)
    else:
        values = pd.Series(list(colour_by))
        if continuous is None:
            continuous = pd.api.types.is_numeric_dtype(values) and values.nunique() > MAX_LEGEND
        if continuous:
            numeric = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
            sc = ax.scatter(x, y, c=numeric, cmap="viridis", rasterized=True, linewidths=0, **style)
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
                    x[mask],
                    y[mask],
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
    """A figure with ``n_panels`` axes in rows of ``ncols`` (unused axes hidden)."""
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


def volcano(
    log2_fold_change: Sequence[float],
    padj: Sequence[float],
    *,
    labels: Sequence[str] | None = None,
    alpha: float = 0.05,
    title: str = "",
    n_labels: int = 10,
) -> matplotlib.figure.Figure:
    """Volcano plot: log2 fold change vs -log10 adjusted p-value; significant genes coloured by
    direction, the ``n_labels`` most significant labelled."""
    plt = _pyplot()
    lfc = np.asarray(log2_fold_change, dtype=float)
    p = np.asarray(padj, dtype=float)
    ok = np.isfinite(lfc) & np.isfinite(p)
    lfc, p = lfc[ok], p[ok]
    names = np.asarray(labels, dtype=object)[ok] if labels is not None else None
    y = -np.log10(np.clip(p, 1e-300, 1.0))
    sig = p < alpha
    up, down = sig & (lfc > 0), sig & (lfc < 0)
    fig, ax = plt.subplots(figsize=(6.4, 5.2), constrained_layout=True)
    style = point_style(len(lfc))
    strong = {"s": max(2 * style["s"], 12.0), "alpha": 0.85}
    ax.scatter(lfc[~sig], y[~sig], color="0.65", rasterized=True, linewidths=0, **style,
               label=f"padj >= {alpha:g} (n={int((~sig).sum())})")  # fmt: skip
    ax.scatter(lfc[up], y[up], color="#c0392b", rasterized=True, linewidths=0, **strong,
               label=f"up (n={int(up.sum())})")  # fmt: skip
    ax.scatter(lfc[down], y[down], color="#2471a3", rasterized=True, linewidths=0, **strong,
               label=f"down (n={int(down.sum())})")  # fmt: skip
    if names is not None and sig.any() and n_labels > 0:
        top = np.argsort(p + np.where(sig, 0, 2))[: min(n_labels, int(sig.sum()))]
        for i in top:
            ax.annotate(str(names[i]), (lfc[i], y[i]), fontsize="x-small",
                        xytext=(3, 3), textcoords="offset points")  # fmt: skip
    ax.axhline(-np.log10(alpha), color="0.4", linestyle="--", linewidth=0.8)
    ax.axvline(0, color="0.4", linewidth=0.6)
    ax.set_xlabel("log2 fold change")
    ax.set_ylabel("-log10 adjusted p-value")
    ax.legend(fontsize="x-small", loc="upper left", framealpha=0.7, markerscale=2)
    if title:
        ax.set_title(title, fontsize="medium")
    return fig


def ma_plot(
    base_mean: Sequence[float],
    log2_fold_change: Sequence[float],
    padj: Sequence[float],
    *,
    alpha: float = 0.05,
    title: str = "",
    ylabel: str = "log2 fold change",
) -> matplotlib.figure.Figure:
    """MA plot: mean of normalised counts (log scale) vs log2 fold change, significant genes
    coloured."""
    plt = _pyplot()
    bm = np.asarray(base_mean, dtype=float)
    lfc = np.asarray(log2_fold_change, dtype=float)
    p = np.asarray(padj, dtype=float)
    ok = np.isfinite(bm) & np.isfinite(lfc) & (bm > 0)
    bm, lfc, p = bm[ok], lfc[ok], p[ok]
    sig = np.isfinite(p) & (p < alpha)
    fig, ax = plt.subplots(figsize=(6.4, 4.8), constrained_layout=True)
    style = point_style(len(bm))
    strong = {"s": max(2 * style["s"], 12.0), "alpha": 0.85}
    ax.scatter(bm[~sig], lfc[~sig], color="0.6", rasterized=True, linewidths=0, **style,
               label=f"padj >= {alpha:g} or NA (n={int((~sig).sum())})")  # fmt: skip
    ax.scatter(bm[sig], lfc[sig], color="#c0392b", rasterized=True, linewidths=0, **strong,
               label=f"padj < {alpha:g} (n={int(sig.sum())})")  # fmt: skip
    ax.set_xscale("log")
    ax.axhline(0, color="0.3", linewidth=0.7)
    ax.set_xlabel("mean of normalised counts")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize="x-small", loc="upper right", framealpha=0.7, markerscale=2)
    if title:
        ax.set_title(title, fontsize="medium")
    return fig
