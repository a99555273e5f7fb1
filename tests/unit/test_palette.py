"""The fixed palettes: one colour per level, whatever the order of the levels or the dataset."""

from __future__ import annotations

from alsig.palette import CONDITION, MISSING, OTHER, SEX, colours_for


def test_named_levels_keep_their_colour_in_any_order_and_dataset():
    assert colours_for("condition", ["control", "ALS"]) == colours_for(
        "condition", ["ALS", "control"]
    )
    assert colours_for("condition", ["ALS"])["ALS"] == CONDITION["ALS"]
    assert colours_for("sex", ["male", "female", "unknown"]) == {
        "female": SEX["female"],
        "male": SEX["male"],
        "unknown": MISSING,
    }


def test_unnamed_levels_are_coloured_in_sorted_order():
    regions = colours_for("region", ["motor", "frontal", "cerebellum"])
    assert regions == {"cerebellum": OTHER[0], "frontal": OTHER[1], "motor": OTHER[2]}
    assert colours_for("region", ["frontal", "motor", "cerebellum"]) == regions
