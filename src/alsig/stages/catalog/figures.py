"""The cohort comparison at a glance.

Datasets x axes heatmaps of standardised effects, with the random-effects combination as the last
column, without and with the cell-mix adjustment side by side, and the pooled share of each axis
effect the cell indices account for.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from alsig import plotting
from alsig.palette import MISSING

#: the method of the TE signatures (the retrotransposon axis is drawn from its rows)
TE_METHOD = "log2cpm"
VIEWS = {"none": "no adjustment", "cell_mix": "adjusted for the cell mix"}
#: a combined effect marked "*" has a BH q-value below this
Q_STAR = 0.05
#: what the combined column's marks mean (the figure's legend line)
MARKS = (
    f"combined: * q < {Q_STAR:g} (BH over the axes of its method); box: consistent (every cohort "
    "has its sign and I² < 50 %: agreement, not significance); -: no value"
)


def plot_axis_meta(meta: pl.DataFrame, *, method: str = "singscore", contrast: str | None = None):
    """Heatmaps of per-dataset and combined standardised axis effects, both adjustment views.

    Parameters
    ----------
    meta
        The run's ``axis_meta`` table.
    method
        Scoring method shown (the retrotransposon axis is drawn from its ``log2cpm`` rows).
    contrast
        Contrast shown (default: the first in the table).

    Returns
    -------
    matplotlib.figure.Figure
        Rows = axes; left panel without adjustment, right panel with the cell-mix adjustment
        (columns = datasets + "combined"; "n.e.": not estimable in that dataset), and the pooled
        share of the unadjusted effect removed, with its 95 % CI. In the combined column a
        trailing "*" marks q < 0.05 (``qvalue``, BH over the axes) and a box a consistent
        effect (sign agreement and I² < 50 %, not significance); a legend line says so.
    """
    plt = plotting._pyplot()
    part = meta.filter(
        pl.col("method").is_in([method, TE_METHOD]) & pl.col("signature").str.starts_with("axis:")
    )
    contrast = contrast or (part["contrast"][0] if part.height else "")
    part = part.filter(pl.col("contrast") == contrast)
    axes_names = sorted(part["signature"].unique().to_list())
    views = {v: part.filter(pl.col("adjustment") == v) for v in VIEWS}
    datasets = sorted(
        {d for effects in part["effects"].to_list() for d in _parse_effects(effects)}
        | {d for note in part["note"].to_list() for d in _noted_datasets(note)}
    )
    columns = [*datasets, "combined"]
    grids = {v: _grid(views[v], axes_names, datasets) for v in VIEWS}
    reasons = _not_estimable(views["cell_mix"])
    finite = np.concatenate([g[0][np.isfinite(g[0])] for g in grids.values()])
    limit = max(1.0, float(np.abs(finite).max()) if finite.size else 1.0)
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad=MISSING)
    fig, axes = plt.subplots(
        1,
        3,
        figsize=(2.6 * len(columns) + 5.5, 0.45 * max(len(axes_names), 1) + 2.4),
        constrained_layout=True,
        sharey=True,
        gridspec_kw={"width_ratios": [len(columns), len(columns), 1.6]},
    )
    by_signature = {r["signature"]: r["note"] for r in views["cell_mix"].iter_rows(named=True)}
    notes = [by_signature.get(signature, "") for signature in axes_names]
    for ax, view in zip(axes[:2], VIEWS, strict=True):
        grid, consistent, qvalues = grids[view]
        image = ax.imshow(
            np.ma.masked_invalid(grid), cmap=cmap, vmin=-limit, vmax=limit, aspect="auto"
        )
        for (i, j), value in np.ndenumerate(grid):
            if np.isfinite(value):
                combined = j == len(columns) - 1
                mark = "*" if combined and qvalues[i] < Q_STAR else ""
                if combined and consistent[i]:
                    ax.add_patch(
                        plt.Rectangle(
                            (j - 0.46, i - 0.44), 0.92, 0.88, fill=False, edgecolor="black", lw=1.5
                        )
                    )
                colour = "white" if abs(value) > 0.6 * limit else "black"
                ax.text(
                    j,
                    i,
                    f"{value:+.2f}{mark}",
                    ha="center",
                    va="center",
                    fontsize="small",
                    color=colour,
                )
            else:
                row_reasons = _noted_datasets(notes[i]) if view == "cell_mix" else {}
                empty = "n.e." if columns[j] in row_reasons else "-"
                ax.text(j, i, empty, ha="center", va="center", fontsize="x-small", color="0.4")
        ax.set_xticks(range(len(columns)), columns, rotation=30, ha="right")
        ax.set_title(VIEWS[view], fontsize="medium")
    axes[0].set_yticks(range(len(axes_names)), [_label(views["none"], s) for s in axes_names])
    _draw_shares(axes[2], views["cell_mix"], axes_names)
    fig.colorbar(
        image,
        ax=axes[:2],
        location="bottom",
        shrink=0.4,
        label="standardised effect (residual SDs of the unadjusted model)",
    )
    fig.suptitle(
        f"{method}, {contrast}: standardised axis effect per cohort and combined\n{MARKS}",
        fontsize="medium",
    )
    if reasons:
        fig.supxlabel(
            "\n".join(f"n.e. (not estimable) in {d}: {r}" for d, r in reasons.items()),
            fontsize="x-small",
        )
    return fig


def _grid(rows: pl.DataFrame, axes_names: list[str], datasets: list[str]):
    grid = np.full((len(axes_names), len(datasets) + 1), np.nan)
    consistent = [False] * len(axes_names)
    qvalues = np.full(len(axes_names), np.nan)
    by_signature = {r["signature"]: r for r in rows.iter_rows(named=True)}
    for i, signature in enumerate(axes_names):
        row = by_signature.get(signature)
        if row is None:
            continue
        effects = _parse_effects(row["effects"])
        for j, dataset in enumerate(datasets):
            grid[i, j] = effects.get(dataset, np.nan)
        grid[i, -1] = row["effect"] if row["effect"] is not None else np.nan
        consistent[i] = bool(row["consistent"])
        qvalues[i] = row["qvalue"] if row["qvalue"] is not None else np.nan
    return grid, consistent, qvalues


def _label(rows: pl.DataFrame, signature: str) -> str:
    method = rows.filter(pl.col("signature") == signature)["method"]
    suffix = " (TE, log2 CPM)" if method.len() and method[0] == TE_METHOD else ""
    return signature.removeprefix("axis:") + suffix


def _draw_shares(ax, rows: pl.DataFrame, axes_names: list[str]) -> None:
    """Write the pooled share removed per axis as text (its CI does not fit the colour scale)."""
    ax.set_xlim(0, 1)
    ax.set_xticks([])
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    ax.set_title("pooled share removed\n[95% CI]", fontsize="small")
    by_signature = {r["signature"]: r for r in rows.iter_rows(named=True)}
    for i, signature in enumerate(axes_names):
        row = by_signature.get(signature)
        if row is None or row["share_removed"] is None:
            text = "n.e." if row is not None and _noted_datasets(row["note"]) else "-"
        elif row["share_ci_low"] is not None and row["share_ci_high"] is not None:
            text = (
                f"{row['share_removed']:+.2f} [{row['share_ci_low']:+.2f}, "
                f"{row['share_ci_high']:+.2f}]"
            )
        else:
            text = "CI unbounded"
        if row is not None and row["k"]:
            text += f" (k={row['k']})"
        ax.text(0.03, i, text, va="center", fontsize="x-small")


def _parse_effects(text: str) -> dict[str, float]:
    """``{dataset: std_effect}`` from the ``effects`` column (``d=+0.123(0.045);...``)."""
    out = {}
    for item in filter(None, (text or "").split(";")):
        dataset, rest = item.split("=", 1)
        out[dataset] = float(rest.split("(", 1)[0])
    return out


def _noted_datasets(note: str) -> dict[str, str]:
    """Datasets named not estimable in a cell_mix row's ``note``, with the reason.

    The note reads ``GSE1: not estimable: <reason>; GSE2: ...``.
    """
    out = {}
    for item in (note or "").split("; "):
        dataset, _, rest = item.partition(": ")
        if rest.startswith("not estimable"):
            out[dataset.strip()] = rest.removeprefix("not estimable: ")
    return out


def _not_estimable(rows: pl.DataFrame) -> dict[str, str]:
    """``{dataset: reason}`` of every dataset whose adjustment is not estimable (first reason)."""
    out: dict[str, str] = {}
    for note in rows["note"].to_list():
        for dataset, reason in _noted_datasets(note).items():
            out.setdefault(dataset, reason)
    return dict(sorted(out.items()))
