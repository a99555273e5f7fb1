"""Axis statistics: condition effects under the design (repeated donors), the cross-cohort
meta-analysis, the PC-covariate diagnostic and the composition share."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

from alsig.settings import Contrast
from alsig.stages.axes.effects import axis_tests, benjamini_hochberg
from alsig.stages.catalog.meta import axis_meta, dersimonian_laird
from alsig.stages.qc.covariates import pc_covariates
from alsig.stages.score.composition import composition_share

ALS = Contrast("ALS_vs_control", "condition", "ALS", "control")


def repeated_cohort(seed=0, n_subjects=40, effect=1.0, subject_sd=1.0, noise_sd=0.3):
    """Donors with three regions each; a strong donor effect; ALS shifts the score by ``effect``."""
    rng = np.random.default_rng(seed)
    rows, scores = [], []
    for s in range(n_subjects):
        condition = "ALS" if s % 2 else "control"
        donor = rng.normal(0, subject_sd)
        for region, shift in (("frontal", 0.0), ("motor_lateral", 0.4), ("motor_medial", 0.2)):
            sample = f"s{s}_{region}"
            value = (
                donor + shift + (effect if condition == "ALS" else 0.0) + rng.normal(0, noise_sd)
            )
            rows.append(
                {
                    "sample": sample,
                    "subject": f"d{s}",
                    "condition": condition,
                    "region": region,
                    "sex": "female" if s % 3 else "male",
                }
            )
            scores.append((sample, value))
    obs = pd.DataFrame(rows).set_index("sample")
    return obs, long_table(scores, obs)


def long_table(scores, obs, signature="axis:oxidative_stress", axis="oxidative_stress"):
    return pl.DataFrame(
        {
            "dataset": "sim",
            "sample": [s for s, _ in scores],
            "method": "singscore",
            "signature": signature,
            "axis": axis,
            "score": [v for _, v in scores],
            "condition": obs.loc[[s for s, _ in scores], "condition"].tolist(),
        }
    )


def test_mixed_model_recovers_the_effect_and_does_not_count_repeated_donors_as_independent():
    obs, scores = repeated_cohort()
    (row,) = axis_tests(scores, obs, design="~ sex + region + condition", contrast=ALS).to_dicts()
    assert row["model"] == "mixed_random_subject"
    assert row["ci_low"] < 1.0 < row["ci_high"] and row["estimate"] == pytest.approx(1.0, abs=0.5)
    assert row["n_test"] == 60 and row["n_subjects_test"] == 20
    assert row["std_effect"] > 0 and row["pvalue"] < 0.05
    # naive OLS on the 120 samples as if independent: a much smaller (wrong) standard error
    import statsmodels.formula.api as smf

    frame = obs.assign(score=scores["score"].to_numpy())
    naive = smf.ols("score ~ sex + region + condition", frame).fit()
    assert row["se"] > 1.5 * naive.bse["condition[T.control]"]


def test_one_sample_per_donor_is_ordinary_least_squares_and_exclusions_are_listed():
    rng = np.random.default_rng(1)
    obs = pd.DataFrame(
        {"condition": ["ALS"] * 12 + ["control"] * 8, "subject": [f"d{i}" for i in range(20)]},
        index=[f"s{i}" for i in range(20)],
    )
    values = rng.normal(0, 0.1, 20) + np.r_[np.full(12, 0.5), np.zeros(8)]
    scores = long_table(list(zip(obs.index, values, strict=True)), obs)
    exclude = {"s0": "sex_mismatch(reported female, inferred male)"}
    (row,) = axis_tests(scores, obs, design="~ condition", contrast=ALS, exclude=exclude).to_dicts()
    assert row["model"] == "ols" and row["n_test"] == 11 and row["n_excluded"] == 1
    assert row["excluded"] == "s0(sex_mismatch(reported female, inferred male))"
    assert row["estimate"] == pytest.approx(values[1:12].mean() - values[12:].mean(), rel=1e-9)


def test_unscored_signature_gives_a_null_row_with_a_note():
    obs, scores = repeated_cohort(n_subjects=10)
    scores = scores.with_columns(pl.lit(None, dtype=pl.Float64).alias("score"))
    (row,) = axis_tests(scores, obs, design="~ condition", contrast=ALS).to_dicts()
    assert row["estimate"] is None and row["qvalue"] is None and "not scored" in row["note"]


def test_benjamini_hochberg_matches_the_textbook_example():
    p = np.array([0.01, 0.04, 0.03, np.nan, 0.20])
    q = benjamini_hochberg(p)
    # ranks 1..4 of 4: 0.01*4, 0.03*4/2 -> 0.04*4/3 (monotone), 0.04*4/3, 0.2
    assert q[:3] == pytest.approx([0.04, 0.16 / 3, 0.16 / 3]) and np.isnan(q[3]) and q[4] == 0.2


def test_dersimonian_laird_against_a_hand_computed_example():
    combined = dersimonian_laird(np.array([0.5, 0.3, 0.9]), np.array([0.04, 0.09, 0.05]))
    # w = 25, 11.11, 20; FE = 0.60297; Q = 3.0495; C = 56.11 - 1193.46/56.11 = 34.84
    assert combined.effect_fixed == pytest.approx(0.602970, abs=1e-6)
    assert combined.q == pytest.approx(3.049505, abs=1e-6)
    assert combined.tau2 == pytest.approx(0.029444, abs=1e-6)
    assert combined.effect == pytest.approx(0.595039, abs=1e-6)
    assert combined.se == pytest.approx(0.168169, abs=1e-6)
    assert combined.i2 == pytest.approx(0.344156, abs=1e-6)
    same = dersimonian_laird(np.array([0.4, 0.4, 0.4]), np.array([0.04, 0.09, 0.05]))
    assert same.tau2 == 0 and same.i2 == 0 and same.se == pytest.approx(same.se_fixed)


def test_axis_meta_combines_datasets_and_reports_agreement():
    obs, scores = repeated_cohort(seed=2)
    tests = [
        axis_tests(
            scores.with_columns(pl.lit(name).alias("dataset")),
            obs,
            design="~ region + condition",
            contrast=ALS,
        )
        for name in ("a", "b")
    ]
    (row,) = axis_meta(pl.concat(tests)).to_dicts()
    assert row["k"] == 2 and row["direction_agreement"] == "2/2 up" and row["consistent"]
    assert row["i2"] == 0 and row["effect"] == pytest.approx(tests[0]["std_effect"][0])


def test_pc_covariates_finds_a_planted_batch_on_pc1():
    rng = np.random.default_rng(3)
    batch = np.repeat(["b1", "b2", "b3"], 10)
    obs = pd.DataFrame(
        {
            "batch": batch,
            "condition": rng.permutation(["ALS"] * 15 + ["control"] * 15),
            "age_at_death": list(rng.normal(65, 8, 29).round(1)) + ["Unknown"],
        },
        index=[f"s{i}" for i in range(30)],
    )
    pcs = np.column_stack(
        [
            np.select([batch == "b1", batch == "b2"], [-3, 0], 3) + rng.normal(0, 0.3, 30),
            rng.normal(0, 1, 30),
        ]
    )
    table = pc_covariates(pcs, [0.6, 0.1], obs, library_size=rng.uniform(1e7, 2e7, 30))
    r2 = {(r["pc"], r["covariate"]): r for r in table.to_dicts()}
    assert r2[("PC1", "batch")]["r2"] > 0.9 and r2[("PC1", "batch")]["pvalue"] < 1e-10
    assert r2[("PC1", "condition")]["r2"] < 0.3
    assert r2[("PC1", "age")]["kind"] == "continuous" and r2[("PC1", "age")]["n"] == 29


def test_composition_share_is_one_for_a_score_that_is_a_cell_type_score():
    rng = np.random.default_rng(4)
    samples = [f"s{i}" for i in range(25)]
    neurons, glia = rng.normal(0, 1, 25), rng.normal(0, 1, 25)
    rows = []
    for name, axis, values in (
        ("celltype_neurons", "cell_type", neurons),
        ("celltype_microglia", "cell_type", glia),
        ("tdp43", "tdp43_loss", -2 * neurons + 0.5),
        ("noise", "other", rng.normal(0, 1, 25)),
    ):
        rows += [
            ("sim", s, "singscore", name, axis, float(v))
            for s, v in zip(samples, values, strict=True)
        ]
    scores = pl.DataFrame(
        rows, schema=["dataset", "sample", "method", "signature", "axis", "score"], orient="row"
    )
    share = {r["signature"]: r for r in composition_share(scores).to_dicts()}
    assert share["tdp43"]["r2"] == pytest.approx(1.0)
    assert share["tdp43"]["top_cell_type"] == "celltype_neurons"
    assert share["tdp43"]["top_cell_type_sign"] == "negative"
    assert share["noise"]["r2"] < 0.4
