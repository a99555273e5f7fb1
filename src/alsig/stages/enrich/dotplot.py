"""Dot plot of the top GSEA preranked terms of a contrast, one panel per collection.

The top terms are those of smallest camera FDR (the prerank rows' significance,
:mod:`alsig.tables.enrichment`: it allows for the correlation between a set's genes, GSEA's FDR
does not). x = GSEA's NES (its sign is the direction: > 0, the set sits among the genes higher in
the contrast's first level), colour = camera FDR (log scale, darker = smaller), dot area = genes
of the set in the ranking. A signature's up / down half (GMT ``X_UP`` / ``X_DN``) is drawn as a triangle up / down
instead of a ``_UP`` suffix in its name; names are wrapped on two lines.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from alsig.tables.enrichment import SIGNIFICANCE, with_significance

if TYPE_CHECKING:
    import matplotlib.figure

_COLLECTION_PREFIX = re.compile(r"^(HALLMARK|REACTOME|GOBP|GOCC|GOMF|WP|BIOCARTA|PID)_")
_TRAILING_ID = re.compile(r"^(.*?)(\s*\((?:GO|R-HSA)[:-][^)]*\))$")
#: A gene-set half: ``X_UP`` (genes up in the signature) or ``X_DN`` / ``X_DOWN``.
_HALF_SUFFIX = re.compile(r"^(.+?)_(UP|DN|DOWN)$", re.IGNORECASE)
#: Marker of each half of a signature, and of a plain gene set.
MARKERS = {"up": "^", "down": "v", "": "o"}
_FDR_TICKS = (0.25, 0.05, 0.01, 0.001, 0.0001)
#: Colour map of the FDR: small FDR dark red, FDR near 1 pale yellow.
FDR_CMAP = "YlOrRd_r"
#: Characters per label line, and lines per label.
LABEL_WIDTH = 40
LABEL_LINES = 2


def split_half(term: str) -> tuple[str, str]:
    """Return a set's name without its ``_UP`` / ``_DN`` / ``_DOWN`` suffix, and which half it is.

    Parameters
    ----------
    term
        A gene-set name.

    Returns
    -------
    tuple of str
        ``(name, half)``: half is ``"up"``, ``"down"`` or ``""`` (no suffix).
    """
    match = _HALF_SUFFIX.match(term)
    if not match:
        return term, ""
    return match.group(1), "up" if match.group(2).upper() == "UP" else "down"


def plot_label(term: str, width: int = LABEL_WIDTH, lines: int = LABEL_LINES) -> str:
    """Return a readable y-axis label.

    MSigDB prefix dropped (underscores as spaces), ``_UP`` / ``_DN`` suffix dropped (the marker
    shows the half), wrapped on at most ``lines`` lines of ``width`` characters, the rest cut
    with an ellipsis while keeping a trailing ``(GO:nnnnnnn)`` id.

    Parameters
    ----------
    term
        A gene-set name.
    width
        Longest line, in characters.
    lines
        Most lines.

    Returns
    -------
    str
        The label (lines joined by newlines).
    """
    label, _ = split_half(term)
    stripped = _COLLECTION_PREFIX.sub("", label)
    if stripped != label:
        label = stripped.replace("_", " ")
    match = _TRAILING_ID.match(label)
    name, suffix = (match.group(1), " " + match.group(2).strip()) if match else (label, "")
    wrapped = _wrap(name + suffix, width)
    # too long: cut the name (never the id) until it fits, with an ellipsis where it was cut
    cut = len(name)
    while len(wrapped) > lines and cut > 1:
        cut -= 1
        wrapped = _wrap(name[:cut].rstrip() + "\u2026" + suffix, width)
    return "\n".join(wrapped)


def _wrap(text: str, width: int) -> list[str]:
    """Lines of at most ``width`` characters, broken at spaces or after underscores."""
    # a zero-width space after each underscore lets textwrap break identifiers there
    lines = textwrap.wrap(text.replace("_", "_\u200b"), width=width, break_long_words=True)
    return [line.replace("\u200b", "") for line in lines]


def top_terms(table: pl.DataFrame, top_n: int = 10, method: str = "prerank") -> pl.DataFrame:
    """Return the ``top_n`` terms of ``method`` by significance FDR, ordered by NES for plotting.

    The significance FDR (column ``significance_fdr``) is camera's for prerank, BH's for ORA
    (:func:`alsig.tables.enrichment.with_significance`); ties broken by p-value, then |NES|.
    Rows without one (tables made without camera) are not shown.

    Parameters
    ----------
    table
        An enrichment table.
    top_n
        How many terms.
    method
        ``prerank`` (ties broken by |NES|, ordered by NES) or ``ora`` (by odds ratio).
    """
    rows = with_significance(table).filter(
        (pl.col("method") == method) & pl.col(SIGNIFICANCE).is_not_null()
    )
    score = pl.col("nes").abs() if method == "prerank" else pl.col("odds_ratio")
    rows = rows.sort(
        [pl.col(SIGNIFICANCE), pl.col("pvalue"), score, pl.col("term")],
        descending=[False, False, True, False],
        nulls_last=True,
    ).head(top_n)
    return rows.sort("nes" if method == "prerank" else "odds_ratio", nulls_last=True)


@dataclass(frozen=True)
class _DotScale:
    """Colour (significance FDR, log scale) and dot area (genes in the set), shared by panels."""

    norm: Any  # matplotlib.colors.LogNorm
    max_nes: float
    max_size: float

    @classmethod
    def of(cls, panels: list[tuple[str, pl.DataFrame]]) -> _DotScale:
        from matplotlib.colors import LogNorm

        all_fdr = np.concatenate([rows[SIGNIFICANCE].to_numpy() for _, rows in panels])
        smallest = float(np.nanmin(all_fdr)) if np.isfinite(all_fdr).any() else 1.0
        low = min(max(smallest, 1e-4), 1e-2)  # at least two decades, at most four
        all_nes = np.concatenate([rows["nes"].to_numpy() for _, rows in panels])
        all_size = np.concatenate([rows["size"].to_numpy() for _, rows in panels])
        return cls(
            LogNorm(vmin=low, vmax=1.0, clip=True),
            max(float(np.nanmax(np.abs(all_nes))), 1e-6),
            max(float(np.nanmax(all_size)), 1.0),
        )

    def area(self, size: np.ndarray) -> np.ndarray:
        """Dot area proportional to the set's size (the largest set: 320 pt^2)."""
        return 12 + 308 * np.asarray(size, dtype=float) / self.max_size

    def legend_sizes(self) -> list[int]:
        """Three round set sizes spanning the data."""
        top = self.max_size
        candidates = [5, 10, 15, 25, 50, 100, 200, 300, 500, 1000, 2000]
        shown = [c for c in candidates if c <= top]
        if not shown:
            return [int(top)]
        picks = sorted({shown[0], shown[len(shown) // 2], shown[-1]})
        return picks


def dotplot(
    tables: Mapping[str, pl.DataFrame],
    *,
    title: str,
    top_n: int,
    label_width: int = LABEL_WIDTH,
) -> matplotlib.figure.Figure:
    """Dot plot of the top prerank terms of each collection.

    Parameters
    ----------
    tables
        ``{collection id: enrichment table}``; collections without prerank rows get no panel.
    title
        Figure title.
    top_n
        Terms per panel (:func:`top_terms`).
    label_width
        Longest y-axis label line (:func:`plot_label`).

    Returns
    -------
    matplotlib.figure.Figure
        One panel per collection: x = NES, colour = camera FDR (one colour bar), dot area = genes in
        the set (one legend), triangle up / down = a signature's up / down half; a note instead
        of panels when no collection has prerank rows.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(cid, top_terms(t, top_n)) for cid, t in tables.items()]
    panels = [(cid, rows) for cid, rows in panels if rows.height]
    if not panels:
        return _no_results(title)
    heights = [max(rows.height * 1.4, 2) for _, rows in panels]  # two-line labels
    fig, axes = plt.subplots(
        len(panels),
        1,
        figsize=(9.5, 1.4 + 0.3 * sum(heights) + 0.5 * len(panels)),
        gridspec_kw={"height_ratios": heights},
        squeeze=False,
    )
    scale = _DotScale.of(panels)
    scatter = None
    halves: set[str] = set()
    for ax, (cid, rows) in zip(axes[:, 0], panels, strict=True):
        scatter, drawn = _draw_panel(ax, cid, rows, scale, label_width)
        halves |= drawn
    axes[-1, 0].set_xlabel(
        "normalised enrichment score (NES)\n"
        "\u2190 set among genes lower in the first level  |  higher in the first level \u2192"
    )
    height = fig.get_figheight()
    top = 1 - 0.6 / height
    fig.subplots_adjust(top=top, bottom=0.75 / height, hspace=0.35, left=0.36, right=0.78)
    if title:
        fig.suptitle(title, fontsize=11, y=1 - 0.15 / height)
    if scatter is not None:
        # a colour bar of fixed height under the size legend, whatever the number of panels
        cax = fig.add_axes((0.81, top - 4.3 / height, 0.025, 2.3 / height))
        bar = fig.colorbar(scatter, cax=cax, label="camera FDR (log scale)")
        ticks = [t for t in (1.0, *_FDR_TICKS) if scale.norm.vmin <= t <= 1.0]
        bar.set_ticks(ticks, labels=[f"{t:g}" for t in ticks])
        bar.minorticks_off()
    _legends(axes[0, 0], scale, halves)
    return fig


def _no_results(title: str) -> matplotlib.figure.Figure:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 2))
    ax.axis("off")
    ax.text(0.5, 0.5, "no prerank results to show", ha="center", va="center")
    if title:
        ax.set_title(title)
    return fig


def _draw_panel(
    ax: Any, cid: str, rows: pl.DataFrame, scale: _DotScale, label_width: int
) -> tuple[Any, set[str]]:
    """One collection's dots; returns a scatter (for the colour bar) and the halves drawn."""
    y = np.arange(rows.height)
    nes = rows["nes"].to_numpy()
    fdr = rows[SIGNIFICANCE].to_numpy()
    size = rows["size"].to_numpy()
    halves = np.array([split_half(t)[1] for t in rows["term"].to_list()])
    scatter = None
    for half, marker in MARKERS.items():
        mask = halves == half
        if not mask.any():
            continue
        scatter = ax.scatter(
            nes[mask],
            y[mask],
            c=np.maximum(fdr[mask], scale.norm.vmin),
            cmap=FDR_CMAP,
            norm=scale.norm,
            s=scale.area(size[mask]),
            marker=marker,
            edgecolors="black",
            linewidths=0.5,
            zorder=3,
        )
    labels = [plot_label(t, label_width) for t in rows["term"].to_list()]
    ax.set_yticks(y, labels, fontsize=8, linespacing=0.95)
    ax.set_ylim(-0.7, rows.height - 0.3)
    ax.axvline(0, color="grey", linewidth=0.8, linestyle=":")
    ax.set_xlim(-scale.max_nes * 1.15, scale.max_nes * 1.15)
    ax.set_title(cid, fontsize=10, loc="left")
    ax.grid(axis="x", alpha=0.3)
    return scatter, {h for h in halves.tolist() if h}


def _legends(ax: Any, scale: _DotScale, halves: set[str]) -> None:
    """Draw the legend of dot sizes and of the halves' shapes, right of the first panel."""
    from matplotlib.lines import Line2D

    # legend keys only (not drawn on the axes): marker size in points is sqrt(area)
    handles = [
        Line2D(
            [],
            [],
            marker="o",
            linestyle="",
            markersize=float(np.sqrt(scale.area(np.array([n]))[0])),
            markerfacecolor="0.6",
            markeredgecolor="black",
        )
        for n in scale.legend_sizes()
    ]
    labels = [f"{n} genes" for n in scale.legend_sizes()]
    for half, text in (("up", "up half of a set (_UP)"), ("down", "down half of a set (_DN)")):
        if half in halves:
            handles.append(
                Line2D(
                    [],
                    [],
                    marker=MARKERS[half],
                    linestyle="",
                    markerfacecolor="0.6",
                    markeredgecolor="black",
                    markersize=8,
                )
            )
            labels.append(text)
    ax.legend(
        handles,
        labels,
        title="set size (genes ranked)",
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        fontsize=7,
        title_fontsize=7,
        frameon=False,
        labelspacing=1.1,
    )
