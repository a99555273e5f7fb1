"""Forest plot of the axis tests.

Each axis and signature's standardised condition effect with its 95 % confidence interval, with
and without the cell-mix adjustment, grouped by axis (the composite as the group's header), so a
reader sees at a glance which biology moves, how surely, and how much of it goes with the cell mix.
"""

from __future__ import annotations

from collections.abc import Mapping
from textwrap import fill
from typing import Any

import polars as pl

from alsig import plotting
from alsig.palette import DIRECTION
from alsig.signatures.model import CELL_TYPE_AXIS
from alsig.stages.axes.cell_mix import CELL_MIX, NONE
from alsig.stages.score.composites import AXIS_PREFIX

#: the method of the TE signatures (the retrotransposon axis is drawn from its rows)
TE_METHOD = "log2cpm"
#: vertical offset of the two views of one row
OFFSET = 0.17
MARKERS = {NONE: "o", CELL_MIX: "D"}
VIEW_LABELS = {NONE: "no adjustment", CELL_MIX: "adjusted for the cell mix"}


def plot_axis_forest(
    tests: pl.DataFrame,
    *,
    method: str = "singscore",
    alpha: float = 0.05,
    dataset: str = "",
    empty_note: str = "no axis tests",
):
    """Standardised effects (``std_effect`` ± 1.96 ``std_se``) of one method's axis tests.

    Parameters
    ----------
    tests
        A dataset's axis tests (``axis_tests`` schema), one or several contrasts, both views.
    method
        Scoring method shown (the retrotransposon axis is always drawn from its ``log2cpm``
        rows).
    alpha
        Effects with ``qvalue < alpha`` are drawn filled, the others open.
    dataset
        The dataset id (title); default: the table's ``dataset`` column.
    empty_note
        What the figure says when there is no test to draw (why there is none).

    Returns
    -------
    matplotlib.figure.Figure
        Per contrast a forest panel and, beside it, the share of the unadjusted effect the cell
        indices account for (95 % CI). Rows grouped by axis, composite first (bold); circles
        without adjustment, diamonds with it; red higher in the test level, blue lower. Without
        any test: one panel holding ``empty_note``.
    """
    plt = plotting._pyplot()
    part = tests.filter(
        pl.col("method").is_in([method, TE_METHOD]) & (pl.col("axis") != CELL_TYPE_AXIS)
    )
    dataset = dataset or (tests["dataset"][0] if tests.height else "")
    title = "condition effect per axis and signature"
    title = f"{dataset}: {title}" if dataset else title
    if part.height == 0:
        fig, ax = plt.subplots(figsize=(7.5, 2.4), constrained_layout=True)
        ax.set_axis_off()
        plotting.note_in_axes(ax, fill(empty_note, 80))
        fig.suptitle(title, fontsize="medium")
        return fig
    contrasts = list(dict.fromkeys(part["contrast"].to_list()))
    labels = _ordered_rows(part)
    note = _not_estimable(part)
    views = (NONE,) if note else (NONE, CELL_MIX)  # no adjusted view at all: draw one
    per_contrast = len(views)
    fig, axes = plt.subplots(
        1,
        per_contrast * len(contrasts),
        figsize=(
            (7.5 if per_contrast == 2 else 6.0) * len(contrasts) + 2.5,
            0.34 * len(labels) + 2.6,
        ),
        sharey=True,
        constrained_layout=True,
        squeeze=False,
        gridspec_kw={"width_ratios": [5, 1.3][:per_contrast] * len(contrasts)},
    )
    for i, contrast in enumerate(contrasts):
        forest = axes[0][per_contrast * i]
        rows = _rows(part.filter(pl.col("contrast") == contrast))
        _draw_forest(forest, labels, rows, alpha, views)
        if CELL_MIX in views:
            _draw_shares(axes[0][per_contrast * i + 1], labels, rows)
        forest.set_title(_group_sizes(part, contrast), fontsize="medium")
        forest.set_xlabel("standardised effect (residual SDs of the unadjusted model), 95% CI")
    names = [_display(name, row_method) for name, row_method in labels]
    axes[0][0].set_yticks(range(len(labels)), names, fontsize="small")
    for tick, (name, _) in zip(axes[0][0].get_yticklabels(), labels, strict=True):
        tick.set_fontweight("bold" if name.startswith(AXIS_PREFIX) else "normal")
    fig.suptitle(
        f"{title} ({method}; retrotransposons: log2 CPM)"
        + ("\n" + fill(f"cell-mix adjustment {note}", 100) if note else ""),
        fontsize="medium",
    )
    _legend(fig, alpha, views)
    return fig


def _ordered_rows(part: pl.DataFrame) -> list[tuple[str, str]]:
    """``(signature, method)`` rows grouped by axis: the composite, then its signatures."""
    pairs = part.select("signature", "axis", "method").unique(maintain_order=True)
    by_axis: dict[str, list[tuple[str, str]]] = {}
    for signature, axis, method in pairs.iter_rows():
        by_axis.setdefault(axis, []).append((signature, method))
    out = []
    for axis in sorted(by_axis):
        members = by_axis[axis]
        out += sorted(m for m in members if m[0].startswith(AXIS_PREFIX))
        out += sorted(m for m in members if not m[0].startswith(AXIS_PREFIX))
    return out


