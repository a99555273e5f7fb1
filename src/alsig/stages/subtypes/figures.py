"""Figures of the subtype stage; every colour comes from :mod:`alsig.palette`.

- :func:`plot_projection`: the projection per sample (stacked ``p_ox``/``p_glia``/``p_te`` ordered
  by call, ALS samples and controls in their own panels), the reference distance against its
  threshold, and the call shares of every condition beside the published reference shares
  (controls' calls: a position in the reference space, not a false-positive rate).
- :func:`plot_states`: the label-free state scores of the disease samples (colour scale clipped
  at +-3 control SDs, as the score heatmap), with tracks for the projected call and the state
  call and a legend for both, sample ids on the x axis.
- :func:`plot_consensus`: the NMF consensus matrix ordered by cluster with tracks for the
  projected call, the state call and the region (is a cluster a region?), and rank stability
  (PAC, cophenetic correlation) vs k.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from alsig import plotting
from alsig.palette import colours_for
from alsig.stages.subtypes.donors import CALL_ORDER
from alsig.stages.subtypes.nmf import (
    STABLE_PAC,
    Discovery,
    min_cluster_size,
    smallest_cluster,
)
from alsig.stages.subtypes.reference_model import CLASSES, PROBABILITY_COLUMNS

#: the state calls in display order
STATE_ORDER = ("Ox-like", "Glia-like", "TE-like", "unassigned")
#: colour scale limit of the state scores (control SDs), as the score heatmap's
CLIP = 3.0
#: published shares of the reference's ALS samples (Tam et al. 2019, GSE124439)
PUBLISHED_SHARES = {"ALS-Ox": 0.61, "ALS-Glia": 0.19, "ALS-TE": 0.20}
#: most sample ids written under a panel; more are thinned to every k-th
MAX_TICKS = 100


def _order(part: pl.DataFrame, column: str, order: Sequence[str], by: str) -> pl.DataFrame:
    rank = {c: i for i, c in enumerate(order)}
    return part.with_columns(
        pl.col(column).replace_strict(rank, default=len(order)).alias("_o")
    ).sort(["_o", by, "sample"], descending=[False, True, False], nulls_last=True)


def _sample_ticks(ax: Any, samples: Sequence[str], n_drawn: int | None = None) -> None:
    """Write sample ids under a panel (every k-th beyond :data:`MAX_TICKS`).

    ``n_drawn``: the samples of the whole figure, which set one font size for all its panels.
    """
    n = len(samples)
    step = max(1, int(np.ceil(n / MAX_TICKS)))
    positions = list(range(0, n, step))
    total = n_drawn or n
    size = 7 if total <= 40 else 5 if total <= MAX_TICKS else 4
    ax.set_xticks(positions, [samples[i] for i in positions], rotation=90, fontsize=size)


def _track(ax: Any, calls: Sequence[str], colours: dict[str, str], label: str) -> None:
    ax.bar(range(len(calls)), 1, width=1.0, color=[colours[c] for c in calls], linewidth=0)
    ax.set_xlim(-0.5, len(calls) - 0.5)
    ax.set_yticks([0.5], [label], fontsize="small")
    ax.set_ylim(0, 1)
    ax.tick_params(axis="x", bottom=False, labelbottom=False)
    for side in ("top", "right", "left", "bottom"):
        ax.spines[side].set_visible(False)


def _legends(fig: Any, groups: Sequence[tuple[str, dict[str, str], Sequence[str]]]) -> None:
    """Draw one legend per ``(title, colours, order)`` group, stacked right of the figure.

    The legends sit outside the panels; :func:`alsig.io.save_figure` saves with a tight bounding
    box, so they are kept in the image.
    """
    import matplotlib.patches as mpatches

    top = 0.98
    for title, colours, order in groups:
        handles = [mpatches.Patch(color=colours[c], label=c) for c in order if c in colours]
        fig.legend(
            handles=handles,
            title=title,
            loc="upper left",
            bbox_to_anchor=(1.0, top),
            frameon=False,
            fontsize="small",
            title_fontsize="small",
            alignment="left",
        )
        top -= 0.1 + 0.055 * len(handles)


def _empty(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, wrap=True)
    ax.set_axis_off()


def plot_projection(table: pl.DataFrame, dataset: str, disease_label: str = "ALS"):
    """Draw the projection of every sample and the call shares per condition.

    Parameters
    ----------
    table
        The stage's per-sample table (schema ``subtypes``).
    dataset
        Dataset id (title).
    disease_label
        The disease condition (its samples are drawn first).

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = plotting._pyplot()
    conditions = [c for c in table["condition"].unique(maintain_order=True).to_list() if c]
    conditions = sorted(conditions, key=lambda c: (c != disease_label, c))
    groups = [(c, table.filter(pl.col("condition") == c)) for c in conditions]
    widths = [max(part.height, 4) for _, part in groups]
    call_colours = colours_for("subtype_call", CALL_ORDER)
    class_colours = {p: call_colours[c] for p, c in zip(PROBABILITY_COLUMNS, CLASSES, strict=True)}
    n = table.height
    fig = plt.figure(figsize=(min(26.0, 6.0 + 0.09 * n), 7.2), constrained_layout=True)
    grid = fig.add_gridspec(
        3,
        len(groups) + 1,
        width_ratios=[*widths, max(sum(widths) * 0.2, 7)],
        height_ratios=[0.6, 5, 3],
    )
    threshold = float(table["distance_threshold"][0]) if n else float("nan")
    for j, (condition, part) in enumerate(groups):
        part = _order(
            part.with_columns(pl.max_horizontal(*PROBABILITY_COLUMNS).alias("_top")),
            "subtype_call",
            CALL_ORDER,
            "_top",
        )
        samples = part["sample"].to_list()
        track = fig.add_subplot(grid[0, j])
        _track(track, part["subtype_call"].to_list(), call_colours, "call" if j == 0 else "")
        track.set_title(f"{condition} (n = {part.height})", fontsize="medium")
        bars = fig.add_subplot(grid[1, j], sharex=track)
        bottom = np.zeros(part.height)
        for column in PROBABILITY_COLUMNS:
            values = part[column].fill_null(0.0).to_numpy()
            bars.bar(
                range(part.height),
                values,
                bottom=bottom,
                width=0.9,
                color=class_colours[column],
                linewidth=0,
            )
            bottom += values
        bars.set_ylim(0, 1)
        bars.set_ylabel("p_ox / p_glia / p_te" if j == 0 else "")
        bars.tick_params(axis="x", bottom=False, labelbottom=False)
        distance = fig.add_subplot(grid[2, j], sharex=track)
        colours = [call_colours[c] for c in part["subtype_call"]]
        distance.scatter(
            range(part.height),
            part["reference_distance"].fill_null(np.nan),
            c=colours,
            s=14,
            edgecolors="0.3",
            linewidths=0.3,
        )
        distance.axhline(threshold, color="0.3", linestyle="--", linewidth=0.8)
        if j == 0:
            distance.set_ylabel("reference distance")
            distance.text(0, threshold, " threshold", va="bottom", fontsize="x-small", color="0.3")
        _sample_ticks(distance, samples, n)
    shares_ax = fig.add_subplot(grid[:, -1])
    _draw_shares(shares_ax, groups, call_colours)
    _legends(fig, [("subtype call", call_colours, CALL_ORDER)])
    model = table["subtype_model"][0] if n else ""
    fig.suptitle(
        f"{dataset}: projection onto the Tam et al. 2019 subtypes (model {model})\n"
        "p_ox / p_glia / p_te calibrated on the reference to equal class priors",
        fontsize="medium",
    )
    return fig


