"""Shared plotting helpers: figures that stay readable from ten to a thousand samples.

Conventions: every axis is labelled, categorical colours are the fixed colours of
:mod:`alsig.palette` (ALS is the same orange in every figure and dataset) and come with a legend
(at most ``MAX_LEGEND`` entries; rarer levels are pooled), point size and alpha shrink with the
number of points, and scatter layers are rasterised so that figures with 30k genes stay small.
Functions return a ``matplotlib.figure.Figure``; write it with :func:`alsig.io.save_figure`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from alsig.palette import colours_for, ordered_levels

if TYPE_CHECKING:
    import matplotlib.axes
    import matplotlib.figure

MAX_LEGEND = 12
#: Legends with more levels go right of the axes (see :func:`scatter_by`).
MAX_LEGEND_INSIDE = 4
MISSING_LABEL = "missing"
#: The level rare levels are pooled into (not "other": some cohorts have a condition "other").
POOLED_LABEL = "other (pooled)"
#: Colour of the pooled rare levels.
POOLED_COLOUR = "#969696"
#: At most this many points are named on a figure (the most extreme first).
MAX_NAMED = 15


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def point_style(n_points: int) -> dict[str, Any]:
    """Marker size and alpha for ``n_points`` points (big and opaque for few, small for many).

    Parameters
    ----------
    n_points
        How many points the layer draws.

    Returns
    -------
    dict
        ``s`` (marker area) and ``alpha``, keyword arguments of ``Axes.scatter``.
    """
    if n_points <= 50:
        return {"s": 36.0, "alpha": 0.9}
    if n_points <= 300:
        return {"s": 18.0, "alpha": 0.75}
    if n_points <= 2000:
        return {"s": 8.0, "alpha": 0.6}
    return {"s": 3.0, "alpha": 0.35}


def categorical_levels(values: Sequence[object], max_levels: int = MAX_LEGEND) -> pd.Series:
    """Return values as strings with missing and rare levels pooled, so legends stay readable.

    Parameters
    ----------
    values
        One value per point.
    max_levels
        Most levels a legend shows.

    Returns
    -------
    pandas.Series
        Missing values as ``"missing"``; levels beyond the ``max_levels - 1`` most frequent
        pooled into :data:`POOLED_LABEL`.
    """
    series = pd.Series(list(values), dtype=object)
    series = series.where(series.notna(), MISSING_LABEL).astype(str)
    counts = series.value_counts()
    if len(counts) > max_levels:
        keep = set(counts.index[: max_levels - 1])
        series = series.where(series.isin(keep), POOLED_LABEL)
    return series


def level_colours(variable: str, levels: Sequence[object]) -> dict[str, str]:
    """Return the fixed colour of each level (:func:`alsig.palette.colours_for`), pooled grey.

    Parameters
    ----------
    variable
        The palette's variable (``condition``, ``sex``, ``qc``, ...).
    levels
        The levels to colour, possibly with :data:`POOLED_LABEL`.

    Returns
    -------
    dict
        Level -> hex colour.
    """
    names = [str(level) for level in levels if str(level) != POOLED_LABEL]
    colours = colours_for(variable, names)
    if POOLED_LABEL in {str(level) for level in levels}:
        colours[POOLED_LABEL] = POOLED_COLOUR
    return colours


def scatter_by(
    ax: matplotlib.axes.Axes,
    x: ArrayLike,
    y: ArrayLike,
    colour_by: ArrayLike | None = None,
    *,
    title: str = "",
    continuous: bool | None = None,
    legend_title: str | None = None,
    variable: str | None = None,
    legend_outside: bool | None = None,
) -> None:
    """Scatter ``x`` vs ``y`` coloured by a categorical or continuous variable.

    Categories take their fixed colours (:mod:`alsig.palette`) and get a legend in the
    palette's order with the count of each level; a continuous variable gets a colour bar.

    Parameters
    ----------
    ax
        The axes to draw on.
    x, y
        Coordinates.
    colour_by
        One value per point, or None (all grey).
    title
        Axes title.
    continuous
        Whether ``colour_by`` is continuous; None: numeric with more than :data:`MAX_LEGEND`
        distinct values.
    legend_title
        Title of the legend or the colour bar.
    variable
        The palette's variable (``condition``, ``sex``, ...); default ``legend_title``.
    legend_outside
        Legend right of the axes instead of over the data; None: when there are more than
        :data:`MAX_LEGEND_INSIDE` levels (a long legend would hide points).
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
            palette_of = variable or legend_title or ""
            order = ordered_levels(palette_of, [v for v in levels if v != POOLED_LABEL])
            if POOLED_LABEL in set(levels):
                order.append(POOLED_LABEL)
            colours = level_colours(palette_of, order)
            for level in order:
                mask = (levels == level).to_numpy()
                ax.scatter(
                    xs[mask],
                    ys[mask],
                    color=colours[level],
                    label=f"{level} (n={int(mask.sum())})",
                    rasterized=True,
                    # a light colour (the "kept" of the QC palette) needs an edge to be seen
                    edgecolors="0.45",
                    linewidths=0.3,
                    **style,
                )
            legend(
                ax,
                title=legend_title,
                outside=len(order) > MAX_LEGEND_INSIDE
                if legend_outside is None
                else legend_outside,
                markerscale=max(1.0, 24 / style["s"]) ** 0.5,
            )
    if title:
        ax.set_title(title, fontsize="medium")


