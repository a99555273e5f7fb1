"""QC figures: library sizes, PCA by covariate, sex check.

Colours are the fixed palettes of :mod:`alsig.palette`; the QC-flagged and excluded samples are
circled and named wherever they appear, so a reader finds them without the table.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from alsig import plotting as plots
from alsig.stages.qc.sex import Y_GENES


def qc_decisions(table: pd.DataFrame) -> np.ndarray:
    """Return the QC decision on each sample: ``kept``, ``flagged`` or ``excluded``.

    Parameters
    ----------
    table
        The QC sample table (``qc_kept``, ``qc_exclusion``, ``qc_reasons`` or ``qc_outlier``).

    Returns
    -------
    numpy.ndarray
        One level of :data:`alsig.palette.QC_FLAG` per row.
    """

    def text(column: str) -> pd.Series:
        if column not in table:
            return pd.Series([""] * len(table), index=table.index)
        return table[column].fillna("").astype(str)

    kept = (
        table["qc_kept"].astype(str).str.lower().eq("true")
        if "qc_kept" in table
        else pd.Series(True, index=table.index)
    )
    excluded = ~kept.to_numpy() | text("qc_exclusion").ne("").to_numpy()
    flagged = text("qc_reasons").ne("").to_numpy()
    if "qc_outlier" in table:
        flagged |= table["qc_outlier"].fillna(False).to_numpy(dtype=bool)
    return np.where(excluded, "excluded", np.where(flagged, "flagged", "kept"))


def plot_library_sizes(table: pd.DataFrame, colour_by: str = "condition"):
    """Library size (millions) and detected genes per sample, ranked; flagged samples named.

    Parameters
    ----------
    table
        The QC sample table indexed by sample.
    colour_by
        The column the points are coloured by (its fixed palette).

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = plots._pyplot()
    n = len(table)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), constrained_layout=True)
    order = np.argsort(table["total_counts"].to_numpy())
    groups = table[colour_by] if colour_by in table else pd.Series(["all"] * n, index=table.index)
    decision = qc_decisions(table)
    flagged = decision != "kept"
    for ax, column, label in (
        (axes[0], "total_counts", "library size (million counts)"),
        (axes[1], "n_genes_detected", "detected genes (count > 0)"),
    ):
        values = table[column].to_numpy(dtype=float)
        if column == "total_counts":
            values = values / 1e6
        ranks = np.empty(n)
        ranks[order] = np.arange(1, n + 1)
        plots.scatter_by(
            ax, ranks, values, groups.to_numpy(), legend_title=colour_by, variable=colour_by
        )
        ax.margins(y=0.1)  # room for the names at the top and bottom
        if flagged.any():
            _ring(ax, ranks[flagged], values[flagged])
            plots.name_points(
                ax, ranks[flagged], values[flagged], table.index[flagged], avoid=(ranks, values)
            )
        ax.set_xlabel("sample rank by library size")
        ax.set_ylabel(label)
        _count_ticks(ax, millions=column == "total_counts")
    axes[0].set_title(
        f"{n} samples; circled and named: QC-flagged ({int(flagged.sum())})", fontsize="medium"
    )
    return fig


def _ring(ax, x: np.ndarray, y: np.ndarray) -> None:
    """Open black circles around flagged samples (drawn over the coloured points)."""
    ax.scatter(x, y, facecolors="none", edgecolors="black", s=90, linewidths=1.0, zorder=4)


def _count_ticks(ax, *, millions: bool) -> None:
    """Whole-number ticks on count axes.

    Ranks and gene counts have no fractions, and a matplotlib offset or 1e6 multiplier on
    library sizes is easy to misread.
    """
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if millions:
        # millions keep their decimals when libraries are small, but plain: "0.5", "12"
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    else:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))


