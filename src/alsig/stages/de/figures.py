"""DE figures: volcano and MA plots of one contrast."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from alsig import plotting

if TYPE_CHECKING:
    import matplotlib.figure


def volcano(
    log2_fold_change: ArrayLike,
    padj: ArrayLike,
    *,
    labels: Sequence[str] | None = None,
    alpha: float,
    title: str = "",
    n_labels: int = 10,
) -> matplotlib.figure.Figure:
    """Volcano plot: log2 fold change vs -log10 adjusted p-value.

    Significant genes coloured by direction, the ``n_labels`` most significant labelled.
    """
    plt = plotting._pyplot()
    lfc = np.asarray(log2_fold_change, dtype=float)
    p = np.asarray(padj, dtype=float)
    ok = np.isfinite(lfc) & np.isfinite(p)
    lfc, p = lfc[ok], p[ok]
    names = np.asarray(labels, dtype=object)[ok] if labels is not None else None
    y = -np.log10(np.clip(p, 1e-300, 1.0))
    sig = p < alpha
    up, down = sig & (lfc > 0), sig & (lfc < 0)
    fig, ax = plt.subplots(figsize=(6.4, 5.2), constrained_layout=True)
    style = plotting.point_style(len(lfc))
    strong = {"s": max(2 * style["s"], 12.0), "alpha": 0.85}
    ax.scatter(
        lfc[~sig],
        y[~sig],
        color="0.65",
        rasterized=True,
        linewidths=0,
        **style,
        label=f"padj >= {alpha:g} (n={int((~sig).sum())})",
    )
    ax.scatter(
        lfc[up],
        y[up],
        color="#c0392b",
        rasterized=True,
        linewidths=0,
        **strong,
        label=f"up (n={int(up.sum())})",
    )
    ax.scatter(
        lfc[down],
        y[down],
        color="#2471a3",
        rasterized=True,
        linewidths=0,
        **strong,
        label=f"down (n={int(down.sum())})",
    )
    if names is not None and sig.any() and n_labels > 0:
        top = np.argsort(p + np.where(sig, 0, 2))[: min(n_labels, int(sig.sum()))]
        _labels(ax, lfc[top], y[top], names[top])
    ax.axhline(-np.log10(alpha), color="0.4", linestyle="--", linewidth=0.8)
    ax.axvline(0, color="0.4", linewidth=0.6)
    ax.set_xlabel("log2 fold change")
    ax.set_ylabel("-log10 adjusted p-value")
    ax.legend(fontsize="x-small", loc="upper left", framealpha=0.7, markerscale=2)
    if title:
        ax.set_title(title, fontsize="medium")
    return fig


def ma_plot(
    base_mean: ArrayLike,
    log2_fold_change: ArrayLike,
    padj: ArrayLike,
    *,
    alpha: float,
    title: str = "",
    ylabel: str = "log2 fold change",
) -> matplotlib.figure.Figure:
    """Return the MA plot: log2 fold change against the mean of normalised counts.

    The mean on a log scale; significant genes coloured.
    """
    plt = plotting._pyplot()
    bm = np.asarray(base_mean, dtype=float)
    lfc = np.asarray(log2_fold_change, dtype=float)
    p = np.asarray(padj, dtype=float)
    ok = np.isfinite(bm) & np.isfinite(lfc) & (bm > 0)
    bm, lfc, p = bm[ok], lfc[ok], p[ok]
    sig = np.isfinite(p) & (p < alpha)
    fig, ax = plt.subplots(figsize=(6.4, 4.8), constrained_layout=True)
    style = plotting.point_style(len(bm))
    strong = {"s": max(2 * style["s"], 12.0), "alpha": 0.85}
    ax.scatter(
        bm[~sig],
        lfc[~sig],
        color="0.6",
        rasterized=True,
        linewidths=0,
        **style,
        label=f"padj >= {alpha:g} or NA (n={int((~sig).sum())})",
    )
    ax.scatter(
        bm[sig],
        lfc[sig],
        color="#c0392b",
        rasterized=True,
        linewidths=0,
        **strong,
        label=f"padj < {alpha:g} (n={int(sig.sum())})",
    )
    ax.set_xscale("log")
    ax.axhline(0, color="0.3", linewidth=0.7)
    ax.set_xlabel("mean of normalised counts")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize="x-small", loc="upper right", framealpha=0.7, markerscale=2)
    if title:
        ax.set_title(title, fontsize="medium")
    return fig


def _labels(ax, x: np.ndarray, y: np.ndarray, names: np.ndarray) -> None:
    """Gene labels moved apart so they do not overlap each other or their points (adjustText)."""
    from adjustText import adjust_text

    texts = [ax.text(a, b, str(n), fontsize="x-small") for a, b, n in zip(x, y, names, strict=True)]
    adjust_text(texts, x=x, y=y, ax=ax, arrowprops={"arrowstyle": "-", "color": "0.4", "lw": 0.5})
