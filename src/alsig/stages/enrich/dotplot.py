"""Dot plot of the top GSEA preranked terms of a contrast, one panel per collection."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

if TYPE_CHECKING:
    import matplotlib.figure

_COLLECTION_PREFIX = re.compile(r"^(HALLMARK|REACTOME|GOBP|GOCC|GOMF|WP|BIOCARTA|PID)_")
_TRAILING_ID = re.compile(r"^(.*?)(\s*\((?:GO|R-HSA)[:-][^)]*\))$")
_LEGEND_FDR = (0.25, 0.05, 0.001)


def plot_label(term: str, width: int = 55) -> str:
    """Return a readable y-axis label.

    MSigDB prefix dropped, underscores as spaces, cut to ``width`` characters with an ellipsis
    while keeping a trailing ``(GO:nnnnnnn)`` id.

    Parameters
    ----------
    term
        A gene-set name.
    width
        Longest label, in characters.
    """
    label = _COLLECTION_PREFIX.sub("", term)
    if label != term:
        label = label.replace("_", " ")
    if len(label) <= width:
        return label
    match = _TRAILING_ID.match(label)
    name, suffix = (match.group(1), match.group(2)) if match else (label, "")
    keep = max(width - len(suffix) - 1, 8)
    return name[:keep].rstrip() + "\u2026" + suffix


def top_terms(table: pl.DataFrame, top_n: int = 10, method: str = "prerank") -> pl.DataFrame:
    """Return the ``top_n`` terms of ``method`` by FDR, ordered by NES for plotting.

    Ties broken by p-value, then |NES|.

    Parameters
    ----------
    table
        An enrichment table.
    top_n
        How many terms.
    method
        ``prerank`` (ties broken by |NES|, ordered by NES) or ``ora`` (by odds ratio).
    """
    rows = table.filter((pl.col("method") == method) & pl.col("fdr").is_not_null())
    score = pl.col("nes").abs() if method == "prerank" else pl.col("odds_ratio")
    rows = rows.sort(
        [pl.col("fdr"), pl.col("pvalue"), score, pl.col("term")],
        descending=[False, False, True, False],
        nulls_last=True,
    ).head(top_n)
    return rows.sort("nes" if method == "prerank" else "odds_ratio", nulls_last=True)


@dataclass(frozen=True)
class _DotScale:
    """Colour (NES, symmetric around 0) and dot area (-log10 FDR) shared by every panel."""

    vmax: float
    norm: Any  # matplotlib.colors.TwoSlopeNorm
    max_logq: float

    @classmethod
    def of(cls, panels: list[tuple[str, pl.DataFrame]]) -> _DotScale:
        from matplotlib.colors import TwoSlopeNorm

        all_nes = np.concatenate([rows["nes"].to_numpy() for _, rows in panels])
        vmax = max(float(np.nanmax(np.abs(all_nes))), 1e-6)
        all_fdr = np.concatenate([rows["fdr"].to_numpy() for _, rows in panels])
        max_logq = max(float(np.nanmax(-np.log10(all_fdr))), 1.0)
        return cls(vmax, TwoSlopeNorm(vmin=-vmax, vcenter=0.0, vmax=vmax), max_logq)

    def area(self, fdr: np.ndarray) -> np.ndarray:
        return 20 + 280 * (-np.log10(fdr)) / self.max_logq


def dotplot(
    tables: Mapping[str, pl.DataFrame],
    *,
    title: str,
    top_n: int,
    label_width: int = 55,
) -> matplotlib.figure.Figure:
    """Dot plot of the top prerank terms of each collection.

    X = NES, colour = NES, dot area = -log10 FDR; one panel per collection; long term names
    truncated.

    Parameters
    ----------
    tables
        ``{collection id: enrichment table}``; collections without prerank rows get no panel.
    title
        Figure title.
    top_n
        Terms per panel (:func:`top_terms`).
    label_width
        Longest y-axis label (:func:`plot_label`).

    Returns
    -------
    matplotlib.figure.Figure
        The figure (a note instead of panels when no collection has prerank rows).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(cid, top_terms(t, top_n)) for cid, t in tables.items()]
    panels = [(cid, rows) for cid, rows in panels if rows.height]
    if not panels:
        return _no_results(title)
    heights = [max(rows.height, 2) for _, rows in panels]
    fig, axes = plt.subplots(
        len(panels),
        1,
        figsize=(9, 1.2 + 0.32 * sum(heights) + 0.5 * len(panels)),
        gridspec_kw={"height_ratios": heights},
        squeeze=False,
    )
    scale = _DotScale.of(panels)
    scatter = None
    for ax, (cid, rows) in zip(axes[:, 0], panels, strict=True):
        scatter = _draw_panel(ax, cid, rows, scale, label_width)
    axes[-1, 0].set_xlabel("normalised enrichment score (NES)")
    height = fig.get_figheight()
    fig.subplots_adjust(top=1 - 0.55 / height, bottom=0.45 / height, hspace=0.35)
    if title:
        fig.suptitle(title, fontsize=11, y=1 - 0.15 / height)
    if scatter is not None:
        fig.colorbar(scatter, ax=axes[:, 0].tolist(), label="NES", shrink=0.6, pad=0.02)
    _fdr_legend(axes[0, 0], scale, len(panels))
    return fig


def _no_results(title: str) -> matplotlib.figure.Figure:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 2))
    ax.axis("off")
    ax.text(0.5, 0.5, "no prerank results to show", ha="center", va="center")
    if title:
        ax.set_title(title)
    return fig


def _draw_panel(ax: Any, cid: str, rows: pl.DataFrame, scale: _DotScale, label_width: int) -> Any:
    """One collection's dots; returns the scatter (for the colour bar)."""
    y = np.arange(rows.height)
    nes = rows["nes"].to_numpy()
    fdr = rows["fdr"].to_numpy()
    scatter = ax.scatter(
        nes,
        y,
        c=nes,
        cmap="RdBu_r",
        norm=scale.norm,
        s=scale.area(fdr),
        edgecolors="black",
        linewidths=0.5,
    )
    ax.set_yticks(y, [plot_label(t, label_width) for t in rows["term"].to_list()], fontsize=8)
    ax.set_ylim(-0.7, rows.height - 0.3)
    ax.axvline(0, color="grey", linewidth=0.8, linestyle=":")
    ax.set_xlim(-scale.vmax * 1.15, scale.vmax * 1.15)
    ax.set_title(cid, fontsize=10, loc="left")
    ax.grid(axis="x", alpha=0.3)
    return scatter


def _fdr_legend(ax: Any, scale: _DotScale, n_panels: int) -> None:
    """Dot sizes of a few FDR values, right of the first panel."""
    handles = [
        ax.scatter([], [], s=float(scale.area(np.array([q]))[0]), color="grey", edgecolors="black")
        for q in _LEGEND_FDR
    ]
    ax.legend(
        handles,
        [f"FDR {q:g}" for q in _LEGEND_FDR],
        title="-log10 FDR",
        loc="lower left",
        bbox_to_anchor=(1.18, 0.0) if n_panels == 1 else (1.18, -0.2),
        fontsize=7,
        title_fontsize=7,
        frameon=False,
    )