def _draw_shares(ax: Any, groups: list, colours: dict[str, str]) -> None:
    rows = [("GSE124439 ALS\n(published)", PUBLISHED_SHARES)]
    for condition, part in groups:
        counts = part["subtype_call"].value_counts()
        total = max(part.height, 1)
        share = {c: n / total for c, n in counts.iter_rows()}
        rows.append((f"{condition}\n(n = {part.height})", share))
    for i, (_, share) in enumerate(rows):
        left = 0.0
        for call in CALL_ORDER:
            value = share.get(call, 0.0)
            if value <= 0:
                continue
            ax.barh(i, value, left=left, color=colours[call], edgecolor="white", height=0.7)
            if value >= 0.08:
                ax.text(
                    left + value / 2,
                    i,
                    f"{100 * value:.0f}%",
                    ha="center",
                    va="center",
                    fontsize="x-small",
                )
            left += value
    ax.set_yticks(range(len(rows)), [label for label, _ in rows], fontsize="small")
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of samples")
    ax.set_title("calls by condition\n(controls: not a\nfalse-positive rate)", fontsize="small")


def plot_states(table: pl.DataFrame, disease_label: str = "ALS"):
    """Draw the label-free state scores of the disease samples with both calls as tracks.

    Parameters
    ----------
    table
        The stage's per-sample table (schema ``subtypes``).
    disease_label
        The disease condition.

    Returns
    -------
    matplotlib.figure.Figure
        Samples ordered by projected call, then state call, then state confidence; the colour
        scale clipped at +-:data:`CLIP` control SDs.
    """
    plt = plotting._pyplot()
    part = table.filter(pl.col("condition") == disease_label)
    rank_call = {c: i for i, c in enumerate(CALL_ORDER)}
    rank_state = {c: i for i, c in enumerate(STATE_ORDER)}
    part = part.with_columns(
        pl.col("subtype_call").replace_strict(rank_call, default=9).alias("_a"),
        pl.col("state_call").replace_strict(rank_state, default=9).alias("_b"),
    ).sort(["_a", "_b", "state_confidence", "sample"], descending=[False, False, True, False])
    fig = plt.figure(figsize=(max(7.0, 0.12 * part.height + 4.5), 4.6), constrained_layout=True)
    grid = fig.add_gridspec(3, 1, height_ratios=[1, 1, 6])
    axes = [fig.add_subplot(grid[0, 0])]
    axes += [fig.add_subplot(grid[i, 0], sharex=axes[0]) for i in (1, 2)]
    if part.is_empty():
        for ax in axes:
            _empty(ax, f"no {disease_label} samples")
        return fig
    call_colours = colours_for("subtype_call", CALL_ORDER)
    state_colours = colours_for("call", STATE_ORDER)
    _track(axes[0], part["subtype_call"].to_list(), call_colours, "subtype call")
    _track(axes[1], part["state_call"].to_list(), state_colours, "state call")
    grid = part.select("ox_score", "glia_score", "te_score").to_numpy().T.astype(float)
    image = axes[2].imshow(
        np.clip(grid, -CLIP, CLIP),
        aspect="auto",
        cmap="RdBu_r",
        vmin=-CLIP,
        vmax=CLIP,
        interpolation="nearest",
    )
    axes[2].set_yticks(range(3), ["Ox-like", "Glia-like", "TE-like"])
    _sample_ticks(axes[2], part["sample"].to_list())
    axes[2].set_xlabel("samples (ordered by subtype call, then state call and confidence)")
    fig.colorbar(
        image,
        ax=axes[2],
        label=f"state score (control SDs, clipped at ±{CLIP:g})",
        shrink=0.9,
        extend="both",
    )
    axes[0].set_title(
        f"label-free states of {part.height} {disease_label} samples (not fitted to labels)",
        fontsize="medium",
    )
    _legends(
        fig,
        [("subtype call", call_colours, CALL_ORDER), ("state call", state_colours, STATE_ORDER)],
    )
    return fig