def legend(
    ax: matplotlib.axes.Axes, *, title: str | None = None, outside: bool = False, **kwargs: Any
) -> Any:
    """Draw the axes' legend, over the data (best corner) or right of the axes.

    Parameters
    ----------
    ax
        Axes whose labelled artists the legend lists.
    title
        Legend title.
    outside
        Right of the axes, clear of the data.
    **kwargs
        Passed to ``Axes.legend``.

    Returns
    -------
    matplotlib.legend.Legend
    """
    placement: dict[str, Any] = (
        {"loc": "upper left", "bbox_to_anchor": (1.02, 1.0), "borderaxespad": 0.0}
        if outside
        else {"loc": "best", "framealpha": 0.7}
    )
    return ax.legend(title=title, fontsize="x-small", title_fontsize="small", **placement, **kwargs)


def name_points(
    ax: matplotlib.axes.Axes,
    x: ArrayLike,
    y: ArrayLike,
    names: Sequence[object],
    *,
    colour: str = "black",
    max_names: int = MAX_NAMED,
    avoid: tuple[ArrayLike, ArrayLike] | None = None,
    repeat_on: Sequence[matplotlib.axes.Axes] = (),
) -> list[Any]:
    """Write ``names`` beside their points, moved apart so they do not overlap (adjustText).

    Parameters
    ----------
    ax
        The axes.
    x, y
        Coordinates of the points to name, most important first.
    names
        One name per point.
    colour
        Text colour.
    max_names
        At most this many are named (the first ones).
    avoid
        ``(x, y)`` of every point the names should not cover (default: the named points).
    repeat_on
        Further axes showing the same points at the same data limits (panels of one scatter
        coloured differently): the names are placed once, on ``ax``, and copied to these.
        Placing them on every panel would draw the whole figure once per panel.

    Returns
    -------
    list of matplotlib.text.Text
        The labels drawn on ``ax``.
    """
    from adjustText import adjust_text

    xs = np.asarray(x, dtype=float)[:max_names]
    ys = np.asarray(y, dtype=float)[:max_names]
    if xs.size == 0:
        return []
    # start each name a few points beside its marker, towards the middle of the axes (a name
    # on its marker hides it, one at the edge leaves the axes); adjustText then only separates
    ax.get_figure(root=True).draw_without_rendering()  # type: ignore[union-attr]
    to_display = ax.transData
    middle = ax.bbox.x0 + ax.bbox.width / 2
    texts = []
    for a, b, name in zip(xs, ys, list(names)[:max_names], strict=True):
        px, py = to_display.transform((a, b))
        right = px > middle
        tx, ty = to_display.inverted().transform((px + (-7 if right else 7), py + 4))
        texts.append(
            ax.text(
                tx,
                ty,
                str(name),
                fontsize="x-small",
                color=colour,
                ha="right" if right else "left",
                va="bottom",
                zorder=6,
            )
        )
    avoid_x, avoid_y = (xs, ys) if avoid is None else (np.asarray(v, dtype=float) for v in avoid)
    avoid_x, avoid_y = _nearest_points(avoid_x, avoid_y, xs, ys, NAME_NEIGHBOURS)
    _, lines = adjust_text(
        texts,
        x=avoid_x,
        y=avoid_y,
        target_x=xs,
        target_y=ys,
        ax=ax,
        expand=(1.2, 1.5),
        force_text=(0.3, 0.6),
        arrowprops=NAME_LINE,
        # a step budget, not adjustText's default 1 s of wall clock: the same figure on every
        # run and machine, and a layout that cannot fully separate stops after ~0.1 s
        iter_lim=NAME_STEPS,
    )
    for other in repeat_on:
        _copy_names(texts, lines, (xs, ys), other)
    return texts


