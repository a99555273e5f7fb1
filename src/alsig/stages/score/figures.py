"""Figures of the signature scores for the report.

A samples x axes heatmap and per-axis distributions by condition.

Both read the public long table (``alsig.tables``) so they show exactly what downstream tools see.
They are drawn for ten to hundreds of samples: the heatmap has one column per sample (named up to
60 samples), ordered by condition and clustered within it, with colour tracks of condition, the
QC flag and (when the samples have them) region, sex and batch, and the retrotransposon axis
(scored from the TE counts with its own method) as its last row; the distributions are box plots
with jittered, semi-transparent points. Colours are the fixed palettes of :mod:`alsig.palette`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from alsig.palette import MISSING, colours_for, ordered_levels
from alsig.stages.score.composites import AXIS_PREFIX
from alsig.stages.score.retrotransposons import METHOD as TE_METHOD

MAX_SAMPLE_LABELS = 60
Z_LIMIT = 3.0  # colour scale of the heatmap is clipped at +/- this many control SDs
TRACKS = ("region", "sex", "batch")  # heatmap colour tracks under condition and QC, when present
MAX_LEGEND_LEVELS = 8
#: Characters of legend text per row beside a track (longer legends wrap onto more rows).
LEGEND_ROW_CHARS = 64
#: Height of a track row with a one-row legend, and per further legend row (inches).
TRACK_HEIGHT, LEGEND_ROW_HEIGHT = 0.4, 0.17
#: Height of one axis row of the heatmap (inches).
AXIS_ROW_HEIGHT = 0.35
#: The QC track's levels: a sample scored with a QC flag (``qc_flag`` set) or without.
QC_TRACK = "QC"


def _axis_rows(long: pl.DataFrame, method: str) -> pl.DataFrame:
    return long.filter(
        (pl.col("method") == method) & pl.col("signature").str.starts_with(AXIS_PREFIX)
    )


def axis_matrix(long: pl.DataFrame, method: str = "singscore") -> tuple[pl.DataFrame, str]:
    """Return samples x axis composites of one method, sorted by condition then sample.

    Axes scored only by another method (the retrotransposon axis, scored from the TE counts
    with ``log2cpm``) follow as columns named ``<axis> (<method>)``.

    Parameters
    ----------
    long
        The long score table of a dataset.
    method
        The method whose composites are shown.

    Returns
    -------
    tuple
        ``(wide, label)``: ``sample``, ``condition`` and one column per axis, holding
        ``z_vs_control`` when the dataset has it (comparable across axes), otherwise the scores
        standardised within the dataset; ``label`` names the value shown.
    """
    composites = long.filter(pl.col("signature").str.starts_with(AXIS_PREFIX))
    shown = composites.filter(pl.col("method") == method)
    own_axes = set(shown["signature"].to_list())
    others = composites.filter(
        (pl.col("method") != method) & ~pl.col("signature").is_in(list(own_axes))
    )
    rows = pl.concat([shown, others], how="vertical_relaxed")
    use_z = rows["z_vs_control"].drop_nulls().len() > 0
    value = "z_vs_control" if use_z else "score"
    if not use_z:
        # no control reference: z within the dataset, so the +/- Z_LIMIT scale still means SDs
        by = ["signature", "method"]
        spread = pl.col("score").std().over(by)
        rows = rows.with_columns(
            pl.when(spread > 0)
            .then((pl.col("score") - pl.col("score").mean().over(by)) / spread)
            .otherwise(0.0)
            .alias("score")
        )
    name = pl.col("signature").str.strip_prefix(AXIS_PREFIX)
    rows = rows.with_columns(
        pl.when(pl.col("method") == method)
        .then(name)
        .otherwise(name + " (" + pl.col("method") + ")")
        .alias("axis_name")
    )
    order = list(dict.fromkeys(rows["axis_name"].to_list()))
    wide = (
        rows.pivot(on="axis_name", index=["sample", "condition"], values=value)
        .select(["sample", "condition", *order])
        .sort(["condition", "sample"], nulls_last=True)
    )
    label = "z-score vs controls" if use_z else "z-score within the dataset (no controls)"
    return wide, label


def qc_track(long: pl.DataFrame, samples: Sequence[str]) -> list[str]:
    """Return the QC track: ``flagged`` for samples scored with a QC flag, else ``kept``.

    Parameters
    ----------
    long
        The long score table (``qc_flag``: QC's flags of the sample, null when none).
    samples
        The heatmap's columns.

    Returns
    -------
    list of str
        One level of :data:`alsig.palette.QC_FLAG` per sample.
    """
    if "qc_flag" not in long.columns:
        return ["kept"] * len(samples)
    flags = long.group_by("sample").agg(
        (pl.col("qc_flag").fill_null("") != "").any().alias("flagged")
    )
    flagged = dict(zip(flags["sample"].to_list(), flags["flagged"].to_list(), strict=True))
    return ["flagged" if flagged.get(s) else "kept" for s in samples]


def _track_colours(name: str, values: list[str | None]) -> dict[str | None, str]:
    """Colour per level: the variable's fixed palette (:func:`alsig.palette.colours_for`).

    The palette's order for the legend, missing values grey.
    """
    variable = "qc" if name == QC_TRACK else name
    levels = ordered_levels(variable, [v for v in values if v is not None])
    palette = colours_for(variable, levels)
    colours: dict[str | None, str] = {level: palette[level] for level in levels}
    if None in values:
        colours[None] = MISSING
    return colours


def heatmap_tracks(
    wide: pl.DataFrame, obs: pd.DataFrame | None, qc: Sequence[str] | None = None
) -> dict[str, list[str | None]]:
    """Annotation tracks of the heatmap columns.

    Condition, the QC flag (when ``qc`` is given), then those of :data:`TRACKS` that ``obs``
    (indexed by sample) or ``wide`` has with at least one value.
    """
    samples = wide["sample"].to_list()
    tracks: dict[str, list[str | None]] = {
        "condition": [None if c is None else str(c) for c in wide["condition"].to_list()]
    }
    if qc is not None:
        tracks[QC_TRACK] = list(qc)
    for name in TRACKS:
        if name in wide.columns:
            values = wide[name].to_list()
        elif obs is not None and name in obs.columns:
            values = obs[name].reindex(samples).astype(object).tolist()
        else:
            continue
        values = [None if pd.isna(v) else str(v) for v in values]
        if any(v is not None for v in values):
            tracks[name] = values
    return tracks


def cluster_within_condition(values: np.ndarray, conditions: list[str | None]) -> np.ndarray:
    """Column order.

    Conditions kept in their order, samples within each condition ordered by average-linkage
    hierarchical clustering of their axis values (similar samples side by side; a missing value
    counts as 0, the control mean).
    """
    from scipy.cluster.hierarchy import leaves_list, linkage

    order: list[int] = []
    for level in dict.fromkeys(conditions):
        members = np.array([i for i, c in enumerate(conditions) if c == level])
        if len(members) < 3 or values.shape[0] == 0:
            order.extend(members.tolist())
            continue
        block = np.nan_to_num(values[:, members].T, nan=0.0)
        order.extend(members[leaves_list(linkage(block, method="average"))].tolist())
    return np.asarray(order, dtype=int)


def _track_legend(name: str, values: list[str | None]) -> tuple[list[Any], int]:
    """Return a track's legend entries (with counts) and how many columns they take."""
    from matplotlib.patches import Patch

    colours = _track_colours(name, values)
    # a batch track can have dozens of levels: the legend shows the first few
    shown = list(colours.items())[:MAX_LEGEND_LEVELS]
    handles = [
        Patch(
            facecolor=col,
            edgecolor="0.6",
            linewidth=0.5,
            label=f"{'NA' if c is None else c} ({values.count(c)})",
        )
        for c, col in shown
    ]
    if len(colours) > MAX_LEGEND_LEVELS:
        handles.append(Patch(color="white", label=f"… {len(colours) - MAX_LEGEND_LEVELS} more"))
    widest = max(len(str(h.get_label())) + 4 for h in handles)
    return handles, max(1, min(len(handles), LEGEND_ROW_CHARS // widest))


def _legend_rows(name: str, values: list[str | None]) -> int:
    handles, ncol = _track_legend(name, values)
    return -(-len(handles) // ncol)


def _track_bar(bar: Any, side: Any, name: str, values: list[str | None]) -> None:
    """One colour bar row and its legend in the side panel."""
    from matplotlib.colors import ListedColormap

    colours = _track_colours(name, values)
    codes = {c: i for i, c in enumerate(colours)}
    bar.imshow(
        np.array([[codes[v] for v in values]]),
        aspect="auto",
        interpolation="nearest",
        cmap=ListedColormap(list(colours.values())),
        vmin=-0.5,
        vmax=len(colours) - 0.5,
    )
    bar.set_yticks([0], [name])
    bar.tick_params(bottom=False, labelbottom=False)
    handles, ncol = _track_legend(name, values)
    side.set_axis_off()
    # beside the track (the track's label names it), wrapped onto as many rows as the track's
    # height was given for: stacked legends of different tracks never overlap
    side.legend(
        handles=handles,
        loc="center left",
        ncol=ncol,
        frameon=False,
        fontsize=7,
        handlelength=1.0,
        columnspacing=0.8,
        labelspacing=0.3,
        borderaxespad=0.2,
    )


def _sample_ticks(ax: Any, samples: list[str]) -> None:
    # beyond MAX_SAMPLE_LABELS the labels would overlap: say how many samples instead
    if len(samples) <= MAX_SAMPLE_LABELS:
        ax.set_xticks(range(len(samples)), samples, rotation=90, fontsize=6)
    else:
        ax.set_xticks([])
        ax.set_xlabel(f"{len(samples)} samples, clustered within condition")


def _heatmap_grid(n_samples: int, legend_rows: list[int], n_axes: int):
    """Return a figure with one row per track, the heatmap below and a side column.

    The side column holds the legends and the colour bar, so every row spans the same sample
    columns; a track whose legend wraps onto more rows gets a taller row.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    main = min(16.0, 4.0 + 0.08 * n_samples)
    tracks = [TRACK_HEIGHT + LEGEND_ROW_HEIGHT * (rows - 1) for rows in legend_rows]
    heatmap = AXIS_ROW_HEIGHT * max(1, n_axes)
    fig, grid = plt.subplots(
        len(tracks) + 1,
        2,
        squeeze=False,
        figsize=(main + 2.4, 1.2 + sum(tracks) + heatmap),
        gridspec_kw={
            "height_ratios": [*tracks, heatmap],
            "width_ratios": [main, 2.4],
            "hspace": 0.08,
            "wspace": 0.02,
        },
    )
    for bar in grid[1:, 0]:
        bar.sharex(grid[0, 0])
    return fig, grid


def axis_heatmap(
    long: pl.DataFrame,
    *,
    method: str = "singscore",
    dataset: str = "",
    obs: pd.DataFrame | None = None,
) -> Any:
    """Heatmap of axis composites (rows) x samples (columns) with annotation tracks.

    Parameters
    ----------
    long
        The long score table of a dataset.
    method
        The method whose composites are shown.
    dataset
        Dataset id for the title.
    obs
        Sample covariates indexed by sample (the scored AnnData's obs); its ``region``, ``sex``
        and ``batch`` columns become colour tracks under the condition track.

    Returns
    -------
    matplotlib.figure.Figure
        Values of :func:`axis_matrix`, colour scale clipped at +/- :data:`Z_LIMIT`; samples in
        condition order, clustered within each condition (:func:`cluster_within_condition`).
    """
    wide, label = axis_matrix(long, method)
    axes_names = [c for c in wide.columns if c not in ("sample", "condition", *TRACKS)]
    values = wide.select(axes_names).to_numpy().T.astype(float) if axes_names else np.zeros((0, 0))
    n_own = sum(1 for a in axes_names if " (" not in a)  # then "<axis> (<method>)" columns
    # samples are clustered on the method's own axes (the TE axis is often missing)
    order = cluster_within_condition(values[:n_own], wide["condition"].to_list())
    wide = wide[order]
    values = values[:, order] if values.size else values
    tracks = heatmap_tracks(wide, obs, qc_track(long, wide["sample"].to_list()))
    fig, grid = _heatmap_grid(
        wide.height, [_legend_rows(n, t) for n, t in tracks.items()], len(axes_names)
    )
    for row, (name, track) in enumerate(tracks.items()):
        _track_bar(grid[row, 0], grid[row, 1], name, track)
    ax, side = grid[-1, 0], grid[-1, 1]
    import matplotlib

    cmap = matplotlib.colormaps["RdBu_r"].with_extremes(bad=MISSING)
    image = ax.imshow(
        np.ma.masked_invalid(np.clip(values, -Z_LIMIT, Z_LIMIT)) if values.size else values,
        aspect="auto",
        interpolation="nearest",
        cmap=cmap,
        vmin=-Z_LIMIT,
        vmax=Z_LIMIT,
    )
    ax.set_yticks(
        range(len(axes_names)), [_row_label(a, values[i]) for i, a in enumerate(axes_names)]
    )
    if 0 < n_own < len(axes_names):
        # the TE axis is scored by another method: a gap says it is a different measurement
        ax.axhline(n_own - 0.5, color="white", linewidth=3)
    _sample_ticks(ax, wide["sample"].to_list())
    side.set_axis_off()
    fig.colorbar(
        image,
        cax=side.inset_axes([0.05, 0.05, 0.08, 0.9]),
        extend="both",
        label=f"{label}\n(colour clipped at ±{Z_LIMIT:g}; grey: no value)",
    )
    grid[0, 0].set_title(f"{dataset}: resistance axes per sample ({method})")
    return fig


def _row_label(name: str, row: np.ndarray) -> str:
    """Return an axis' row label; a row without a single value says why (no TE counts)."""
    empty = row.size > 0 and bool(np.isnan(row).all())
    if name.endswith(f" ({TE_METHOD})"):
        axis = name.removesuffix(f" ({TE_METHOD})")
        return f"{axis}: no TE counts" if empty else f"{axis} (TE counts)"
    return f"{name}: no scores" if empty else name


def axis_distributions(
    long: pl.DataFrame, *, method: str = "singscore", dataset: str = "", seed: int = 0
) -> Any:
    """One panel per axis composite: score by condition (box + jittered points).

    The retrotransposon axis (scored from the TE counts) is the last panel; points take the
    fixed condition colours, the median line is black.

    Parameters
    ----------
    long
        The long score table of a dataset.
    method
        The method whose composites are shown.
    dataset
        Dataset id for the title.
    seed
        Seed of the horizontal jitter (the figure is reproducible).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    own = _axis_rows(long, method)
    # axes scored only by another method (the TE axis, log2cpm of the TE counts) follow
    others = long.filter(
        pl.col("signature").str.starts_with(AXIS_PREFIX)
        & (pl.col("method") != method)
        & ~pl.col("signature").is_in(own["signature"].unique().to_list())
    )
    rows = pl.concat([own, others], how="vertical_relaxed")
    panels = list(
        dict.fromkeys(zip(rows["signature"].to_list(), rows["method"].to_list(), strict=True))
    )
    conditions = ordered_levels(
        "condition", [c for c in rows["condition"].to_list() if c is not None]
    )
    colours = colours_for("condition", conditions)
    n_cols = min(4, max(1, len(panels)))
    n_rows = max(1, -(-len(panels) // n_cols))
    fig, grid = plt.subplots(
        n_rows, n_cols, figsize=(3.2 * n_cols, 2.8 * n_rows), squeeze=False, sharex=True
    )
    rng = np.random.default_rng(seed)
    for panel, (name, scored_by) in zip(grid.flat, panels, strict=False):
        sub = rows.filter((pl.col("signature") == name) & (pl.col("method") == scored_by))
        groups = [
            sub.filter(pl.col("condition") == c)["score"].drop_nulls().to_numpy()
            for c in conditions
        ]
        panel.boxplot(
            groups,
            positions=range(len(conditions)),
            widths=0.5,
            showfliers=False,
            medianprops={"color": "black"},  # not a condition's colour
        )
        for i, (cond, values) in enumerate(zip(conditions, groups, strict=True)):
            jitter = rng.uniform(-0.18, 0.18, size=values.size)
            panel.scatter(
                i + jitter, values, s=12, alpha=0.75, color=colours[cond], linewidths=0, zorder=3
            )
        panel.set_xticks(
            range(len(conditions)),
            [f"{c}\n(n={v.size})" for c, v in zip(conditions, groups, strict=True)],
        )
        axis = name.removeprefix(AXIS_PREFIX)
        if scored_by == TE_METHOD:
            panel.set_title(f"{axis} (TE counts)", fontsize=9)
            panel.set_ylabel("log2 TE reads per million", fontsize=8)
            if not any(v.size for v in groups):
                panel.text(
                    0.5, 0.5, "no TE counts", ha="center", va="center", transform=panel.transAxes
                )
        else:
            panel.set_title(axis if scored_by == method else f"{axis} ({scored_by})", fontsize=9)
            panel.set_ylabel(f"{scored_by} score", fontsize=8)
    for panel in list(grid.flat)[len(panels) :]:
        panel.set_visible(False)
    fig.suptitle(f"{dataset}: axis scores by condition ({method})")
    fig.tight_layout()
    return fig
