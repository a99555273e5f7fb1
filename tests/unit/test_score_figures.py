"""Score figures: the axis matrix behind the heatmap (the TE axis included), its tracks and
colours (fixed palette, QC flag), the clipped scale said in the legend, and both figures render."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import polars as pl
import pytest
from matplotlib.colors import to_hex

from alsig.io import save_figure
from alsig.palette import CONDITION, QC_FLAG
from alsig.signatures.library import configured_signatures
from alsig.stages.score.figures import (
    axis_distributions,
    axis_heatmap,
    axis_matrix,
    cluster_within_condition,
    heatmap_tracks,
    qc_track,
)
from tests.helpers import score_result


@pytest.fixture(scope="module")
def long_table() -> pl.DataFrame:
    signatures = configured_signatures([], replace=False)
    genes = sorted({g for s in signatures for g in s.genes} | {f"filler{i}" for i in range(300)})
    rng = np.random.default_rng(7)
    n = 80  # more samples than the heatmap labels
    X = rng.normal(5, 1, size=(n, len(genes))).astype(np.float32)
    conditions = ["ALS"] * 50 + ["control"] * 30
    obs = pd.DataFrame({"condition": conditions}, index=[f"S{i:03d}" for i in range(n)])
    adata = ad.AnnData(X=X, obs=obs, var=pd.DataFrame(index=genes))
    adata.layers["vst"] = X
    return score_result(adata, signatures, dataset="toy").long


def test_axis_matrix_is_z_scores_sorted_by_condition(long_table):
    wide, label = axis_matrix(long_table)
    assert label == "z-score vs controls"
    assert wide.columns[:2] == ["sample", "condition"]
    assert "oxidative_stress" in wide.columns and "cell_type" not in wide.columns
    assert wide["condition"].to_list() == ["ALS"] * 50 + ["control"] * 30
    controls = wide.filter(pl.col("condition") == "control")["oxidative_stress"]
    assert controls.mean() == pytest.approx(0.0, abs=1e-9)  # z against the controls
    assert controls.std() == pytest.approx(1.0)


def test_axis_matrix_without_controls_standardises_scores(long_table):
    no_z = long_table.with_columns(pl.lit(None, dtype=pl.Float64).alias("z_vs_control"))
    wide, label = axis_matrix(no_z)
    assert label == "z-score within the dataset (no controls)"
    # z within the dataset, so the heatmap's +/-3 scale still reads as SDs
    assert wide["oxidative_stress"].mean() == pytest.approx(0.0, abs=1e-9)
    assert wide["oxidative_stress"].std() == pytest.approx(1.0)


def test_figures_render(long_table, tmp_path):
    for name, fig in (
        ("heatmap.png", axis_heatmap(long_table, dataset="toy")),
        ("distributions.png", axis_distributions(long_table, dataset="toy")),
    ):
        save_figure(fig, tmp_path / name)
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_heatmap_tracks_come_from_obs_columns_that_exist(long_table):
    wide, _ = axis_matrix(long_table)
    samples = wide["sample"].to_list()
    obs = pd.DataFrame(
        {"sex": ["female", None] * 40, "batch": np.nan, "donor_age": 60.0}, index=samples[::-1]
    )
    tracks = heatmap_tracks(wide, obs)
    assert list(tracks) == ["condition", "sex"]  # batch is all missing, region absent
    assert tracks["sex"][:2] == [None, "female"]  # aligned on the sample, not the row
    assert list(heatmap_tracks(wide, None)) == ["condition"]


def test_samples_cluster_within_condition():
    # two tight groups interleaved within each condition come out side by side
    values = np.array([[0.0, 5.0, 0.1, 5.1, 0.2, 9.0, 9.1, 1.0]])
    conditions = ["ALS"] * 5 + ["control"] * 3
    order = cluster_within_condition(values, conditions)
    assert sorted(order[:5]) == [0, 1, 2, 3, 4] and sorted(order[5:]) == [5, 6, 7]
    als = values[0, order[:5]]
    assert sorted(als[:3]) == [0.0, 0.1, 0.2] or sorted(als[2:]) == [0.0, 0.1, 0.2]
    assert cluster_within_condition(np.zeros((0, 2)), ["a", "a"]).tolist() == [0, 1]


def test_heatmap_with_tracks_renders(long_table, tmp_path):
    wide, _ = axis_matrix(long_table)
    samples = wide["sample"].to_list()
    obs = pd.DataFrame(
        {
            "region": ["cortex", "spinal cord"] * 40,
            "sex": ["female", "male"] * 40,
            "batch": [f"b{i % 15}" for i in range(80)],
        },
        index=samples,
    )
    fig = axis_heatmap(long_table, dataset="toy", obs=obs)
    assert [ax.get_yticklabels()[0].get_text() for ax in fig.axes[:10:2]] == [
        "condition",
        "QC",
        "region",
        "sex",
        "batch",
    ]
    save_figure(fig, tmp_path / "heatmap.png")
    assert (tmp_path / "heatmap.png").stat().st_size > 0


def _with_te_axis(long: pl.DataFrame, *, measured: bool) -> pl.DataFrame:
    """The long table plus a retrotransposon axis scored by log2cpm (null without TE counts)."""
    te = long.filter(pl.col("signature") == "axis:oxidative_stress").with_columns(
        pl.lit("axis:retrotransposons").alias("signature"),
        pl.lit("retrotransposons").alias("axis"),
        pl.lit("log2cpm").alias("method"),
    )
    if not measured:
        te = te.with_columns(
            pl.lit(None, dtype=pl.Float64).alias(c) for c in ("score", "z_vs_control")
        )
    return pl.concat([long, te], how="vertical_relaxed")


def _rows(fig) -> list[str]:
    heatmap = next(ax for ax in fig.axes if len(ax.get_yticklabels()) > 3)
    return [t.get_text() for t in heatmap.get_yticklabels()]


def test_heatmap_shows_the_te_axis_last_or_says_it_has_no_te_counts(long_table):
    wide, _ = axis_matrix(_with_te_axis(long_table, measured=True))
    assert wide.columns[-1] == "retrotransposons (log2cpm)"
    assert _rows(axis_heatmap(_with_te_axis(long_table, measured=True)))[-1] == (
        "retrotransposons (TE counts)"
    )
    rows = _rows(axis_heatmap(_with_te_axis(long_table, measured=False)))
    assert rows[-1] == "retrotransposons: no TE counts" and rows[0] == "excitotoxicity"


def test_heatmap_tracks_and_scale_use_the_fixed_palette_and_say_the_clip(long_table):
    flagged = {"S001", "S060"}
    long = long_table.with_columns(
        pl.when(pl.col("sample").is_in(list(flagged)))
        .then(pl.lit("pca_distance"))
        .otherwise(None)
        .alias("qc_flag")
    )
    wide, _ = axis_matrix(long)
    qc = qc_track(long, wide["sample"].to_list())
    assert {s for s, level in zip(wide["sample"], qc, strict=True) if level == "flagged"} == flagged
    fig = axis_heatmap(long, dataset="toy")
    legends = {
        t.get_text(): to_hex(h.get_facecolor(), keep_alpha=False)
        for ax in fig.axes
        if ax.get_legend() is not None
        for t, h in zip(ax.get_legend().get_texts(), ax.get_legend().legend_handles, strict=True)
    }
    assert (
        legends["ALS (50)"] == CONDITION["ALS"] and legends["control (30)"] == CONDITION["control"]
    )
    assert legends["flagged (2)"] == QC_FLAG["flagged"] and legends["kept (78)"] == QC_FLAG["kept"]
    every = [*fig.axes, *(child for ax in fig.axes for child in ax.child_axes)]
    colour_bar = next(ax for ax in every if "clipped at ±3" in ax.get_ylabel())
    assert colour_bar.get_ylabel().startswith("z-score vs controls")
