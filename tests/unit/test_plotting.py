"""Names on scatter plots: placed once for same-data panels, keeping clear of nearby points."""

from __future__ import annotations

import numpy as np

from alsig import plotting


def test_names_keep_clear_of_the_points_nearest_them_only():
    x = np.array([0.0, 0.1, 5.0, 9.0, np.nan, 0.2])
    y = np.array([0.0, 0.1, 5.0, 9.0, 1.0, 0.0])
    near_x, near_y = plotting._nearest_points(x, y, np.array([0.0]), np.array([0.0]), 3)
    assert near_x.tolist() == [0.0, 0.1, 0.2]  # the three nearest, in their original order
    assert near_y.tolist() == [0.0, 0.1, 0.0]
    all_x, _ = plotting._nearest_points(x, y, np.array([0.0]), np.array([0.0]), 10)
    assert all_x.tolist() == [0.0, 0.1, 5.0, 9.0, 0.2]  # every finite point when few


def test_names_are_copied_to_every_panel_at_the_same_place():
    plt = plotting._pyplot()
    fig, (left, right) = plt.subplots(1, 2)
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=40), rng.normal(size=40)
    for ax in (left, right):
        ax.scatter(x, y)
    texts = plotting.name_points(left, x[:4], y[:4], ["a", "b", "c", "d"], repeat_on=[right])
    copies = [t for t in right.texts]
    assert [t.get_text() for t in copies] == ["a", "b", "c", "d"]
    assert [t.get_position() for t in copies] == [t.get_position() for t in texts]
    assert len(right.patches) == len(left.patches)  # the same lines to the moved names
    plt.close(fig)
