"""Cell-type marker indices of the QC'd samples: the table, the marker coverage and the figure.

After QC, every kept sample gets one index per cell type from the BRETIGEA markers
(:func:`alsig.cellmix.dataset_indexer`, the definition the score stage and the axis tests share):
``qc/cell_indices.{parquet,tsv}`` (schema ``cell_indices``), ``qc/cell_markers.tsv`` (schema
``cell_markers``: which markers each index uses, how deep its list went) and
``qc/cell_indices.png`` (each index by condition within region). An index is relative marker
signal, not a proportion; read the figure as "which samples carry more of a cell type's marker
RNA than others of their region", not as cell counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from alsig import plotting
from alsig.cellmix import ADJUSTMENT_TYPES, CELL_TYPES, MIN_MARKERS, CellIndices, dataset_indexer
from alsig.keys import CONDITION, REGION, SUBJECT, VST
from alsig.palette import colours_for
from alsig.tables import schemas

SCHEMA = "cell_indices"
MARKER_SCHEMA = "cell_markers"
#: Version of the cell_indices layout (the schema's ``x-schema-version``).
SCHEMA_VERSION: str = str(schemas.load(SCHEMA)["x-schema-version"])
#: obs columns carried into the table
SAMPLE_COLUMNS = (CONDITION, SUBJECT, REGION)
#: condition levels in the order the figure draws them (others follow, sorted)
CONDITION_ORDER = ("ALS", "control", "other")


@dataclass(frozen=True)
class QcCellIndices:
    """The cell indices of a QC'd dataset: the per-sample table and the marker coverage."""

    indices: CellIndices
    table: pl.DataFrame  # schema cell_indices
    markers: pl.DataFrame  # schema cell_markers


def qc_cell_indices(adata: Any, dataset: str, *, layer: str = VST) -> QcCellIndices:
    """Compute the cell-type marker indices of every sample of a QC'd AnnData.

    Parameters
    ----------
    adata
        QC's filtered AnnData (``var["expressed"]``, the ``layer``).
    dataset
        The dataset id of the rows.
    layer
        The log-scale layer (QC's VST).

    Returns
    -------
    QcCellIndices
        The ``cell_indices`` table (one row per sample) and the ``cell_markers`` table (one row
        per cell type), both checked against their schemas.

    Raises
    ------
    AlsigError
        The layer is missing or not finite.
    """
    indices = dataset_indexer(adata, layer).indices()
    columns = [c for c in SAMPLE_COLUMNS if c in adata.obs]
    table = indices.table(adata.obs, columns).with_columns(pl.lit(dataset).alias("dataset"))
    table = schemas.validate(schemas.conform(table, SCHEMA), SCHEMA, "cell indices")
    coverage = indices.selection.coverage
    markers = pl.DataFrame(
        {
            "dataset": dataset,
            "cell_type": coverage["cell_type"].tolist(),
            "adjusted_for": [c in ADJUSTMENT_TYPES for c in coverage["cell_type"]],
            "n_markers": coverage["n_markers"].astype(int).tolist(),
            "n_used": coverage["n_used"].astype(int).tolist(),
            "n_top_present": coverage["n_top_present"].astype(int).tolist(),
            "deepest_rank": [None if pd.isna(v) else int(v) for v in coverage["deepest_rank"]],
            "markers": coverage["markers"].tolist(),
        },
        schema=schemas.polars_schema(MARKER_SCHEMA),
    )
    return QcCellIndices(
        indices, table, schemas.validate(markers, MARKER_SCHEMA, "cell marker coverage")
    )


def _conditions(values: pd.Series) -> list[str]:
    present = set(values)
    return [c for c in CONDITION_ORDER if c in present] + sorted(present - set(CONDITION_ORDER))


def plot_cell_indices(table: pl.DataFrame, dataset: str):
    """Each cell-type index by condition within region: boxes and every sample as a point.

    Parameters
    ----------
    table
        The ``cell_indices`` table of one dataset.
    dataset
        The dataset id (title).

    Returns
    -------
    matplotlib.figure.Figure
        One panel per cell type (the four adjusted for first), regions side by side, conditions
        in their fixed colours (:mod:`alsig.palette`).
    """
    frame = table.to_pandas()
    frame["condition"] = frame["condition"].fillna("missing").astype(str)
    frame["region"] = frame["region"].fillna("").astype(str)
    conditions = _conditions(frame["condition"])
    colours = colours_for("condition", conditions)
    regions = sorted(frame["region"].unique())
    types = [*ADJUSTMENT_TYPES, *(c for c in CELL_TYPES if c not in ADJUSTMENT_TYPES)]
    groups = len(regions) * len(conditions)
    panel_width = 1.6 + 0.45 * groups
    fig, axes = plotting.grid(
        len(types), ncols=3 if groups <= 6 else 2, panel_size=(panel_width, 3.4)
    )
    rng = np.random.default_rng(0)  # jitter only; fixed so the figure is reproducible
    width = 0.8 / len(conditions)
    style = plotting.point_style(len(frame))
    for ax, cell_type in zip(axes, types, strict=True):
        for r, region in enumerate(regions):
            for c, condition in enumerate(conditions):
                part = frame[(frame["region"] == region) & (frame["condition"] == condition)]
                values = part[cell_type].dropna().to_numpy(dtype=float)
                if not len(values):
                    continue
                x = r + (c - (len(conditions) - 1) / 2) * width
                ax.boxplot(
                    values,
                    positions=[x],
                    widths=width * 0.8,
                    showfliers=False,
                    patch_artist=False,
                    boxprops={"color": colours[condition]},
                    whiskerprops={"color": colours[condition]},
                    capprops={"color": colours[condition]},
                    medianprops={"color": colours[condition], "linewidth": 2},
                )
                jitter = rng.uniform(-width * 0.3, width * 0.3, len(values))
                ax.scatter(
                    x + jitter,
                    values,
                    s=style["s"] * 0.6,
                    alpha=style["alpha"],
                    color=colours[condition],
                    edgecolors="none",
                    zorder=3,
                )
        if frame[cell_type].isna().all():
            ax.text(
                0.5,
                0.5,
                f"fewer than {MIN_MARKERS} markers expressed:\nno index",
                transform=ax.transAxes,
                ha="center",
                va="center",
                color="0.4",
            )
        ax.set_xticks(
            range(len(regions)),
            [r or "(no region)" for r in regions],
            rotation=20 if len(regions) > 2 else 0,
            ha="right" if len(regions) > 2 else "center",
        )
        ax.set_xlim(-0.6, len(regions) - 0.4)
        note = "adjusted for" if cell_type in ADJUSTMENT_TYPES else "reported only"
        ax.set_title(f"{cell_type} ({note})", fontsize="medium")
        ax.set_ylabel("index (rank score, a.u.)")
        ax.grid(axis="y", color="0.92")
    from matplotlib.lines import Line2D  # matplotlib is imported lazily (job start-up)

    samples = frame.groupby("condition")["sample"].nunique()
    donors = frame.groupby("condition")["subject"].nunique()
    handles = [Line2D([], [], marker="o", linestyle="", color=colours[c]) for c in conditions]
    fig.legend(
        handles,
        [
            f"{c} ({int(samples.get(c, 0))} samples, {int(donors.get(c, 0))} donors)"
            for c in conditions
        ],
        loc="outside lower center",
        ncols=len(conditions),
        frameon=False,
    )
    fig.suptitle(
        f"{dataset}: cell-type marker indices by condition within region "
        "(relative marker signal, not proportions)",
        fontsize="medium",
    )
    return fig