def plot_pca(table: pd.DataFrame, variance_ratio: Sequence[float], colour_by: Sequence[str]):
    """Return PC1 vs PC2 of the VST, one panel per colouring variable; outliers named.

    Parameters
    ----------
    table
        The QC sample table indexed by sample (``PC1``, ``PC2``, the QC columns).
    variance_ratio
        Explained variance ratio of the PCs.
    colour_by
        Columns of ``table`` to colour by, one panel each (fixed palettes).

    Returns
    -------
    matplotlib.figure.Figure
        Panels by each column, by library size and by the QC decision; every QC-flagged or
        excluded sample is circled and named in every panel (the :data:`plotting.MAX_NAMED`
        most isolated when there are more).
    """
    ratio = list(variance_ratio) + [np.nan, np.nan]
    panels = [c for c in colour_by if c in table and table[c].notna().any()]
    fig, axes = plots.grid(len(panels) + 2, ncols=3)
    x, y = table["PC1"].to_numpy(float), table["PC2"].to_numpy(float)
    decision = qc_decisions(table)
    named = _most_isolated(table, decision != "kept")
    for ax, column in zip(axes, panels, strict=False):
        plots.scatter_by(
            ax,
            x,
            y,
            table[column].to_numpy(),
            title=f"coloured by {column}",
            legend_title=column,
            variable=column,
        )
    plots.scatter_by(
        axes[len(panels)],
        x,
        y,
        np.log10(table["total_counts"].to_numpy(float)),
        continuous=True,
        title="coloured by library size",
        legend_title="log10 library size",
    )
    n_flagged = int((decision != "kept").sum())
    plots.scatter_by(
        axes[len(panels) + 1],
        x,
        y,
        decision,
        title=f"QC decision: {n_flagged} flagged or excluded (named)",
        legend_title="QC",
        variable="qc",
    )
    for ax in axes:
        ax.margins(0.08)  # room for the names of samples at the edge
        if named.size:
            _ring(ax, x[named], y[named])
        ax.set_xlabel(f"PC1 ({100 * ratio[0]:.1f}% variance)")
        ax.set_ylabel(f"PC2 ({100 * ratio[1]:.1f}% variance)")
    if named.size:
        drawn = [ax for ax in axes if ax.get_visible()]
        plots.name_points(
            drawn[0], x[named], y[named], table.index[named], avoid=(x, y), repeat_on=drawn[1:]
        )
    return fig


def _most_isolated(table: pd.DataFrame, flagged: np.ndarray) -> np.ndarray:
    """Positions of the flagged samples, most isolated first (at most ``MAX_NAMED``)."""
    where = np.flatnonzero(flagged)
    if "pca_distance" in table:
        distance = table["pca_distance"].to_numpy(float)[where]
        where = where[np.argsort(-np.nan_to_num(distance, nan=-np.inf), kind="stable")]
    return where[: plots.MAX_NAMED]


def plot_sex_check(table: pd.DataFrame):
    """XIST vs mean Y-gene expression (log2 CPM), coloured by reported sex; mismatches circled."""
    plt = plots._pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 5.2), constrained_layout=True)
    if table["sex_xist"].isna().all():
        ax.text(
            0.5,
            0.5,
            "sex check not possible:\nXIST or the Y genes are not in the data",
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
        ax.set_axis_off()
        return fig
    x = table["sex_xist"].to_numpy(dtype=float)
    y = table["sex_y_mean"].to_numpy(dtype=float)
    plots.scatter_by(
        ax, x, y, table["sex_reported"].to_numpy(), legend_title="reported sex", variable="sex"
    )
    mism = table["sex_mismatch"].to_numpy(dtype=bool)
    if mism.any():
        ax.scatter(x[mism], y[mism], facecolors="none", edgecolors="red", s=110, linewidths=1.4)
        plots.name_points(
            ax, x[mism], y[mism], table.index[mism], colour="red", max_names=20, avoid=(x, y)
        )
    lim = [min(np.nanmin(x), np.nanmin(y)) - 0.5, max(np.nanmax(x), np.nanmax(y)) + 0.5]
    ax.plot(lim, lim, color="0.5", linewidth=0.7, linestyle="--")
    ax.set_xlabel("XIST log2(CPM + 1)")
    ax.set_ylabel("mean Y-gene log2(CPM + 1) (" + ", ".join(Y_GENES) + ")")
    ax.set_title(f"sex check: {int(mism.sum())} mismatch(es) circled in red", fontsize="medium")
    return fig
