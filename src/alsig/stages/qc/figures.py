"""QC figures: library sizes, PCA by covariate, sex check."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from alsig import plotting as plots
from alsig.stages.qc.sex import Y_GENES


def plot_library_sizes(table: pd.DataFrame, colour_by: str = "condition"):
    """Library size (millions) and detected genes per sample, ranked; flagged samples marked."""
    plt = plots._pyplot()
    n = len(table)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), constrained_layout=True)
    order = np.argsort(table["total_counts"].to_numpy())
    groups = table[colour_by] if colour_by in table else pd.Series(["all"] * n, index=table.index)
    for ax, column, label in (
        (axes[0], "total_counts", "library size (million counts)"),
        (axes[1], "n_genes_detected", "detected genes (count > 0)"),
    ):
        values = table[column].to_numpy(dtype=float)
        if column == "total_counts":
            values = values / 1e6
        ranks = np.empty(n)
        ranks[order] = np.arange(1, n + 1)
        plots.scatter_by(ax, ranks, values, groups.to_numpy(), legend_title=colour_by)
        flagged = (table["qc_reasons"] != "").to_numpy()
        if flagged.any():
            ax.scatter(
                ranks[flagged],
                values[flagged],
                facecolors="none",
                edgecolors="black",
                s=80,
                linewidths=1.0,
                label="flagged",
            )
            if flagged.sum() <= 15:
                for i in np.flatnonzero(flagged):
                    ax.annotate(
                        str(table.index[i]),
                        (ranks[i], values[i]),
                        fontsize="x-small",
                        xytext=(4, -8),
                        textcoords="offset points",
                    )
        ax.set_xlabel("sample rank by library size")
        ax.set_ylabel(label)
        _count_ticks(ax, millions=column == "total_counts")
    axes[0].set_title(f"{n} samples; open circles: QC-flagged", fontsize="medium")
    return fig


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
    """Return PC1 vs PC2 of the VST, one panel per colouring variable.

    The PCA uses the most variable expressed genes; panels colour by the columns of ``table``
    plus library size and the QC outlier flag.
    """
    ratio = list(variance_ratio) + [np.nan, np.nan]
    panels = [c for c in colour_by if c in table and table[c].notna().any()]
    fig, axes = plots.grid(len(panels) + 2, ncols=3)
    x, y = table["PC1"].to_numpy(), table["PC2"].to_numpy()
    for ax, column in zip(axes, panels, strict=False):
        plots.scatter_by(
            ax, x, y, table[column].to_numpy(), title=f"coloured by {column}", legend_title=column
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
    flag = np.where(table["qc_outlier"].to_numpy(dtype=bool), "outlier", "ok")
    plots.scatter_by(
        axes[len(panels) + 1], x, y, flag, title="QC outlier flag", legend_title="flag"
    )
    for ax in axes:
        ax.set_xlabel(f"PC1 ({100 * ratio[0]:.1f}% variance)")
        ax.set_ylabel(f"PC2 ({100 * ratio[1]:.1f}% variance)")
    return fig


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
    plots.scatter_by(ax, x, y, table["sex_reported"].to_numpy(), legend_title="reported sex")
    mism = table["sex_mismatch"].to_numpy(dtype=bool)
    if mism.any():
        ax.scatter(x[mism], y[mism], facecolors="none", edgecolors="red", s=110, linewidths=1.4)
        for i in np.flatnonzero(mism)[:20]:
            ax.annotate(
                str(table.index[i]),
                (x[i], y[i]),
                fontsize="x-small",
                color="red",
                xytext=(4, 4),
                textcoords="offset points",
            )
    lim = [min(np.nanmin(x), np.nanmin(y)) - 0.5, max(np.nanmax(x), np.nanmax(y)) + 0.5]
    ax.plot(lim, lim, color="0.5", linewidth=0.7, linestyle="--")
    ax.set_xlabel("XIST log2(CPM + 1)")
    ax.set_ylabel("mean Y-gene log2(CPM + 1) (" + ", ".join(Y_GENES) + ")")
    ax.set_title(f"sex check: {int(mism.sum())} mismatch(es) circled in red", fontsize="medium")
    return fig
