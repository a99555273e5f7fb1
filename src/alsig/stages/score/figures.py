"""Figures of the signature scores for the report: a samples x axes heatmap and per-axis
distributions by condition.

Both read the public long table (``alsig.tables``) so they show exactly what downstream tools see.
They are drawn for hundreds of samples: the heatmap has one column per sample without labels
beyond 60 samples, ordered by condition with a condition colour bar; the distributions are box
plots with jittered, semi-transparent points.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from alsig.stages.score.composites import AXIS_PREFIX

MAX_SAMPLE_LABELS = 60
Z_LIMIT = 3.0  # colour scale of the heatmap is clipped at +/- this many control SDs
CONDITION_COLOURS = ["#d95f02", "#1b9e77", "#7570b3", "#e7298a", "#66a61e", "#e6ab02"]


def _axis_rows(long: pl.DataFrame, method: str) -> pl.DataFrame:
    return long.filter(
        (pl.col("method") == method) & pl.col("signature").str.starts_with(AXIS_PREFIX)
    )


def axis_matrix(long: pl.DataFrame, method: str = "singscore") -> tuple[pl.DataFrame, str]:
    """Samples x axis composites of one method, sorted by condition then sample.

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
        centred on the dataset mean; ``label`` names the value shown.
    """
    rows = _axis_rows(long, method)
    use_z = rows["z_vs_control"].drop_nulls().len() > 0
    value = "z_vs_control" if use_z else "score"
    if not use_z:
        rows = rows.with_columns(pl.col("score") - pl.col("score").mean().over("signature"))
    wide = (
        rows.with_columns(pl.col("signature").str.strip_prefix(AXIS_PREFIX).alias("axis_name"))
        .pivot(on="axis_name", index=["sample", "condition"], values=value)
        .sort(["condition", "sample"], nulls_last=True)
    )
    label = "z-score vs controls" if use_z else "score - dataset mean"
    return wide, label


def _condition_colours(conditions: list[str | None]) -> dict[str | None, str]:
    levels = list(dict.fromkeys(conditions))
    return {c: CONDITION_COLOURS[i % len(CONDITION_COLOURS)] for i, c in enumerate(levels)}


def _condition_bar(bar: Any, conditions: list[str | None]) -> dict[str | None, str]:
    """Draw the one-row condition colour bar; returns the colour of each condition."""
    from matplotlib.colors import ListedColormap

    colours = _condition_colours(conditions)
    codes = {c: i for i, c in enumerate(colours)}
    bar.imshow(
        np.array([[codes[c] for c in conditions]]),
        aspect="auto",
        interpolation="nearest",
        cmap=ListedColormap(list(colours.values())),
        vmin=-0.5,
        vmax=len(colours) - 0.5,
    )
    bar.set_yticks([0], ["condition"])
    bar.tick_params(bottom=False, labelbottom=False)
    return colours


def _condition_legend(bar: Any, colours: dict[str | None, str]) -> None:
    from matplotlib.patches import Patch

    bar.legend(
        handles=[Patch(color=col, label=str(c)) for c, col in colours.items()],
        loc="lower left",
        bbox_to_anchor=(0, 1.05),
        ncol=len(colours),
        frameon=False,
        fontsize=8,
    )


def _sample_ticks(ax: Any, samples: list[str]) -> None:
    # beyond MAX_SAMPLE_LABELS the labels would overlap: say how many samples instead
    if len(samples) <= MAX_SAMPLE_LABELS:
        ax.set_xticks(range(len(samples)), samples, rotation=90, fontsize=6)
    else:
        ax.set_xticks([])
        ax.set_xlabel(f"{len(samples)} samples, ordered by condition")


def axis_heatmap(long: pl.DataFrame, *, method: str = "singscore", dataset: str = "") -> Any:
    """Heatmap of axis composites (rows) x samples (columns), with a condition colour bar.

    Parameters
    ----------
    long
        The long score table of a dataset.
    method
        The method whose composites are shown.
    dataset
        Dataset id for the title.

    Returns
    -------
    matplotlib.figure.Figure
        Values of :func:`axis_matrix`, colour scale clipped at +/- :data:`Z_LIMIT`.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    wide, label = axis_matrix(long, method)
    axes_names = [c for c in wide.columns if c not in ("sample", "condition")]
    samples = wide["sample"].to_list()
    values = wide.select(axes_names).to_numpy().T.astype(float) if axes_names else np.zeros((0, 0))
    fig, (bar, ax) = plt.subplots(
        2,
        1,
        figsize=(min(16.0, 4.0 + 0.08 * len(samples)), 1.6 + 0.35 * max(1, len(axes_names))),
        sharex=True,
        gridspec_kw={"height_ratios": [0.4, max(1, len(axes_names))], "hspace": 0.05},
    )
    colours = _condition_bar(bar, wide["condition"].to_list())
    image = ax.imshow(
        np.clip(values, -Z_LIMIT, Z_LIMIT) if values.size else values,
        aspect="auto",
        interpolation="nearest",
        cmap="RdBu_r",
        vmin=-Z_LIMIT,
        vmax=Z_LIMIT,
    )
    ax.set_yticks(range(len(axes_names)), axes_names)
    _sample_ticks(ax, samples)
    fig.colorbar(image, ax=[bar, ax], label=f"{label} (clipped at ±{Z_LIMIT:g})", shrink=0.8)
    _condition_legend(bar, colours)
    bar.set_title(f"{dataset}: resistance axes per sample ({method})", pad=22)
    return fig


def axis_distributions(
    long: pl.DataFrame, *, method: str = "singscore", dataset: str = "", seed: int = 0
) -> Any:
    """One panel per axis composite: score by condition (box + jittered points).

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

    rows = _axis_rows(long, method)
    axes_names = list(dict.fromkeys(rows["signature"].to_list()))
    conditions = sorted({c for c in rows["condition"].to_list() if c is not None})
    colours = _condition_colours(conditions)
    n_cols = min(4, max(1, len(axes_names)))
    n_rows = max(1, -(-len(axes_names) // n_cols))
    fig, grid = plt.subplots(
        n_rows, n_cols, figsize=(3.2 * n_cols, 2.8 * n_rows), squeeze=False, sharex=True
    )
    rng = np.random.default_rng(seed)
    for panel, name in zip(grid.flat, axes_names, strict=False):
        sub = rows.filter(pl.col("signature") == name)
        groups = [
            sub.filter(pl.col("condition") == c)["score"].drop_nulls().to_numpy()
            for c in conditions
        ]
        panel.boxplot(groups, positions=range(len(conditions)), widths=0.5, showfliers=False)
        for i, (cond, values) in enumerate(zip(conditions, groups, strict=True)):
            jitter = rng.uniform(-0.18, 0.18, size=values.size)
            panel.scatter(
                i + jitter, values, s=8, alpha=0.5, color=colours[cond], linewidths=0, zorder=3
            )
        panel.set_xticks(range(len(conditions)), conditions)
        panel.set_title(name.removeprefix(AXIS_PREFIX), fontsize=9)
        panel.set_ylabel(f"{method} score", fontsize=8)
    for panel in list(grid.flat)[len(axes_names) :]:
        panel.set_visible(False)
    fig.suptitle(f"{dataset}: axis scores by condition ({method})")
    fig.tight_layout()
    return fig
