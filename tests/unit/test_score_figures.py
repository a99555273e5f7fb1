"""Score figures: the axis matrix behind the heatmap, and both figures render to PNG files."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import polars as pl
import pytest

from alsig.io import save_figure
from alsig.stages.score import score_anndata
from alsig.stages.score.figures import axis_distributions, axis_heatmap, axis_matrix
from alsig.stages.score.signatures import configured_signatures


@pytest.fixture(scope="module")
def long_table() -> pl.DataFrame:
    signatures = configured_signatures()
    genes = sorted({g for s in signatures for g in s.genes} | {f"filler{i}" for i in range(300)})
    rng = np.random.default_rng(7)
    n = 80  # more samples than the heatmap labels
    X = rng.normal(5, 1, size=(n, len(genes))).astype(np.float32)
    conditions = ["ALS"] * 50 + ["control"] * 30
    obs = pd.DataFrame({"condition": conditions}, index=[f"S{i:03d}" for i in range(n)])
    adata = ad.AnnData(X=X, obs=obs, var=pd.DataFrame(index=genes))
    adata.layers["vst"] = X
    return score_anndata(adata, signatures, dataset="toy").long


def test_axis_matrix_is_z_scores_sorted_by_condition(long_table):
    wide, label = axis_matrix(long_table)
    assert label == "z-score vs controls"
    assert wide.columns[:2] == ["sample", "condition"]
    assert "oxidative_stress" in wide.columns and "cell_type" not in wide.columns
    assert wide["condition"].to_list() == ["ALS"] * 50 + ["control"] * 30
    controls = wide.filter(pl.col("condition") == "control")["oxidative_stress"]
    assert controls.mean() == pytest.approx(0.0, abs=1e-9)  # z against the controls
    assert controls.std() == pytest.approx(1.0)


def test_axis_matrix_without_controls_centres_scores(long_table):
    no_z = long_table.with_columns(pl.lit(None, dtype=pl.Float64).alias("z_vs_control"))
    wide, label = axis_matrix(no_z)
    assert label == "score - dataset mean"
    assert wide["oxidative_stress"].mean() == pytest.approx(0.0, abs=1e-9)


def test_figures_render(long_table, tmp_path):
    for name, fig in (
        ("heatmap.png", axis_heatmap(long_table, dataset="toy")),
        ("distributions.png", axis_distributions(long_table, dataset="toy")),
    ):
        save_figure(fig, tmp_path / name)
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