#: adjustText iterations per call (most layouts settle in under 50)
NAME_STEPS = 150

#: the points a name keeps clear of: the ones nearest the named points (each adjustText step
#: compares every name with every such point: 0.1 s a step with 2,000 of them)
NAME_NEIGHBOURS = 300


def _nearest_points(
    x: np.ndarray, y: np.ndarray, to_x: np.ndarray, to_y: np.ndarray, limit: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return the ``limit`` points of ``(x, y)`` nearest any of ``(to_x, to_y)``.

    Distances are in units of each axis's spread; every finite point is returned when there are
    no more than ``limit``.
    """
    finite = np.isfinite(x) & np.isfinite(y)
    x, y = x[finite], y[finite]
    if x.size <= limit:
        return x, y
    scale_x, scale_y = (float(np.ptp(v)) or 1.0 for v in (x, y))
    dx = (x[:, None] - to_x[None, :]) / scale_x
    dy = (y[:, None] - to_y[None, :]) / scale_y
    nearest = np.sqrt(dx**2 + dy**2).min(axis=1)
    keep = np.sort(np.argsort(nearest, kind="stable")[:limit])
    return x[keep], y[keep]


#: the thin line from a moved name to its point
NAME_LINE: dict[str, Any] = {"arrowstyle": "-", "color": "0.4", "lw": 0.5}


def _copy_names(
    texts: list[Any], lines: list[Any], points: tuple[np.ndarray, np.ndarray], ax: Any
) -> None:
    """Draw placed names, and the lines from moved names to their points, on another axes."""
    from matplotlib.patches import FancyArrowPatch

    copies = []
    for text in texts:
        x, y = text.get_position()
        copies.append(
            ax.text(
                x,
                y,
                text.get_text(),
                fontsize=text.get_fontsize(),
                color=text.get_color(),
                ha=text.get_horizontalalignment(),
                va=text.get_verticalalignment(),
                zorder=text.get_zorder(),
            )
        )
    position = {id(text): i for i, text in enumerate(texts)}
    for line in lines:  # adjustText drew one from each name moved far enough from its point
        i = position[id(line.patchA)]
        ax.add_patch(
            FancyArrowPatch(
                posA=texts[i].get_position(),
                posB=(points[0][i], points[1][i]),
                patchA=copies[i],
                transform=ax.transData,
                **NAME_LINE,
            )
        )


def note_in_axes(ax: matplotlib.axes.Axes, text: str, *, height: float = 0.5) -> Any:
    """Write a boxed note in the middle of the axes (an empty result says so on the figure).

    Parameters
    ----------
    ax
        The axes.
    text
        The note.
    height
        Where, in axes fraction (0 bottom, 1 top); put it where the data are not.

    Returns
    -------
    matplotlib.text.Text
    """
    return ax.text(
        0.5,
        height,
        text,
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize="medium",
        bbox={"boxstyle": "round,pad=0.5", "facecolor": "white", "edgecolor": "0.5", "alpha": 0.9},
        zorder=10,
    )


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
