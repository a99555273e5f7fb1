"""Figures of the subtype stage.

Samples x states heatmap with the call track, the NMF consensus matrix ordered by cluster, and the
rank-selection curves.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from alsig import plotting
from alsig.stages.subtypes.nmf import Discovery

CALL_COLOURS = {
    "Ox-like": "#d95f02",
    "Glia-like": "#1b9e77",
    "TE-like": "#7570b3",
    "unassigned": "#bdbdbd",
}


def plot_states(table: pl.DataFrame, disease_label: str = "ALS"):
    """Heatmap of the three state scores of the disease samples, ordered by call then score."""
    plt = plotting._pyplot()
    part = table.filter(pl.col("condition") == disease_label)
    order = ["Ox-like", "Glia-like", "TE-like", "unassigned"]
    part = part.with_columns(
        pl.col("call").replace_strict({c: i for i, c in enumerate(order)}, default=9).alias("_o")
    )
    part = part.sort(["_o", "confidence"], descending=[False, True])
    grid = part.select("ox_score", "glia_score", "te_score").to_numpy().T.astype(float)
    fig, (track, ax) = plt.subplots(
        2,
        1,
        figsize=(max(6, 0.06 * part.height + 4), 3.6),
        height_ratios=[1, 6],
        sharex=True,
        constrained_layout=True,
    )
    colours = [CALL_COLOURS.get(c, "#000000") for c in part["call"]]
    track.bar(range(part.height), 1, width=1.0, color=colours)
    track.set_yticks([])
    track.set_title(
        f"{part.height} {disease_label} samples; call: "
        + ", ".join(f"{c} {n}" for c, n in part["call"].value_counts().sort("call").iter_rows()),
        fontsize="small",
    )
    limit = max(1.0, float(np.nanmax(np.abs(grid))) if np.isfinite(grid).any() else 1.0)
    image = ax.imshow(
        grid, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest"
    )
    ax.set_yticks(range(3), ["Ox-like", "Glia-like", "TE-like"])
    ax.set_xlabel("samples (ordered by call, then confidence)")
    fig.colorbar(image, ax=ax, label="state score (control SDs)", shrink=0.8)
    return fig


def plot_consensus(discovery: Discovery | None):
    """Consensus matrix of the chosen rank (ordered by cluster) and cophenetic / silhouette vs k."""
    plt = plotting._pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.4), constrained_layout=True)
    if discovery is None:
        for ax in (left, right):
            ax.text(
                0.5,
                0.5,
                "too few disease samples for consensus NMF",
                ha="center",
                va="center",
                transform=ax.transAxes,
            )
            ax.set_axis_off()
        return fig
    chosen = discovery.chosen
    order = np.argsort(chosen.labels, kind="stable")
    image = left.imshow(chosen.consensus[np.ix_(order, order)], cmap="Blues", vmin=0, vmax=1)
    left.set_title(f"consensus matrix, k = {chosen.k}", fontsize="medium")
    left.set_xticks([])
    left.set_yticks([])
    fig.colorbar(image, ax=left, label="share of NMF starts co-clustering", shrink=0.8)
    ranks = sorted(discovery.fits)
    right.plot(ranks, [discovery.fits[k].cophenetic for k in ranks], "o-", label="cophenetic")
    right.plot(ranks, [discovery.fits[k].silhouette for k in ranks], "s--", label="silhouette")
    right.axvline(chosen.k, color="0.5", linestyle=":")
    right.set_xlabel("rank k")
    right.set_xticks(ranks)
    right.legend(frameon=False)
    right.set_title("rank selection: most stable, then best separated", fontsize="medium")
    return fig
