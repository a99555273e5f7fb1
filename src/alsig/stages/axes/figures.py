"""Forest plot of the axis tests.

Each axis and signature's standardised condition effect with its 95 % confidence interval, so a
reader sees at a glance which biology moves and how surely.
"""

from __future__ import annotations

import polars as pl

from alsig import plotting
from alsig.stages.score.composites import AXIS_PREFIX


def plot_axis_forest(tests: pl.DataFrame, *, method: str = "singscore", alpha: float = 0.05):
    """Standardised effects (``std_effect`` ± 1.96 ``std_se``) of one method's axis tests.

    Parameters
    ----------
    tests
        A dataset's axis tests (``axis_tests`` schema), one or several contrasts.
    method
        Scoring method shown.
    alpha
        Effects with ``qvalue < alpha`` are drawn filled, the others open.

    Returns
    -------
    A matplotlib Figure: one panel per contrast, axis composites first (bold), signatures below.
    """
    plt = plotting._pyplot()
    part = tests.filter(pl.col("method") == method)
    contrasts = list(dict.fromkeys(part["contrast"].to_list())) or ["(none)"]
    labels = _ordered_signatures(part)
    fig, axes = plt.subplots(
        1,
        len(contrasts),
        figsize=(5.2 * len(contrasts) + 2.5, 0.28 * len(labels) + 1.6),
        sharey=True,
        constrained_layout=True,
        squeeze=False,
    )
    for ax, contrast in zip(axes[0], contrasts, strict=True):
        rows = {r["signature"]: r for r in part.filter(pl.col("contrast") == contrast).to_dicts()}
        _draw_contrast(ax, labels, rows, alpha)
        ax.set_title(contrast, fontsize="medium")
        ax.set_xlabel("standardised effect (residual SDs), 95% CI")
    axes[0][0].set_yticks(range(len(labels)), labels, fontsize="small")
    for tick, label in zip(axes[0][0].get_yticklabels(), labels, strict=True):
        tick.set_fontweight("bold" if label.startswith(AXIS_PREFIX) else "normal")
    fig.suptitle(f"{method}: condition effect per axis (filled: q < {alpha:g})", fontsize="medium")
    return fig


def _ordered_signatures(part: pl.DataFrame) -> list[str]:
    names = list(dict.fromkeys(part["signature"].to_list()))
    composites = sorted(n for n in names if n.startswith(AXIS_PREFIX))
    return composites + sorted(n for n in names if not n.startswith(AXIS_PREFIX))


def _draw_contrast(ax, labels: list[str], rows: dict, alpha: float) -> None:
    ax.axvline(0, color="0.5", linewidth=0.8)
    for y, name in enumerate(labels):
        row = rows.get(name)
        if not row or row["std_effect"] is None:
            continue
        effect, se = row["std_effect"], row["std_se"] or 0.0
        colour = "#b2182b" if effect > 0 else "#2166ac"
        filled = row["qvalue"] is not None and row["qvalue"] < alpha
        ax.plot([effect - 1.96 * se, effect + 1.96 * se], [y, y], color=colour, linewidth=1.2)
        ax.scatter(
            [effect], [y], s=28, color=colour if filled else "white", edgecolors=colour, zorder=3
        )
    ax.set_ylim(len(labels) - 0.5, -0.5)
    ax.grid(axis="x", color="0.9")
