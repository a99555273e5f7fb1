"""DE figures: volcano and MA plots of one contrast.

Both colour the genes at ``padj < alpha`` by direction with the fixed colours of
:data:`alsig.palette.DIRECTION` (up red, down blue, the rest grey) and keep the legend right of
the data. A contrast without any significant gene says so on the figure, so an empty plot is
never mistaken for a drawing error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from alsig import plotting
from alsig.palette import DIRECTION

if TYPE_CHECKING:
    import matplotlib.figure

#: Genes labelled on the volcano by default (the caption, workflow/report/de_volcano.rst, says so).
N_LABELS = 10


def top_genes(padj: np.ndarray, lfc: np.ndarray, alpha: float, n: int) -> np.ndarray:
    """Return the positions of the genes the volcano names.

    Parameters
    ----------
    padj, lfc
        Adjusted p-values and log2 fold changes (finite).
    alpha
        Significance level.
    n
        How many at most.

    Returns
    -------
    numpy.ndarray
        The (at most) ``n`` genes at ``padj < alpha`` with the smallest ``padj``, ties broken by
        the larger ``|lfc|``; empty when no gene is significant.
    """
    significant = np.flatnonzero(padj < alpha)
    order = np.lexsort((-np.abs(lfc[significant]), padj[significant]))
    return significant[order][: max(n, 0)]


def _direction_layers(
    ax: Any,
    x: np.ndarray,
    y: np.ndarray,
    sig: np.ndarray,
    up: np.ndarray,
    *,
    alpha: float,
    grey: str = "",
) -> None:
    """Not significant (grey, small), then up and down (palette colours, larger) on top."""
    style = plotting.point_style(len(x))
    strong = {"s": max(2 * style["s"], 12.0), "alpha": 0.85}
    layers = (
        (~sig, "none", f"{grey or f'padj ≥ {alpha:g}'} (n={int((~sig).sum()):,})", style),
        (sig & up, "up", f"up, padj < {alpha:g} (n={int((sig & up).sum()):,})", strong),
        (sig & ~up, "down", f"down, padj < {alpha:g} (n={int((sig & ~up).sum()):,})", strong),
    )
    for mask, direction, label, kwargs in layers:
        ax.scatter(
            x[mask],
            y[mask],
            color=DIRECTION[direction],
            rasterized=True,
            linewidths=0,
            label=label,
            **kwargs,
        )


def _no_significant_note(ax: Any, n_tested: int, alpha: float, height: float) -> None:
    plotting.note_in_axes(
        ax, f"no gene at padj < {alpha:g}\n({n_tested:,} genes tested)", height=height
    )


def volcano(
    log2_fold_change: ArrayLike,
    padj: ArrayLike,
    *,
    labels: Sequence[str] | None = None,
    alpha: float,
    title: str = "",
    n_labels: int = N_LABELS,
) -> matplotlib.figure.Figure:
    """Volcano plot: log2 fold change vs -log10 adjusted p-value.

    Parameters
    ----------
    log2_fold_change
        MLE log2 fold change per gene.
    padj
        Adjusted p-value per gene (NaN: not tested; such genes are not drawn, the legend
        counts them).
    labels
        Gene names (symbols), for the labelled genes.
    alpha
        Significance level (dashed line).
    title
        Figure title.
    n_labels
        The genes :func:`top_genes` picks are named.

    Returns
    -------
    matplotlib.figure.Figure
        Significant genes coloured by direction, legend right of the data; "no gene at padj <
        alpha" written on the figure when there is none.
    """
    plt = plotting._pyplot()
    lfc = np.asarray(log2_fold_change, dtype=float)
    p = np.asarray(padj, dtype=float)
    ok = np.isfinite(lfc) & np.isfinite(p)
    n_missing = int((~ok).sum())
    lfc, p = lfc[ok], p[ok]
    names = np.asarray(labels, dtype=object)[ok] if labels is not None else None
    y = -np.log10(np.clip(p, 1e-300, 1.0))
    sig = p < alpha
    fig, ax = plt.subplots(figsize=(7.6, 5.2), constrained_layout=True)
    _direction_layers(ax, lfc, y, sig, lfc > 0, alpha=alpha)
    ax.axhline(-np.log10(alpha), color="0.4", linestyle="--", linewidth=0.8)
    ax.axvline(0, color="0.4", linewidth=0.6)
    ax.set_xlabel("log2 fold change")
    ax.set_ylabel("-log10 adjusted p-value")
    if not sig.any():
        _no_significant_note(ax, int(ok.sum()), alpha, height=0.6)  # the genes lie below
    ax.margins(y=0.08)  # room for the names of the top genes
    top = top_genes(p, lfc, alpha, n_labels)
    if names is not None and top.size:
        plotting.name_points(
            ax, lfc[top], y[top], names[top], max_names=top.size, avoid=(lfc[sig], y[sig])
        )
    notes = [f"{top.size} most significant named"] if top.size else []
    if n_missing:
        notes.append(f"{n_missing:,} without padj not shown")
    plotting.legend(ax, title="\n".join(notes) or None, outside=True, markerscale=2)
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

    Parameters
    ----------
    base_mean
        Mean of normalised counts per gene (x, log scale; genes with 0 are not drawn).
    log2_fold_change
        Log2 fold change per gene (shrunken when available).
    padj
        Adjusted p-value per gene (NaN counts as not significant).
    alpha
        Significance level.
    title
        Figure title.
    ylabel
        Which fold change is shown.

    Returns
    -------
    matplotlib.figure.Figure
        Colours and legend as the volcano's; "no gene at padj < alpha" written on the figure
        when there is none.
    """
    plt = plotting._pyplot()
    bm = np.asarray(base_mean, dtype=float)
    lfc = np.asarray(log2_fold_change, dtype=float)
    p = np.asarray(padj, dtype=float)
    ok = np.isfinite(bm) & np.isfinite(lfc) & (bm > 0)
    bm, lfc, p = bm[ok], lfc[ok], p[ok]
    sig = np.isfinite(p) & (p < alpha)
    fig, ax = plt.subplots(figsize=(7.6, 4.8), constrained_layout=True)
    _direction_layers(ax, bm, lfc, sig, lfc > 0, alpha=alpha, grey=f"padj ≥ {alpha:g} or NA")
    ax.set_xscale("log")
    ax.axhline(0, color="0.3", linewidth=0.7)
    ax.set_xlabel("mean of normalised counts")
    ax.set_ylabel(ylabel)
    if not sig.any():
        _no_significant_note(ax, int(np.isfinite(p).sum()), alpha, height=0.9)  # above the band
    plotting.legend(ax, outside=True, markerscale=2)
    if title:
        ax.set_title(title, fontsize="medium")
    return fig