def _display(name: str, method: str) -> str:
    if name.startswith(AXIS_PREFIX):
        return name.removeprefix(AXIS_PREFIX) + (" (TE, log2 CPM)" if method == TE_METHOD else "")
    return "    " + name


def _rows(part: pl.DataFrame) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(r["signature"], r["method"], r["adjustment"]): r for r in part.iter_rows(named=True)}


def _draw_forest(ax, labels, rows: Mapping, alpha: float, views: tuple[str, ...]) -> None:
    ax.axvline(0, color="0.5", linewidth=0.8)
    for y, (name, method) in enumerate(labels):
        if name.startswith(AXIS_PREFIX):
            ax.axhspan(y - 0.5, y + 0.5, color="0.94", zorder=0)
        unadjusted = rows.get((name, method, NONE))
        if unadjusted and unadjusted["std_effect"] is None:
            ax.text(
                0.01,
                y,
                unadjusted["note"] or "no value",
                transform=ax.get_yaxis_transform(),
                va="center",
                fontsize="x-small",
                color="0.45",
            )
        offsets = {NONE: -OFFSET, CELL_MIX: OFFSET} if len(views) == 2 else {NONE: 0.0}
        for view, offset in offsets.items():
            row = rows.get((name, method, view))
            if not row or row["std_effect"] is None:
                continue
            effect, se = row["std_effect"], row["std_se"] or 0.0
            colour = DIRECTION["up"] if effect > 0 else DIRECTION["down"]
            filled = row["qvalue"] is not None and row["qvalue"] < alpha
            ax.plot(
                [effect - 1.96 * se, effect + 1.96 * se],
                [y + offset] * 2,
                color=colour,
                linewidth=1.2,
                linestyle="-" if view == NONE else (0, (3, 1.5)),
            )
            ax.scatter(
                [effect],
                [y + offset],
                s=30,
                marker=MARKERS[view],
                color=colour if filled else "white",
                edgecolors=colour,
                zorder=3,
            )
    ax.set_ylim(len(labels) - 0.5, -0.5)
    ax.grid(axis="x", color="0.9")


def _draw_shares(ax, labels, rows: Mapping) -> None:
    """Write the share removed per row as text (a ratio's CI does not fit the effect axis)."""
    ax.set_xlim(0, 1)
    ax.set_xticks([])
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    ax.set_title("share removed\n[95% CI]", fontsize="small")
    for y, (name, method) in enumerate(labels):
        row = rows.get((name, method, CELL_MIX))
        if not row or row["share_removed"] is None:
            continue
        if row["share_ci_low"] is not None and row["share_ci_high"] is not None:
            text = (
                f"{row['share_removed']:+.2f} [{row['share_ci_low']:+.2f}, "
                f"{row['share_ci_high']:+.2f}]"
            )
        else:  # the unadjusted effect is not distinguishable from 0: a share means nothing
            text = "CI unbounded"
        weight = "bold" if name.startswith(AXIS_PREFIX) else "normal"
        ax.text(0.02, y, text, va="center", fontsize="x-small", fontweight=weight)


def _group_sizes(part: pl.DataFrame, contrast: str) -> str:
    """``contrast: ALS n=148 (77 donors) vs control n=17 (12 donors)`` from the largest fit."""
    rows = part.filter((pl.col("contrast") == contrast) & (pl.col("adjustment") == NONE))
    if not rows.height:
        return contrast
    top = rows.sort(["n_test", "n_reference"], descending=True).row(0, named=True)
    return (
        f"{contrast}: {top['test_level']} n={top['n_test']} ({top['n_subjects_test']} donors) vs "
        f"{top['reference_level']} n={top['n_reference']} ({top['n_subjects_reference']} donors)"
    )


def _not_estimable(part: pl.DataFrame) -> str:
    """Return the common reason when no score has an adjusted view, else ''."""
    adjusted = part.filter(pl.col("adjustment") == CELL_MIX)
    if not adjusted.height or adjusted["std_effect"].is_not_null().any():
        return ""
    reasons = adjusted.filter(pl.col("note").str.starts_with("not estimable"))["note"]
    return reasons[0] if reasons.len() else "not available"


def _legend(fig, alpha: float, views: tuple[str, ...]) -> None:
    from matplotlib.lines import Line2D  # matplotlib is imported lazily (job start-up)

    grey = "0.3"
    handles = [
        Line2D([], [], marker=MARKERS[NONE], color=grey, linestyle="-", label=VIEW_LABELS[NONE]),
        Line2D(
            [],
            [],
            marker=MARKERS[CELL_MIX],
            color=grey,
            linestyle=(0, (3, 1.5)),
            label=VIEW_LABELS[CELL_MIX] + " (the part the cell indices do not linearly explain)",
        ),
        Line2D([], [], marker="o", color=grey, linestyle="", label=f"filled: q < {alpha:g}"),
        Line2D(
            [],
            [],
            marker="o",
            markerfacecolor="white",
            color=grey,
            linestyle="",
            label=f"open: q >= {alpha:g}",
        ),
        Line2D([], [], color=DIRECTION["up"], linewidth=3, label="higher in the test level"),
        Line2D([], [], color=DIRECTION["down"], linewidth=3, label="lower"),
    ]
    if CELL_MIX not in views:
        del handles[1]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, frameon=False)