def plot_consensus(
    discovery: Discovery | None, calls: pl.DataFrame | None = None, dataset: str = ""
):
    """Draw the consensus matrix of the chosen rank with call tracks, and stability vs rank.

    Parameters
    ----------
    discovery
        The consensus NMF, or None (too few disease samples).
    calls
        ``sample``, ``subtype_call``, ``state_call`` and (optional) ``region`` of the disease
        samples (tracks).
    dataset
        Dataset id (title).

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = plotting._pyplot()
    fig = plt.figure(figsize=(12, 5.6), constrained_layout=True)
    if discovery is None:
        _empty(fig.add_subplot(1, 1, 1), "too few disease samples for consensus NMF")
        return fig
    grid = fig.add_gridspec(4, 2, width_ratios=[1.2, 0.9], height_ratios=[0.35, 0.35, 0.35, 6])
    chosen = discovery.chosen
    order = np.lexsort((np.arange(len(chosen.labels)), chosen.labels))
    samples = [discovery.samples[i] for i in order]
    matrix_ax = fig.add_subplot(grid[3, 0])
    image = matrix_ax.imshow(
        chosen.consensus[np.ix_(order, order)],
        cmap="Blues",
        vmin=0,
        vmax=1,
        interpolation="nearest",
        aspect="auto",
    )
    for b in np.flatnonzero(np.diff(chosen.labels[order])) + 0.5:
        matrix_ax.axhline(b, color="0.2", linewidth=0.6)
        matrix_ax.axvline(b, color="0.2", linewidth=0.6)
    matrix_ax.set_yticks([])
    _sample_ticks(matrix_ax, samples)
    fig.colorbar(image, ax=matrix_ax, label="share of NMF starts co-clustering", shrink=0.8)
    call_colours = colours_for("subtype_call", CALL_ORDER)
    state_colours = colours_for("call", STATE_ORDER)
    lookup = {} if calls is None else {r["sample"]: r for r in calls.iter_rows(named=True)}
    regions = [str(lookup.get(s, {}).get("region") or "unknown") for s in samples]
    region_colours = colours_for("region", regions)
    tracks = [
        ("subtype_call", call_colours, "subtype call", "unassigned"),
        ("state_call", state_colours, "state call", "unassigned"),
        ("region", region_colours, "region", "unknown"),
    ]
    for row, (column, colours, label, missing) in enumerate(tracks):
        ax = fig.add_subplot(grid[row, 0], sharex=matrix_ax)
        values = [str(lookup.get(s, {}).get(column) or missing) for s in samples]
        _track(ax, values, colours, label)
    stability = "" if chosen.pac <= STABLE_PAC else "; no stable clustering"
    fig.suptitle(
        f"{dataset + ': ' if dataset else ''}consensus NMF of {len(samples)} disease samples, "
        f"k = {chosen.k} (PAC {chosen.pac:.2f}{stability}); cohort-dependent view",
        fontsize="medium",
    )
    right = fig.add_subplot(grid[:, 1])
    ranks = sorted(discovery.fits)
    pac = [discovery.fits[k].pac for k in ranks]
    right.plot(ranks, pac, "-", color="#1f78b4", label="PAC (lower = stabler; chooses k)")
    minimum = min_cluster_size(len(samples))
    small = [smallest_cluster(discovery.fits[k]) < minimum for k in ranks]
    right.scatter(
        [k for k, tiny in zip(ranks, small, strict=True) if not tiny],
        [v for v, tiny in zip(pac, small, strict=True) if not tiny],
        color="#1f78b4",
        zorder=3,
    )
    if any(small):
        right.scatter(
            [k for k, tiny in zip(ranks, small, strict=True) if tiny],
            [v for v, tiny in zip(pac, small, strict=True) if tiny],
            facecolors="white",
            edgecolors="#1f78b4",
            zorder=3,
            label=f"a cluster < {minimum} samples (not chosen)",
        )
    right.plot(
        ranks,
        [discovery.fits[k].cophenetic for k in ranks],
        "s--",
        color="0.4",
        label="cophenetic correlation",
    )
    right.axvline(chosen.k, color="0.5", linestyle=":")
    right.set_xlabel("rank k")
    right.set_xticks(ranks)
    right.set_ylim(-0.02, 1.02)
    right.legend(frameon=False, fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.12))
    right.set_title("rank: the largest as stable as the most stable", fontsize="medium")
    _legends(
        fig,
        [
            ("subtype call", call_colours, CALL_ORDER),
            ("state call", state_colours, STATE_ORDER),
            ("region", region_colours, sorted(region_colours)),
        ],
    )
    return fig
